"""The shipment core through replay (both jobs in-process): parts, legs, hubs, holds, alerts and ETAs for a
split air waybill and a consolidation at Chongqing, and what must not change them."""

from __future__ import annotations

import random

import orjson
import pytest

from schemas import Milestone, Mode, ShipmentLeg, ShipmentPlan, ShipmentRef, TrackedUnit, UnitKind, dumps
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.core.shipments.policy import DEFAULT_SHIPMENT_POLICY
from streams.core.shipments.state import ShipmentState
from streams.core.state import UnitState
from streams.processing.replay import replay
from streams.processing.shipments import ShipmentEngine
from tests.support.shipment_flows import AWB, CKG_OUT, consolidation, event, split_awb

TOPICS = TopicNames()


def run(records: list, partitions: int = 4) -> dict[str, dict[str, list[dict]]]:
    """Outputs by shipment key and role."""
    out: dict[str, dict[str, list[dict]]] = {}
    for o in replay([dumps(r) for r in records], TOPICS, DEFAULT_POLICY, partitions).outputs:
        role = TOPICS.role_of(o.topic)
        key = o.key.decode() if o.key else ""
        out.setdefault(key, {}).setdefault(role or "", []).append(orjson.loads(o.value))
    return out


def kinds(alerts: list[dict]) -> list[tuple]:
    return [(a["kind"], a["severity"], a["leg_index"], (a["unit"] or {}).get("id")) for a in alerts]


def test_split_air_waybill_is_one_shipment_in_two_ulds_and_arrives_with_its_last_part() -> None:
    out = run(split_awb())[AWB]
    final = out["shipment_timeline"][-1]
    assert final["status"] == "DELIVERED" and final["pieces"] == 10
    assert [(p["unit"]["id"], p["pieces"], p["leg_index"], p["loaded_location"], p["unloaded_location"])
            for p in final["parts"]] == [
        ("AKE10001RU", 6, 0, "HKHKG", "BELGG"), ("AKE10002RU", 4, 0, "HKHKG", "BELGG"),
        ("LGG-MAD 7", 10, 1, "BELGG", "ESMAD"),
    ]  # fmt: skip
    air, road = final["legs"]
    assert air["units"] == ["AKE10001RU", "AKE10002RU"] and air["actual_arrival"] == "2026-03-05T13:00:00Z"
    assert road["actual_departure"] == "2026-03-05T19:00:00Z"
    assert final["delivered_at"] == "2026-03-07T02:00:00Z" and final["minutes_late"] == 43 * 60
    assert final["hubs"][0]["location"] == "BELGG" and final["hubs"][0]["dwell_minutes"] > 36 * 60
    assert kinds(out["shipment_alert"]) == [
        ("OVERDUE", "MAJOR", 0, None),  # 4 pieces left behind: no unit to name
        ("LATE", "MINOR", 0, None),
        ("LATE", "MAJOR", 0, None),
        ("DWELL", "MINOR", 1, "AKE10001RU"),  # the first part waits at Liège for the second
        ("LATE", "CRITICAL", 0, "AKE10002RU"),  # once the rest is loaded, the late ULD is named
        ("OVERDUE", "CRITICAL", 1, None),
    ]
    etas = out["shipment_eta"]
    assert etas[0]["predicted_delivery"] == "2026-03-05T07:00:00Z"  # the plan
    assert etas[-1]["reason"] == "delivered at ESMAD" and etas[-1]["predicted_delivery"] == "2026-03-07T02:00:00Z"
    assert (etas[-1]["cause_leg"], etas[-1]["cause_unit"]["id"]) == (0, "AKE10002RU")
    # Slipping predictions for the pieces left behind back off: a few updates, not one per tick.
    assert len(etas) <= 12


def test_split_air_waybill_on_time_second_flight_raises_no_late_alert() -> None:
    out = run(split_awb(second_flight_hours=1.0))[AWB]
    assert "shipment_alert" not in out or all(a["kind"] != "LATE" for a in out["shipment_alert"])
    assert out["shipment_timeline"][-1]["status"] == "DELIVERED"


