"""Shipment flows on the seed corridors: shipments (bookings, air waybills) followed across the units they ride in,
with ground truth. Pure and deterministic like `scenario.py`, whose trips (and so disruptions) it shares.

Three flows, `per_flow` instances of each:

- **consolidation** (ASEAN Express + CR Express): ASEAN bookings leave Hanoi in containers (1-3 shipments each,
  LCL), by road to Pingxiang and rail to Chongqing. There they are stripped and, after the hub dwell, stuffed
  with local Chongqing bookings into CR Express containers to Duisburg, where the containers are stripped (after
  a customs hold, sometimes) and each shipment goes on a truck to its consignee. Flows "asean-consolidation"
  and "chongqing-local". A hub backlog at Chongqing (abnormal dwell) or a late feeder makes the wave miss its
  train; the CR Express containers are then re-planned onto the next one.
- **air**: air waybills received in Hong Kong, built into ULDs, flown to Liège, broken down, sometimes held by
  customs, and trucked to Madrid on the daily line-haul.
- **air-split**: one air waybill whose pieces are split: some fly in a ULD on the booked flight, the rest are
  offloaded and fly on the next flight (56 h later) in another ULD; both parts go to Madrid on one truck or two.

How the records name the joins (what the shipment core learns from): cargo into a unit is a STUFFED event of
that unit naming the shipment and its pieces, cargo out of it a STRIPPED event; an air waybill's own statuses
(FSU RCS, MAN, DEP, ARR, RCF, TGC, CCD) are events whose unit is the air waybill; the door delivery is the
last truck's DELIVERED, followed by its STRIPPED. Units that end at a hub (feeder containers, CR Express
containers, ULDs) have plans without a promised delivery and no DELIVERED event.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from stdnum import iso6346

from schemas import (
    Leg,
    Milestone,
    Mode,
    Plan,
    ShipmentKind,
    ShipmentLeg,
    ShipmentPlan,
    ShipmentRef,
    ShipmentRefs,
    TrackedUnit,
    TrackingEvent,
    TransportRef,
    UnitKind,
)
from streams.sim.corridors import (
    AIR_HKG_LGG_MAD,
    ASEAN_EXPRESS,
    CR_EXPRESS,
    DUISBURG_LAST_MILE,
    HUB_SOURCES,
    Corridor,
    D,
    H,
    LegSpec,
)
from streams.sim.trips import (
    FIRST_DEPARTURE_AFTER,
    Emitter,
    Run,
    SimRecord,
    departure_number,
    draw_trip,
    emit_runs,
    planned_times,
    random_hours,
    to_minute,
    transport_of,
    travel,
)

FLOWS = ("consolidation", "air", "air-split")
FEEDERS_PER_WAVE = 2  # ASEAN containers feeding one Chongqing consolidation
CKG_HUB_PLAN = 36 * H  # planned minimum at Chongqing: strip, sort, consolidate, stuff, gate in
CKG_CUTOFF = 10 * H  # a CR Express container must be at the terminal this long before its train leaves
CKG_BACKLOG_P = 0.25  # the hub is backed up (inspection, peak): the wave dwells abnormally long
DUI_HUB_PLAN = 36 * H  # planned arrival in Duisburg -> truck departure (strip, clear, load)
DUI_CUSTOMS_P = 0.3  # a CR Express container is held by customs at Duisburg
LGG_CUSTOMS_P = 0.3  # an air waybill (or one part of it) is held by customs at Liège
PROMISE_SLACK = {"consolidation": 3 * D, "air": 1 * D, "air-split": 1 * D}
AWB_PREFIX = AIR_HKG_LGG_MAD.owners[0]
FSU_SOURCE = AIR_HKG_LGG_MAD.legs[0].source  # "cainiao-fsu"
_REF_FIELD = {
    ShipmentKind.BOOKING: "booking",
    ShipmentKind.BILL_OF_LADING: "bill_of_lading",
    ShipmentKind.AIR_WAYBILL: "air_waybill",
    ShipmentKind.CONSIGNMENT: "consignment",
}
_NO_CUSTOMS = {c.code: replace(c, customs_at="") for c in (CR_EXPRESS, ASEAN_EXPRESS, AIR_HKG_LGG_MAD)}


@dataclass(frozen=True)
class ShipmentOutcome:
    """What really happened to one shipment: ground truth for the shipment tracker's tests."""

    shipment: str
    kind: ShipmentKind
    flow: str  # "asean-consolidation", "chongqing-local", "air", "air-split"
    lane: str
    pieces: int
    planned_delivery: datetime  # the shipment plan's last leg, planned arrival
    promised_delivery: datetime
    delivered: datetime  # the (last) door delivery
    units: tuple[str, ...]  # every unit the cargo rode in, in the order it was put in them
    disruptions: tuple[str, ...]  # e.g. "hub-backlog@CNCKG", "missed-departure@CNCKG", "customs-hold@DEDUI"

    @property
    def on_time(self) -> bool:
        return self.delivered <= self.promised_delivery

    @property
    def delay(self) -> timedelta:
        return self.delivered - self.planned_delivery


