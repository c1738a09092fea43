"""Shipments followed across the units they ride in: parts, legs, hub stays, door-to-door ETA and alerts.

Pure: the shipment job feeds it plans and unit reports, and a watermark; it returns views and outputs."""
