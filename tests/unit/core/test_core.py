"""The pure core: milestones, evidence, ETA, timeline, delays and the tracker's three steps.

Times refer to the reference plan in factories.py (sea CNSHA->NLRTM, rail NLRTM->DEDUI, road DEDUI->DEHAM)."""

from __future__ import annotations

import random
from dataclasses import fields, replace
from datetime import datetime

import pytest

from schemas import (
    AlertKind,
    Classifier,
    DelayAlert,
    EtaUpdate,
    Leg,
    Milestone,
    Mode,
    Plan,
    PlannedStopKind,
    Severity,
    Timeline,
    TrackedUnit,
    TrackingEvent,
    UnitKind,
    UnitStatus,
)
from streams.core.delays import alert_id, candidates, new_alerts
from streams.core.milestones import planned_milestones
from streams.core.records import EventRecord, PlanRecord
from streams.core.state import UnitState
from streams.core.timeline import UnitView, derive
from streams.core.tracker import Outcome, advance, apply_event, apply_plan
from tests.support.factories import CONTAINER, KEYS, POLICY, UNIT, corridor_plan, event, loop_plan, t

EST = Classifier.ESTIMATED

# The journey used throughout: 10 h late out of Shanghai (absorbed at sea), 72 h late into Rotterdam.
DEP_CNSHA = event("DEPARTED", "CNSHA", "2024-03-01 10:00")
ARR_NLRTM = event("ARRIVED", "NLRTM", "2024-04-03 00:00")
DEP_NLRTM = event("DEPARTED", "NLRTM", "2024-04-03 08:00", mode=Mode.RAIL)  # 32 h late: the carried delay
ARR_DEDUI = event("ARRIVED", "DEDUI", "2024-04-04 08:00")  # 32 h late


def view(events: list[TrackingEvent], watermark: datetime | None = None, plan: Plan | None = None) -> UnitView:
    return derive(UNIT, plan or corridor_plan(), events, watermark, POLICY)


def ms(v: UnitView | Timeline, key: str):
    timeline = v.timeline if isinstance(v, UnitView) else v
    return next(m for m in timeline.milestones if m.key == key)


def predicted(v: UnitView) -> dict[str, datetime | None]:
    return {m.key: m.predicted for m in v.timeline.milestones}


def step_events(state: UnitState, events: list[TrackingEvent], watermark: datetime | None = None) -> UnitState:
    for e in events:
        state = apply_event(state, e, watermark or min(e.event_time, e.received_time), POLICY).state
    return state


def planned_state(plan: Plan | None = None) -> UnitState:
    return apply_plan(UnitState(), plan or corridor_plan(), None, POLICY).state


def of(outcome: Outcome, kind: type) -> list:
    return [o for o in outcome.outputs if isinstance(o, kind)]


# -- planned milestones -----------------------------------------------------------------------------------


def test_planned_milestones_of_the_reference_plan() -> None:
    got = planned_milestones(corridor_plan())
    assert [m.key for m in got] == KEYS
    assert [m.kind for m in got] == [PlannedStopKind.DEPARTURE, PlannedStopKind.ARRIVAL] * 3 + [
        PlannedStopKind.DELIVERY
    ]
    assert [m.leg_index for m in got] == [0, 0, 1, 1, 2, 2, 2]
    assert [m.mode for m in got] == [Mode.SEA, Mode.SEA, Mode.RAIL, Mode.RAIL, Mode.ROAD, Mode.ROAD, Mode.ROAD]
    assert [m.planned for m in got] == [
        t("2024-03-01 00:00"), t("2024-03-31 00:00"), t("2024-04-02 00:00"), t("2024-04-03 00:00"),
        t("2024-04-03 12:00"), t("2024-04-03 20:00"), t("2024-04-04 08:00"),
    ]


def test_no_promised_delivery_means_no_delivery_milestone() -> None:
    assert [m.key for m in planned_milestones(corridor_plan(delivery=None))] == KEYS[:-1]


def test_repeated_calls_get_occurrence_numbers() -> None:
    assert [m.key for m in planned_milestones(loop_plan())] == [
        "DEP:DEDUI:1", "ARR:NLRTM:1", "DEP:NLRTM:1", "ARR:GBFXT:1", "DEP:GBFXT:1", "ARR:NLRTM:2",
    ]


# -- timeline status and position -------------------------------------------------------------------------

JOURNEY = [
    DEP_CNSHA,
    ARR_NLRTM,
    DEP_NLRTM,
    ARR_DEDUI,
    event("DEPARTED", "DEDUI", "2024-04-04 09:00", mode=Mode.ROAD),
    event("ARRIVED", "DEHAM", "2024-04-04 17:00"),
    event("DELIVERED", "DEHAM", "2024-04-04 19:00"),
]