def test_consolidation_at_chongqing_follows_the_cargo_into_the_cr_express_container() -> None:
    out = run(consolidation(train_hours=110))
    asx = out["BK-ASX-1"]["shipment_timeline"][-1]
    assert [p["unit"]["id"] for p in asx["parts"]] == ["FCIU1234560", "TGHU1234567", "DU-CX 101"]
    assert [leg["units"] for leg in asx["legs"]] == [["FCIU1234560"], ["TGHU1234567"], ["DU-CX 101"]]
    assert asx["status"] == "DELIVERED" and asx["hubs"][0]["location"] == "CNCKG"
    # The local shipment rode the same container from Chongqing only: its timeline has none of Hanoi.
    local = out["BK-CKG-2"]["shipment_timeline"][-1]
    assert {e["location"] for e in local["events"]} >= {"CNCKG", "DEDUI"}
    assert "VNHAN" not in {e["location"] for e in local["events"]}
    assert [p["unit"]["id"] for p in local["parts"]] == ["TGHU1234567"]
    on_time = [a for a in out["BK-ASX-1"].get("shipment_alert", []) if a["kind"] in ("LATE", "DWELL")]
    assert on_time == []


def test_missed_train_at_chongqing_and_a_customs_hold_at_duisburg_are_alerted_with_their_cause() -> None:
    out = run(consolidation(train_hours=190, hold_hours=60))["BK-ASX-1"]
    got = kinds(out["shipment_alert"])
    assert ("DWELL", "MINOR", 1, "FCIU1234560") in got  # 99 h at Chongqing, normal 96 h
    assert ("CUSTOMS_HOLD", "MINOR", 1, "TGHU1234567") in got
    assert ("LATE", "CRITICAL", 1, "TGHU1234567") in got
    hold = next(a for a in out["shipment_alert"] if a["kind"] == "CUSTOMS_HOLD")
    assert hold["location"] == "DEDUI" and "not released" in hold["message"]
    final = out["shipment_timeline"][-1]
    assert final["hubs"][1]["released_at"] == "2026-03-27T11:00:00Z" and final["hubs"][1]["held_since"] is None
    assert out["shipment_eta"][-1]["cause_leg"] == 1  # the missed train, not the hold, moved it most


def test_hold_released_in_time_raises_no_hold_alert() -> None:
    out = run(consolidation(train_hours=110, hold_hours=20))["BK-ASX-1"]
    assert all(a["kind"] != "CUSTOMS_HOLD" for a in out.get("shipment_alert", []))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_arrival_order_and_duplicates_give_the_same_outputs(seed: int) -> None:
    records = split_awb()
    shuffled = list(records) + random.Random(seed).sample(records, 8)
    random.Random(seed).shuffle(shuffled)
    assert run(shuffled) == run(records)


def test_partition_count_does_not_change_a_shipment() -> None:
    one, four = run(consolidation(190, 60), 1), run(consolidation(190, 60), 4)
    strip = lambda o: [{k: v for k, v in t.items() if k != "as_of"} for t in o["shipment_timeline"]][-1]  # noqa: E731
    assert strip(one["BK-ASX-1"]) == strip(four["BK-ASX-1"])
    assert kinds(one["BK-ASX-1"]["shipment_alert"]) == kinds(four["BK-ASX-1"]["shipment_alert"])


def test_a_retracted_stuffing_takes_the_part_away() -> None:
    records = split_awb()
    wrong = event(CKG_OUT, Milestone.STUFFED, "HKHKG", 11, Mode.AIR, pieces=10, refs={"air_waybill": AWB})
    retract = wrong.model_copy(update={"retracted": True, "received_time": wrong.received_time.replace(hour=23)})
    with_wrong = run([*records, wrong])[AWB]["shipment_timeline"][-1]
    assert "TGHU1234567" in [p["unit"]["id"] for p in with_wrong["parts"]]
    fixed = run([*records, wrong, retract])[AWB]["shipment_timeline"][-1]
    assert "TGHU1234567" not in [p["unit"]["id"] for p in fixed["parts"]]


