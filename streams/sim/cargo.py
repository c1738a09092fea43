"""What every shipment flow of the simulator is made of: the cargo being followed (Cargo), plan legs from the
corridors' schedules, and FlowRecords, which draws ids, holds the emitters and records plans, cargo handling
(STUFFED/STRIPPED per shipment) and the truck to the consignee. The flows themselves are in
`streams.sim.consolidation` and `streams.sim.air_cargo`; `streams.sim.shipments` runs them."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

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
    TransportRef,
    UnitKind,
)
from streams.sim.corridors import AIR_HKG_LGG_MAD, ASEAN_EXPRESS, CR_EXPRESS, HUB_SOURCES, Corridor, D, H, LegSpec
from streams.sim.trips import (
    Emitter,
    Run,
    SimRecord,
    departure_number,
    emit_runs,
    planned_times,
    random_hours,
    to_minute,
    transport_of,
)

PROMISE_SLACK = {"consolidation": 3 * D, "air": 1 * D, "air-split": 1 * D}
AWB_PREFIX = AIR_HKG_LGG_MAD.owners[0]
REF_FIELD = {
    ShipmentKind.BOOKING: "booking",
    ShipmentKind.BILL_OF_LADING: "bill_of_lading",
    ShipmentKind.AIR_WAYBILL: "air_waybill",
    ShipmentKind.CONSIGNMENT: "consignment",
}
NO_CUSTOMS = {c.code: replace(c, customs_at="") for c in (CR_EXPRESS, ASEAN_EXPRESS, AIR_HKG_LGG_MAD)}


@dataclass
class Cargo:
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
        return ShipmentRefs(**{REF_FIELD[self.ref.kind]: self.ref.id, "pieces": pieces})

    def rode(self, tags: Sequence[str]) -> None:
        """Disruptions of a unit (or flight, or hub) the cargo went through."""
        self.tags.extend(t for t in tags if t not in self.tags)


def plan_leg(spec: LegSpec, dep: datetime, arr: datetime, n: int) -> Leg:
    return Leg(
        mode=spec.mode,
        carrier=spec.carrier,
        origin=spec.origin,
        destination=spec.destination,
        planned_departure=dep,
        planned_arrival=arr,
        reference=spec.reference.format(n=n),
    )


def corridor_legs(corridor: Corridor, start: datetime, first: datetime, legs: range) -> list[Leg]:
    """Plan legs of part of a corridor, departing `first` (the first leg's scheduled departure)."""
    out, n = [], 0
    for i, (spec, (dep, arr)) in enumerate(zip(corridor.legs, planned_times(corridor, first), strict=True)):
        n = departure_number(start, dep, spec.headway) if spec.headway is not None else n
        if i in legs:
            out.append(plan_leg(spec, dep, arr, n))
    return out


def shipment_leg(legs: Sequence[Leg], unit: TrackedUnit | None = None) -> ShipmentLeg:
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


class FlowRecords:
    """The records of the shipment flows while they are generated, and the ids they have used."""

    def __init__(self, seed: int, start: datetime, avoid: Collection[str]) -> None:
        self.seed, self.start = seed, start
        self.taken: set[str] = set(avoid)
        self.records: list[SimRecord] = []
        self.cargo: list[Cargo] = []
        self.emitters: list[Emitter] = []
        self._awb_emitters: dict[str, Emitter] = {}

    # -- randomness and ids ------------------------------------------------------------------------------

    def rng(self, *key: object) -> random.Random:
        return random.Random("|".join((str(self.seed), "shipments", *map(str, key))))

    def fresh(self, make: Callable[[], str]) -> str:
        while True:
            candidate = make()
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate

    def container(self, rng: random.Random, owner: str) -> TrackedUnit:
        def make() -> str:
            body = f"{owner}{rng.randrange(10**6):06d}"
            return body + iso6346.calc_check_digit(body)

        return TrackedUnit(kind=UnitKind.CONTAINER, id=self.fresh(make))

    def uld(self, rng: random.Random, kind: str = "AKE") -> TrackedUnit:
        return TrackedUnit(kind=UnitKind.ULD, id=self.fresh(lambda: f"{kind}{rng.randrange(10**4, 10**5)}RU"))

    def trailer(self, rng: random.Random, prefix: str) -> TrackedUnit:
        return TrackedUnit(kind=UnitKind.TRAILER, id=self.fresh(lambda: f"{prefix}{rng.randrange(10**4):04d}"))

    def awb(self, rng: random.Random) -> str:
        def make() -> str:
            serial = rng.randrange(10**7)
            return f"{AWB_PREFIX}-{serial:07d}{serial % 7}"

        return self.fresh(make)

    def emitter(self, unit: TrackedUnit, rng: random.Random) -> Emitter:
        em = Emitter(unit, ShipmentRefs(), rng)
        self.emitters.append(em)
        return em

    def awb_emitter(self, cargo: Cargo) -> Emitter:
        if cargo.ref.id not in self._awb_emitters:
            unit = TrackedUnit(kind=UnitKind.AWB, id=cargo.ref.id)
            self._awb_emitters[cargo.ref.id] = self.emitter(unit, self.rng("awb", cargo.ref.id))
        return self._awb_emitters[cargo.ref.id]

    # -- records -----------------------------------------------------------------------------------------

    def plan(self, plan: Plan | ShipmentPlan) -> None:
        self.records.append(SimRecord(plan.issued_time, plan))

    def book(
        self, cargo: Cargo, legs: list[ShipmentLeg], issued: datetime, customer: str, slack: timedelta
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
        loads: Sequence[tuple[Cargo, int]],
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
        loads: Sequence[tuple[Cargo, int]],
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
