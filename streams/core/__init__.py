"""The pure domain core: timelines, delays and ETAs as functions of a plan, an event history and an
event-time watermark. Imports only the standard library and `schemas`; never Faust, I/O or the clock."""