def test_an_air_waybill_reported_only_by_its_own_statuses_is_a_shipment_without_a_plan() -> None:

    awb = TrackedUnit(kind=UnitKind.AWB, id=AWB)
    out = run([event(awb, Milestone.GATE_IN, "HKHKG", 1, Mode.AIR, refs={"air_waybill": AWB}),
               event(awb, Milestone.DEPARTED, "HKHKG", 5, Mode.AIR, refs={"air_waybill": AWB})])[AWB]
    final = out["shipment_timeline"][-1]
    assert final["shipment"] == {"kind": "AIR_WAYBILL", "id": AWB} and final["plan_revision"] is None
    assert [e["milestone"] for e in final["events"]] == ["GATE_IN", "DEPARTED"]
    assert all(e["unit"] is None for e in final["events"])  # the shipment's own statuses
    assert "shipment_alert" not in out and "shipment_eta" not in out


def test_bad_shipment_plans_and_reports_are_dead_letters() -> None:
    engine = ShipmentEngine({}, {}, TOPICS, DEFAULT_SHIPMENT_POLICY)
    plan = next(r for r in split_awb() if r.record == "shipment_plan")
    wrong_key = engine.process(TOPICS.name("shipment_plan"), 0, 5, b"other", dumps(plan))
    not_json = engine.process(TOPICS.name("shipment_plan"), 0, 6, b"x", b"{nope")
    bad_report = engine.process(TOPICS.name("shipment_feed"), 0, 7, b"x", b'{"record": "timeline"}')
    for out, words in ((wrong_key, "is not the shipment id"), (not_json, "Invalid JSON"),
                       (bad_report, "expected a unit_report")):  # fmt: skip
        assert [o.topic for o in out] == [TOPICS.name("dead_letter")]
        assert words in orjson.loads(out[0].value)["reason"]
    assert engine.process(TOPICS.name("clock"), 0, 8, None, b"garbage") == []  # the unit job reports it


def test_states_round_trip_and_old_unit_state_is_still_read() -> None:
    state = ShipmentState(ref=ShipmentRef(kind="AIR_WAYBILL", id=AWB), rides={"U": {"kind": "ULD", "links": []}})
    assert ShipmentState.decode(state.encode()) == state
    v1 = orjson.dumps([1, ["ULD", "AKE10001RU"], None, [], [], 0, None, {}, 0, None, None])
    assert UnitState.decode(v1).links == {}


def _without_uld_strips_with_rcf(reuse: bool) -> list:
    """The split air waybill as IATA feeds report it: the FFM says which ULD the pieces were built up in
    (STUFFED), nobody reports the breakdown, the air waybill's own FSU RCF ("received from flight",
    DISCHARGED) says the pieces are out of the ULD. With `reuse`, ULD1 is built up again at Liège with other
    cargo and flown to Madrid before the truck leaves."""
    from tests.support.shipment_flows import ULD1, ULD2, unit_plan

    awb = TrackedUnit(kind=UnitKind.AWB, id=AWB)
    ref = {"air_waybill": AWB}
    flow = [r for r in split_awb() if not (getattr(r, "milestone", None) is Milestone.STRIPPED
                                          and r.unit in (ULD1, ULD2))]  # fmt: skip
    flow += [event(awb, Milestone.DISCHARGED, "BELGG", 31, Mode.AIR, pieces=6, refs=ref),
             event(awb, Milestone.DISCHARGED, "BELGG", 86, Mode.AIR, pieces=4, refs=ref)]  # fmt: skip
    if reuse:
        other = {"air_waybill": "580-99999995"}
        flow += [unit_plan(ULD1, [(Mode.AIR, "BELGG", "ESMAD", 40, 44)]).model_copy(update={"revision": 2}),
                 event(ULD1, Milestone.STUFFED, "BELGG", 36, Mode.AIR, pieces=3, refs=other),
                 event(ULD1, Milestone.DEPARTED, "BELGG", 40, Mode.AIR),
                 event(ULD1, Milestone.ARRIVED, "ESMAD", 44, Mode.AIR)]  # fmt: skip
    return flow