@pytest.mark.parametrize(
    ("reported", "status", "location", "last", "mode"),
    [
        (0, UnitStatus.PLANNED, None, None, Mode.SEA),
        (1, UnitStatus.IN_TRANSIT, "CNSHA", Milestone.DEPARTED, Mode.SEA),
        (2, UnitStatus.AT_STOP, "NLRTM", Milestone.ARRIVED, Mode.RAIL),  # the next leg is by rail
        (3, UnitStatus.IN_TRANSIT, "NLRTM", Milestone.DEPARTED, Mode.RAIL),
        (4, UnitStatus.AT_STOP, "DEDUI", Milestone.ARRIVED, Mode.ROAD),
        (5, UnitStatus.IN_TRANSIT, "DEDUI", Milestone.DEPARTED, Mode.ROAD),
        (6, UnitStatus.ARRIVED, "DEHAM", Milestone.ARRIVED, Mode.ROAD),
        (7, UnitStatus.DELIVERED, "DEHAM", Milestone.DELIVERED, Mode.ROAD),
    ],
)
def test_status_and_position_follow_the_journey(
    reported: int, status: UnitStatus, location: str | None, last: Milestone | None, mode: Mode
) -> None:
    tl = view(JOURNEY[:reported]).timeline
    assert (tl.status, tl.location, tl.last_milestone, tl.mode) == (status, location, last, mode)
    assert (tl.destination, tl.plan_revision, tl.lane) == ("DEHAM", 1, "CNSHA-DEHAM")
    assert tl.planned_arrival == t("2024-04-03 20:00")
    assert [e.event_id for e in tl.events] == [e.event_id for e in JOURNEY[:reported]]


def test_timeline_without_a_plan_uses_the_last_actual_event() -> None:
    gate_in = event("GATE_IN", "CNSHA", "2024-02-28 08:00")
    tl = derive(UNIT, None, [gate_in], None, POLICY).timeline
    assert (tl.status, tl.location, tl.last_milestone, tl.mode) == (UnitStatus.PLANNED, "CNSHA", Milestone.GATE_IN,
                                                                    Mode.SEA)
    assert (tl.milestones, tl.destination, tl.planned_arrival, tl.plan_revision) == ([], None, None, None)
    tl = derive(UNIT, None, [gate_in, DEP_CNSHA], None, POLICY).timeline
    assert tl.status is UnitStatus.IN_TRANSIT
    assert tl.events[1].matched is None


def test_unplanned_events_move_the_position_but_not_the_status() -> None:
    gate_out = event("GATE_OUT", "NLRTM", "2024-04-03 05:00", mode=Mode.RAIL)
    tl = view([DEP_CNSHA, ARR_NLRTM, gate_out]).timeline
    assert (tl.status, tl.location, tl.last_milestone) == (UnitStatus.AT_STOP, "NLRTM", Milestone.GATE_OUT)


def test_estimates_do_not_move_the_position() -> None:
    est = event("ARRIVED", "NLRTM", "2024-04-02 00:00", classifier=EST, received="2024-03-10 00:00")
    tl = view([DEP_CNSHA, est]).timeline
    assert (tl.status, tl.location, tl.last_milestone) == (UnitStatus.IN_TRANSIT, "CNSHA", Milestone.DEPARTED)
    assert [e.matched for e in tl.events] == ["DEP:CNSHA:1", "ARR:NLRTM:1"]


# -- evidence ------------------------------------------------------------------------------------------------


def test_discharge_evidences_the_arrival_when_no_arrival_is_reported() -> None:
    disc = event("DISCHARGED", "NLRTM", "2024-04-03 02:00")
    v = view([DEP_CNSHA, disc])
    assert ms(v, "ARR:NLRTM:1").actual == t("2024-04-03 02:00")
    assert ms(v, "ARR:NLRTM:1").minutes_late == 74 * 60
    assert v.timeline.events[1].matched == "ARR:NLRTM:1"
    assert v.timeline.status is UnitStatus.AT_STOP


@pytest.mark.parametrize("reverse", [False, True])
def test_arrival_is_preferred_over_discharge_whatever_the_order(reverse: bool) -> None:
    # the discharge is reported first and is the first actual received, yet the arrival is primary evidence
    disc = event("DISCHARGED", "NLRTM", "2024-04-03 02:00")
    arr = event("ARRIVED", "NLRTM", "2024-04-03 00:00", received="2024-04-03 05:00")
    events = [DEP_CNSHA, disc, arr]
    v = view(events[::-1] if reverse else events)
    assert ms(v, "ARR:NLRTM:1").actual == t("2024-04-03 00:00")
    assert {e.event_id: e.matched for e in v.timeline.events} == {
        DEP_CNSHA.event_id: "DEP:CNSHA:1", disc.event_id: "ARR:NLRTM:1", arr.event_id: "ARR:NLRTM:1",
    }


def test_first_reported_actual_wins_between_equal_reports() -> None:
    first = event("ARRIVED", "NLRTM", "2024-04-03 05:00", received="2024-04-03 05:30", source="carrier")
    later = event("ARRIVED", "NLRTM", "2024-04-03 00:00", received="2024-04-03 06:00", source="terminal")
    assert ms(view([later, first]), "ARR:NLRTM:1").actual == t("2024-04-03 05:00")
    assert ms(view([first, later]), "ARR:NLRTM:1").actual == t("2024-04-03 05:00")


