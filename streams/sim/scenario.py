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
from typing import TYPE_CHECKING

from stdnum import iso6346

from schemas import (
    Classifier,
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
from streams.sim.corridors import (
    CORRIDORS,
    DEFAULT_LATENCY_MINUTES,
    LATENCY_MINUTES,
    Corridor,
    D,
    H,
    LegSpec,
    Risk,
)

if TYPE_CHECKING:
    from streams.sim.shipments import ShipmentOutcome

SimInput = Plan | ShipmentPlan | TrackingEvent | ClockTick

FIRST_DEPARTURE_AFTER = 3 * D  # the first departures leave this long after `start`, so plans come first
UNITS_PER_DEPARTURE = 2
RED_SEA_AFTER = 8 * D  # Singapore -> Bab-el-Mandeb: a sailing past it when the advisory comes stays on Suez
CUSTOMS_HOLD_P = 0.15
LATE_FEED_P = 0.04  # an event reported about a day late (feed outage, batch resent): arrives out of order
DUPLICATE_P = 0.03  # the same event sent again later (webhook retry)
# at one instant: plans (unit and shipment), then events, then the tick that follows
_RANK = {"plan": 0, "shipment_plan": 0, "event": 1, "clock": 2}


@dataclass(frozen=True)
class SimRecord:
    published_at: datetime  # event time at which the record becomes known (issued/received/tick time)
    record: SimInput


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


@dataclass(frozen=True)
class _Trip:
    """One departure of one leg, shared by every unit on it."""

    key: str
    n: int  # departure sequence number, for the reference
    departure_delay: timedelta
    transit_factor: float
    extra_transit: timedelta
    eta_optimism: float  # the carrier's ETA is early by this fraction of the transit
    cape_extra: timedelta  # added when the sailing is diverted round the Cape
    vessel: tuple[str, str] | None


@dataclass(frozen=True)
class _Run:
    """How one unit actually travelled one leg."""

    leg: LegSpec
    trip: _Trip
    departed: datetime
    arrived: datetime
    diverted_at: datetime | None  # when the Cape diversion became known, if diverted


def _minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _hours(rng: random.Random, lo: float, hi: float) -> timedelta:
    return timedelta(hours=rng.uniform(lo, hi))


def _draw_trip(seed: int, key: str, n: int, leg: LegSpec) -> _Trip:
    """Disruptions of one departure, from a Random keyed by the departure so all its units agree."""
    rng = random.Random(f"{seed}|trip|{key}")
    delay = timedelta(0)
    extra = timedelta(0)
    if leg.risk is Risk.BORDER:
        factor = rng.uniform(0.95, 1.08)
        if rng.random() < 0.45:  # queue at the gauge change: median ~1 day, sometimes several
            delay = timedelta(hours=min(120.0, max(4.0, rng.lognormvariate(math.log(24.0), 0.9))))
    elif leg.risk in (Risk.PORT, Risk.SUEZ):
        factor = rng.uniform(0.97, 1.04)
        if rng.random() < 0.3:  # berth congestion, late vessel
            delay = _hours(rng, 6, 40)
    elif leg.risk is Risk.FLIGHT:
        factor = rng.uniform(0.95, 1.05)
        if rng.random() < 0.3:
            delay = _hours(rng, 2, 16)
    elif leg.risk is Risk.TRUCK:
        factor = rng.uniform(0.92, 1.1)
        if rng.random() < 0.25:
            delay = _hours(rng, 1, 6)
        if rng.random() < 0.25:  # border queue, traffic, driver rest
            extra = _hours(rng, 2, 16)
    else:
        factor = rng.uniform(0.96, 1.06)
        if rng.random() < 0.12:
            delay = _hours(rng, 1, 8)
    optimism = rng.uniform(0.02, 0.08)
    cape = timedelta(days=rng.uniform(10, 14))
    vessel = leg.vessels[n % len(leg.vessels)] if leg.vessels else None
    return _Trip(key, n, delay, factor, extra, optimism, cape, vessel)


def _planned_times(corridor: Corridor, first_departure: datetime) -> list[tuple[datetime, datetime]]:
    times = []
    dep = first_departure
    for i, leg in enumerate(corridor.legs):
        if i:
            dep = times[-1][1] + leg.dwell
        times.append((dep, dep + leg.transit))
    return times


def _sequence(start: datetime, sched: datetime, headway: timedelta) -> int:
    return 101 + (sched - start) // headway


def _advisory(rng: random.Random, corridor: Corridor, start: datetime, slots: int) -> datetime | None:
    """When the carrier stops routing through the Red Sea: between two of the scenario's sailings, so the first
    sailing goes through Suez and a later one is diverted round the Cape."""
    suez = [i for i, leg in enumerate(corridor.legs) if leg.risk is Risk.SUEZ]
    if not suez:
        return None
    first = start + FIRST_DEPARTURE_AFTER + timedelta(hours=corridor.departure_hour)
    nominal = [_planned_times(corridor, first + s * corridor.headway)[suez[0]][0] for s in range(slots)]
    if slots == 1:
        return nominal[0] + RED_SEA_AFTER - 3 * D if rng.random() < 0.5 else None
    j = rng.randint(1, slots - 1)
    return nominal[j] + RED_SEA_AFTER - timedelta(days=rng.uniform(1, 4))


def _travel(
    seed: int,
    corridor: Corridor,
    start: datetime,
    planned: list[tuple[datetime, datetime]],
    advisory: datetime | None,
    rng: random.Random,
    tags: list[str],
    *,
    legs: range | None = None,
    ready: datetime | None = None,
) -> tuple[list[_Run], dict[int, tuple[datetime, datetime]]]:
    """Actual departures/arrivals of one unit, and customs holds (index in the runs -> hold, release).

    `legs` (default: all) travels part of the corridor, keeping its departures (and so its disruptions);
    `ready` (default: the first leg's planned departure) is when the unit can first leave."""
    runs: list[_Run] = []
    holds: dict[int, tuple[datetime, datetime]] = {}
    legs = range(len(corridor.legs)) if legs is None else legs
    ready = planned[legs[0]][0] if ready is None else ready
    for i in legs:
        leg = corridor.legs[i]
        if leg.headway is not None:  # scheduled service: a unit not ready in time takes the next departure
            sched = planned[i][0]
            while sched < ready:
                sched += leg.headway
            if leg.rollover and rng.random() < leg.rollover:
                sched += leg.headway
                tags.append(f"{'missed-connection' if leg.mode is Mode.ROAD else 'rolled'}@{leg.origin}")
            elif sched > planned[i][0]:
                tags.append(f"missed-departure@{leg.origin}")
            trip = _draw_trip(
                seed, f"{corridor.code}|{i}|{sched:%Y%m%dT%H%M}", _sequence(start, sched, leg.headway), leg
            )
            departed = sched + trip.departure_delay
        else:  # the same train runs on once handled at the border
            prev = runs[-1].trip
            trip = _draw_trip(seed, f"{prev.key}>{i}", prev.n, leg)
            departed = max(planned[i][0], ready) + trip.departure_delay
        if trip.departure_delay >= 4 * H:
            tags.append(f"{'border-congestion' if leg.risk is Risk.BORDER else 'departure-delay'}@{leg.origin}")
        departed = _minute(departed)
        transit = leg.transit * trip.transit_factor + trip.extra_transit
        diverted_at = None
        if leg.risk is Risk.SUEZ and advisory is not None and departed + RED_SEA_AFTER > advisory:
            diverted_at = _minute(max(advisory, departed))
            transit += trip.cape_extra
            tags.append("cape-diversion")
        elif trip.extra_transit >= 4 * H:
            tags.append(f"transit-delay@{leg.origin}-{leg.destination}")
        arrived = _minute(departed + transit)
        runs.append(_Run(leg, trip, departed, arrived, diverted_at))
        ready = arrived
        if leg.destination == corridor.customs_at and rng.random() < CUSTOMS_HOLD_P:
            lo, hi = (20, 30) if leg.mode is Mode.SEA else (2, 10)  # a container is held once discharged
            hold = _minute(arrived + _hours(rng, lo, hi))
            release = _minute(hold + _hours(rng, 18, 72))
            holds[len(runs) - 1] = (hold, release)
            ready = release + 2 * H
            tags.append(f"customs-hold@{leg.destination}")
        if i + 1 < len(corridor.legs):
            ready += corridor.legs[i + 1].handling
    return runs, holds


class _Emitter:
    """Turns one unit's journey into event records: ids, latency, late feeds and duplicate deliveries."""

    def __init__(self, unit: TrackedUnit, refs: ShipmentRefs, rng: random.Random) -> None:
        self.unit, self.refs, self.rng = unit, refs, rng
        self.records: list[SimRecord] = []
        self._counts: dict[str, int] = {}

    def _latency(self, source: str) -> timedelta:
        median = LATENCY_MINUTES.get(source, DEFAULT_LATENCY_MINUTES)
        minutes = min(360.0, max(1.0, median * self.rng.lognormvariate(0.0, 0.7)))
        if self.rng.random() < LATE_FEED_P:
            minutes += self.rng.uniform(20, 30) * 60
        return timedelta(seconds=round(minutes * 60))

    def emit(
        self,
        source: str,
        mode: Mode,
        milestone: Milestone,
        location: str,
        event_time: datetime,
        transport: TransportRef,
        classifier: Classifier = Classifier.ACTUAL,
        reported: datetime | None = None,
        shipment: ShipmentRefs | None = None,
    ) -> None:
        """`reported` is when the report was made (for estimates); actual events are reported when they happen.
        `shipment` replaces the emitter's refs on this event (cargo stuffed into or stripped from the unit)."""
        received = ((reported or event_time) + self._latency(source)).replace(microsecond=0)
        if classifier is Classifier.ESTIMATED and event_time <= received + H:
            return  # an "estimate" of something about to happen tells nothing; carriers would not send it
        n = self._counts[source] = self._counts.get(source, 0) + 1
        event = TrackingEvent(
            event_id=f"{source}-{self.unit.id}-{n}",
            source=source,
            unit=self.unit,
            mode=mode,
            milestone=milestone,
            classifier=classifier,
            location=location,
            event_time=event_time,
            received_time=received,
            transport=transport,
            shipment=self.refs if shipment is None else shipment,
        )
        self.records.append(SimRecord(received, event))
        if self.rng.random() < DUPLICATE_P:
            self.records.append(SimRecord(received + timedelta(seconds=self.rng.randint(120, 3 * 3600)), event))


def _transport(run: _Run) -> TransportRef:
    leg, ref = run.leg, run.leg.reference.format(n=run.trip.n)
    if leg.mode is Mode.SEA:
        name, imo = run.trip.vessel or (None, None)
        return TransportRef(carrier=leg.carrier, vessel_name=name, vessel_imo=imo, voyage=ref)
    if leg.mode is Mode.RAIL:
        return TransportRef(carrier=leg.carrier, train=ref)
    if leg.mode is Mode.AIR:
        return TransportRef(carrier=leg.carrier, flight=ref)
    return TransportRef(carrier=leg.carrier, truck=ref)


def _emit_runs(
    em: _Emitter,
    runs: list[_Run],
    holds: dict[int, tuple[datetime, datetime]],
    gate_in: datetime,
    customs_source: str,
) -> datetime:
    """Gate-in, then each leg's departure, carrier estimates and arrival (loading and discharge at sea) and
    customs holds; return when the unit was last handled at its final stop (arrival, discharge or release)."""
    rng = em.rng
    first = runs[0]
    em.emit(first.leg.source, first.leg.mode, Milestone.GATE_IN, first.leg.origin, gate_in, _transport(first))
    last_done = gate_in  # latest event so far at the current location
    for i, run in enumerate(runs):
        leg, transport = run.leg, _transport(run)
        if leg.mode is Mode.SEA:
            loaded = run.departed - min(_hours(rng, 4, 16), (run.departed - last_done) / 2)
            em.emit(leg.source, leg.mode, Milestone.LOADED, leg.origin, _minute(loaded), transport)
        em.emit(leg.source, leg.mode, Milestone.DEPARTED, leg.origin, run.departed, transport)
        planned_transit = leg.transit * run.trip.transit_factor + run.trip.extra_transit
        announced_with_cape = run.diverted_at is not None and run.diverted_at <= run.departed
        truth = run.arrived if run.diverted_at is None or announced_with_cape else run.departed + planned_transit
        optimism = (truth - run.departed) * run.trip.eta_optimism
        em.emit(
            leg.source,
            leg.mode,
            Milestone.ARRIVED,
            leg.destination,
            _minute(truth - optimism),
            transport,
            Classifier.ESTIMATED,
            reported=run.departed,
        )
        if run.diverted_at is not None and not announced_with_cape:  # the carrier announces the Cape routing
            eta = run.arrived - (run.arrived - run.diverted_at) * rng.uniform(0.01, 0.03)
            em.emit(
                leg.source,
                leg.mode,
                Milestone.ARRIVED,
                leg.destination,
                _minute(eta),
                transport,
                Classifier.ESTIMATED,
                reported=run.diverted_at,
            )
        em.emit(leg.source, leg.mode, Milestone.ARRIVED, leg.destination, run.arrived, transport)
        last_done = run.arrived
        if leg.mode is Mode.SEA:
            room = (runs[i + 1].departed - run.arrived) * 0.4 if i + 1 < len(runs) else 18 * H
            last_done = _minute(run.arrived + min(_hours(rng, 6, 18), room))
            em.emit(leg.source, leg.mode, Milestone.DISCHARGED, leg.destination, last_done, transport)
        if i in holds:
            hold, release = holds[i]
            hold = max(hold, last_done + timedelta(minutes=30))
            em.emit(customs_source, leg.mode, Milestone.CUSTOMS_HOLD, leg.destination, hold, transport)
            em.emit(customs_source, leg.mode, Milestone.CUSTOMS_RELEASED, leg.destination, release, transport)
            last_done = max(last_done, release)
    return last_done


def _emit_journey(
    em: _Emitter,
    corridor: Corridor,
    runs: list[_Run],
    holds: dict[int, tuple[datetime, datetime]],
    gate_in: datetime,
) -> datetime:
    """Emit every event of the journey; return the delivery time."""
    rng = em.rng
    last_done = _emit_runs(em, runs, holds, gate_in, corridor.customs_source)
    final = runs[-1]
    delivery_transport = TransportRef(carrier=corridor.delivery_carrier)
    if final.leg.mode is Mode.SEA:
        gate_out = _minute(last_done + _hours(rng, 12, 40))
        em.emit(final.leg.source, Mode.SEA, Milestone.GATE_OUT, final.leg.destination, gate_out, _transport(final))
        delivered = _minute(gate_out + _hours(rng, 3, 10))
    else:
        delivered = _minute(last_done + corridor.delivery * rng.uniform(0.7, 1.4))
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
) -> tuple[list[SimRecord], UnitOutcome]:
    rng = random.Random(f"{seed}|{corridor.code}|{index}")
    unit = _unit_id(corridor, rng, index, used)
    slot = index // UNITS_PER_DEPARTURE
    first = start + FIRST_DEPARTURE_AFTER + timedelta(hours=corridor.departure_hour) + slot * corridor.headway
    planned = _planned_times(corridor, first)
    planned_delivery = planned[-1][1] + corridor.delivery
    promised = planned_delivery + corridor.promise_slack
    gate_in = _minute(first - corridor.gate_in_lead * rng.uniform(0.7, 1.0))
    issued = _minute(max(start + _hours(rng, 0, 3), gate_in - timedelta(days=rng.uniform(1, 3))))

    legs, n = [], 0
    for leg, (dep, arr) in zip(corridor.legs, planned, strict=True):
        n = _sequence(start, dep, leg.headway) if leg.headway is not None else n  # through trains keep theirs
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
    runs, holds = _travel(seed, corridor, start, planned, advisory, rng, tags)
    refs = ShipmentRefs(
        booking=f"{corridor.code.upper()}{start:%y%m%d}{index + 1:03d}",
        bill_of_lading=f"COSU{rng.randrange(10**10):010d}" if corridor.legs[0].mode is Mode.SEA else None,
        air_waybill=unit.id if unit.kind is UnitKind.AWB else None,
    )
    emitter = _Emitter(unit, refs, rng)
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
            unit_records, outcome = _unit(seed, corridor, index, start, advisory, used)
            records.extend(unit_records)
            outcomes.append(outcome)
    shipment_outcomes: list[ShipmentOutcome] = []
    if shipments:
        from streams.sim.shipments import generate_shipments  # it builds on this module

        flows = generate_shipments(seed, start, shipments, avoid=used)
        records.extend(flows.records)
        shipment_outcomes = flows.outcomes

    last = max((r.published_at for r in records), default=start)
    step = timedelta(hours=tick_hours)
    count = math.ceil((last - start) / step) + 1
    records.extend(SimRecord(start + k * step, ClockTick(time=start + k * step)) for k in range(count))

    records.sort(key=lambda r: (r.published_at, _RANK[r.record.record]))  # stable: generation order breaks ties
    return Scenario(seed=seed, start=start, records=records, outcomes=outcomes, shipment_outcomes=shipment_outcomes)
