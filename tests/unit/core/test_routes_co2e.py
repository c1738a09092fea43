"""The route table, CO2e per leg against hand calculations, and diversions (Cape, Khorgos) through both the full
derivation and the incremental engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import AlertKind, Classifier, Leg, Milestone, Mode, Plan, TrackedUnit, TrackingEvent
from streams.core import co2e
from streams.core.learning.lanes import cape_share, cape_widening
from streams.core.policy import DEFAULT_POLICY
from streams.core.routes import KM_PER_NM, great_circle_km, table
from streams.core.state import UnitState
from streams.core.tracker import apply_event, apply_plan

H = timedelta(hours=1)
T0 = datetime(2026, 3, 5, 10, tzinfo=UTC)
BOX = TrackedUnit.container("CSQU3054383")


def test_sea_routes_suez_and_cape() -> None:
    t = table()
    suez = t.shortest("SGSIN", "NLRTM", Mode.SEA)
    assert suez is not None and suez.stops == ("SGSIN", "LKCMB", "EGPSD", "NLRTM")
    assert suez.km == pytest.approx((1570 + 3430 + 3250) * KM_PER_NM, abs=0.5)  # 8,250 nm
    cape = t.shortest("SGSIN", "NLRTM", Mode.SEA, avoid=frozenset({"EGPSD"}))
    assert cape is not None and cape.stops == ("SGSIN", "ZACPT", "NLRTM") and "Cape" in cape.names
    assert cape.km == pytest.approx((5600 + 6150) * KM_PER_NM, abs=0.5)  # 11,750 nm
    assert 9 * 24 < cape.hours - suez.hours < 11 * 24  # the detour: 3,500 nm at 15 knots


def test_rail_border_crossings_are_alternatives() -> None:
    routes = table().alternatives("CNCKG", "DEDUI", Mode.RAIL)
    stops = [r.stops for r in routes]
    assert stops[0] == ("CNCKG", "CNAKL", "KZALS", "BYBQT", "DEDUI")  # Alashankou - Dostyk: the published 11,179 km
    assert ("CNCKG", "CNHRS", "KZHOR", "BYBQT", "DEDUI") in stops
    assert routes[0].km == pytest.approx(11_182)
    via_pl = table().shortest("KZHOR", "DEDUI", Mode.RAIL, avoid=frozenset({"BYBQT"}))
    assert via_pl is None  # the EU is entered at Brest - Malaszewicze only, in this table
    assert table().shortest("BYBQT", "PLMAL", Mode.RAIL) is not None


def test_a_place_not_in_the_table_has_no_route() -> None:
    assert table().shortest("ZACPT", "DEDUI", Mode.RAIL) is None
    assert table().shortest("BEANR", "NLRTM", Mode.SEA) is None


def test_air_distance_is_great_circle_plus_95_km() -> None:
    t = table()
    km, how = co2e.distance(Mode.AIR, "HKHKG", "BELGG")
    gc = great_circle_km(t.position("HKHKG"), t.position("BELGG"))  # type: ignore[arg-type]
    assert 9_200 < gc < 9_400
    assert km == pytest.approx(gc + 95)
    assert "+ 95 km" in how


def test_road_distance_without_a_network_figure_is_great_circle_times_the_factor() -> None:
    t = table()
    km, how = co2e.distance(Mode.ROAD, "DEFRA", "HKHKG")  # no road segment: positions only
    gc = great_circle_km(t.position("DEFRA"), t.position("HKHKG"))  # type: ignore[arg-type]
    assert km == pytest.approx(gc * 1.05)
    assert "x 1.05" in how


def test_co2e_of_a_suez_plan_by_hand() -> None:
    legs = (Leg(mode=Mode.SEA, carrier="C", origin="CNSHA", destination="SGSIN", planned_departure=T0,
                planned_arrival=T0 + 132 * H),
            Leg(mode=Mode.SEA, carrier="C", origin="SGSIN", destination="NLRTM", planned_departure=T0 + 204 * H,
                planned_arrival=T0 + 756 * H))  # fmt: skip
    out = co2e.for_plan(legs, 12.0, "CONTAINER")
    # 2,200 nm and 8,250 nm, 12 t, 8.94 g/tkm
    hand = [2200 * 1.852 * 12 * 8.94 / 1000, 8250 * 1.852 * 12 * 8.94 / 1000]
    assert [leg["kg"] for leg in out["legs"]] == [pytest.approx(h, abs=0.1) for h in hand]
    assert out["kg"] == pytest.approx(sum(hand), abs=0.2)
    assert out["tonnes_source"] == "plan"
    default = co2e.for_plan(legs, None, "CONTAINER")
    assert default["tonnes"] == 10.0 and "default for CONTAINER" in default["tonnes_source"]
    cape = co2e.for_plan(legs, 12.0, "CONTAINER", (1, 1, ("SGSIN", "ZACPT", "NLRTM"), (Mode.SEA, Mode.SEA)))
    assert cape["legs"][1]["kg"] == pytest.approx(11750 * 1.852 * 12 * 8.94 / 1000, abs=0.1)
    assert cape["legs"][1]["diverted"] is True


def test_co2e_is_none_when_a_position_is_unknown() -> None:
    legs = (Leg(mode=Mode.ROAD, carrier="C", origin="DEDUI", destination="DEBRV", planned_departure=T0,
                planned_arrival=T0 + 2 * H),)  # fmt: skip
    out = co2e.for_plan(legs, None, "CONTAINER")
    assert out["kg"] is None and out["legs"][0]["distance"] == "no position for DEBRV"


def _sea_plan(revision: int = 1) -> Plan:
    return Plan(unit=BOX, revision=revision, issued_time=T0 - 48 * H, lane="CNSHA-NLRTM", cargo_tonnes=12.0, legs=[
        Leg(mode=Mode.SEA, carrier="C", origin="CNSHA", destination="SGSIN", planned_departure=T0,
            planned_arrival=T0 + 132 * H),
        Leg(mode=Mode.SEA, carrier="C", origin="SGSIN", destination="NLRTM", planned_departure=T0 + 204 * H,
            planned_arrival=T0 + 756 * H)])  # fmt: skip


def _ev(n: int, milestone: Milestone, loc: str, at: datetime, mode: Mode = Mode.SEA) -> TrackingEvent:
    return TrackingEvent(event_id=f"e{n}", source="carrier", unit=BOX, mode=mode, milestone=milestone,
                         classifier=Classifier.ACTUAL, location=loc, event_time=at, received_time=at + H)


CAPE_VOYAGE = [
    _ev(1, Milestone.DEPARTED, "CNSHA", T0),
    _ev(2, Milestone.ARRIVED, "SGSIN", T0 + 130 * H),
    _ev(3, Milestone.DEPARTED, "SGSIN", T0 + 204 * H),
    _ev(4, Milestone.ARRIVED, "ZACPT", T0 + 564 * H),
    _ev(5, Milestone.DEPARTED, "ZACPT", T0 + 584 * H),
    _ev(6, Milestone.ARRIVED, "NLRTM", T0 + 996 * H),
]


def _run(plan: Plan, events: list[TrackingEvent], incremental: bool) -> tuple[UnitState, list, list]:
    state = apply_plan(UnitState(), plan, plan.issued_time, DEFAULT_POLICY, incremental=incremental).state
    outs, views = [], []
    for e in events:
        o = apply_event(state, e, e.received_time, DEFAULT_POLICY, incremental=incremental)
        state = o.state
        outs.extend(o.records)
        views.append(o.view)
    return state, outs, views


@pytest.mark.parametrize("incremental", [True, False])
def test_a_cape_call_on_a_suez_plan_is_a_diversion(incremental: bool) -> None:
    _, outs, views = _run(_sea_plan(), CAPE_VOYAGE, incremental)
    diverted = [o for o in outs if o.record == "alert" and o.kind is AlertKind.DIVERTED]
    assert len(diverted) == 1  # once, though the unit called at Cape Town twice (arrived, departed)
    alert = diverted[0]
    assert alert.location == "ZACPT" and alert.milestone == "ARR:NLRTM:1" and alert.leg_index == 1
    at_cape = views[3].timeline
    assert at_cape.diversion is not None and at_cape.diversion.route == ["ZACPT", "NLRTM"]
    assert at_cape.diversion.route_names == ["Cape"]
    # Arrived at Cape Town at +564 h: 6,150 nm at 15 knots (410 h) and a day's connection before it can leave.
    assert at_cape.predicted_arrival == T0 + 564 * H + timedelta(hours=410.0) + 24 * H
    etas = [o for o in outs if o.record == "eta"]
    assert "diverted: seen at ZACPT" in etas[-2].reason  # the one emitted while diverted
    # CO2e along the Cape: 2,200 + 11,750 nm at 12 t; the plan (Suez) said 2,200 + 8,250 nm.
    assert at_cape.co2e is not None and at_cape.co2e.kg == pytest.approx(13950 * 1.852 * 12 * 8.94 / 1000, abs=0.3)
    before = views[2].timeline.co2e
    assert before is not None and before.kg == pytest.approx(10450 * 1.852 * 12 * 8.94 / 1000, abs=0.3)
    arrived = views[-1].timeline
    assert arrived.diversion is not None and arrived.diversion.rejoined and arrived.co2e.kg == at_cape.co2e.kg


def test_rail_re_routed_via_khorgos_bypasses_alashankou() -> None:
    t = [T0 + k * H for k in (0, 84, 106, 116, 140, 272, 292, 352)]
    plan = Plan(unit=BOX, issued_time=T0 - 24 * H, lane="CNCKG-DEDUI", legs=[
        Leg(mode=Mode.RAIL, carrier="CR", origin="CNCKG", destination="CNAKL", planned_departure=t[0],
            planned_arrival=t[1]),
        Leg(mode=Mode.RAIL, carrier="KTZ", origin="CNAKL", destination="KZALS", planned_departure=t[2],
            planned_arrival=t[3]),
        Leg(mode=Mode.RAIL, carrier="ERA", origin="KZALS", destination="BYBQT", planned_departure=t[4],
            planned_arrival=t[5]),
        Leg(mode=Mode.RAIL, carrier="PKP", origin="BYBQT", destination="DEDUI", planned_departure=t[6],
            planned_arrival=t[7])])  # fmt: skip
    events = [_ev(1, Milestone.DEPARTED, "CNCKG", T0, Mode.RAIL),
              _ev(2, Milestone.ARRIVED, "CNHRS", T0 + 96 * H, Mode.RAIL)]  # fmt: skip
    for incremental in (True, False):
        _, outs, views = _run(plan, events, incremental)
        tl = views[-1].timeline
        assert tl.diversion is not None and tl.diversion.route == ["CNHRS", "KZHOR", "BYBQT"]
        assert tl.diversion.rejoins == "ARR:BYBQT:1"
        assert tl.diversion.bypassed == ["ARR:CNAKL:1", "DEP:CNAKL:1", "ARR:KZALS:1", "DEP:KZALS:1"]
        assert [m.predicted for m in tl.milestones[1:5]] == [None] * 4
        assert views[-1].next_expected == 5  # Alashankou is not overdue: the unit will not go there
        assert sum(o.record == "alert" and o.kind is AlertKind.DIVERTED for o in outs) == 1


def test_a_plan_revision_that_takes_the_cape_ends_the_diversion() -> None:
    plan2 = Plan(**{**_sea_plan(2).model_dump(), "issued_time": T0 + 600 * H, "legs": [
        *_sea_plan().legs[:1],
        Leg(mode=Mode.SEA, carrier="C", origin="SGSIN", destination="ZACPT", planned_departure=T0 + 204 * H,
            planned_arrival=T0 + 560 * H),
        Leg(mode=Mode.SEA, carrier="C", origin="ZACPT", destination="NLRTM", planned_departure=T0 + 580 * H,
            planned_arrival=T0 + 1000 * H)]})  # fmt: skip
    state, _, _ = _run(_sea_plan(), CAPE_VOYAGE[:5], True)
    o = apply_plan(state, plan2, T0 + 600 * H, DEFAULT_POLICY)
    assert o.view is not None and o.view.timeline.diversion is None


def test_the_lane_signal_widens_only_when_most_recent_sailings_went_round() -> None:
    now = T0 + 31 * 24 * H
    sailings = [(T0 + k * 7 * 24 * H, k >= 2) for k in range(5)]  # the last three of five went round the Cape
    assert cape_share(sailings, now) == (3, 4)  # the first left more than 30 days before
    wide = cape_widening("SGSIN", "NLRTM", True, 3, 4)
    assert timedelta(days=9) < wide < timedelta(days=11)
    assert cape_widening("SGSIN", "NLRTM", False, 3, 4) == timedelta(0)  # no call overdue yet
    assert cape_widening("SGSIN", "NLRTM", True, 1, 4) == timedelta(0)
    assert cape_widening("CNSHA", "SGSIN", True, 4, 4) == timedelta(0)  # not a Suez leg


@given(cape_hours=st.integers(300, 700), extra=st.lists(st.sampled_from(["ZACPT", "LKCMB"]), max_size=3))
def test_diversion_is_the_same_on_both_paths_and_alerted_once(cape_hours: int, extra: list[str]) -> None:
    events = CAPE_VOYAGE[:3] + [_ev(10 + k, Milestone.ARRIVED, place, T0 + (cape_hours + 10 * k) * H)
                                for k, place in enumerate(extra)]  # fmt: skip
    a = _run(_sea_plan(), events, True)
    b = _run(_sea_plan(), events, False)
    assert [v.timeline_json for v in a[2]] == [v.timeline_json for v in b[2]]
    assert [o.model_dump() for o in a[1]] == [o.model_dump() for o in b[1]]
    assert sum(o.record == "alert" and o.kind is AlertKind.DIVERTED for o in a[1]) == (1 if extra else 0)


# -- an aircraft diverted to another airport: its cargo is trucked on --------------------------------------------


def _air_plan() -> Plan:
    return Plan(unit=BOX, revision=1, issued_time=T0 - 48 * H, lane="HKHKG-ESMAD", cargo_tonnes=2.0, legs=[
        Leg(mode=Mode.AIR, carrier="CX", origin="HKHKG", destination="BELGG", planned_departure=T0,
            planned_arrival=T0 + 14 * H),
        Leg(mode=Mode.ROAD, carrier="T", origin="BELGG", destination="ESMAD", planned_departure=T0 + 20 * H,
            planned_arrival=T0 + 50 * H)])  # fmt: skip


BRUSSELS = [
    _ev(1, Milestone.DEPARTED, "HKHKG", T0, Mode.AIR),
    _ev(2, Milestone.ARRIVED, "BEBRU", T0 + 14 * H, Mode.AIR),  # landed at Brussels, not Liege
    _ev(3, Milestone.DEPARTED, "BEBRU", T0 + 20 * H, Mode.ROAD),
    _ev(4, Milestone.ARRIVED, "ESMAD", T0 + 44 * H, Mode.ROAD),
]


@pytest.mark.parametrize("incremental", [True, False])
def test_an_aircraft_diverted_to_another_airport_goes_on_by_truck_not_back_through_hong_kong(incremental: bool
                                                                                            ) -> None:  # fmt: skip
    _, outs, views = _run(_air_plan(), BRUSSELS, incremental)
    at_bru = views[1].timeline
    div = at_bru.diversion
    assert div is not None and div.route == ["BEBRU", "ESMAD"] and div.rejoins == "ARR:ESMAD:1"
    assert "HKHKG" not in div.route and div.route_names == ["Brussels - Madrid line-haul"]
    # The road distance is great-circle x 1.05 (the table gives this line-haul no network figure); the truck
    # runs at the table's 60 km/h, and leaves after the air mode's minimum connection.
    gc = great_circle_km(table().position("BEBRU"), table().position("ESMAD"))  # type: ignore[arg-type]
    assert div.route_km == pytest.approx(gc * 1.05, abs=0.2)
    road_h = round(round(gc * 1.05, 1) / 60, 1)
    assert div.route_hours == pytest.approx(road_h, abs=0.05)
    assert div.bypassed == ["ARR:BELGG:1", "DEP:BELGG:1"]  # Liege: it will not be there
    conn = DEFAULT_POLICY.min_connection(Mode.AIR)
    assert at_bru.predicted_arrival >= T0 + 14 * H + timedelta(hours=road_h) + conn - timedelta(minutes=1)
    assert at_bru.predicted_arrival < T0 + 14 * H + timedelta(hours=60)  # not a flight back to Hong Kong and out
    # CO2e: an air hop Hong Kong - Brussels, then a road hop Brussels - Madrid (the truck's, at the road factor).
    legs = at_bru.co2e.legs
    assert [(r.mode, r.stops) for r in legs] == [(Mode.AIR, ["HKHKG", "BEBRU"]), (Mode.ROAD, ["BEBRU", "ESMAD"])]
    assert legs[1].km == pytest.approx(gc * 1.05, abs=0.2) and legs[1].g_per_tkm == 112.0
    assert legs[1].kg == pytest.approx(legs[1].km * 2.0 * 112.0 / 1000, abs=0.1)
    assert at_bru.co2e.kg == pytest.approx(legs[0].kg + legs[1].kg, abs=0.2)
    diverted = [o for o in outs if o.record == "alert" and o.kind is AlertKind.DIVERTED]
    assert len(diverted) == 1 and "re-routed BEBRU-ESMAD" in diverted[0].message
    arrived = views[-1].timeline
    assert arrived.diversion.rejoined and [r.mode for r in arrived.co2e.legs] == [Mode.AIR, Mode.ROAD]


def test_a_road_route_the_table_lacks_is_great_circle_times_the_road_factor() -> None:
    from streams.core.routes import road_fallback

    t = table()
    r = road_fallback(t, "DEFRA", "HUBUD", Mode.ROAD)  # no road segment between them in the table
    assert r is not None and r.stops == ("DEFRA", "HUBUD")
    gc = great_circle_km(t.position("DEFRA"), t.position("HUBUD"))  # type: ignore[arg-type]
    assert r.km == pytest.approx(gc * 1.05, abs=0.1) and r.hours == pytest.approx(r.km / 60, abs=0.05)
    assert road_fallback(t, "DEFRA", "XXXXX", Mode.ROAD) is None
    assert road_fallback(t, "DEFRA", "HUBUD", Mode.AIR) is None


# -- one DIVERTED alert per diversion: lateness escalates through the delay alerts -----------------------------


def _alerts(outs: list, kind: AlertKind) -> list:
    return [o for o in outs if o.record == "alert" and o.kind is kind]


@pytest.mark.parametrize("incremental", [True, False])
def test_a_diversion_is_alerted_once_across_re_plans_and_its_growing_lateness_by_delay_alerts(incremental: bool
                                                                                             ) -> None:  # fmt: skip
    from streams.core.tracker import advance

    state, outs, _ = _run(_sea_plan(), CAPE_VOYAGE[:4], incremental)  # at Cape Town: diverted
    assert len(_alerts(outs, AlertKind.DIVERTED)) == 1
    # The forwarder re-times the plan (revision 2, issued before the Cape call, received after it; still Suez):
    # the same diversion, not a new one.
    retimed = _sea_plan(revision=2).model_copy(update={"issued_time": T0 + 300 * H})
    o = apply_plan(state, retimed, T0 + 570 * H, DEFAULT_POLICY, incremental=incremental)
    assert o.view.timeline.diversion is not None and not _alerts(o.records, AlertKind.DIVERTED)
    state = o.state
    # ...and again once it is at Cape Town (revision 3, issued after the call, Suez still): the plan knew.
    at_cape = _sea_plan(revision=3).model_copy(update={"issued_time": T0 + 570 * H})
    o = apply_plan(state, at_cape, T0 + 575 * H, DEFAULT_POLICY, incremental=incremental)
    assert not _alerts(o.records, AlertKind.DIVERTED)
    state, later = o.state, []
    # Time passes, the ship leaves Cape Town, Rotterdam falls overdue and then it arrives, ten days late: the
    # delay alerts say so, with rising severity; DIVERTED is not raised again.
    for e in CAPE_VOYAGE[4:5]:
        o = apply_event(state, e, e.received_time, DEFAULT_POLICY, incremental=incremental)
        state, later = o.state, later + o.records
    for h in range(600, 1000, 12):
        o = advance(state, T0 + h * H, DEFAULT_POLICY, incremental=incremental)
        state, later = o.state, later + o.records
    o = apply_event(state, CAPE_VOYAGE[5], CAPE_VOYAGE[5].received_time, DEFAULT_POLICY, incremental=incremental)
    later += o.records
    assert not _alerts(later, AlertKind.DIVERTED)
    delays = _alerts(later, AlertKind.OVERDUE) + _alerts(later, AlertKind.LATE)
    assert delays and max(a.minutes_late for a in delays) > 200 * 60
    assert delays[-1].severity.value == "CRITICAL"


def test_a_new_off_plan_place_after_a_re_plan_is_a_new_diversion() -> None:
    state, outs, _ = _run(_sea_plan(), CAPE_VOYAGE[:4], True)
    first = _alerts(outs, AlertKind.DIVERTED)[0]
    replan = _sea_plan(revision=2).model_copy(update={"issued_time": T0 + 570 * H})
    state = apply_plan(state, replan, T0 + 575 * H, DEFAULT_POLICY).state
    # Then it is reported at Algeciras (not on the new plan either, and not known when it was made).
    o = apply_event(state, _ev(9, Milestone.ARRIVED, "ESALG", T0 + 800 * H), T0 + 801 * H, DEFAULT_POLICY)
    again = _alerts(o.records, AlertKind.DIVERTED)
    assert len(again) == 1 and again[0].alert_id != first.alert_id and again[0].location == "ESALG"