def test_repeated_calls_at_the_same_port_match_the_nearest_planned_time() -> None:
    plan = loop_plan()
    events = [
        event("ARRIVED", "NLRTM", "2024-05-01 07:00", mode=Mode.ROAD),
        event("DEPARTED", "NLRTM", "2024-05-02 01:00"),
        event("ARRIVED", "NLRTM", "2024-05-04 23:00"),  # early for the second call, long after the first
    ]
    v = view(events, plan=plan)
    assert [e.matched for e in v.timeline.events] == ["ARR:NLRTM:1", "DEP:NLRTM:1", "ARR:NLRTM:2"]
    assert ms(v, "ARR:NLRTM:1").actual == t("2024-05-01 07:00")
    assert ms(v, "ARR:NLRTM:2").actual == t("2024-05-04 23:00")
    assert ms(v, "ARR:NLRTM:2").minutes_late == -60
    assert v.timeline.status is UnitStatus.ARRIVED
    # the unreported calls at GBFXT were passed: no prediction, no lateness
    assert (ms(v, "ARR:GBFXT:1").predicted, ms(v, "ARR:GBFXT:1").minutes_late) == (None, None)


def test_events_elsewhere_or_of_other_kinds_match_nothing() -> None:
    elsewhere = event("ARRIVED", "SGSIN", "2024-03-10 00:00", mode=Mode.SEA)
    loaded = event("LOADED", "CNSHA", "2024-02-29 20:00")
    v = view([loaded, DEP_CNSHA, elsewhere])
    assert [e.matched for e in v.timeline.events] == [None, "DEP:CNSHA:1", None]
    assert [m.actual for m in v.timeline.milestones] == [t("2024-03-01 10:00")] + [None] * 6


def test_latest_received_estimate_is_the_estimate() -> None:
    est1 = event("ARRIVED", "NLRTM", "2024-04-02 00:00", classifier=EST, received="2024-03-10 00:00")
    est2 = event("ARRIVED", "NLRTM", "2024-03-30 00:00", classifier=EST, received="2024-03-12 00:00")
    plan_ev = event("ARRIVED", "NLRTM", "2024-04-05 00:00", classifier=Classifier.PLANNED, received="2024-03-12 00:00")
    v = view([est2, plan_ev, est1])
    assert ms(v, "ARR:NLRTM:1").estimated == t("2024-03-30 00:00")
    assert ms(v, "ARR:NLRTM:1").actual is None


# -- ETA -------------------------------------------------------------------------------------------------------


def test_prediction_of_an_untouched_plan_is_the_plan() -> None:
    v = view([])
    assert [m.predicted for m in v.timeline.milestones] == [m.planned for m in v.timeline.milestones]
    assert (v.timeline.predicted_arrival, v.timeline.minutes_late) == (t("2024-04-03 20:00"), 0)


def test_late_departure_is_carried_to_the_next_arrival_and_absorbed_by_dwell() -> None:
    v = view([DEP_CNSHA], t("2024-03-01 10:00"))
    assert predicted(v) == {
        "DEP:CNSHA:1": None,  # it happened: the actual is what counts
        "ARR:NLRTM:1": t("2024-03-31 10:00"),  # 30 days of transit from the actual departure
        "DEP:NLRTM:1": t("2024-04-02 00:00"),  # 38 h of dwell left: the 10 h are absorbed
        "ARR:DEDUI:1": t("2024-04-03 00:00"),
        "DEP:DEDUI:1": t("2024-04-03 12:00"),
        "ARR:DEHAM:1": t("2024-04-03 20:00"),
        "DLV:DEHAM:1": t("2024-04-04 08:00"),
    }
    assert v.predicted[0] == t("2024-03-01 10:00")
    assert ms(v, "DEP:CNSHA:1").minutes_late == 600
    assert ms(v, "ARR:NLRTM:1").minutes_late == 600


def test_late_arrival_leaves_after_the_minimum_connection_and_carries_transit_times() -> None:
    v = view([DEP_CNSHA, ARR_NLRTM], t("2024-04-03 00:00"))
    assert predicted(v) == {
        "DEP:CNSHA:1": None,
        "ARR:NLRTM:1": None,
        "DEP:NLRTM:1": t("2024-04-03 08:00"),  # arrival + 8 h rail connection (< 48 h planned dwell)
        "ARR:DEDUI:1": t("2024-04-04 08:00"),  # + 24 h planned rail transit
        "DEP:DEDUI:1": t("2024-04-04 09:00"),  # + 1 h road connection (< 12 h planned dwell)
        "ARR:DEHAM:1": t("2024-04-04 17:00"),  # + 8 h road transit
        "DLV:DEHAM:1": t("2024-04-04 18:00"),  # + 1 h (< 12 h planned before delivery)
    }
    assert (v.timeline.predicted_arrival, v.timeline.minutes_late) == (t("2024-04-04 17:00"), 21 * 60)
    assert [m.minutes_late for m in v.timeline.milestones] == [600, 4320, 1920, 1920, 1260, 1260, 600]


def test_slack_absorbs_part_of_a_delay_at_each_stop() -> None:
    # 44 h late into Rotterdam: 48 h dwell planned, 8 h needed -> leaves 4 h late; 12 h at Duisburg absorb the rest
    v = view([DEP_CNSHA, event("ARRIVED", "NLRTM", "2024-04-01 20:00")], t("2024-04-01 20:00"))
    assert predicted(v)["DEP:NLRTM:1"] == t("2024-04-02 04:00")
    assert predicted(v)["ARR:DEDUI:1"] == t("2024-04-03 04:00")
    assert predicted(v)["DEP:DEDUI:1"] == t("2024-04-03 12:00")
    assert (v.timeline.predicted_arrival, v.timeline.minutes_late) == (t("2024-04-03 20:00"), 0)