@pytest.mark.parametrize("reuse", [False, True], ids=["uld-idle", "uld-reused"])
def test_an_air_waybill_received_from_the_flight_has_left_its_uld(reuse: bool) -> None:
    """Its part in the ULD ends at the RCF where the ULD arrived, as a reported breakdown would end it: the ULD's
    next flight is not the shipment's."""
    timelines = run(_without_uld_strips_with_rcf(reuse))[AWB]["shipment_timeline"]
    final = timelines[-1]
    stripped = run(split_awb())[AWB]["shipment_timeline"][-1]
    assert [(p["unit"]["id"], p["pieces"], p["leg_index"], p["loaded_location"], p["unloaded_location"])
            for p in final["parts"]] == [
        ("AKE10001RU", 6, 0, "HKHKG", "BELGG"), ("AKE10002RU", 4, 0, "HKHKG", "BELGG"),
        ("LGG-MAD 7", 10, 1, "BELGG", "ESMAD"),
    ]  # fmt: skip
    assert [p["unloaded_at"] for p in final["parts"][:2]] == ["2026-03-03T07:00:00Z", "2026-03-05T14:00:00Z"]
    assert [(g["units"], g["actual_arrival"]) for g in final["legs"]] == [
        (g["units"], g["actual_arrival"]) for g in stripped["legs"]]
    assert final["delivered_at"] == stripped["delivered_at"] and final["status"] == "DELIVERED"
    # ULD1's next flight, with other cargo, is not the shipment's: before, its events were in the shipment's
    # and the shipment was shown at Madrid from 03-03 20:00 while its pieces waited at Liège.
    uld1 = [(e["milestone"], e["location"]) for e in final["events"] if (e["unit"] or {}).get("id") == "AKE10001RU"]
    assert uld1 == [("STUFFED", "HKHKG"), ("DEPARTED", "HKHKG"), ("ARRIVED", "BELGG")]
    assert all(t["location"] != "ESMAD" for t in timelines if t["as_of"] and t["as_of"] < "2026-03-07T01:00:00Z")


def _hong_kong_liege_madrid_by_air(second_departs: float, second_arrives: float, promised: float) -> ShipmentPlan:
    """10 pieces flown Hong Kong - Liège (hours 15-29), then Liège - Madrid (times in hours from T0)."""
    from tests.support.shipment_flows import at

    return ShipmentPlan(
        shipment=ShipmentRef(kind="AIR_WAYBILL", id=AWB), issued_time=at(-24), lane="HKHKG-ESMAD", pieces=10,
        legs=[ShipmentLeg(mode=Mode.AIR, carrier="RU", origin="HKHKG", destination="BELGG",
                          planned_departure=at(15), planned_arrival=at(29)),
              ShipmentLeg(mode=Mode.AIR, carrier="RU", origin="BELGG", destination="ESMAD",
                          planned_departure=at(second_departs), planned_arrival=at(second_arrives))],
        promised_delivery=at(promised),
    )  # fmt: skip


def test_a_through_uld_listed_again_on_the_connecting_flights_manifest_keeps_its_pieces() -> None:
    """Hong Kong - Liège - Madrid in one ULD: the second flight's FFM lists the waybill in the ULD again at
    Liège. That is the same cargo flying on, not more pieces going in: before, the part counted 20 of 10."""
    from tests.support.shipment_flows import ULD1, ticks, unit_plan

    ref = {"air_waybill": AWB}
    plan = _hong_kong_liege_madrid_by_air(33, 36, 48)
    awb = TrackedUnit(kind=UnitKind.AWB, id=AWB)
    flow = [plan, unit_plan(ULD1, [(Mode.AIR, "HKHKG", "BELGG", 15, 29), (Mode.AIR, "BELGG", "ESMAD", 33, 36)]),
            event(ULD1, Milestone.STUFFED, "HKHKG", 10, Mode.AIR, pieces=10, refs=ref),
            event(ULD1, Milestone.DEPARTED, "HKHKG", 15, Mode.AIR),
            event(ULD1, Milestone.ARRIVED, "BELGG", 29, Mode.AIR),
            event(ULD1, Milestone.STUFFED, "BELGG", 31, Mode.AIR, pieces=10, refs=ref),
            event(ULD1, Milestone.DEPARTED, "BELGG", 33, Mode.AIR),
            event(ULD1, Milestone.ARRIVED, "ESMAD", 36, Mode.AIR),
            event(awb, Milestone.DISCHARGED, "ESMAD", 37, Mode.AIR, refs=ref),
            *ticks(48, every=3)]  # fmt: skip
    final = run(flow)[AWB]["shipment_timeline"][-1]
    assert [(p["unit"]["id"], p["pieces"], p["loaded_location"], p["unloaded_location"]) for p in final["parts"]] == [
        ("AKE10001RU", 10, "HKHKG", "ESMAD")]
    assert [(g["units"], g["actual_arrival"]) for g in final["legs"]] == [
        (["AKE10001RU"], "2026-03-03T05:00:00Z"), (["AKE10001RU"], "2026-03-03T12:00:00Z")]


