"""Shipment flows in the simulator: deterministic, valid, and with joins (STUFFED / STRIPPED) and ground truth that
agree with each other."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from functools import cache

import pytest
from stdnum import iso6346

from schemas import (
    Classifier,
    ClockTick,
    Milestone,
    Plan,
    ShipmentKind,
    ShipmentPlan,
    TrackingEvent,
    UnitKind,
    decode,
    dumps,
)
from streams.io.paced import publish_paced
from streams.sim import ShipmentScenario, generate, generate_shipments
from streams.sim.shipments import FLOWS

SEEDS = (7, 8, 11, 23, 42)
_FIELDS = ("booking", "bill_of_lading", "air_waybill", "consignment")


@cache
def flows(seed: int = 7, per_flow: int = 2) -> ShipmentScenario:
    return generate_shipments(seed, per_flow=per_flow)


def shipment_of(e: TrackingEvent) -> str | None:
    return next((getattr(e.shipment, f) for f in _FIELDS if getattr(e.shipment, f)), None)


def actual(s: ShipmentScenario) -> list[TrackingEvent]:
    """First delivery of each actual event, in event-time order."""
    seen: set[str] = set()
    out = []
    for e in s.events:
        if e.classifier is Classifier.ACTUAL and e.event_id not in seen:
            seen.add(e.event_id)
            out.append(e)
    return sorted(out, key=lambda e: e.event_time)


def joins(s: ShipmentScenario) -> dict[str, list[TrackingEvent]]:
    """STUFFED / STRIPPED events per shipment, in event-time order."""
    out: dict[str, list[TrackingEvent]] = defaultdict(list)
    for e in actual(s):
        if e.milestone in (Milestone.STUFFED, Milestone.STRIPPED):
            out[shipment_of(e)].append(e)
    return out


def test_same_seed_same_records_and_seeds_differ() -> None:
    a, b = generate_shipments(7), generate_shipments(7)
    def flat(s: ShipmentScenario) -> list[tuple]:
        return [(r.published_at, dumps(r.record)) for r in s.records]

    assert flat(a) == flat(b)
    assert a.outcomes == b.outcomes
    assert [dumps(r.record) for r in a.records] != [dumps(r.record) for r in flows(8).records]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_record_validates_and_no_clock_ticks(seed: int) -> None:
    s = flows(seed)
    assert s.records and not any(isinstance(r.record, ClockTick) for r in s.records)
    keys = [r.published_at for r in s.records]
    assert keys == sorted(keys)
    for r in s.records:
        assert decode(dumps(r.record), type(r.record)) == r.record
        if isinstance(r.record, TrackingEvent):
            assert r.published_at >= r.record.received_time
            if r.record.classifier is Classifier.ACTUAL:
                assert r.record.event_time <= r.record.received_time
        else:
            assert r.published_at == r.record.issued_time


def test_flows_and_identifiers() -> None:
    s = flows()
    assert {o.flow for o in s.outcomes} == {"asean-consolidation", "chongqing-local", "air", "air-split"}
    assert len({o.shipment for o in s.outcomes}) == len(s.outcomes) == len(s.shipment_plans)
    for p in s.shipment_plans:
        if p.shipment.kind is ShipmentKind.AIR_WAYBILL:
            prefix, serial = p.shipment.id.split("-")
            assert prefix == "580" and int(serial[:7]) % 7 == int(serial[7])
        else:
            assert p.shipment.kind is ShipmentKind.BOOKING
    kinds = {p.unit.kind for p in s.plans}
    assert kinds == {UnitKind.CONTAINER, UnitKind.ULD, UnitKind.TRAILER}
    for p in s.plans:
        if p.unit.kind is UnitKind.CONTAINER:
            assert iso6346.is_valid(p.unit.id)
    corridor_units = {p.unit.id for p in generate(7, shipments=0).plans}
    assert not corridor_units & {p.unit.id for p in s.plans}


@pytest.mark.parametrize("seed", SEEDS)
def test_plans_come_before_the_events_they_govern(seed: int) -> None:
    s = flows(seed)
    first_plan: dict[str, Plan] = {}
    for p in s.plans:
        first_plan.setdefault(p.unit.id, p)
    for e in s.events:
        if e.unit.kind is not UnitKind.AWB:  # an air waybill's own statuses need no unit plan
            assert first_plan[e.unit.id].issued_time < e.event_time
    issued = {p.shipment.id: p for p in s.shipment_plans}
    published = {r.record.shipment.id: r.published_at for r in s.records if isinstance(r.record, ShipmentPlan)}
    for r in s.records:
        if isinstance(r.record, TrackingEvent) and (ship := shipment_of(r.record)):
            assert published[ship] <= r.published_at
            assert issued[ship].issued_time < r.record.event_time


@pytest.mark.parametrize("seed", SEEDS)
def test_every_stuffing_is_stripped_later_from_the_same_unit(seed: int) -> None:
    s = flows(seed)
    events = actual(s)
    for ship, links in joins(s).items():
        stuffed = [e for e in links if e.milestone is Milestone.STUFFED]
        stripped = [e for e in links if e.milestone is Milestone.STRIPPED]
        assert len(stuffed) == len(stripped) > 0
        for into in stuffed:
            out = [e for e in stripped if e.unit == into.unit]
            assert len(out) == 1 and out[0].event_time > into.event_time
            assert out[0].shipment.pieces == into.shipment.pieces
            unit_events = [e for e in events if e.unit == into.unit and not shipment_of(e)]
            moves = [e for e in unit_events if into.event_time < e.event_time < out[0].event_time]
            assert {Milestone.DEPARTED, Milestone.ARRIVED} <= {e.milestone for e in moves}, ship
            if into.unit.kind is UnitKind.TRAILER:  # door delivery, then unloading at the consignee
                delivered = [e for e in moves if e.milestone is Milestone.DELIVERED]
                assert len(delivered) == 1 and delivered[0].location == out[0].location
            else:
                assert Milestone.DELIVERED not in {e.milestone for e in unit_events}


@pytest.mark.parametrize("seed", SEEDS)
def test_pieces_add_up_per_leg_and_booked_units_are_used(seed: int) -> None:
    s = flows(seed)
    links = joins(s)
    for plan in s.shipment_plans:
        stuffed = [e for e in links[plan.shipment.id] if e.milestone is Milestone.STUFFED]
        origins = [leg.origin for leg in plan.legs]
        by_origin: dict[str, int] = defaultdict(int)
        for e in stuffed:
            assert e.location in origins
            by_origin[e.location] += e.shipment.pieces
        assert set(by_origin.values()) == {plan.pieces}
        for leg in plan.legs:
            if leg.unit is not None:
                assert leg.unit in {e.unit for e in stuffed}
        assert plan.legs[0].origin in by_origin  # the cargo is put in a unit where its journey starts
        stripped = [e for e in links[plan.shipment.id] if e.milestone is Milestone.STRIPPED]
        assert sum(e.shipment.pieces for e in stripped if e.location == plan.legs[-1].destination) == plan.pieces


@pytest.mark.parametrize("seed", SEEDS)
def test_consolidation_runs_hanoi_chongqing_duisburg_consignee(seed: int) -> None:
    s = flows(seed)
    links = joins(s)
    kinds = {p.unit.id: p.unit.kind for p in s.plans}
    for o in s.outcomes:
        if o.flow not in ("asean-consolidation", "chongqing-local"):
            continue
        places = [(e.milestone, e.location) for e in links[o.shipment]]
        hubs = [("STUFFED", "CNCKG"), ("STRIPPED", "DEDUI"), ("STUFFED", "DEDUI")]
        head = [("STUFFED", "VNHAN"), ("STRIPPED", "CNCKG")] if o.flow == "asean-consolidation" else []
        assert places == [*head, *hubs, ("STRIPPED", o.lane[-5:])]
        assert [kinds[u] for u in o.units] == [UnitKind.CONTAINER] * (len(o.units) - 1) + [UnitKind.TRAILER]
    boxes = defaultdict(set)  # CR Express containers carry 1-3 shipments, ASEAN and local together
    for o in s.outcomes:
        if o.flow in ("asean-consolidation", "chongqing-local"):
            boxes[o.units[-2]].add(o.flow)
    assert any(len(flows_in) == 2 for flows_in in boxes.values())


@pytest.mark.parametrize("seed", SEEDS)
def test_split_air_waybill_flies_in_two_parts_on_two_flights(seed: int) -> None:
    s = flows(seed)
    events = actual(s)
    splits = [o for o in s.outcomes if o.flow == "air-split"]
    assert len(splits) == 2
    for o in splits:
        ulds = [e for e in joins(s)[o.shipment] if e.milestone is Milestone.STUFFED and e.unit.kind is UnitKind.ULD]
        assert len(ulds) == 2 and ulds[0].unit != ulds[1].unit
        assert sum(e.shipment.pieces for e in ulds) == o.pieces and all(e.shipment.pieces < o.pieces for e in ulds)
        departures = [
            next(e for e in events if e.unit == u.unit and e.milestone is Milestone.DEPARTED).event_time
            for u in ulds
        ]
        assert departures[1] - departures[0] > timedelta(hours=36)
        own = [e for e in events if e.unit.kind is UnitKind.AWB and e.unit.id == o.shipment]
        dep = [e for e in own if e.milestone is Milestone.DEPARTED]
        assert sorted(e.event_time for e in dep) == sorted(departures)
        assert sorted(e.shipment.pieces for e in dep) == sorted(e.shipment.pieces for e in ulds)
        rcs = [e for e in own if e.milestone is Milestone.GATE_IN]
        assert len(rcs) == 1 and rcs[0].shipment.pieces == o.pieces and rcs[0].location == "HKHKG"


@pytest.mark.parametrize("seed", SEEDS)
def test_air_waybill_statuses_follow_the_fsu_mapping(seed: int) -> None:
    s = flows(seed)
    for o in s.outcomes:
        if o.kind is not ShipmentKind.AIR_WAYBILL:
            continue
        own = [e for e in actual(s) if e.unit.kind is UnitKind.AWB and e.unit.id == o.shipment]
        assert all(e.source == "cainiao-fsu" and e.shipment.air_waybill == o.shipment for e in own)
        seq = [(e.milestone, e.location) for e in own]
        assert seq[0] == (Milestone.GATE_IN, "HKHKG")
        assert {(Milestone.LOADED, "HKHKG"), (Milestone.DEPARTED, "HKHKG"), (Milestone.ARRIVED, "BELGG"),
                (Milestone.DISCHARGED, "BELGG")} <= set(seq)
        assert Milestone.DELIVERED not in {m for m, _ in seq}  # the door delivery is the truck's
        held = [e for e in own if e.milestone is Milestone.CUSTOMS_HOLD]
        released = [e for e in own if e.milestone is Milestone.CUSTOMS_RELEASED]
        assert len(held) == len(released) and all(e.location == "BELGG" for e in held + released)
        assert bool(held) == ("customs-hold@BELGG" in o.disruptions)


@pytest.mark.parametrize("seed", SEEDS)
def test_ground_truth_matches_the_events(seed: int) -> None:
    s = flows(seed)
    events = actual(s)
    plans = {p.shipment.id: p for p in s.shipment_plans}
    links = joins(s)
    for o in s.outcomes:
        plan = plans[o.shipment]
        assert o.pieces == plan.pieces and o.planned_delivery == plan.legs[-1].planned_arrival
        assert o.promised_delivery == plan.promised_delivery > o.planned_delivery
        stuffed = [e for e in links[o.shipment] if e.milestone is Milestone.STUFFED]
        assert list(o.units) == list(dict.fromkeys(e.unit.id for e in stuffed))
        trucks = {e.unit for e in stuffed if e.unit.kind is UnitKind.TRAILER}
        deliveries = [e for e in events if e.unit in trucks and e.milestone is Milestone.DELIVERED]
        assert all(e.location == plan.legs[-1].destination for e in deliveries)
        assert o.delivered == max(e.event_time for e in deliveries)
        holds = {e.location for e in events if e.milestone is Milestone.CUSTOMS_HOLD
                 and (e.unit.id in o.units or e.unit.id == o.shipment)}
        assert holds == {t.split("@")[1] for t in o.disruptions if t.startswith("customs-hold@")}


def test_disruptions_show_up_across_flows() -> None:
    tags = {t.split("@")[0] + "@" + t.split("@")[-1] for o in flows(7, 4).outcomes for t in o.disruptions}
    assert {"customs-hold@DEDUI", "customs-hold@BELGG", "offloaded@HKHKG"} <= tags
    assert tags & {"hub-backlog@CNCKG", "missed-departure@CNCKG"}
    late = [o for o in flows(7, 4).outcomes if not o.on_time]
    assert late and len(late) < len(flows(7, 4).outcomes)


def test_generate_without_shipments_is_unchanged_and_with_them_adds_only_shipment_records() -> None:
    base = generate(7, 4)
    assert generate(7, 4, shipments=0) == base and base.shipment_outcomes == [] and base.shipment_plans == []
    merged = generate(7, 4, shipments=1)
    base_records = [(r.published_at, dumps(r.record)) for r in base.records if not isinstance(r.record, ClockTick)]
    shipment_records = [(r.published_at, dumps(r.record)) for r in generate_shipments(7, base.start, 1).records]
    rest = [(r.published_at, dumps(r.record)) for r in merged.records if not isinstance(r.record, ClockTick)]
    assert sorted(rest) == sorted(base_records + shipment_records)
    assert [x for x in rest if x in set(base_records)] == base_records  # corridor units undisturbed, in order
    assert merged.outcomes == base.outcomes
    assert {o.flow for o in merged.shipment_outcomes} >= {"asean-consolidation", "air", "air-split"}
    assert len(merged.shipment_plans) == len(merged.shipment_outcomes)
    ticks = [t.time for t in merged.ticks]
    assert ticks[0] == merged.start and ticks[-1] >= max(r.published_at for r in merged.records) - timedelta(hours=6)
    assert [r.published_at for r in merged.records] == sorted(r.published_at for r in merged.records)
    for unit_id in {p.unit.id for p in merged.plans}:
        assert all(r.record.unit.id == unit_id for r in merged.unit_records(unit_id))


def test_publish_sends_shipment_plans_to_their_topic_keyed_by_shipment() -> None:
    class Topics:
        def name(self, role: str) -> str:
            return f"corridor.{role}"

    class FakePublisher:
        topics = Topics()

        def __init__(self) -> None:
            self.sent: list[object] = []
            self.raw: list[tuple[str, bytes | None, bytes | None]] = []

        async def send(self, record: object) -> None:
            self.sent.append(record)

        async def send_raw(self, topic: str, value: bytes | None, key: bytes | None = None) -> None:
            self.raw.append((topic, value, key))

        async def flush(self) -> None:
            pass

    records = flows(7, 1).records
    pub = FakePublisher()
    progress = asyncio.run(publish_paced(pub, records, 0))  # type: ignore[arg-type]
    assert progress.published == len(records)
    plans = [r.record for r in records if isinstance(r.record, ShipmentPlan)]
    assert pub.raw == [("corridor.shipment_plan", dumps(p), p.key.encode()) for p in plans]
    assert pub.sent == [r.record for r in records if not isinstance(r.record, ShipmentPlan)]


def test_flows_can_be_chosen() -> None:
    only_air = generate_shipments(7, per_flow=1, flows=("air",))
    assert {o.flow for o in only_air.outcomes} == {"air"}
    assert generate_shipments(7, per_flow=0).records == []
    assert set(FLOWS) == {"consolidation", "air", "air-split"}
