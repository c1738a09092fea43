"""Corridor's stream processing: the pure domain core, the processing engine, the Faust topology,
the embedded broker, the simulator and the command line."""
