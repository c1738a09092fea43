"""Scenario simulator: deterministic plans, carrier events and clock ticks on the seed corridors
(CR Express rail, ASEAN Express road+rail, Shanghai-Rotterdam sea, Hong Kong-Liège-Madrid air+truck).

`generate(seed)` is pure: no I/O, no clock. Publishing the records to topics is the caller's job (streams/io/paced.py).
`generate(seed, shipments=n)` adds shipments followed across the units they ride in (`streams.sim.shipments`)."""

from streams.sim.corridors import CORRIDORS, Corridor, LegSpec, Risk
from streams.sim.scenario import Scenario, SimInput, SimRecord, UnitOutcome, generate
from streams.sim.shipments import ShipmentOutcome, ShipmentScenario, generate_shipments

__all__ = [
    "CORRIDORS",
    "Corridor",
    "LegSpec",
    "Risk",
    "Scenario",
    "ShipmentOutcome",
    "ShipmentScenario",
    "SimInput",
    "SimRecord",
    "UnitOutcome",
    "generate",
    "generate_shipments",
]