@dataclass(frozen=True)
class ShipmentScenario:
    seed: int
    start: datetime
    records: list[SimRecord]  # sorted by published_at (plans first at one instant); no clock ticks
    outcomes: list[ShipmentOutcome]

    @property
    def shipment_plans(self) -> list[ShipmentPlan]:
        return [r.record for r in self.records if isinstance(r.record, ShipmentPlan)]

    @property
    def plans(self) -> list[Plan]:
        return [r.record for r in self.records if isinstance(r.record, Plan)]

    @property
    def events(self) -> list[TrackingEvent]:
        return [r.record for r in self.records if isinstance(r.record, TrackingEvent)]


@dataclass
class _Cargo:
    """One shipment while it is generated."""

    ref: ShipmentRef
    flow: str
    lane: str
    pieces: int
    loaded: dict[str, datetime] = field(default_factory=dict)  # unit id -> when the cargo was first put in it
    tags: list[str] = field(default_factory=list)
    delivered: list[datetime] = field(default_factory=list)
    plan: ShipmentPlan | None = None

    def refs(self, pieces: int) -> ShipmentRefs:
        return ShipmentRefs(**{_REF_FIELD[self.ref.kind]: self.ref.id, "pieces": pieces})

    def rode(self, tags: Sequence[str]) -> None:
        """Disruptions of a unit (or flight, or hub) the cargo went through."""
        self.tags.extend(t for t in tags if t not in self.tags)


def _leg(spec: LegSpec, dep: datetime, arr: datetime, n: int) -> Leg:
    return Leg(
        mode=spec.mode,
        carrier=spec.carrier,
        origin=spec.origin,
        destination=spec.destination,
        planned_departure=dep,
        planned_arrival=arr,
        reference=spec.reference.format(n=n),
    )


def _corridor_legs(corridor: Corridor, start: datetime, first: datetime, legs: range) -> list[Leg]:
    """Plan legs of part of a corridor, departing `first` (the first leg's scheduled departure)."""
    out, n = [], 0
    for i, (spec, (dep, arr)) in enumerate(zip(corridor.legs, planned_times(corridor, first), strict=True)):
        n = departure_number(start, dep, spec.headway) if spec.headway is not None else n
        if i in legs:
            out.append(_leg(spec, dep, arr, n))
    return out


def _shipment_leg(legs: Sequence[Leg], unit: TrackedUnit | None = None) -> ShipmentLeg:
    """One shipment leg over consecutive unit legs of the same mode (the cargo stays in one unit)."""
    return ShipmentLeg(
        mode=legs[0].mode,
        carrier=legs[0].carrier,
        origin=legs[0].origin,
        destination=legs[-1].destination,
        planned_departure=legs[0].planned_departure,
        planned_arrival=legs[-1].planned_arrival,
        unit=unit,
        reference=legs[0].reference,
    )


