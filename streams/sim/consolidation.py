"""The consolidation flow (ASEAN Express + CR Express): ASEAN bookings in feeder containers from Hanoi by road and
rail to Chongqing, stripped at the hub and consolidated with local bookings into CR Express containers to Duisburg,
stripped there (after a customs hold, sometimes), and each shipment trucked to its consignee."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from schemas import Milestone, Mode, Plan, ShipmentKind, ShipmentLeg, ShipmentRef, TrackedUnit
from streams.sim.cargo import NO_CUSTOMS, PROMISE_SLACK, Cargo, FlowRecords, corridor_legs, plan_leg, shipment_leg
from streams.sim.corridors import ASEAN_EXPRESS, CR_EXPRESS, DUISBURG_LAST_MILE, D, H, LegSpec
from streams.sim.trips import (
    FIRST_DEPARTURE_AFTER,
    Run,
    draw_trip,
    emit_runs,
    planned_times,
    random_hours,
    to_minute,
    travel,
)

FEEDERS_PER_WAVE = 2  # ASEAN containers feeding one Chongqing consolidation
CKG_HUB_PLAN = 36 * H  # planned minimum at Chongqing: strip, sort, consolidate, stuff, gate in
CKG_CUTOFF = 10 * H  # a CR Express container must be at the terminal this long before its train leaves
CKG_BACKLOG_P = 0.25  # the hub is backed up (inspection, peak): the wave dwells abnormally long
DUI_HUB_PLAN = 36 * H  # planned arrival in Duisburg -> truck departure (strip, clear, load)
DUI_CUSTOMS_P = 0.3  # a CR Express container is held by customs at Duisburg


class ConsolidationFlow(FlowRecords):
    """One consolidation wave per call: its feeders, its CR Express containers, each shipment's last mile."""

    # -- consolidation: Hanoi -> Chongqing (hub) -> Duisburg (hub) -> consignee --------------------------------

    def consolidation(self, w: int) -> None:
        start, asx, crx = self.start, ASEAN_EXPRESS, CR_EXPRESS
        rng = self.rng("consolidation", w)
        feeder_dep = start + FIRST_DEPARTURE_AFTER + asx.departure_hour * H + w * 2 * D
        feeder_legs = corridor_legs(asx, start, feeder_dep, range(2))
        train = start + FIRST_DEPARTURE_AFTER + crx.departure_hour * H
        while train < feeder_legs[-1].planned_arrival + CKG_HUB_PLAN:
            train += crx.headway
        train_legs = corridor_legs(crx, start, train, range(len(crx.legs)))
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
        wave: list[tuple[Cargo, LegSpec]] = []
        feeders: list[tuple[TrackedUnit, list[Cargo]]] = []
        for f in range(FEEDERS_PER_WAVE):
            frng = self.rng("consolidation", w, "feeder", f)
            unit = self.container(frng, asx.owners[f % len(asx.owners)])
            aboard = []
            for j in range(rng.randint(1, 3)):
                city = rng.choice(DUISBURG_LAST_MILE)
                ref = ShipmentRef(kind=ShipmentKind.BOOKING, id=f"HAN-{start:%y%m%d}-{w + 1:02d}{f + 1}{j + 1}")
                cargo = Cargo(ref, "asean-consolidation", f"VNHAN-{city.destination}", rng.randint(4, 40))
                legs = [
                    shipment_leg(feeder_legs[:1], unit),
                    shipment_leg(feeder_legs[1:], unit),
                    shipment_leg(train_legs),
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
            cargo = Cargo(ref, "chongqing-local", f"CNCKG-{city.destination}", rng.randint(2, 30))
            self.book(cargo, [shipment_leg(train_legs), last_mile_leg(city)], booked, crx.customer,
                      PROMISE_SLACK["consolidation"])
            wave.append((cargo, city))
            local_ready.append(train - random_hours(rng, 40, 60))

        # feeders: stuffed in Hanoi, road and rail to Chongqing, stripped at the hub
        stripped: list[datetime] = []
        for f, (unit, aboard) in enumerate(feeders):
            frng = self.rng("consolidation", w, "feeder", f, "run")
            tags: list[str] = []
            runs, _ = travel(self.seed, NO_CUSTOMS["asx"], start, planned_times(asx, feeder_dep), None, frng,
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
            runs, _ = travel(self.seed, NO_CUSTOMS["crx"], start, planned_times(crx, train), None, brng, tags,
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
                    "legs": corridor_legs(crx, start, sched, range(len(crx.legs))),
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

    def last_mile(self, cargo: Cargo, spec: LegSpec, loaded: datetime, w: int) -> None:
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
        planned = plan_leg(spec, planned_dep, planned_dep + spec.transit, n)
        self.truck(unit, rng, run, planned, [(cargo, cargo.pieces)], to_minute(loaded), tags)
