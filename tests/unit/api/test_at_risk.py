"""The at-risk list's rules, on units derived as the API derives them (no worker)."""

from __future__ import annotations

from schemas import Milestone
from streams.api.at_risk import order, unit_row
from streams.api.units import facts_of, view_of
from streams.core.policy import DEFAULT_POLICY
from streams.core.state import UnitState
from streams.core.tracker import apply_event, apply_plan
from tests.unit.core.test_routes_co2e import CAPE_VOYAGE, T0, H, _ev, _sea_plan


def _facts(events: list, watermark):  # type: ignore[no-untyped-def]
    plan = _sea_plan()
    state = apply_plan(UnitState(), plan, plan.issued_time, DEFAULT_POLICY).state
    for e in events:
        state = apply_event(state, e, e.received_time, DEFAULT_POLICY).state
    return facts_of(state, view_of(state, watermark, DEFAULT_POLICY), DEFAULT_POLICY)


def test_a_unit_on_time_is_not_at_risk_and_one_diverted_round_the_cape_is() -> None:
    on_time = _facts(CAPE_VOYAGE[:3], T0 + 210 * H)
    assert unit_row(on_time, DEFAULT_POLICY) is None
    diverted = _facts(CAPE_VOYAGE[:4], T0 + 570 * H)
    row = unit_row(diverted, DEFAULT_POLICY)
    assert row is not None and row["record"] == "unit" and row["diverted"]
    assert row["minutes_late"] > 200 * 60  # the Cape: ten days and more
    assert "ZACPT" in row["reason"]
    final = diverted.milestones[-1]
    assert row["predicted_p90"] == final.predicted_p90 and row["predicted_p90"] >= row["predicted"]  # the band


def test_an_arrived_unit_is_not_at_risk() -> None:
    assert unit_row(_facts(CAPE_VOYAGE, T0 + 1000 * H), DEFAULT_POLICY) is None


def test_slipping_within_tolerance_is_not_at_risk_but_beyond_it_is() -> None:
    late_sgsin = [CAPE_VOYAGE[0], _ev(2, Milestone.ARRIVED, "SGSIN", T0 + 130 * H),
                  _ev(3, Milestone.DEPARTED, "SGSIN", T0 + 204 * H + 11 * H)]  # fmt: skip
    assert unit_row(_facts(late_sgsin, T0 + 216 * H), DEFAULT_POLICY) is None  # 11 h: sea tolerance is 12 h
    later = [*late_sgsin[:2], _ev(3, Milestone.DEPARTED, "SGSIN", T0 + 204 * H + 30 * H)]
    row = unit_row(_facts(later, T0 + 240 * H), DEFAULT_POLICY)
    assert row is not None and row["minutes_late"] == 30 * 60 and not row["diverted"]


def test_most_impact_first() -> None:
    rows = [{"record": "unit", "unit": {"id": "A"}, "shipment": None, "minutes_past_promise": None,
             "minutes_late": 600},
            {"record": "unit", "unit": {"id": "B"}, "shipment": None, "minutes_past_promise": 60, "minutes_late": 90},
            {"record": "shipment", "unit": None, "shipment": {"id": "S"}, "minutes_past_promise": None,
             "minutes_late": 900}]  # fmt: skip
    assert [(r["unit"] or r["shipment"])["id"] for r in sorted(rows, key=order)] == ["B", "S", "A"]


def test_a_shipment_is_at_risk_when_its_delivery_is_predicted_past_the_promise() -> None:
    from schemas import ShipmentTimeline
    from streams.api.at_risk import shipment_row
    from streams.core.shipments.policy import ShipmentPolicy

    policy = ShipmentPolicy()
    tol = policy.delivery_tolerance
    base = {"shipment": {"kind": "AIR_WAYBILL", "id": "580-12345675"}, "status": "IN_TRANSIT",
            "planned_delivery": T0, "promised_delivery": T0 + 24 * H}
    late = ShipmentTimeline.model_validate({**base, "predicted_delivery": T0 + 24 * H + tol + H})
    row = shipment_row(late, policy)
    assert row is not None and row["record"] == "shipment" and row["minutes_past_promise"] == (tol + H) / H * 60
    within = ShipmentTimeline.model_validate({**base, "predicted_delivery": T0 + 24 * H + tol})
    assert shipment_row(within, policy) is None


def test_a_diversion_alert_stays_open_across_a_re_plan_while_the_unit_is_still_diverted() -> None:
    from streams.api.units import closed_because

    plan = _sea_plan()
    state = apply_plan(UnitState(), plan, plan.issued_time, DEFAULT_POLICY).state
    outs = []
    for e in CAPE_VOYAGE[:4]:
        o = apply_event(state, e, e.received_time, DEFAULT_POLICY)
        state, outs = o.state, outs + o.records
    diverted = next(o.model_dump(mode="json") for o in outs if o.record == "alert" and o.kind.value == "DIVERTED")
    retimed = _sea_plan(revision=2).model_copy(update={"issued_time": T0 + 300 * H})
    state = apply_plan(state, retimed, T0 + 570 * H, DEFAULT_POLICY).state
    facts = facts_of(state, view_of(state, T0 + 570 * H, DEFAULT_POLICY), DEFAULT_POLICY)
    assert facts.plan_revision == 2 and facts.diversion is not None
    assert closed_because(diverted, facts, [diverted]) is None  # still open: the same diversion
    for e in CAPE_VOYAGE[4:]:
        state = apply_event(state, e, e.received_time, DEFAULT_POLICY).state
    arrived = facts_of(state, view_of(state, T0 + 1000 * H, DEFAULT_POLICY), DEFAULT_POLICY)
    assert closed_because(diverted, arrived, [diverted]) is not None