class _Flows:
    def __init__(self, seed: int, start: datetime, avoid: Collection[str]) -> None:
        self.seed, self.start = seed, start
        self.taken: set[str] = set(avoid)
        self.records: list[SimRecord] = []
        self.cargo: list[_Cargo] = []
        self.emitters: list[Emitter] = []
        self._awb_emitters: dict[str, Emitter] = {}
        self._flights: dict[int, tuple[Run, tuple[str, ...]]] = {}

    # -- randomness and ids ------------------------------------------------------------------------------

    def rng(self, *key: object) -> random.Random:
        return random.Random("|".join((str(self.seed), "shipments", *map(str, key))))

    def _fresh(self, make: Callable[[], str]) -> str:
        while True:
            candidate = make()
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate

    def container(self, rng: random.Random, owner: str) -> TrackedUnit:
        def make() -> str:
            body = f"{owner}{rng.randrange(10**6):06d}"
            return body + iso6346.calc_check_digit(body)

        return TrackedUnit(kind=UnitKind.CONTAINER, id=self._fresh(make))

    def uld(self, rng: random.Random, kind: str = "AKE") -> TrackedUnit:
        return TrackedUnit(kind=UnitKind.ULD, id=self._fresh(lambda: f"{kind}{rng.randrange(10**4, 10**5)}RU"))

    def trailer(self, rng: random.Random, prefix: str) -> TrackedUnit:
        return TrackedUnit(kind=UnitKind.TRAILER, id=self._fresh(lambda: f"{prefix}{rng.randrange(10**4):04d}"))

    def awb(self, rng: random.Random) -> str:
        def make() -> str:
            serial = rng.randrange(10**7)
            return f"{AWB_PREFIX}-{serial:07d}{serial % 7}"

        return self._fresh(make)

    def emitter(self, unit: TrackedUnit, rng: random.Random) -> Emitter:
        em = Emitter(unit, ShipmentRefs(), rng)
        self.emitters.append(em)
        return em

    def awb_emitter(self, cargo: _Cargo) -> Emitter:
        if cargo.ref.id not in self._awb_emitters:
            unit = TrackedUnit(kind=UnitKind.AWB, id=cargo.ref.id)
            self._awb_emitters[cargo.ref.id] = self.emitter(unit, self.rng("awb", cargo.ref.id))
        return self._awb_emitters[cargo.ref.id]

    # -- records -----------------------------------------------------------------------------------------

    def plan(self, plan: Plan | ShipmentPlan) -> None:
        self.records.append(SimRecord(plan.issued_time, plan))

    def book(
        self, cargo: _Cargo, legs: list[ShipmentLeg], issued: datetime, customer: str, slack: timedelta
    ) -> None:
        cargo.plan = ShipmentPlan(
            shipment=cargo.ref,
            issued_time=issued,
            lane=cargo.lane,
            customer=customer,
            pieces=cargo.pieces,
            legs=legs,
            promised_delivery=legs[-1].planned_arrival + slack,
        )
        self.plan(cargo.plan)
        self.cargo.append(cargo)

    @staticmethod
    def handle(
        em: Emitter,
        milestone: Milestone,
        mode: Mode,
        where: str,
        at: datetime,
        loads: Sequence[tuple[_Cargo, int]],
        source: str | None = None,
    ) -> None:
        """Cargo into (STUFFED) or out of (STRIPPED) a unit: one event per shipment, a few minutes apart,
        reported by the hub (by default) or the carrier."""
        for j, (cargo, pieces) in enumerate(loads):
            t = to_minute(at + j * timedelta(minutes=em.rng.randint(5, 25)))
            if milestone is Milestone.STUFFED:
                cargo.loaded.setdefault(em.unit.id, t)
            em.emit(
                source or HUB_SOURCES[where],
                mode,
                milestone,
                where,
                t,
                TransportRef(),
                shipment=cargo.refs(pieces),
            )

    def truck(
        self,
        unit: TrackedUnit,
        rng: random.Random,
        run: Run,
        planned: Leg,
        loads: Sequence[tuple[_Cargo, int]],
        loaded: datetime,
        tags: Sequence[str],
    ) -> datetime:
        """A truck to the consignee: plan, loading, the drive, door delivery, unloading. Returns the delivery."""
        gate_in = to_minute(loaded - random_hours(rng, 0.5, 1.5))
        self.plan(
            Plan(
                unit=unit,
                issued_time=to_minute(gate_in - random_hours(rng, 2, 6)),
                lane=f"{planned.origin}-{planned.destination}",
                customer=loads[0][0].plan.customer if loads[0][0].plan else None,
                legs=[planned],
                promised_delivery=planned.planned_arrival + 12 * H,
            )
        )
        em = self.emitter(unit, rng)
        self.handle(em, Milestone.STUFFED, Mode.ROAD, planned.origin, loaded, loads)
        emit_runs(em, [run], {}, gate_in, HUB_SOURCES[planned.origin])
        delivered = to_minute(run.arrived + random_hours(rng, 0.3, 1.5))
        em.emit(run.leg.source, Mode.ROAD, Milestone.DELIVERED, planned.destination, delivered, transport_of(run))
        unloaded = delivered + random_hours(rng, 0.2, 0.6)
        self.handle(em, Milestone.STRIPPED, Mode.ROAD, planned.destination, unloaded, loads, run.leg.source)
        for cargo, _ in loads:
            cargo.rode(tags)
            cargo.delivered.append(delivered)
        return delivered

    # -- consolidation: Hanoi -> Chongqing (hub) -> Duisburg (hub) -> consignee --------------------------------

    def consolidation(self, w: int) -> None:
        start, asx, crx = self.start, ASEAN_EXPRESS, CR_EXPRESS
        rng = self.rng("consolidation", w)
        feeder_dep = start + FIRST_DEPARTURE_AFTER + asx.departure_hour * H + w * 2 * D
        feeder_legs = _corridor_legs(asx, start, feeder_dep, range(2))
        train = start + FIRST_DEPARTURE_AFTER + crx.departure_hour * H
        while train < feeder_legs[-1].planned_arrival + CKG_HUB_PLAN:
            train += crx.headway
        train_legs = _corridor_legs(crx, start, train, range(len(crx.legs)))
        booked = to_minute(start + random_hours(rng, 0, 6))
        backlog = rng.random() < CKG_BACKLOG_P

        def last_mile_leg(spec: LegSpec) -> ShipmentLeg:
            dep = train_legs[-1].planned_arrival + DUI_HUB_PLAN
            return ShipmentLeg(
                mode=spec.mode,
                carrier=spec.carrier,
                origin=spec.origin,
                destination=spec.destination,
                planned_departure=dep,
                planned_arrival=dep + spec.transit,
            )

        # ASEAN bookings in their feeder containers
        wave: list[tuple[_Cargo, LegSpec]] = []
        feeders: list[tuple[TrackedUnit, list[_Cargo]]] = []
        for f in range(FEEDERS_PER_WAVE):
            frng = self.rng("consolidation", w, "feeder", f)
            unit = self.container(frng, asx.owners[f % len(asx.owners)])
            aboard = []
            for j in range(rng.randint(1, 3)):
                city = rng.choice(DUISBURG_LAST_MILE)
                ref = ShipmentRef(kind=ShipmentKind.BOOKING, id=f"HAN-{start:%y%m%d}-{w + 1:02d}{f + 1}{j + 1}")
                cargo = _Cargo(ref, "asean-consolidation", f"VNHAN-{city.destination}", rng.randint(4, 40))
                legs = [
                    _shipment_leg(feeder_legs[:1], unit),
                    _shipment_leg(feeder_legs[1:], unit),
                    _shipment_leg(train_legs),
                    last_mile_leg(city),
                ]
                self.book(cargo, legs, booked, asx.customer, PROMISE_SLACK["consolidation"])
                aboard.append(cargo)
                wave.append((cargo, city))
            feeders.append((unit, aboard))
        # local Chongqing bookings, delivered to the hub by the shipper before the train
        local_ready: list[datetime] = []
        for j in range(rng.randint(1, 2)):
            city = rng.choice(DUISBURG_LAST_MILE)
            ref = ShipmentRef(kind=ShipmentKind.BOOKING, id=f"CKG-{start:%y%m%d}-{w + 1:02d}{j + 1}")
            cargo = _Cargo(ref, "chongqing-local", f"CNCKG-{city.destination}", rng.randint(2, 30))
            self.book(cargo, [_shipment_leg(train_legs), last_mile_leg(city)], booked, crx.customer,
                      PROMISE_SLACK["consolidation"])
            wave.append((cargo, city))
            local_ready.append(train - random_hours(rng, 40, 60))

        # feeders: stuffed in Hanoi, road and rail to Chongqing, stripped at the hub
        stripped: list[datetime] = []
        for f, (unit, aboard) in enumerate(feeders):
            frng = self.rng("consolidation", w, "feeder", f, "run")
            tags: list[str] = []
            runs, _ = travel(self.seed, _NO_CUSTOMS["asx"], start, planned_times(asx, feeder_dep), None, frng,
                              tags, legs=range(2))
            gate_in = to_minute(feeder_dep - asx.gate_in_lead * frng.uniform(0.7, 1.0))
            self.plan(Plan(unit=unit, issued_time=booked, lane="VNHAN-CNCKG", customer="ASEAN Express consolidation",
                           legs=feeder_legs))
            em = self.emitter(unit, frng)
            loads = [(c, c.pieces) for c in aboard]
            self.handle(em, Milestone.STUFFED, Mode.ROAD, "VNHAN", gate_in - random_hours(frng, 3, 6), loads)
            arrived = emit_runs(em, runs, {}, gate_in, asx.customs_source)
            strip = to_minute(arrived + random_hours(frng, 3, 8))
            if backlog:
                strip += random_hours(frng, 30, 60)
            self.handle(em, Milestone.STRIPPED, Mode.RAIL, "CNCKG", strip, loads)
            stripped.append(strip + len(loads) * 25 * timedelta(minutes=1))
            for c in aboard:
                c.rode([*tags, *(["hub-backlog@CNCKG"] if backlog else [])])

        # CR Express containers: consolidated at Chongqing, rail to Duisburg, stripped there
        ready = to_minute(max([*stripped, *local_ready]) + random_hours(rng, 4, 10))
        order = list(wave)
        rng.shuffle(order)
        n_boxes = max(1, math.ceil(len(order) / 3))
        for b in range(n_boxes):
            box = order[b::n_boxes]
            brng = self.rng("consolidation", w, "box", b)
            unit = self.container(brng, crx.owners[b % len(crx.owners)])
            tags = []
            runs, _ = travel(self.seed, _NO_CUSTOMS["crx"], start, planned_times(crx, train), None, brng, tags,
                              ready=ready + CKG_CUTOFF)
            sched = train
            while sched < ready + CKG_CUTOFF:
                sched += crx.headway
            stuffed = to_minute(max(ready, sched - random_hours(brng, 16, 24)))
            gate_in = to_minute(stuffed + random_hours(brng, 2, 5))
            plan = Plan(unit=unit, issued_time=booked, lane=crx.lane, customer="CR Express consolidation (Chongqing)",
                        legs=train_legs)
            self.plan(plan)
            if sched != train:  # the wave missed its train: the forwarder books the container on a later one
                self.plan(plan.model_copy(update={
                    "revision": 2,
                    "issued_time": to_minute(min(stuffed, train - CKG_CUTOFF)),
                    "legs": _corridor_legs(crx, start, sched, range(len(crx.legs))),
                }))
            holds = {}
            if brng.random() < DUI_CUSTOMS_P:
                hold = to_minute(runs[-1].arrived + random_hours(brng, 2, 10))
                holds[len(runs) - 1] = (hold, to_minute(hold + random_hours(brng, 18, 72)))
                tags.append(f"customs-hold@{crx.customs_at}")
            em = self.emitter(unit, brng)
            loads = [(c, c.pieces) for c, _ in box]
            self.handle(em, Milestone.STUFFED, Mode.RAIL, "CNCKG", stuffed, loads)
            done = emit_runs(em, runs, holds, gate_in, crx.customs_source)
            strip = to_minute(done + random_hours(brng, 3, 8))
            self.handle(em, Milestone.STRIPPED, Mode.RAIL, "DEDUI", strip, loads)
            for j, (cargo, city) in enumerate(box):
                cargo.rode(tags)
                self.last_mile(cargo, city, strip + random_hours(brng, 1, 3) + j * 20 * timedelta(minutes=1), w)

    def last_mile(self, cargo: _Cargo, spec: LegSpec, loaded: datetime, w: int) -> None:
        rng = self.rng("last-mile", cargo.ref.id)
        unit = self.trailer(rng, "DU ML ")
        n = rng.randrange(1, 10**4)
        trip = draw_trip(self.seed, f"shipments|{unit.id}", n, spec)
        planned_dep = to_minute(loaded + 1 * H)
        departed = to_minute(loaded + random_hours(rng, 0.5, 1.5) + trip.departure_delay)
        arrived = to_minute(departed + spec.transit * trip.transit_factor + trip.extra_transit)
        tags = []
        if trip.departure_delay >= 4 * H:
            tags.append(f"departure-delay@{spec.origin}")
        if trip.extra_transit >= 4 * H:
            tags.append(f"transit-delay@{spec.origin}-{spec.destination}")
        run = Run(spec, trip, departed, arrived, None)
        planned = _leg(spec, planned_dep, planned_dep + spec.transit, n)
        self.truck(unit, rng, run, planned, [(cargo, cargo.pieces)], to_minute(loaded), tags)

    # -- air: Hong Kong -> Liège (ULDs) -> Madrid (line-haul truck) ---------------------------------------------

    def flight(self, k: int) -> tuple[Run, tuple[str, ...]]:
        """The k-th freighter of the scenario (the same flights as the air corridor's air waybills)."""
        if k not in self._flights:
            air = AIR_HKG_LGG_MAD
            sched = self.start + FIRST_DEPARTURE_AFTER + air.departure_hour * H + k * air.headway
            tags: list[str] = []
            runs, _ = travel(self.seed, _NO_CUSTOMS["air"], self.start, planned_times(air, sched), None,
                              self.rng("flight", k), tags, legs=range(1))
            self._flights[k] = (runs[0], tuple(tags))
        return self._flights[k]

    def flight_legs(self, k: int) -> list[Leg]:
        air = AIR_HKG_LGG_MAD
        sched = self.start + FIRST_DEPARTURE_AFTER + air.departure_hour * H + k * air.headway
        return _corridor_legs(air, self.start, sched, range(2))

    def air_booking(self, cargo: _Cargo, k: int, rng: random.Random) -> None:
        legs = self.flight_legs(k)
        issued = to_minute(legs[0].planned_departure - random_hours(rng, 30, 60))
        self.book(cargo, [_shipment_leg(legs[:1]), _shipment_leg(legs[1:])], issued, AIR_HKG_LGG_MAD.customer,
                  PROMISE_SLACK[cargo.flow])
        run, _ = self.flight(k)
        sched = legs[0].planned_departure
        received = to_minute(sched - random_hours(rng, 8, 14))
        self.fsu(cargo, Milestone.GATE_IN, "HKHKG", received, cargo.pieces, run)  # RCS

    def fsu(self, cargo: _Cargo, milestone: Milestone, where: str, at: datetime, pieces: int, run: Run) -> None:
        em = self.awb_emitter(cargo)
        em.emit(FSU_SOURCE, Mode.AIR, milestone, where, to_minute(at), transport_of(run), shipment=cargo.refs(pieces))

    def uld_flight(self, k: int, loads: list[tuple[_Cargo, int]], kind: str) -> list[tuple[_Cargo, int, datetime]]:
        """A ULD built up in Hong Kong for flight k and broken down in Liège, with the air waybills' flight
        statuses (MAN, DEP, ARR, RCF and customs). Returns (cargo, pieces, free for trucking) per load."""
        run, flight_tags = self.flight(k)
        legs = self.flight_legs(k)
        sched = legs[0].planned_departure
        rng = self.rng("uld", k, *(c.ref.id for c, _ in loads))
        unit = self.uld(rng, kind)
        built = to_minute(sched - random_hours(rng, 4, 7))
        gate_in = to_minute(built + random_hours(rng, 0.8, 1.2))
        self.plan(Plan(unit=unit, issued_time=to_minute(sched - random_hours(rng, 20, 30)), lane="HKHKG-BELGG",
                       customer="Cainiao ULD build-up", legs=legs[:1]))
        em = self.emitter(unit, rng)
        self.handle(em, Milestone.STUFFED, Mode.AIR, "HKHKG", built, loads)
        arrived = emit_runs(em, [run], {}, gate_in, AIR_HKG_LGG_MAD.customs_source)
        breakdown = to_minute(arrived + random_hours(rng, 2, 6))
        self.handle(em, Milestone.STRIPPED, Mode.AIR, "BELGG", breakdown, loads)
        out = []
        for cargo, pieces in loads:
            tags = list(flight_tags)
            self.fsu(cargo, Milestone.LOADED, "HKHKG", sched - random_hours(rng, 2, 3), pieces, run)  # MAN
            self.fsu(cargo, Milestone.DEPARTED, "HKHKG", run.departed, pieces, run)  # DEP
            self.fsu(cargo, Milestone.ARRIVED, "BELGG", run.arrived, pieces, run)  # ARR
            free = to_minute(breakdown + random_hours(rng, 0.5, 1.5))
            self.fsu(cargo, Milestone.DISCHARGED, "BELGG", free, pieces, run)  # RCF
            if rng.random() < LGG_CUSTOMS_P:
                hold = to_minute(free + random_hours(rng, 0.5, 3))
                free = to_minute(hold + random_hours(rng, 12, 60))
                self.fsu(cargo, Milestone.CUSTOMS_HOLD, "BELGG", hold, pieces, run)  # TGC
                self.fsu(cargo, Milestone.CUSTOMS_RELEASED, "BELGG", free, pieces, run)  # CCD
                tags.append("customs-hold@BELGG")
            cargo.rode(tags)
            out.append((cargo, pieces, free))
        return out

    def line_haul(self, k: int, loads: list[tuple[_Cargo, int, datetime]], key: str) -> None:
        """One line-haul trailer Liège -> Madrid for `loads` (ready after breakdown or customs release)."""
        air = AIR_HKG_LGG_MAD
        spec = air.legs[1]
        rng = self.rng("line-haul", key)
        planned = planned_times(air, self.flight_legs(k)[0].planned_departure)
        ready = max(free for _, _, free in loads) + spec.handling
        slot = planned[1][0]
        while slot < ready:
            slot += spec.headway
        tags: list[str] = []
        runs, _ = travel(self.seed, _NO_CUSTOMS["air"], self.start, planned, None, rng, tags, legs=range(1, 2),
                          ready=ready)
        run = runs[0]
        loaded = to_minute(max(ready - spec.handling + random_hours(rng, 1, 4), run.departed - random_hours(rng, 3, 5)))
        unit = self.trailer(rng, "CNL ")
        merged: dict[str, tuple[_Cargo, int]] = {}
        for cargo, pieces, _ in loads:  # parts of one air waybill on the same truck travel as one load
            prev = merged.get(cargo.ref.id, (cargo, 0))[1]
            merged[cargo.ref.id] = (cargo, prev + pieces)
        leg = _leg(spec, slot, slot + spec.transit, departure_number(self.start, slot, spec.headway))
        self.truck(unit, rng, run, leg, list(merged.values()), loaded, tags)

    def air(self, w: int) -> None:
        rng = self.rng("air", w)
        k = w
        awbs = []
        for _ in range(rng.randint(2, 4)):
            ref = ShipmentRef(kind=ShipmentKind.AIR_WAYBILL, id=self.awb(rng))
            cargo = _Cargo(ref, "air", AIR_HKG_LGG_MAD.lane, rng.randint(2, 30))
            self.air_booking(cargo, k, rng)
            awbs.append(cargo)
        n_ulds = 1 if len(awbs) <= 2 else 2
        free = []
        for u in range(n_ulds):
            free += self.uld_flight(k, [(c, c.pieces) for c in awbs[u::n_ulds]], ("AKE", "PMC")[u])
        # the cargo goes on the first line-haul after it is free: one trailer per departure
        spec = AIR_HKG_LGG_MAD.legs[1]
        base = planned_times(AIR_HKG_LGG_MAD, self.flight_legs(k)[0].planned_departure)[1][0]
        by_slot: dict[int, list[tuple[_Cargo, int, datetime]]] = {}
        for load in free:
            by_slot.setdefault(max(0, math.ceil((load[2] + spec.handling - base) / spec.headway)), []).append(load)
        for s, loads in sorted(by_slot.items()):
            self.line_haul(k, loads, f"air|{w}|{s}")

    def air_split(self, w: int) -> None:
        rng = self.rng("air-split", w)
        k = w
        ref = ShipmentRef(kind=ShipmentKind.AIR_WAYBILL, id=self.awb(rng))
        cargo = _Cargo(ref, "air-split", AIR_HKG_LGG_MAD.lane, rng.randint(8, 16))
        self.air_booking(cargo, k, rng)
        first = max(1, min(cargo.pieces - 1, round(cargo.pieces * rng.uniform(0.5, 0.7))))
        part1 = self.uld_flight(k, [(cargo, first)], "AKE")
        cargo.tags.append("offloaded@HKHKG")
        part2 = self.uld_flight(k + 1, [(cargo, cargo.pieces - first)], "AKE")
        if rng.random() < 0.5:  # wait for the second part and truck the whole shipment together
            self.line_haul(k, part1 + part2, f"split|{w}")
        else:
            self.line_haul(k, part1, f"split|{w}|1")
            self.line_haul(k + 1, part2, f"split|{w}|2")

    # -- result ------------------------------------------------------------------------------------------

    def outcomes(self) -> list[ShipmentOutcome]:
        out = []
        for c in self.cargo:
            assert c.plan is not None and c.plan.promised_delivery is not None and c.delivered
            out.append(
                ShipmentOutcome(
                    shipment=c.ref.id,
                    kind=c.ref.kind,
                    flow=c.flow,
                    lane=c.lane,
                    pieces=c.pieces,
                    planned_delivery=c.plan.legs[-1].planned_arrival,
                    promised_delivery=c.plan.promised_delivery,
                    delivered=max(c.delivered),
                    units=tuple(sorted(c.loaded, key=c.loaded.__getitem__)),
                    disruptions=tuple(c.tags),
                )
            )
        return out


def generate_shipments(
    seed: int,
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC),
    per_flow: int = 2,
    *,
    flows: Sequence[str] = FLOWS,
    avoid: Collection[str] = (),
) -> ShipmentScenario:
    """Shipment plans, and the plans and events of every unit the shipments ride in, for `per_flow` instances
    of each flow in `flows` (a consolidation wave, an air flight's air waybills, a split air waybill).

    `avoid`: unit ids already used (by `generate()`'s corridor units), never reused here. No clock ticks."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC)")
    if per_flow < 0 or not set(flows) <= set(FLOWS):
        raise ValueError(f"per_flow must not be negative and flows among {FLOWS}")
    start = start.astimezone(UTC)
    gen = _Flows(seed, start, avoid)
    for flow in FLOWS:
        if flow in flows:
            for w in range(per_flow):
                {"consolidation": gen.consolidation, "air": gen.air, "air-split": gen.air_split}[flow](w)
    records = [*gen.records, *(r for em in gen.emitters for r in em.records)]
    records.sort(key=lambda r: (r.published_at, 0 if r.record.record in ("plan", "shipment_plan") else 1))
    return ShipmentScenario(seed=seed, start=start, records=records, outcomes=gen.outcomes())