def test_a_later_carrier_estimate_wins_and_is_carried() -> None:
    dep = event("DEPARTED", "CNSHA", "2024-03-01 00:00")
    est = event("ARRIVED", "NLRTM", "2024-04-02 00:00", classifier=EST, received="2024-03-10 00:00")
    v = view([dep, est], t("2024-03-10 00:00"))
    assert ms(v, "ARR:NLRTM:1").estimated == t("2024-04-02 00:00")
    assert predicted(v)["ARR:NLRTM:1"] == t("2024-04-02 00:00")
    assert predicted(v)["DEP:NLRTM:1"] == t("2024-04-02 08:00")
    assert predicted(v)["ARR:DEDUI:1"] == t("2024-04-03 08:00")
    assert predicted(v)["DEP:DEDUI:1"] == t("2024-04-03 12:00")
    assert v.timeline.predicted_arrival == t("2024-04-03 20:00")


def test_an_earlier_carrier_estimate_does_not_pull_the_prediction_forward() -> None:
    dep = event("DEPARTED", "CNSHA", "2024-03-01 06:00")
    est = event("ARRIVED", "NLRTM", "2024-03-30 00:00", classifier=EST, received="2024-03-10 00:00")
    v = view([dep, est], t("2024-03-10 00:00"))
    assert ms(v, "ARR:NLRTM:1").estimated == t("2024-03-30 00:00")
    assert predicted(v)["ARR:NLRTM:1"] == t("2024-03-31 06:00")


def test_nothing_unhappened_is_predicted_before_the_watermark() -> None:
    v = view([], t("2024-03-15 00:00"))  # never departed, two weeks after the planned departure
    assert predicted(v) == {
        "DEP:CNSHA:1": t("2024-03-15 00:00"),
        "ARR:NLRTM:1": t("2024-04-14 00:00"),
        "DEP:NLRTM:1": t("2024-04-14 08:00"),
        "ARR:DEDUI:1": t("2024-04-15 08:00"),
        "DEP:DEDUI:1": t("2024-04-15 09:00"),
        "ARR:DEHAM:1": t("2024-04-15 17:00"),
        "DLV:DEHAM:1": t("2024-04-15 18:00"),
    }
    # an arrival overdue at the watermark is predicted at the watermark, and the dwell absorbs it
    v = view([event("DEPARTED", "CNSHA", "2024-03-01 00:00")], t("2024-04-01 00:00"))
    assert predicted(v)["ARR:NLRTM:1"] == t("2024-04-01 00:00")
    assert predicted(v)["DEP:NLRTM:1"] == t("2024-04-02 00:00")
    assert v.timeline.as_of == t("2024-04-01 00:00")


def test_milestones_passed_without_a_report_are_not_predicted() -> None:
    v = view([ARR_NLRTM], t("2024-04-03 00:00"))  # the departure from Shanghai was never reported
    first = ms(v, "DEP:CNSHA:1")
    assert (first.actual, first.predicted, first.minutes_late) == (None, None, None)
    assert v.predicted[0] is None
    assert v.furthest == 1
    assert predicted(v)["DEP:NLRTM:1"] == t("2024-04-03 08:00")


# -- delay alerts ----------------------------------------------------------------------------------------------


def test_alert_ids_are_stable_per_unit_milestone_and_kind() -> None:
    assert alert_id(CONTAINER, "ARR:NLRTM:1", AlertKind.LATE) == "al-74432647f6df280fdc2f"
    assert alert_id(CONTAINER, "DEP:CNSHA:1", AlertKind.OVERDUE) == "al-fd4b0415c5dfeb355677"
    ids = {alert_id(u, k, kind) for u in (CONTAINER, "MSKU1234565") for k in KEYS for kind in AlertKind}
    assert len(ids) == 2 * len(KEYS) * len(AlertKind)


def test_late_arrival_raises_one_late_alert_with_exact_fields() -> None:
    state = step_events(planned_state(), [DEP_CNSHA])
    out = apply_event(state, ARR_NLRTM, t("2024-04-03 00:00"), POLICY)
    (alert,) = of(out, DelayAlert)
    assert alert == DelayAlert(
        alert_id=alert_id(CONTAINER, "ARR:NLRTM:1", AlertKind.LATE),
        unit=UNIT,
        kind=AlertKind.LATE,
        severity=Severity.MAJOR,  # 72 h is 6 x the 12 h sea tolerance
        milestone="ARR:NLRTM:1",
        milestone_kind=PlannedStopKind.ARRIVAL,
        location="NLRTM",
        leg_index=0,
        mode=Mode.SEA,
        planned=t("2024-03-31 00:00"),
        actual=t("2024-04-03 00:00"),
        minutes_late=4320,
        detected_at=t("2024-04-03 00:00"),
        plan_revision=1,
        message="CSQU3054383 arrival at NLRTM 72.0 h late (sea leg 1)",
    )
    # the next departure is 24 h overdue at this watermark, but that is less than the 72 h already alerted
    assert out.state.alerted == [alert.alert_id]
    assert out.state.alert_floor == 4320
    assert [type(o) for o in out.outputs] == [Timeline, DelayAlert, EtaUpdate]