def _iata_only(flow: list, keep: tuple[Milestone, ...] = ()) -> list:
    """What FFM and FSU alone report: a ULD's build-up, never its arrival (nor its departure unless `keep`)."""
    from tests.support.shipment_flows import ULD1, ULD2

    return [r for r in flow if not (getattr(r, "unit", None) in (ULD1, ULD2) and getattr(r, "milestone", None)
                                    in {Milestone.ARRIVED, Milestone.DEPARTED} - set(keep))]  # fmt: skip


def _parts(final: dict) -> list[tuple]:
    return [(p["unit"]["id"], p["pieces"], p["loaded_location"], p["unloaded_location"], p["unloaded_at"])
            for p in final["parts"]]  # fmt: skip


@pytest.mark.parametrize("fsu_dep", [False, True], ids=["no-dep", "fsu-dep"])
@pytest.mark.parametrize("reuse", [False, True], ids=["uld-idle", "uld-reused"])
def test_an_rcf_ends_the_uld_part_when_no_uld_arrival_is_reported(reuse: bool, fsu_dep: bool) -> None:
    """FFM and FSU report where each ULD was built up and when the waybill was received from a flight, never
    the ULD's arrival. Each RCF where the ULD went ends its part: before, both parts stayed aboard their ULDs,
    and with ULD1 flown on to Madrid with other cargo the shipment followed it. The leg counts as left once its
    pieces arrived, at the waybill's own FSU DEP times when there are some; the alerts are those of the fully
    reported flow."""

    flow = _iata_only(_without_uld_strips_with_rcf(reuse))
    if fsu_dep:
        awb, ref = TrackedUnit(kind=UnitKind.AWB, id=AWB), {"air_waybill": AWB}
        flow += [event(awb, Milestone.DEPARTED, "HKHKG", h, Mode.AIR, refs=ref) for h in (15.3, 71)]
    out = run(flow)[AWB]
    final = out["shipment_timeline"][-1]
    assert _parts(final) == [
        ("AKE10001RU", 6, "HKHKG", "BELGG", "2026-03-03T07:00:00Z"),
        ("AKE10002RU", 4, "HKHKG", "BELGG", "2026-03-05T14:00:00Z"),
        ("LGG-MAD 7", 10, "BELGG", "ESMAD", "2026-03-07T02:00:00Z"),
    ]  # fmt: skip
    assert final["status"] == "DELIVERED" and final["location"] == "ESMAD"
    assert [(g["units"], g["pieces_departed"], g["pieces_arrived"], g["actual_departure"], g["actual_arrival"])
            for g in final["legs"]] == [
        (["AKE10001RU", "AKE10002RU"], 10, 10, "2026-03-04T23:00:00Z" if fsu_dep else None, "2026-03-05T14:00:00Z"),
        (["LGG-MAD 7"], 10, 10, "2026-03-05T19:00:00Z", "2026-03-07T01:00:00Z"),
    ]  # fmt: skip
    reported = run(split_awb())[AWB]["shipment_alert"]
    assert sorted(kinds(out["shipment_alert"])) == sorted(kinds(reported))


