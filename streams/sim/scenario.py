"""A pure, deterministic scenario: plans, carrier events and clock ticks for units on the seed corridors.

No I/O and no clock reads: every random draw comes from a `random.Random` seeded from `seed`, so the same seed
gives the same records. Units sharing a departure (train, sailing, flight, truck) share its disruptions,
because each departure draws from its own `Random` keyed by the seed and the departure.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from stdnum import iso6346

from schemas import (
    ClockTick,
    Leg,
    Milestone,
    Mode,
    Plan,
    ShipmentPlan,
    ShipmentRefs,
    TrackedUnit,
    TrackingEvent,
    TransportRef,
    UnitKind,
)
from streams.sim.corridors import CORRIDORS, Corridor, D, Risk
from streams.sim.phenomena import NONE, Realism
from streams.sim.shipments import ShipmentOutcome, generate_shipments
from streams.sim.trips import (
    FIRST_DEPARTURE_AFTER,
    RED_SEA_AFTER,
    Emitter,
    Run,
    SimInput,
    SimRecord,
    departure_number,
    emit_runs,
    planned_times,
    random_hours,
    to_minute,
    transport_of,
    travel,
)

__all__ = ["Scenario", "SimInput", "SimRecord", "UnitOutcome", "generate"]

UNITS_PER_DEPARTURE = 2
# at one instant: plans (unit and shipment), then events, then the tick that follows
_RANK = {"plan": 0, "shipment_plan": 0, "event": 1, "clock": 2}


@dataclass(frozen=True)
class UnitOutcome:
    """What really happened to one unit: ground truth for scenario tests and ETA-accuracy measurements."""

    unit: str
    corridor: str
    lane: str
    first_departure: datetime  # as planned; `transit` counts from it
    planned_delivery: datetime
    promised_delivery: datetime
    delivered: datetime
    disruptions: tuple[str, ...]  # e.g. "border-congestion@KZALS", "cape-diversion", "customs-hold@NLRTM"

    @property
    def on_time(self) -> bool:
        return self.delivered <= self.promised_delivery

    @property
    def transit(self) -> timedelta:
        return self.delivered - self.first_departure


@dataclass(frozen=True)
class Scenario:
    seed: int
    start: datetime
    records: list[SimRecord]  # sorted by (published_at, plan/event/tick, generation order)
    outcomes: list[UnitOutcome]  # the corridor units'; units carrying shipments are in shipment_outcomes
    shipment_outcomes: list[ShipmentOutcome] = field(default_factory=list)

    @property
    def plans(self) -> list[Plan]:
        """Unit plans (every revision)."""
        return [r.record for r in self.records if isinstance(r.record, Plan)]

    @property
    def shipment_plans(self) -> list[ShipmentPlan]:
        return [r.record for r in self.records if isinstance(r.record, ShipmentPlan)]

    @property
    def events(self) -> list[TrackingEvent]:
        """Every event record as published, duplicates included."""
        return [r.record for r in self.records if isinstance(r.record, TrackingEvent)]

    @property
    def ticks(self) -> list[ClockTick]:
        return [r.record for r in self.records if isinstance(r.record, ClockTick)]

    @property
    def end(self) -> datetime:
        return self.records[-1].published_at if self.records else self.start

    def unit_records(self, unit_id: str) -> list[SimRecord]:
        return [r for r in self.records if isinstance(r.record, Plan | TrackingEvent) and r.record.unit.id == unit_id]


def _advisory(rng: random.Random, corridor: Corridor, start: datetime, slots: int) -> datetime | None:
    """When the carrier stops routing through the Red Sea: between two of the scenario's sailings, so the first
    sailing goes through Suez and a later one is diverted round the Cape."""
    suez = [i for i, leg in enumerate(corridor.legs) if leg.risk is Risk.SUEZ]
    if not suez:
        return None
    first = start + FIRST_DEPARTURE_AFTER + timedelta(hours=corridor.departure_hour)
    nominal = [planned_times(corridor, first + s * corridor.headway)[suez[0]][0] for s in range(slots)]
    if slots == 1:
        return nominal[0] + RED_SEA_AFTER - 3 * D if rng.random() < 0.5 else None
    j = rng.randint(1, slots - 1)
    return nominal[j] + RED_SEA_AFTER - timedelta(days=rng.uniform(1, 4))


def _emit_journey(
    em: Emitter,
    corridor: Corridor,
    runs: list[Run],
    holds: dict[int, tuple[datetime, datetime]],
    gate_in: datetime,
) -> datetime:
    """Emit every event of the journey; return the delivery time."""
    rng = em.rng
    last_done = emit_runs(em, runs, holds, gate_in, corridor.customs_source)
    final = runs[-1]
    delivery_transport = TransportRef(carrier=corridor.delivery_carrier)
    if final.leg.mode is Mode.SEA:
        gate_out = to_minute(last_done + random_hours(rng, 12, 40))
        em.emit(final.leg.source, Mode.SEA, Milestone.GATE_OUT, final.leg.destination, gate_out, transport_of(final))
        delivered = to_minute(gate_out + random_hours(rng, 3, 10))
    else:
        delivered = to_minute(last_done + corridor.delivery * rng.uniform(0.7, 1.4))
    em.emit(
        corridor.delivery_source,
        final.leg.mode,
        Milestone.DELIVERED,
        corridor.destination,
        delivered,
        delivery_transport,
    )
    return delivered


def _unit_id(corridor: Corridor, rng: random.Random, index: int, used: set[str]) -> TrackedUnit:
    while True:
        if corridor.unit_kind is UnitKind.AWB:
            serial = rng.randrange(10**7)
            unit = TrackedUnit(kind=UnitKind.AWB, id=f"{corridor.owners[0]}-{serial:07d}{serial % 7}")
        else:
            body = f"{corridor.owners[index % len(corridor.owners)]}{rng.randrange(10**6):06d}"
            unit = TrackedUnit.container(body + iso6346.calc_check_digit(body))
        if unit.id not in used:
            used.add(unit.id)
            return unit


def _unit(
    seed: int,
    corridor: Corridor,
    index: int,
    start: datetime,
    advisory: datetime | None,
    used: set[str],
    realism: Realism = NONE,
) -> tuple[list[SimRecord], UnitOutcome]:
    rng = random.Random(f"{seed}|{corridor.code}|{index}")
    unit = _unit_id(corridor, rng, index, used)
    slot = index // UNITS_PER_DEPARTURE
    first = start + FIRST_DEPARTURE_AFTER + timedelta(hours=corridor.departure_hour) + slot * corridor.headway
    planned = planned_times(corridor, first)
    planned_delivery = planned[-1][1] + corridor.delivery
    promised = planned_delivery + corridor.promise_slack
    gate_in = to_minute(first - corridor.gate_in_lead * rng.uniform(0.7, 1.0))
    issued = to_minute(max(start + random_hours(rng, 0, 3), gate_in - timedelta(days=rng.uniform(1, 3))))

    legs, n = [], 0
    for leg, (dep, arr) in zip(corridor.legs, planned, strict=True):
        n = departure_number(start, dep, leg.headway) if leg.headway is not None else n  # through trains keep theirs
        legs.append(
            Leg(
                mode=leg.mode,
                carrier=leg.carrier,
                origin=leg.origin,
                destination=leg.destination,
                planned_departure=dep,
                planned_arrival=arr,
                reference=leg.reference.format(n=n),
            )
        )
    plan = Plan(
        unit=unit,
        revision=1,
        issued_time=issued,
        lane=corridor.lane,
        customer=corridor.customer,
        legs=legs,
        promised_delivery=promised,
    )

    tags: list[str] = []
    runs, holds = travel(seed, corridor, start, planned, advisory, rng, tags, realism=realism)
    refs = ShipmentRefs(
        booking=f"{corridor.code.upper()}{start:%y%m%d}{index + 1:03d}",
        bill_of_lading=f"COSU{rng.randrange(10**10):010d}" if corridor.legs[0].mode is Mode.SEA else None,
        air_waybill=unit.id if unit.kind is UnitKind.AWB else None,
    )
    emitter = Emitter(unit, refs, rng)
    delivered = _emit_journey(emitter, corridor, runs, holds, gate_in)
    outcome = UnitOutcome(
        unit.id, corridor.code, corridor.lane, first, planned_delivery, promised, delivered, tuple(tags)
    )
    return [SimRecord(issued, plan), *emitter.records], outcome


def generate(
    seed: int = 7,
    units_per_corridor: int = 8,
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC),
    tick_hours: float = 6.0,
    *,
    corridors: Sequence[Corridor] = CORRIDORS,
    shipments: int = 0,
    realism: Realism = NONE,
) -> Scenario:
    """Plans, carrier events and clock ticks for `units_per_corridor` units on each corridor, from `start`.

    `shipments`: instances of each shipment flow (`streams.sim.shipments`) to add: shipment plans and the plans
    and events of the units carrying them, with their ground truth in `shipment_outcomes`. 0 adds nothing."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    if tick_hours <= 0 or units_per_corridor < 0 or shipments < 0:
        raise ValueError("tick_hours must be positive, units_per_corridor and shipments not negative")
    start = start.astimezone(UTC)
    rng = random.Random(seed)
    slots = max(1, math.ceil(units_per_corridor / UNITS_PER_DEPARTURE))
    used: set[str] = set()
    records: list[SimRecord] = []
    outcomes: list[UnitOutcome] = []
    for corridor in corridors:
        advisory = _advisory(rng, corridor, start, slots)
        for index in range(units_per_corridor):
            unit_records, outcome = _unit(seed, corridor, index, start, advisory, used, realism)
            records.extend(unit_records)
            outcomes.append(outcome)
    shipment_outcomes: list[ShipmentOutcome] = []
    if shipments:
        flows = generate_shipments(seed, start, shipments, avoid=used)
        records.extend(flows.records)
        shipment_outcomes = flows.outcomes

    last = max((r.published_at for r in records), default=start)
    step = timedelta(hours=tick_hours)
    count = math.ceil((last - start) / step) + 1
    records.extend(SimRecord(start + k * step, ClockTick(time=start + k * step)) for k in range(count))

    records.sort(key=lambda r: (r.published_at, _RANK[r.record.record]))  # stable: generation order breaks ties
    return Scenario(seed=seed, start=start, records=records, outcomes=outcomes, shipment_outcomes=shipment_outcomes)
