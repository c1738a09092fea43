"""The air flows: air waybills received in Hong Kong, built into ULDs, flown to Liège, broken down, sometimes held
by customs, and trucked to Madrid on the daily line-haul; and the split air waybill, whose pieces fly on two
flights in two ULDs. The air waybill's own statuses (FSU RCS, MAN, DEP, ARR, RCF, TGC, CCD) are events of the AWB."""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from datetime import datetime

from schemas import Leg, Milestone, Mode, Plan, ShipmentKind, ShipmentRef
from streams.sim.cargo import NO_CUSTOMS, PROMISE_SLACK, Cargo, FlowRecords, corridor_legs, plan_leg, shipment_leg
from streams.sim.corridors import AIR_HKG_LGG_MAD, H
from streams.sim.trips import (
    FIRST_DEPARTURE_AFTER,
    Run,
    departure_number,
    emit_runs,
    planned_times,
    random_hours,
    to_minute,
    transport_of,
    travel,
)

LGG_CUSTOMS_P = 0.3  # an air waybill (or one part of it) is held by customs at Liège
FSU_SOURCE = AIR_HKG_LGG_MAD.legs[0].source  # "cainiao-fsu"


class AirFlow(FlowRecords):
    """The air and air-split flows; each flight is drawn once and shared by every air waybill on it."""

    def __init__(self, seed: int, start: datetime, avoid: Collection[str]) -> None:
        super().__init__(seed, start, avoid)
        self._flights: dict[int, tuple[Run, tuple[str, ...]]] = {}

    # -- air: Hong Kong -> Liège (ULDs) -> Madrid (line-haul truck) ---------------------------------------------

    def flight(self, k: int) -> tuple[Run, tuple[str, ...]]:
        """The k-th freighter of the scenario (the same flights as the air corridor's air waybills)."""
        if k not in self._flights:
            air = AIR_HKG_LGG_MAD
            sched = self.start + FIRST_DEPARTURE_AFTER + air.departure_hour * H + k * air.headway
            tags: list[str] = []
            runs, _ = travel(self.seed, NO_CUSTOMS["air"], self.start, planned_times(air, sched), None,
                              self.rng("flight", k), tags, legs=range(1))
            self._flights[k] = (runs[0], tuple(tags))
        return self._flights[k]

    def flight_legs(self, k: int) -> list[Leg]:
        air = AIR_HKG_LGG_MAD
        sched = self.start + FIRST_DEPARTURE_AFTER + air.departure_hour * H + k * air.headway
        return corridor_legs(air, self.start, sched, range(2))

    def air_booking(self, cargo: Cargo, k: int, rng: random.Random) -> None:
        legs = self.flight_legs(k)
        issued = to_minute(legs[0].planned_departure - random_hours(rng, 30, 60))
        self.book(cargo, [shipment_leg(legs[:1]), shipment_leg(legs[1:])], issued, AIR_HKG_LGG_MAD.customer,
                  PROMISE_SLACK[cargo.flow])
        run, _ = self.flight(k)
        sched = legs[0].planned_departure
        received = to_minute(sched - random_hours(rng, 8, 14))
        self.fsu(cargo, Milestone.GATE_IN, "HKHKG", received, cargo.pieces, run)  # RCS

    def fsu(self, cargo: Cargo, milestone: Milestone, where: str, at: datetime, pieces: int, run: Run) -> None:
        em = self.awb_emitter(cargo)
        em.emit(FSU_SOURCE, Mode.AIR, milestone, where, to_minute(at), transport_of(run), shipment=cargo.refs(pieces))

    def uld_flight(self, k: int, loads: list[tuple[Cargo, int]], kind: str) -> list[tuple[Cargo, int, datetime]]:
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

    def line_haul(self, k: int, loads: list[tuple[Cargo, int, datetime]], key: str) -> None:
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
        runs, _ = travel(self.seed, NO_CUSTOMS["air"], self.start, planned, None, rng, tags, legs=range(1, 2),
                          ready=ready)
        run = runs[0]
        loaded = to_minute(max(ready - spec.handling + random_hours(rng, 1, 4), run.departed - random_hours(rng, 3, 5)))
        unit = self.trailer(rng, "CNL ")
        merged: dict[str, tuple[Cargo, int]] = {}
        for cargo, pieces, _ in loads:  # parts of one air waybill on the same truck travel as one load
            prev = merged.get(cargo.ref.id, (cargo, 0))[1]
            merged[cargo.ref.id] = (cargo, prev + pieces)
        leg = plan_leg(spec, slot, slot + spec.transit, departure_number(self.start, slot, spec.headway))
        self.truck(unit, rng, run, leg, list(merged.values()), loaded, tags)

    def air(self, w: int) -> None:
        rng = self.rng("air", w)
        k = w
        awbs = []
        for _ in range(rng.randint(2, 4)):
            ref = ShipmentRef(kind=ShipmentKind.AIR_WAYBILL, id=self.awb(rng))
            cargo = Cargo(ref, "air", AIR_HKG_LGG_MAD.lane, rng.randint(2, 30))
            self.air_booking(cargo, k, rng)
            awbs.append(cargo)
        n_ulds = 1 if len(awbs) <= 2 else 2
        free = []
        for u in range(n_ulds):
            free += self.uld_flight(k, [(c, c.pieces) for c in awbs[u::n_ulds]], ("AKE", "PMC")[u])
        # the cargo goes on the first line-haul after it is free: one trailer per departure
        spec = AIR_HKG_LGG_MAD.legs[1]
        base = planned_times(AIR_HKG_LGG_MAD, self.flight_legs(k)[0].planned_departure)[1][0]
        by_slot: dict[int, list[tuple[Cargo, int, datetime]]] = {}
        for load in free:
            by_slot.setdefault(max(0, math.ceil((load[2] + spec.handling - base) / spec.headway)), []).append(load)
        for s, loads in sorted(by_slot.items()):
            self.line_haul(k, loads, f"air|{w}|{s}")

    def air_split(self, w: int) -> None:
        rng = self.rng("air-split", w)
        k = w
        ref = ShipmentRef(kind=ShipmentKind.AIR_WAYBILL, id=self.awb(rng))
        cargo = Cargo(ref, "air-split", AIR_HKG_LGG_MAD.lane, rng.randint(8, 16))
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