AIR_PLAN = Plan(
    unit=TrackedUnit(kind=UnitKind.AWB, id="020-12345675"),
    issued_time=t("2024-02-20 00:00"),
    legs=[Leg(mode=Mode.AIR, carrier="LH", origin="CNPVG", destination="DEFRA",
              planned_departure=t("2024-03-01 00:00"), planned_arrival=t("2024-03-01 14:00"))],
)


@pytest.mark.parametrize(
    ("plan", "events", "key", "minutes"),
    [
        # sea: 12 h
        (None, [event("DEPARTED", "CNSHA", "2024-03-01 12:00")], "DEP:CNSHA:1", None),
        (None, [event("DEPARTED", "CNSHA", "2024-03-01 12:01")], "DEP:CNSHA:1", 721),
        # rail: 6 h
        (None, [event("DEPARTED", "NLRTM", "2024-04-02 06:00", mode=Mode.RAIL)], "DEP:NLRTM:1", None),
        (None, [event("DEPARTED", "NLRTM", "2024-04-02 06:01", mode=Mode.RAIL)], "DEP:NLRTM:1", 361),
        # road: 2 h
        (None, [event("DEPARTED", "DEDUI", "2024-04-03 14:00", mode=Mode.ROAD)], "DEP:DEDUI:1", None),
        (None, [event("DEPARTED", "DEDUI", "2024-04-03 14:01", mode=Mode.ROAD)], "DEP:DEDUI:1", 121),
        # air: 3 h
        (AIR_PLAN, [event("DEPARTED", "CNPVG", "2024-03-01 03:00", mode=Mode.AIR, unit=AIR_PLAN.unit)],
         "DEP:CNPVG:1", None),
        (AIR_PLAN, [event("DEPARTED", "CNPVG", "2024-03-01 03:01", mode=Mode.AIR, unit=AIR_PLAN.unit)],
         "DEP:CNPVG:1", 181),
    ],
    ids=["sea-12h", "sea-12h01", "rail-6h", "rail-6h01", "road-2h", "road-2h01", "air-3h", "air-3h01"],
)
def test_late_only_beyond_the_mode_tolerance(plan: Plan | None, events: list[TrackingEvent], key: str,
                                             minutes: int | None) -> None:
    plan = plan or corridor_plan()
    v = derive(plan.unit, plan, events, None, POLICY)
    alerts = new_alerts(plan.unit, 1, v, None, POLICY, set(), 0)
    if minutes is None:
        assert alerts == []
        assert candidates(v, None, POLICY) == []  # exactly the tolerance is not late
    else:
        (alert,) = alerts
        assert (alert.kind, alert.milestone, alert.minutes_late, alert.severity) == (AlertKind.LATE, key, minutes,
                                                                                     Severity.MINOR)


@pytest.mark.parametrize(
    ("mode", "minutes", "severity"),
    [
        (Mode.SEA, 1440, Severity.MINOR),
        (Mode.SEA, 1441, Severity.MAJOR),
        (Mode.SEA, 4320, Severity.MAJOR),
        (Mode.SEA, 4321, Severity.CRITICAL),
        (Mode.ROAD, 240, Severity.MINOR),
        (Mode.ROAD, 241, Severity.MAJOR),
        (Mode.AIR, 1081, Severity.CRITICAL),
    ],
)
def test_severity_is_the_delay_in_tolerances(mode: Mode, minutes: int, severity: Severity) -> None:
    assert POLICY.severity(mode, minutes) is severity


def test_overdue_fires_once_for_the_next_expected_milestone_only() -> None:
    state = planned_state()
    # re-checked once the departure's prediction has slipped by the sea tolerance, not every 30 minutes
    assert state.next_due == t("2024-03-01 12:00")
    quiet = advance(state, t("2024-03-01 12:00"), POLICY)  # exactly the tolerance: not yet
    assert of(quiet, DelayAlert) == []
    assert quiet.state.next_due == t("2024-03-01 12:01")

    out = advance(quiet.state, t("2024-03-01 12:01"), POLICY)
    (alert,) = of(out, DelayAlert)
    assert alert == DelayAlert(
        alert_id="al-fd4b0415c5dfeb355677",
        unit=UNIT,
        kind=AlertKind.OVERDUE,
        severity=Severity.MINOR,
        milestone="DEP:CNSHA:1",
        milestone_kind=PlannedStopKind.DEPARTURE,
        location="CNSHA",
        leg_index=0,
        mode=Mode.SEA,
        planned=t("2024-03-01 00:00"),
        actual=None,
        minutes_late=721,
        detected_at=t("2024-03-01 12:01"),
        plan_revision=1,
        message="CSQU3054383 departure from CNSHA not reported 12.0 h after plan (sea leg 1)",
    )
    assert out.state.alert_floor == 721
    # weeks later every planned milestone is past its tolerance, yet only the next expected one is overdue,
    # and it was already alerted
    later = advance(out.state, t("2024-04-10 00:00"), POLICY)
    assert of(later, DelayAlert) == []
    assert later.state.alerted == ["al-fd4b0415c5dfeb355677"]


def test_overdue_straight_to_a_late_watermark() -> None:
    out = advance(planned_state(), t("2024-04-05 00:00"), POLICY)
    (alert,) = of(out, DelayAlert)
    assert (alert.kind, alert.milestone, alert.minutes_late, alert.severity) == (
        AlertKind.OVERDUE, "DEP:CNSHA:1", 35 * 1440, Severity.CRITICAL)


