"""What the API says about a shipment, from its stored state, its alerts and its ETA history. Pure: no I/O.

Open shipment alerts
--------------------
The shipment job, like the unit job, emits an alert once and never retracts it, so "open" is decided here, when
asked, from the shipment's current timeline. The rules mirror the unit alerts' (streams/api/units.py). A shipment
alert is **closed** when the first of these holds, and **open** otherwise:

1. the shipment was delivered (status DELIVERED: every piece at the consignee); a partly delivered shipment
   keeps its alerts;
2. it was re-planned: the alert was raised under an older plan revision;
3. OVERDUE (cargo had not left leg N's origin): every piece has since left on leg N, or on a later leg;
4. LATE (door delivery late): a later LATE alert of the same plan revision supersedes it (the shipment job
   raises a new one when the delay reaches a higher severity), or the predicted delivery is now within the
   delivery tolerance (the delay was made up; if it grows again, the alert is open again);
5. DWELL (cargo stuck at a hub): the cargo has left that hub;
6. CUSTOMS_HOLD: the hold at that hub was released, or the cargo has left the hub.

So an open alert always belongs to a shipment not yet delivered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas import ShipmentAlertKind, ShipmentPlan, ShipmentStatus, ShipmentTimeline
from streams.api.units import SEVERITY_RANK, alert_order
from streams.core.shipments.policy import ShipmentPolicy


def _when(value: Any) -> str:
    text = value if isinstance(value, str) else value.isoformat()
    return text.replace("+00:00", "Z")


def closed_because(alert: Mapping[str, Any], timeline: ShipmentTimeline, alerts: Iterable[Mapping[str, Any]],
                   policy: ShipmentPolicy) -> str | None:  # fmt: skip
    """Why a shipment alert is closed (see the module docstring), or None while it is open."""
    if timeline.status is ShipmentStatus.DELIVERED:
        at = f" at {_when(timeline.delivered_at)}" if timeline.delivered_at else ""
        return f"the shipment was delivered{at}"
    if timeline.plan_revision is not None and alert["plan_revision"] < timeline.plan_revision:
        return f"superseded by plan revision {timeline.plan_revision}"
    kind = alert["kind"]
    if kind == ShipmentAlertKind.OVERDUE.value:
        leg = alert.get("leg_index")
        left = [g for g in timeline.legs if leg is not None and g.leg_index >= leg and g.actual_departure is not None]
        if left:
            g = left[0]
            return f"all pieces left {g.origin} at {_when(g.actual_departure)}"
        return None
    if kind == ShipmentAlertKind.LATE.value:
        later = [
            a for a in alerts
            if a["kind"] == ShipmentAlertKind.LATE.value and a["plan_revision"] == alert["plan_revision"]
            and (alert_order(a), a["minutes"]) > (alert_order(alert), alert["minutes"])
        ]  # fmt: skip
        if later:
            return f"superseded by the later alert {max(later, key=alert_order)['alert_id']}"
        tolerance = round(policy.delivery_tolerance.total_seconds() / 60)
        if timeline.minutes_late is not None and timeline.minutes_late <= tolerance:
            return "the delay was made up: delivery is now predicted within tolerance"
        return None
    stays = [h for h in timeline.hubs if h.location == alert["location"]]
    if stays and all(h.departed is not None for h in stays):
        return f"the cargo left {alert['location']} at {_when(stays[-1].departed)}"
    if kind == ShipmentAlertKind.CUSTOMS_HOLD.value and stays and all(h.held_since is None for h in stays):
        released = next((h.released_at for h in reversed(stays) if h.released_at is not None), None)
        return "released by customs" + (f" at {_when(released)}" if released else "")
    return None


def split_alerts(alerts: list[Mapping[str, Any]], timeline: ShipmentTimeline, policy: ShipmentPolicy
                 ) -> tuple[list[Mapping[str, Any]], list[tuple[Mapping[str, Any], str]]]:
    """(open alerts, [(closed alert, reason)]), each newest first."""
    opened: list[Mapping[str, Any]] = []
    closed: list[tuple[Mapping[str, Any], str]] = []
    for a in sorted(alerts, key=alert_order, reverse=True):
        reason = closed_because(a, timeline, alerts, policy)
        if reason is None:
            opened.append(a)
        else:
            closed.append((a, reason))
    return opened, closed


# -- the delayed-shipments list ---------------------------------------------------------------------------


def summary(timeline: ShipmentTimeline, open_alerts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One row of the delayed-shipments list (the ShipmentSummary schema, as plain data)."""
    worst = max(open_alerts, key=lambda a: (SEVERITY_RANK[a["severity"]], alert_order(a)), default=None)
    return {
        "shipment": timeline.shipment,
        "status": timeline.status.value,
        "lane": timeline.lane,
        "customer": timeline.customer,
        "location": timeline.location,
        "destination": timeline.destination,
        "planned_delivery": timeline.planned_delivery,
        "promised_delivery": timeline.promised_delivery,
        "predicted_delivery": timeline.predicted_delivery,
        "minutes_late": timeline.minutes_late,
        "kinds": sorted({a["kind"] for a in open_alerts}),
        "open_alerts": len(open_alerts),
        "worst_severity": worst["severity"] if worst else None,
        "latest_alert": open_alerts[0] if open_alerts else None,
    }


