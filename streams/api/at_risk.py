"""Units and shipments at risk: predicted (p50) to miss their plan or their promise by more than the tolerance,
whether or not an alert is open. Pure: no I/O.

Alerts follow documented rules and close (arrived, delivered, the delay made up); an operations team still wants to
see what *will* be late. A unit is at risk when its predicted arrival at its destination is later than planned by
more than the final leg's tolerance, or its predicted delivery later than the promise; a shipment when its
predicted door delivery is later than promised (or planned, without a promise) by more than the shipment policy's
delivery tolerance. Ranked by impact: minutes past the promise first (what the customer was told), then minutes past
the plan. `predicted_p90` is the band's upper edge (a unit's final arrival; a shipment's door delivery, composed
from its units' bands), null where there is no band."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import PlannedStopKind, ShipmentTimeline
from streams.api.units import UnitFacts
from streams.core.policy import TrackingPolicy
from streams.core.shipments.policy import ShipmentPolicy


def _minutes(a: datetime | None, b: datetime | None) -> int | None:
    return None if a is None or b is None else round((a - b).total_seconds() / 60)


def unit_row(facts: UnitFacts, policy: TrackingPolicy) -> dict[str, Any] | None:
    """The AtRiskItem for a unit, or None when it is on time (or done)."""
    if facts.finished or facts.planned_arrival is None:
        return None
    ms = facts.milestones
    final = next((m for m in reversed(ms) if m.kind is PlannedStopKind.ARRIVAL), None)
    delivery = next((m for m in reversed(ms) if m.kind is PlannedStopKind.DELIVERY), None)
    if final is None or final.actual is not None or final.predicted is None:
        return None
    tolerance = final.tolerance
    late = _minutes(final.predicted, final.planned)
    past_promise = _minutes(delivery.predicted, delivery.planned) if delivery and delivery.predicted else None
    if not ((late or 0) > tolerance or (past_promise or 0) > tolerance):
        return None
    why = [f"predicted at {facts.destination} {late / 60:.1f} h after plan (tolerance {tolerance / 60:.0f} h)"]
    if past_promise is not None and past_promise > tolerance:
        why.append(f"delivery {past_promise / 60:.1f} h after the promise")
    if facts.diversion:
        why.append(facts.diversion)
    return {
        "record": "unit", "unit": facts.unit, "shipment": None, "lane": facts.lane, "customer": facts.customer,
        "status": facts.status.value, "location": facts.location, "destination": facts.destination,
        "planned": final.planned, "promised": delivery.planned if delivery else None, "predicted": final.predicted,
        "predicted_p90": final.predicted_p90, "minutes_late": late, "minutes_past_promise": past_promise,
        "tolerance_minutes": tolerance, "diverted": facts.diversion is not None, "reason": "; ".join(why),
    }  # fmt: skip


def shipment_row(tl: ShipmentTimeline, policy: ShipmentPolicy) -> dict[str, Any] | None:
    """The AtRiskItem for a shipment, or None when its door delivery is predicted within tolerance (or done)."""
    if tl.status.value == "DELIVERED" or tl.predicted_delivery is None:
        return None
    target = tl.promised_delivery or tl.planned_delivery
    if target is None:
        return None
    tolerance = round(policy.delivery_tolerance.total_seconds() / 60)
    past = _minutes(tl.predicted_delivery, target)
    if past is None or past <= tolerance:
        return None
    promised = tl.promised_delivery is not None
    what = "the promise" if promised else "plan"
    return {
        "record": "shipment", "unit": None, "shipment": tl.shipment, "lane": tl.lane, "customer": tl.customer,
        "status": tl.status.value, "location": tl.location, "destination": tl.destination,
        "planned": tl.planned_delivery, "promised": tl.promised_delivery, "predicted": tl.predicted_delivery,
        "predicted_p90": tl.predicted_delivery_p90,
        "minutes_late": _minutes(tl.predicted_delivery, tl.planned_delivery),
        "minutes_past_promise": past if promised else None, "tolerance_minutes": tolerance, "diverted": False,
        "reason": f"door delivery predicted {past / 60:.1f} h after {what} (tolerance {tolerance / 60:.0f} h)",
    }  # fmt: skip


def order(row: Mapping[str, Any]) -> tuple:
    """Most impact first: minutes past the promise, then past the plan, then the reference."""
    ref = row["unit"] or row["shipment"]
    return (-(row["minutes_past_promise"] or 0), -(row["minutes_late"] or 0), row["record"], ref["id"])