def test_overdue_alert_raises_the_floor_for_the_late_alert() -> None:
    out = advance(planned_state(), t("2024-03-01 12:01"), POLICY)
    # departs 13 h late: late beyond tolerance, but only 59 min more than the overdue alert said
    dep = apply_event(out.state, event("DEPARTED", "CNSHA", "2024-03-01 13:00"), t("2024-03-01 13:00"), POLICY)
    assert of(dep, DelayAlert) == []
    # departs 24 h 2 min late instead: 721 + 720 < 1442
    dep = apply_event(out.state, event("DEPARTED", "CNSHA", "2024-03-02 00:02"), t("2024-03-02 00:02"), POLICY)
    (alert,) = of(dep, DelayAlert)
    assert (alert.kind, alert.minutes_late, alert.severity) == (AlertKind.LATE, 1442, Severity.MAJOR)


def test_redelivered_event_changes_nothing() -> None:
    state = step_events(planned_state(), [DEP_CNSHA, ARR_NLRTM])
    again = apply_event(state, ARR_NLRTM, t("2024-04-03 00:00"), POLICY)
    assert again.outputs == []
    assert again.changed is False
    assert again.state is state


def test_a_carried_delay_is_not_alerted_again() -> None:
    state = step_events(planned_state(), [DEP_CNSHA, ARR_NLRTM])
    for e in (DEP_NLRTM, ARR_DEDUI):  # both 32 h late: LATE by rail standards, but no later than already alerted
        out = apply_event(state, e, e.event_time, POLICY)
        assert of(out, DelayAlert) == []
        state = out.state
    assert state.alerted == [alert_id(CONTAINER, "ARR:NLRTM:1", AlertKind.LATE)]
    assert state.alert_floor == 4320


@pytest.mark.parametrize(
    ("arrival", "minutes"),
    [("2024-04-06 06:00", None), ("2024-04-06 06:01", 4681), ("2024-04-07 08:00", 6240)],
)
def test_a_growing_delay_is_alerted_beyond_floor_plus_tolerance(arrival: str, minutes: int | None) -> None:
    state = step_events(planned_state(), [DEP_CNSHA, ARR_NLRTM, DEP_NLRTM])
    out = apply_event(state, event("ARRIVED", "DEDUI", arrival), t(arrival), POLICY)
    alerts = of(out, DelayAlert)
    if minutes is None:  # 4680 = 4320 already alerted + 360 rail tolerance
        assert alerts == []
        assert out.state.alert_floor == 4320
    else:
        (alert,) = alerts
        assert (alert.alert_id, alert.kind, alert.minutes_late, alert.severity, alert.leg_index, alert.mode) == (
            alert_id(CONTAINER, "ARR:DEDUI:1", AlertKind.LATE), AlertKind.LATE, minutes, Severity.CRITICAL, 1,
            Mode.RAIL)
        assert out.state.alert_floor == minutes


# -- plan revisions --------------------------------------------------------------------------------------------

REV2 = corridor_plan(2, issued="2024-04-03 01:00", rail_departure="2024-04-03 08:00",
                     rail_arrival="2024-04-04 08:00", road_departure="2024-04-04 12:00",
                     road_arrival="2024-04-04 20:00", delivery="2024-04-05 08:00")


def _late_at_rotterdam() -> UnitState:
    return step_events(planned_state(), [DEP_CNSHA, ARR_NLRTM])


def test_plan_revision_replans_and_resets_the_alert_floor() -> None:
    state = _late_at_rotterdam()
    out = apply_plan(state, REV2, t("2024-04-03 01:00"), POLICY)
    timeline, eta = out.outputs
    assert isinstance(timeline, Timeline) and isinstance(eta, EtaUpdate)
    assert timeline.plan_revision == 2
    assert ms(timeline, "DEP:NLRTM:1").planned == t("2024-04-03 08:00")
    assert (eta.predicted_arrival, eta.previous_prediction, eta.planned_arrival) == (
        t("2024-04-04 20:00"), t("2024-04-04 17:00"), t("2024-04-04 20:00"))
    assert eta.reason == "plan revision 2: DEHAM +3.0 h; model: plan"
    assert (eta.plan_revision, eta.as_of) == (2, t("2024-04-03 01:00"))
    assert out.state.alert_floor == 0
    assert out.state.alerted == state.alerted  # ids are per milestone key: the late arrival is not re-alerted

    # 6 h 1 min late against the new plan: alerted, although under the old plan it was no news
    arr = event("ARRIVED", "DEDUI", "2024-04-04 14:01")
    (alert,) = of(apply_event(out.state, arr, t("2024-04-04 14:01"), POLICY), DelayAlert)
    assert (alert.minutes_late, alert.severity, alert.plan_revision, alert.planned) == (
        361, Severity.MINOR, 2, t("2024-04-04 08:00"))
    assert of(apply_event(state, arr, t("2024-04-04 14:01"), POLICY), DelayAlert) == []


def test_stale_and_redelivered_plans_change_nothing() -> None:
    state = apply_plan(_late_at_rotterdam(), REV2, t("2024-04-03 01:00"), POLICY).state
    for plan in (corridor_plan(), REV2):
        out = apply_plan(state, plan, t("2024-04-03 01:00"), POLICY)
        assert (out.outputs, out.changed, out.state is state) == ([], False, True)


