"""A shipment's steps: a plan, a unit report, time passing. Each re-derives the view and compares it with
what was already emitted, so a re-delivered report changes nothing and alerts are raised once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from schemas import (
    LegEta,
    Mode,
    Severity,
    ShipmentAlert,
    ShipmentAlertKind,
    ShipmentEta,
    ShipmentKind,
    ShipmentPlan,
    ShipmentRef,
    ShipmentTimeline,
    TrackedUnit,
)
from streams.core.records import trusted_unit
from streams.core.severity import by_ratio
from streams.core.shipments.parts import UnitRide
from streams.core.shipments.policy import ShipmentPolicy
from streams.core.shipments.state import ShipmentState
from streams.core.shipments.view import ShipmentView, derive
from streams.core.timeline import minutes

Output = ShipmentTimeline | ShipmentAlert | ShipmentEta
# A door-to-door band alone moving by this fraction of its width (and at least the ETA shift) is published, as a
# unit's is (`TrackingPolicy.eta_band_shift`).
BAND_SHIFT = 0.5


@dataclass(slots=True)
class Outcome:
    state: ShipmentState
    outputs: list[Output] = field(default_factory=list)
    changed: bool = False


def apply_plan(state: ShipmentState, plan: ShipmentPlan, raw: bytes, watermark: datetime | None,
               policy: ShipmentPolicy) -> Outcome:  # fmt: skip
    current = state.plan
    if current is not None and (plan.revision < current.revision or raw == state.plan_json):
        return Outcome(state)
    new = replace(state, ref=plan.shipment, plan_json=raw)
    if current is None or plan.revision != current.revision:
        new.eta_done = False
    return _evaluate(new, watermark, policy, f"plan revision {plan.revision}", plan.issued_time, replanned=True)


def apply_report(state: ShipmentState, report: dict[str, Any], watermark: datetime | None,
                 policy: ShipmentPolicy) -> Outcome:  # fmt: skip
    tl = report["timeline"]
    unit = tl["unit"]
    ride = {"kind": unit["kind"], "links": report.get("links", []), "own": bool(report.get("own")), "tl": tl}
    if state.rides.get(unit["id"]) == ride:
        return Outcome(state)
    new = replace(state, rides={**state.rides, unit["id"]: ride})
    if new.ref is None:
        new.ref = ShipmentRef.model_construct(kind=ShipmentKind(report["shipment_kind"]), id=report["shipment_id"])
    trigger = f"{unit['id']} {tl.get('last_milestone') or 'reported'}" + (
        f" {tl['location']}" if tl.get("location") else ""
    )
    as_of = datetime.fromisoformat(tl["as_of"]) if tl.get("as_of") else watermark
    outcome = _evaluate(new, watermark, policy, trigger, as_of or datetime.fromisoformat("2000-01-01T00:00:00Z"))
    outcome.changed = True
    return outcome


def advance(state: ShipmentState, watermark: datetime, policy: ShipmentPolicy) -> Outcome:
    return _evaluate(state, watermark, policy, "no report", watermark, quiet=True)


def view_of(state: ShipmentState, watermark: datetime | None, policy: ShipmentPolicy) -> ShipmentView:
    assert state.ref is not None
    rides = [UnitRide(trusted_unit(r["kind"], uid), r["links"], r["own"], r["tl"]) for uid, r in state.rides.items()]
    return derive(state.ref, state.plan, rides, watermark, policy)


def _evaluate(state: ShipmentState, watermark: datetime | None, policy: ShipmentPolicy, trigger: str,
              trigger_time: datetime, *, replanned: bool = False, quiet: bool = False) -> Outcome:  # fmt: skip
    view = view_of(state, watermark, policy)
    new = replace(state)
    outputs: list[Output] = []
    plan = state.plan
    if plan is not None:
        alerts = _alerts(new, view, plan, watermark or trigger_time, policy)
        if alerts:
            new.alerted = [*state.alerted, *(a.alert_id for a in alerts)]
            outputs.extend(alerts)
        eta = _eta(new, view, plan, watermark or trigger_time, policy, trigger, replanned)
        if eta is not None:
            outputs.append(eta)
    if view.digest != state.digest and (not quiet or outputs):
        new.digest = view.digest
        outputs.insert(0, view.timeline)
    new.next_due = _next_due(new, view, watermark, policy)
    return Outcome(new, outputs, outputs != [] or new.next_due != state.next_due or replanned)


def alert_id(shipment: str, *parts: object) -> str:
    digest = hashlib.blake2b("|".join(map(str, (shipment, *parts))).encode(), digest_size=10).hexdigest()
    return f"sa-{digest}"


def _ratio_severity(ratio: float) -> Severity:
    return by_ratio(ratio, 1.5, 3)


def _leg_words(plan: ShipmentPlan, i: int) -> str:
    leg = plan.legs[i]
    return f"{leg.mode.value.lower()} leg {i + 1} {leg.origin}-{leg.destination}"


def _alerts(state: ShipmentState, view: ShipmentView, plan: ShipmentPlan, now: datetime,
            policy: ShipmentPolicy) -> list[ShipmentAlert]:  # fmt: skip
    ref, rev = plan.shipment, plan.revision
    done = set(state.alerted)
    out: list[ShipmentAlert] = []

    def alert(aid: str, kind: ShipmentAlertKind, severity: Severity, leg: int | None, unit: TrackedUnit | None,
              location: str, mins: int, message: str) -> None:  # fmt: skip
        if aid in done:
            return
        done.add(aid)
        out.append(ShipmentAlert.model_construct(
            alert_id=aid, shipment=ref, kind=kind, severity=severity, leg_index=leg, unit=unit, location=location,
            minutes=mins, detected_at=now, plan_revision=rev, message=message,
        ))

    dest, planned = plan.legs[-1].destination, plan.legs[-1].planned_arrival
    outcome = view.delivered_at or view.predicted_delivery
    if outcome is not None:
        late = minutes((outcome - planned).total_seconds())
        if late > policy.delivery_tolerance.total_seconds() / 60:
            severity = policy.severity(late)
            leg, unit = view.cause or (len(plan.legs) - 1, None)
            verb = "was delivered" if view.delivered_at else "will reach"
            by = f"{unit.id} on " if unit else f"cargo still waiting at {plan.legs[leg].origin} for "
            alert(alert_id(ref.id, "LATE", rev, severity.value), ShipmentAlertKind.LATE, severity, leg, unit, dest,
                  late, f"{ref.id} {verb} {dest} {late / 60:.1f} h late, caused by {by}{_leg_words(plan, leg)}")

    nxt = view.next_leg
    if nxt is not None:
        leg = plan.legs[nxt]
        overdue = minutes((now - leg.planned_departure).total_seconds())
        tol = policy.departure_tolerance[leg.mode].total_seconds() / 60
        if overdue > tol:
            st = view.legs[nxt]
            waiting = plan.pieces - st.departed
            # Pieces in no unit yet name no unit; otherwise the unit that should have left.
            unit = None if st.missing else next((p.ride.unit for p in st.parts if not p.ride.own), None)
            alert(alert_id(ref.id, "OVERDUE", rev, nxt), ShipmentAlertKind.OVERDUE,
                  _ratio_severity(overdue / tol), nxt, unit, leg.origin, overdue,
                  f"{waiting} of {plan.pieces} pieces of {ref.id} have not left {leg.origin} "
                  f"{overdue / 60:.1f} h after the planned departure ({_leg_words(plan, nxt)})")

    for stay in view.stays:
        end = stay.departed or now
        if stay.arrived is None or end < stay.arrived:
            continue
        dwell = end - stay.arrived
        if dwell > stay.normal:
            mins = minutes(dwell.total_seconds())
            alert(alert_id(ref.id, "DWELL", rev, stay.location), ShipmentAlertKind.DWELL,
                  _ratio_severity(dwell / stay.normal), stay.leg_in + 1, stay.unit, stay.location, mins,
                  f"{ref.id} has been at {stay.location} {mins / 60:.1f} h "
                  f"(normal there: {stay.normal.total_seconds() / 3600:.0f} h)")

    for hold in view.holds:
        if hold.since is None:
            continue
        limit = policy.hold_limit[Mode(hold.mode)]
        held = now - hold.since
        if held > limit:
            mins = minutes(held.total_seconds())
            leg_i = next((i for i, g in enumerate(plan.legs) if g.destination == hold.location), None)
            alert(alert_id(ref.id, "HOLD", hold.location, hold.since.isoformat()), ShipmentAlertKind.CUSTOMS_HOLD,
                  _ratio_severity(held / limit), leg_i, hold.unit, hold.location, mins,
                  f"{ref.id} held by customs at {hold.location} for {mins / 60:.1f} h, not released "
                  f"(limit {limit.total_seconds() / 3600:.0f} h)" + (f", on {hold.unit.id}" if hold.unit else ""))
    return out


def _eta(state: ShipmentState, view: ShipmentView, plan: ShipmentPlan, now: datetime, policy: ShipmentPolicy,
         trigger: str, replanned: bool) -> ShipmentEta | None:  # fmt: skip
    if state.eta_done:
        return None
    predicted = view.delivered_at or view.predicted_delivery
    if predicted is None:
        return None
    delivered = view.delivered_at is not None
    moved = state.eta is None or abs(predicted - state.eta) >= policy.eta_min_shift
    band = None if delivered else view.delivery_band
    if not moved and band is not None and state.eta_band is not None:  # the band alone moved materially
        lo, hi = state.eta_band
        width = max((hi - lo) * BAND_SHIFT, policy.eta_min_shift)
        moved = abs(band[0] - lo) >= width or abs(band[1] - hi) >= width
    if not (moved or replanned or delivered):
        return None
    dest = plan.legs[-1].destination
    if delivered:
        reason = f"delivered at {dest}"
    elif state.eta is None:
        reason = f"first prediction ({trigger})"
    else:
        reason = f"{trigger}: {dest} {(predicted - state.eta).total_seconds() / 3600:+.1f} h"
        if band is not None and abs(predicted - state.eta) < policy.eta_min_shift:
            reason = f"{trigger}: {dest} band now {band[0]:%Y-%m-%d %H:%M} - {band[1]:%Y-%m-%d %H:%M} UTC"
    leg, unit = view.cause or (None, None)
    update = ShipmentEta.model_construct(
        shipment=plan.shipment, destination=dest, predicted_delivery=predicted, previous_prediction=state.eta,
        predicted_delivery_p10=band[0] if band else None, predicted_delivery_p90=band[1] if band else None,
        planned_delivery=plan.legs[-1].planned_arrival, promised_delivery=plan.promised_delivery,
        cause_leg=leg, cause_unit=unit,
        legs=[LegEta.model_construct(leg_index=st.index, destination=plan.legs[st.index].destination,
                                     planned=plan.legs[st.index].planned_arrival, predicted=st.predicted_arrival)
              for st in view.legs if st.actual_arrival is None],
        reason=reason, as_of=now, plan_revision=plan.revision,
    )  # fmt: skip
    state.eta = predicted
    state.eta_band = band
    state.eta_done = delivered
    return update


def _next_due(state: ShipmentState, view: ShipmentView, watermark: datetime | None,
              policy: ShipmentPolicy) -> datetime | None:  # fmt: skip
    plan = state.plan
    if plan is None or view.delivered_at is not None:
        return None
    ref, rev, done = plan.shipment.id, plan.revision, set(state.alerted)
    due: list[datetime] = []
    nxt = view.next_leg
    if nxt is not None and alert_id(ref, "OVERDUE", rev, nxt) not in done:
        leg = plan.legs[nxt]
        due.append(leg.planned_departure + policy.departure_tolerance[leg.mode] + timedelta(minutes=1))
    for stay in view.stays:
        waiting = stay.arrived is not None and stay.departed is None
        if waiting and alert_id(ref, "DWELL", rev, stay.location) not in done:
            assert stay.arrived is not None
            due.append(stay.arrived + stay.normal + timedelta(minutes=1))
    for hold in view.holds:
        if hold.since is not None and alert_id(ref, "HOLD", hold.location, hold.since.isoformat()) not in done:
            due.append(hold.since + policy.hold_limit[Mode(hold.mode)] + timedelta(minutes=1))
    if watermark is not None and any(leg.drifting for leg in view.legs):
        # Cargo that should have left and has not: its prediction slips with the watermark. Re-check with a
        # back-off in proportion to the delay, as for units.
        late = max((view.predicted_delivery or watermark) - plan.legs[-1].planned_arrival, timedelta(0))
        due.append(watermark + max(policy.eta_min_shift, late / 2, timedelta(hours=2)))
    later = [d for d in due if watermark is None or d > watermark]
    return min(later) if later else None