def test_an_rcf_before_the_uld_left_is_not_its_own() -> None:
    """ULD2 is built up for the first flight with ULD1 but left behind; it leaves 56 h later. The waybill's
    first RCF at Liège (ULD1's pieces) came while ULD2 was still at Hong Kong: ULD2's part ends at the second."""
    from tests.support.shipment_flows import ULD2

    flow = [r for r in _iata_only(_without_uld_strips_with_rcf(False), keep=(Milestone.DEPARTED,))
            if not (getattr(r, "unit", None) == ULD2 and getattr(r, "milestone", None) is Milestone.STUFFED)]
    flow.append(event(ULD2, Milestone.STUFFED, "HKHKG", 10, Mode.AIR, pieces=4, refs={"air_waybill": AWB}))
    final = run(flow)[AWB]["shipment_timeline"][-1]
    assert _parts(final)[:2] == [
        ("AKE10001RU", 6, "HKHKG", "BELGG", "2026-03-03T07:00:00Z"),
        ("AKE10002RU", 4, "HKHKG", "BELGG", "2026-03-05T14:00:00Z"),
    ]  # fmt: skip


def test_a_uld_built_up_again_with_the_waybill_after_its_rcf_does_not_sum_the_pieces() -> None:
    """ULD1 brings the 10 pieces to Liège; nobody reports its breakdown or arrival, the waybill's RCF says the
    pieces were received, and ULD1 is built up again with them for the Madrid flight. Before, the second
    build-up was read as more pieces going in: 20 of 10."""
    from tests.support.shipment_flows import ULD1, ticks

    ref = {"air_waybill": AWB}
    plan = _hong_kong_liege_madrid_by_air(40, 44, 60)
    awb = TrackedUnit(kind=UnitKind.AWB, id=AWB)
    flow = [plan, event(ULD1, Milestone.STUFFED, "HKHKG", 10, Mode.AIR, pieces=10, refs=ref),
            event(awb, Milestone.DISCHARGED, "BELGG", 31, Mode.AIR, refs=ref),
            event(ULD1, Milestone.STUFFED, "BELGG", 36, Mode.AIR, pieces=10, refs=ref),
            event(awb, Milestone.DISCHARGED, "ESMAD", 45, Mode.AIR, refs=ref),
            *ticks(60, every=3)]  # fmt: skip
    final = run(flow)[AWB]["shipment_timeline"][-1]
    assert _parts(final) == [
        ("AKE10001RU", 10, "HKHKG", "BELGG", "2026-03-03T07:00:00Z"),
        ("AKE10001RU", 10, "BELGG", "ESMAD", "2026-03-03T21:00:00Z"),
    ]  # fmt: skip
    assert (final["status"], final["location"]) == ("AT_HUB", "ESMAD")  # received at Madrid, not delivered yet
    assert [(g["pieces_departed"], g["pieces_arrived"]) for g in final["legs"]] == [(10, 10), (10, 10)]


def test_a_through_uld_listed_again_keeps_its_pieces_when_no_arrival_is_reported() -> None:
    """The through ULD of the test above, as FFM alone reports it: two manifests, no arrival, one RCF at
    Madrid. Before, the second listing was read as more pieces going in: 20 of 10."""
    from tests.support.shipment_flows import ULD1, ticks

    ref = {"air_waybill": AWB}
    plan = _hong_kong_liege_madrid_by_air(33, 36, 48)
    awb = TrackedUnit(kind=UnitKind.AWB, id=AWB)
    flow = [plan, event(ULD1, Milestone.STUFFED, "HKHKG", 10, Mode.AIR, pieces=10, refs=ref),
            event(ULD1, Milestone.STUFFED, "BELGG", 31, Mode.AIR, pieces=10, refs=ref),
            event(awb, Milestone.DISCHARGED, "ESMAD", 37, Mode.AIR, refs=ref),
            *ticks(48, every=3)]  # fmt: skip
    final = run(flow)[AWB]["shipment_timeline"][-1]
    assert _parts(final) == [("AKE10001RU", 10, "HKHKG", "ESMAD", "2026-03-03T13:00:00Z")]
    assert (final["status"], final["location"]) == ("AT_HUB", "ESMAD")
    assert [(g["pieces_departed"], g["pieces_arrived"]) for g in final["legs"]] == [(10, 10), (10, 10)]