def test_a_correction_under_the_same_revision_keeps_the_floor() -> None:
    state = _late_at_rotterdam()
    corrected = corridor_plan().model_copy(update={"lane": "CNSHA-DEHAM-X"})
    out = apply_plan(state, corrected, t("2024-04-03 01:00"), POLICY)
    assert out.state.plan == PlanRecord.of(corrected)
    assert out.state.alert_floor == 4320
    timeline, eta = out.outputs
    assert timeline.lane == "CNSHA-DEHAM-X"
    # a plan always gets an ETA, even when nothing moved
    assert eta.reason == "plan revision 1: DEHAM unchanged; model: plan"


# -- ETA updates -----------------------------------------------------------------------------------------------


def test_first_eta_comes_with_the_plan() -> None:
    out = apply_plan(UnitState(), corridor_plan(), None, POLICY)
    timeline, eta = out.outputs
    assert timeline.status is UnitStatus.PLANNED
    assert eta.reason == "first prediction (plan revision 1); model: plan"
    assert (eta.destination, eta.predicted_arrival, eta.previous_prediction, eta.planned_arrival) == (
        "DEHAM", t("2024-04-03 20:00"), None, t("2024-04-03 20:00"))
    assert eta.as_of == t("2024-02-20 00:00")  # no watermark yet: the plan's issue time
    assert [(s.location, s.leg_index, s.predicted) for s in eta.stops] == [
        ("NLRTM", 0, t("2024-03-31 00:00")), ("DEDUI", 1, t("2024-04-03 00:00")), ("DEHAM", 2, t("2024-04-03 20:00"))]
    assert out.state.eta == t("2024-04-03 20:00")


@pytest.mark.parametrize(("departed", "update"), [("2024-03-01 00:29", None), ("2024-03-01 00:30", "+0.5 h")])
def test_eta_update_needs_a_30_minute_move(departed: str, update: str | None) -> None:
    out = apply_event(planned_state(), event("DEPARTED", "CNSHA", departed), t(departed), POLICY)
    etas = of(out, EtaUpdate)
    assert isinstance(out.outputs[0], Timeline)
    if update is None:
        assert etas == []
    else:
        (eta,) = etas
        assert eta.reason == f"DEPARTED CNSHA (actual, carrier): NLRTM {update}, DEHAM unchanged; model: plan"


def test_small_moves_accumulate_against_the_last_emitted_eta() -> None:
    first = event("DEPARTED", "CNSHA", "2024-03-01 00:20", event_id="dep", received="2024-03-01 00:25")
    out = apply_event(planned_state(), first, t("2024-03-01 00:20"), POLICY)
    assert of(out, EtaUpdate) == []
    # the carrier corrects the same event: 40 min in total since the last ETA update
    fixed = event("DEPARTED", "CNSHA", "2024-03-01 00:40", event_id="dep", received="2024-03-01 01:00")
    out = apply_event(out.state, fixed, t("2024-03-01 00:40"), POLICY)
    (eta,) = of(out, EtaUpdate)
    assert eta.reason == "DEPARTED CNSHA (actual, carrier): NLRTM +0.7 h, DEHAM unchanged; model: plan"
    assert eta.stops[0].predicted == t("2024-03-31 00:40")
    assert ms(out.outputs[0], "DEP:CNSHA:1").actual == t("2024-03-01 00:40")
    assert out.state.events == {"dep": EventRecord.of(fixed)}
    # the older version arriving late is ignored
    stale = apply_event(out.state, first, t("2024-03-01 01:00"), POLICY)
    assert (stale.outputs, stale.changed, stale.state is out.state) == ([], False, True)


def test_a_corrected_event_is_kept_even_when_no_output_changes() -> None:
    first = event("DEPARTED", "CNSHA", "2024-03-01 00:20", event_id="dep")
    state = apply_event(planned_state(), first, t("2024-03-01 00:20"), POLICY).state
    vessel = first.model_copy(update={"transport": first.transport.model_copy(update={"vessel_name": "COSCO ASIA"})})
    out = apply_event(state, vessel, t("2024-03-01 00:20"), POLICY)
    assert out.outputs == []
    assert out.changed is True
    assert out.state.events["dep"] == EventRecord.of(vessel)  # kept: a new digest, so a new version
    assert out.state.events["dep"].digest != EventRecord.of(first).digest


def test_eta_reports_the_destination_move_and_the_final_arrival_once() -> None:
    state = step_events(planned_state(), [DEP_CNSHA])
    out = apply_event(state, ARR_NLRTM, t("2024-04-03 00:00"), POLICY)
    (eta,) = of(out, EtaUpdate)
    assert eta.reason == "ARRIVED NLRTM (actual, carrier): DEHAM +21.0 h; model: plan"
    assert (eta.predicted_arrival, eta.previous_prediction) == (t("2024-04-04 17:00"), t("2024-04-03 20:00"))
    assert [(s.location, s.predicted) for s in eta.stops] == [("DEDUI", t("2024-04-04 08:00")),
                                                               ("DEHAM", t("2024-04-04 17:00"))]
    state = step_events(out.state, JOURNEY[2:5])
    out = apply_event(state, JOURNEY[5], t("2024-04-04 17:00"), POLICY)
    (eta,) = of(out, EtaUpdate)
    assert (eta.reason, eta.predicted_arrival, eta.stops) == ("arrived at DEHAM", t("2024-04-04 17:00"), [])
    assert out.state.eta_arrived is True
    delivered = apply_event(out.state, JOURNEY[6], t("2024-04-04 19:00"), POLICY)
    assert [type(o) for o in delivered.outputs] == [Timeline]
    assert delivered.state.next_due is None  # nothing left to expect