def delayed_order(row: Mapping[str, Any]) -> tuple:
    """Most urgent first, as for units: cargo that has not left (OVERDUE) first, then severity, then how late
    the delivery is, then the reference."""
    return (
        ShipmentAlertKind.OVERDUE.value not in row["kinds"],
        -SEVERITY_RANK.get(row["worst_severity"] or "", 0),
        -(row["minutes_late"] or 0),
        row["shipment"]["id"],
    )


# -- where each part went ---------------------------------------------------------------------------------


def _path(tl: Mapping[str, Any]) -> list[str]:
    """The stops of a unit's own timeline in order: its plan's stops, else where it reported."""
    stops: list[str] = []
    for m in tl.get("milestones") or []:
        if not stops or stops[-1] != m["location"]:
            stops.append(m["location"])
    if not stops:
        for e in sorted(tl.get("events") or [], key=lambda e: e["event_time"]):
            if not stops or stops[-1] != e["location"]:
                stops.append(e["location"])
    return stops


def part_routes(timeline: ShipmentTimeline, plan: ShipmentPlan | None, rides: Mapping[str, Mapping[str, Any]]
                ) -> list[dict[str, Any]]:
    """Each part's path (the PartRoute schema, as plain data): the stops its unit passed or is to pass while it
    carried the part, from where the part was loaded to where it was unloaded (or, while still aboard, to the
    unit's destination); the part's plan leg when the unit's own timeline says nothing."""
    out: list[dict[str, Any]] = []
    for part in timeline.parts:
        tl = (rides.get(part.unit.id) or {}).get("tl") or {}
        stops = _path(tl)
        start, end = part.loaded_location, part.unloaded_location
        if start is not None:
            stops = stops[stops.index(start):] if start in stops else [start, *stops]
        if end is not None:
            stops = stops[: stops.index(end) + 1] if end in stops else [*stops, end]
        leg = plan.legs[part.leg_index] if plan is not None and part.leg_index is not None \
            and part.leg_index < len(plan.legs) else None  # fmt: skip
        if len(stops) < 2 and leg is not None:
            stops = [leg.origin, leg.destination]
        mode = leg.mode.value if leg is not None else tl.get("mode")
        out.append({
            "unit": part.unit.model_dump(mode="json"),
            "pieces": part.pieces,
            "leg_index": part.leg_index,
            "mode": mode,
            "stops": stops,
            "aboard": part.unloaded_at is None,
            "unit_status": tl.get("status"),
            "unit_location": tl.get("location"),
        })
    return out
