"""How units travel the seed corridors: departures and their disruptions, one unit's runs over the legs, and
the carrier reports that tell of them. Shared by the unit scenario (`scenario.py`) and the shipment flows
(`shipments.py`), so units on the same departure share its disruptions whichever flow they belong to.

Pure and deterministic: every draw comes from a `random.Random` keyed by the seed and what is drawn for."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from schemas import (
    Classifier,
    ClockTick,
    Milestone,
    Mode,
    Plan,
    ShipmentPlan,
    ShipmentRefs,
    TrackedUnit,
    TrackingEvent,
    TransportRef,
)
from streams.sim import phenomena
from streams.sim.corridors import (
    BORDER_REROUTES,
    CAPE_CALL,
    DEFAULT_LATENCY_MINUTES,
    LATENCY_MINUTES,
    Corridor,
    D,
    H,
    LegSpec,
    Risk,
)

SimInput = Plan | ShipmentPlan | TrackingEvent | ClockTick

FIRST_DEPARTURE_AFTER = 3 * D  # the first departures leave this long after `start`, so plans come first
RED_SEA_AFTER = 8 * D  # Singapore -> Bab-el-Mandeb: a sailing past it when the advisory comes stays on Suez
CUSTOMS_HOLD_P = 0.15
LATE_FEED_P = 0.04  # an event reported about a day late (feed outage, batch resent): arrives out of order
DUPLICATE_P = 0.03  # the same event sent again later (webhook retry)


@dataclass(frozen=True)
class SimRecord:
    published_at: datetime  # event time at which the record becomes known (issued/received/tick time)
    record: SimInput


@dataclass(frozen=True)
class Trip:
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
class Run:
    """How one unit actually travelled one leg."""

    leg: LegSpec
    trip: Trip
    departed: datetime
    arrived: datetime
    diverted_at: datetime | None  # when the Cape diversion became known, if diverted


def to_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def random_hours(rng: random.Random, lo: float, hi: float) -> timedelta:
    return timedelta(hours=rng.uniform(lo, hi))


def _reroutes(seed: int, corridor: Corridor, trip: Trip) -> bool:
    """Whether this departure of the corridor's first leg is sent over the other border crossing: drawn from a
    Random of its own, so the other draws (and so every other scenario) stay as they were."""
    spec = BORDER_REROUTES.get(corridor.code)
    return spec is not None and random.Random(f"{seed}|reroute|{trip.key}").random() < spec.p


def _rerouted_leg(corridor: Corridor, leg: LegSpec) -> LegSpec:
    """The leg as a re-routed train runs it: the planned crossing's places swapped for the alternative's."""
    spec = BORDER_REROUTES[corridor.code]
    (cn, kz), (alt_cn, alt_kz) = spec.planned, spec.alternative
    if leg.destination == cn:
        return replace(leg, destination=alt_cn, transit=spec.transit[0])
    if (leg.origin, leg.destination) == (cn, kz):
        return replace(leg, origin=alt_cn, destination=alt_kz, transit=spec.transit[1])
    if leg.origin == kz:
        return replace(leg, origin=alt_kz, transit=spec.transit[2])
    return leg


def draw_trip(seed: int, key: str, n: int, leg: LegSpec) -> Trip:
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
            delay = random_hours(rng, 6, 40)
    elif leg.risk is Risk.FLIGHT:
        factor = rng.uniform(0.95, 1.05)
        if rng.random() < 0.3:
            delay = random_hours(rng, 2, 16)
    elif leg.risk is Risk.TRUCK:
        factor = rng.uniform(0.92, 1.1)
        if rng.random() < 0.25:
            delay = random_hours(rng, 1, 6)
        if rng.random() < 0.25:  # border queue, traffic, driver rest
            extra = random_hours(rng, 2, 16)
    else:
        factor = rng.uniform(0.96, 1.06)
        if rng.random() < 0.12:
            delay = random_hours(rng, 1, 8)
    optimism = rng.uniform(0.02, 0.08)
    cape = timedelta(days=rng.uniform(10, 14))
    vessel = leg.vessels[n % len(leg.vessels)] if leg.vessels else None
    return Trip(key, n, delay, factor, extra, optimism, cape, vessel)


def planned_times(corridor: Corridor, first_departure: datetime) -> list[tuple[datetime, datetime]]:
    times = []
    dep = first_departure
    for i, leg in enumerate(corridor.legs):
        if i:
            dep = times[-1][1] + leg.dwell
        times.append((dep, dep + leg.transit))
    return times


def departure_number(start: datetime, sched: datetime, headway: timedelta) -> int:
    return 101 + (sched - start) // headway


def travel(
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
    realism: phenomena.Realism = phenomena.NONE,
) -> tuple[list[Run], dict[int, tuple[datetime, datetime]]]:
    """Actual departures/arrivals of one unit, and customs holds (index in the runs -> hold, release).

    `legs` (default: all) travels part of the corridor, keeping its departures (and so its disruptions);
    `ready` (default: the first leg's planned departure) is when the unit can first leave."""
    runs: list[Run] = []
    holds: dict[int, tuple[datetime, datetime]] = {}
    legs = range(len(corridor.legs)) if legs is None else legs
    ready = planned[legs[0]][0] if ready is None else ready
    rerouted = False
    for i in legs:
        leg = corridor.legs[i]
        if rerouted:
            leg = _rerouted_leg(corridor, leg)
        if leg.headway is not None:  # scheduled service: a unit not ready in time takes the next departure
            sched = planned[i][0]
            while sched < ready:
                sched += leg.headway
            if leg.rollover and rng.random() < leg.rollover:
                sched += leg.headway
                tags.append(f"{'missed-connection' if leg.mode is Mode.ROAD else 'rolled'}@{leg.origin}")
            elif sched > planned[i][0]:
                tags.append(f"missed-departure@{leg.origin}")
            trip = draw_trip(
                seed, f"{corridor.code}|{i}|{sched:%Y%m%dT%H%M}", departure_number(start, sched, leg.headway), leg
            )
            departed = sched + trip.departure_delay
            if i == 0 and _reroutes(seed, corridor, trip):
                rerouted = True
                leg = _rerouted_leg(corridor, leg)
                tags.append(f"border-reroute@{leg.destination}")
        else:  # the same train runs on once handled at the border
            prev = runs[-1].trip
            trip = draw_trip(seed, f"{prev.key}>{i}", prev.n, leg)
            departed = max(planned[i][0], ready) + trip.departure_delay
        # Issue #25's phenomena (streams/sim/phenomena.py): hub dwell, lane bias, biased estimates.
        hub = phenomena.hub_wait(realism, seed, trip.key, leg.origin)
        if hub:
            departed += hub
            tags.append(f"hub-dwell@{leg.origin}")
        trip = replace(trip, transit_factor=trip.transit_factor * phenomena.lane_factor(realism, corridor.code),
                       eta_optimism=phenomena.optimism(realism, leg.source, trip.eta_optimism))  # fmt: skip
        if trip.departure_delay >= 4 * H:
            tags.append(f"{'border-congestion' if leg.risk is Risk.BORDER else 'departure-delay'}@{leg.origin}")
        departed = to_minute(departed)
        transit = leg.transit * trip.transit_factor + trip.extra_transit
        diverted_at = None
        if leg.risk is Risk.SUEZ and advisory is not None and departed + RED_SEA_AFTER > advisory:
            diverted_at = to_minute(max(advisory, departed))
            transit += trip.cape_extra
            tags.append("cape-diversion")
        elif trip.extra_transit >= 4 * H:
            tags.append(f"transit-delay@{leg.origin}-{leg.destination}")
        arrived = to_minute(departed + transit)
        runs.append(Run(leg, trip, departed, arrived, diverted_at))
        ready = arrived
        if leg.destination == corridor.customs_at and rng.random() < CUSTOMS_HOLD_P:
            lo, hi = (20, 30) if leg.mode is Mode.SEA else (2, 10)  # a container is held once discharged
            hold = to_minute(arrived + random_hours(rng, lo, hi))
            release = to_minute(hold + random_hours(rng, 18, 72))
            holds[len(runs) - 1] = (hold, release)
            ready = release + 2 * H
            tags.append(f"customs-hold@{leg.destination}")
        if i + 1 < len(corridor.legs):
            ready += corridor.legs[i + 1].handling
    return runs, holds


class Emitter:
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


def transport_of(run: Run) -> TransportRef:
    leg, ref = run.leg, run.leg.reference.format(n=run.trip.n)
    if leg.mode is Mode.SEA:
        name, imo = run.trip.vessel or (None, None)
        return TransportRef(carrier=leg.carrier, vessel_name=name, vessel_imo=imo, voyage=ref)
    if leg.mode is Mode.RAIL:
        return TransportRef(carrier=leg.carrier, train=ref)
    if leg.mode is Mode.AIR:
        return TransportRef(carrier=leg.carrier, flight=ref)
    return TransportRef(carrier=leg.carrier, truck=ref)


def emit_runs(
    em: Emitter,
    runs: list[Run],
    holds: dict[int, tuple[datetime, datetime]],
    gate_in: datetime,
    customs_source: str,
) -> datetime:
    """Gate-in, then each leg's departure, carrier estimates and arrival (loading and discharge at sea) and
    customs holds; return when the unit was last handled at its final stop (arrival, discharge or release)."""
    rng = em.rng
    first = runs[0]
    em.emit(first.leg.source, first.leg.mode, Milestone.GATE_IN, first.leg.origin, gate_in, transport_of(first))
    last_done = gate_in  # latest event so far at the current location
    for i, run in enumerate(runs):
        leg, transport = run.leg, transport_of(run)
        if leg.mode is Mode.SEA:
            loaded = run.departed - min(random_hours(rng, 4, 16), (run.departed - last_done) / 2)
            em.emit(leg.source, leg.mode, Milestone.LOADED, leg.origin, to_minute(loaded), transport)
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
            to_minute(truth - optimism),
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
                to_minute(eta),
                transport,
                Classifier.ESTIMATED,
                reported=run.diverted_at,
            )
        if run.diverted_at is not None:
            _emit_cape_call(em, run, transport)
        em.emit(leg.source, leg.mode, Milestone.ARRIVED, leg.destination, run.arrived, transport)
        last_done = run.arrived
        if leg.mode is Mode.SEA:
            room = (runs[i + 1].departed - run.arrived) * 0.4 if i + 1 < len(runs) else 18 * H
            last_done = to_minute(run.arrived + min(random_hours(rng, 6, 18), room))
            em.emit(leg.source, leg.mode, Milestone.DISCHARGED, leg.destination, last_done, transport)
        if i in holds:
            hold, release = holds[i]
            hold = max(hold, last_done + timedelta(minutes=30))
            em.emit(customs_source, leg.mode, Milestone.CUSTOMS_HOLD, leg.destination, hold, transport)
            em.emit(customs_source, leg.mode, Milestone.CUSTOMS_RELEASED, leg.destination, release, transport)
            last_done = max(last_done, release)
    return last_done


def _emit_cape_call(em: Emitter, run: Run, transport: TransportRef) -> None:
    """A diverted sailing's call at Cape Town (`CAPE_CALL`), reported as the vessel's arrival and departure there.
    Drawn from a Random keyed by the sailing (all its units agree), and emitted with one too, so the unit's own
    draws (and every other event of the scenario) stay as they were."""
    rng = random.Random(f"cape-call|{run.trip.key}")
    if rng.random() >= CAPE_CALL.p:
        return
    at = to_minute(run.departed + (run.arrived - run.departed) * CAPE_CALL.share)
    if run.diverted_at is not None and at <= run.diverted_at:
        return  # the diversion came after it would have been there: no call to report
    left = to_minute(at + timedelta(hours=rng.uniform(*CAPE_CALL.stay)))
    own, em.rng = em.rng, random.Random(f"cape-call|{run.trip.key}|{em.unit.id}")
    try:
        em.emit(run.leg.source, run.leg.mode, Milestone.ARRIVED, CAPE_CALL.place, at, transport)
        em.emit(run.leg.source, run.leg.mode, Milestone.DEPARTED, CAPE_CALL.place, left, transport)
    finally:
        em.rng = own