def test_time_passing_emits_a_timeline_only_with_an_alert_or_eta() -> None:
    state = planned_state()
    quiet = advance(state, t("2024-03-01 00:29"), POLICY)
    assert quiet.outputs == []
    assert quiet.state.timeline_digest == state.timeline_digest
    out = advance(state, t("2024-03-01 00:30"), POLICY)
    timeline, eta = out.outputs
    assert isinstance(timeline, Timeline) and timeline.as_of == t("2024-03-01 00:30")
    assert eta.reason == "no report: NLRTM +0.5 h, DEHAM unchanged; model: plan"
    assert out.state.next_due == t("2024-03-01 12:01")  # the overdue threshold comes before another slip


# -- order independence ----------------------------------------------------------------------------------------

HISTORY = [
    event("GATE_IN", "CNSHA", "2024-02-28 09:00"),
    DEP_CNSHA,
    event("ARRIVED", "NLRTM", "2024-04-02 00:00", classifier=EST, received="2024-03-20 00:00"),
    event("DISCHARGED", "NLRTM", "2024-04-03 03:00"),
    ARR_NLRTM,
    DEP_NLRTM,
    event("ARRIVED", "DEDUI", "2024-04-05 06:00", classifier=EST, received="2024-04-03 09:00"),
]


def _final(order: list[TrackingEvent]) -> tuple[UnitState, Timeline]:
    wm = t("2024-04-04 00:00")
    state = planned_state()
    last: Timeline | None = None
    for e in order:
        out = apply_event(state, e, wm, POLICY)
        state = out.state
        last = next((o for o in out.outputs if isinstance(o, Timeline)), last)
    assert last is not None
    return state, last


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_out_of_order_events_give_the_in_order_timeline(seed: int) -> None:
    in_order, expected = _final(HISTORY)
    shuffled = HISTORY[:]
    random.Random(seed).shuffle(shuffled)
    state, timeline = _final(shuffled if seed else HISTORY[::-1])
    assert timeline == expected
    assert state.timeline_digest == in_order.timeline_digest
    assert ms(timeline, "ARR:NLRTM:1").actual == t("2024-04-03 00:00")
    assert ms(timeline, "ARR:DEDUI:1").estimated == t("2024-04-05 06:00")
    assert timeline.predicted_arrival == t("2024-04-05 15:00")  # the DEDUI estimate + 1 h + 8 h


# -- retractions (DCSA 3.0 isRetracted) ------------------------------------------------------------------------


def test_a_retracted_event_stops_evidencing_and_an_older_copy_cannot_revive_it() -> None:
    dep = event("DEPARTED", "CNSHA", "2024-03-02 10:00", received="2024-03-02 11:00")
    state = apply_event(planned_state(), dep, t("2024-03-02 11:00"), POLICY).state
    assert state.plan is not None
    departed = derive(UNIT, state.plan, state.events.values(), t("2024-03-02 11:00"), POLICY)
    assert departed.evidence[0].actual == EventRecord.of(dep)

    retraction = dep.model_copy(update={"retracted": True, "received_time": t("2024-03-02 12:00")})
    out = apply_event(state, retraction, t("2024-03-02 12:00"), POLICY)
    (timeline,) = of(out, Timeline)
    assert timeline.milestones[0].actual is None and timeline.events == []
    assert timeline.status == "PLANNED"

    again = apply_event(out.state, dep, t("2024-03-02 13:00"), POLICY)  # the original, re-delivered late
    assert again.outputs == [] and again.state.events[dep.event_id].retracted


def test_state_encoding_round_trips_and_stays_compact() -> None:
    state = step_events(planned_state(), HISTORY)
    encoded = state.encode()
    assert UnitState.decode(encoded) == state
    assert len(encoded) < 1500  # seven events and a three-leg plan


def test_a_state_copy_shares_every_field_as_replace_does() -> None:
    state = step_events(planned_state(), HISTORY)
    copy = state.copy()
    assert copy is not state and copy == replace(state)
    assert all(getattr(copy, f.name) is getattr(state, f.name) for f in fields(UnitState))


def test_one_physical_event_from_two_sources_is_one_timeline_entry() -> None:
    edi = event("GATE_IN", "CNSHA", "2024-02-28 09:00", received="2024-02-28 09:30", source="carrier-edi",
                event_id="edi-1")
    terminal = event("GATE_IN", "CNSHA", "2024-02-28 09:05", received="2024-02-28 09:10", source="terminal-dcsa",
                     event_id="dcsa-7")
    later = event("GATE_IN", "CNSHA", "2024-02-28 11:00", source="terminal-dcsa", event_id="dcsa-8")
    timeline = derive(UNIT, corridor_plan(), [edi, terminal, later], None, POLICY).timeline
    assert [(e.event_id, e.also_reported) for e in timeline.events] == [("dcsa-7", ["edi-1"]), ("dcsa-8", [])]
