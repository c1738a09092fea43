"""Feed adapters: the formats carriers and hubs really send, turned into canonical TrackingEvents.

Each adapter is pure (bytes in, events and rejections out) and never raises, whatever the input."""
