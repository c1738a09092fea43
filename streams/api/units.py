"""What the API says about a unit, from its stored state, its alerts and its ETA history. Pure: no I/O.

Open alerts
-----------
The tracking job emits an alert once and never retracts it, so "open" is decided here, when asked, from the
unit's current timeline. An alert is **closed** when the first of these holds, and **open** otherwise:

1. the unit has arrived at its final destination (status ARRIVED) or has been delivered;
2. the unit was re-planned: the alert was raised under an older plan revision (a new plan re-baselines
   delays, as the tracking job does when it resets its alert floor); but a DIVERTED alert
   stays open across re-plans while the unit is still diverted (it is raised once per diversion);
3. an OVERDUE alert's milestone has happened since, or a later milestone of the plan has (a LATE alert for
   the same milestone may follow it);
4. a LATE alert has been superseded by a later LATE alert of the same unit (the delay carried forward and
   grew; the newest LATE alert says how late the unit is now);
5. a LATE alert's delay has been made up: the unit's latest actual milestone, after the alerted one, was
   within its mode's tolerance (if a later milestone is late again, the alert is open again).

So a unit has at most one open LATE alert and at most one open OVERDUE alert, and every open alert
belongs to a unit that has not arrived yet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas import AlertKind, PlannedStopKind, Severity, UnitStatus
from streams.core.policy import TrackingPolicy
from streams.core.state import UnitState
from streams.core.timeline import UnitView, derive

_NEVER = datetime.max.replace(tzinfo=UTC)
SEVERITY_RANK = {Severity.MINOR.value: 1, Severity.MAJOR.value: 2, Severity.CRITICAL.value: 3}


@dataclass(frozen=True, slots=True)
class MilestoneFact:
    key: str
    kind: PlannedStopKind
    leg_index: int
    location: str
    planned: datetime
    actual: datetime | None
    predicted: datetime | None
    minutes_late: int | None  # actual (or predicted) minus planned
    tolerance: int  # minutes of lateness the mode accepts before alerting
    predicted_p90: datetime | None = None  # the band's upper edge, until actual


@dataclass(frozen=True, slots=True)
class UnitFacts:
    """The parts of a unit's derived timeline that the lists (alerts, delayed units, hubs) need."""

    unit: dict[str, str]  # TrackedUnit as JSON
    status: UnitStatus
    lane: str | None
    location: str | None
    mode: str | None
    plan_revision: int | None
    destination: str | None
    planned_arrival: datetime | None
    milestones: tuple[MilestoneFact, ...]
    eta: datetime | None  # the last ETA the tracking job published for the destination
    eta_stops: Mapping[int, datetime]  # last published prediction per remaining stop, by leg index
    customer: str | None = None  # as named on the plan in force: whose unit it is (streams/security/tenants.py)
    diversion: str | None = None  # why the unit is off its plan (the timeline's diversion.reason), if it is

    @property
    def finished(self) -> bool:
        return self.status in (UnitStatus.ARRIVED, UnitStatus.DELIVERED)

    @property
    def minutes_late(self) -> int | None:
        if self.eta is None or self.planned_arrival is None:
            return None
        return round((self.eta - self.planned_arrival).total_seconds() / 60)


def view_of(state: UnitState, watermark: datetime | None, policy: TrackingPolicy) -> UnitView:
    """The unit's timeline at `watermark`, derived as the tracking job derives it."""
    assert state.unit is not None
    live = [e for e in state.events.values() if not e.retracted]  # retractions evidence nothing
    return derive(state.unit, state.plan, live, watermark, policy)  # type: ignore[arg-type]


def facts_of(state: UnitState, view: UnitView, policy: TrackingPolicy) -> UnitFacts:
    data = view.data
    unit = data["unit"]
    return UnitFacts(
        unit={"kind": str(unit["kind"]), "id": unit["id"]},
        status=UnitStatus(data["status"]),
        lane=data.get("lane"),
        location=data.get("location"),
        mode=str(data["mode"]) if data.get("mode") else None,
        plan_revision=data.get("plan_revision"),
        destination=data.get("destination"),
        planned_arrival=data.get("planned_arrival"),
        milestones=tuple(
            MilestoneFact(m["key"], PlannedStopKind(m["kind"]), m["leg_index"], m["location"], m["planned"],
                          m["actual"], m["predicted"], m["minutes_late"],
                          round(policy.tolerance(m["mode"]).total_seconds() / 60), m.get("predicted_p90"))
            for m in data.get("milestones", [])
        ),
        eta=state.eta,
        eta_stops={int(k): v for k, v in state.eta_stops.items()},
        customer=state.plan.customer if state.plan is not None else None,
        diversion=(data.get("diversion") or {}).get("reason"),
    )


# -- alerts --------------------------------------------------------------------------------------------


def instant(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def alert_order(alert: Mapping[str, Any]) -> tuple[datetime, str]:
    """Sort key, newest first when reversed: detection time (event time), then the stable alert id."""
    return instant(alert["detected_at"]), alert["alert_id"]


def closed_because(alert: Mapping[str, Any], facts: UnitFacts, alerts: Iterable[Mapping[str, Any]]) -> str | None:
    """Why `alert` is closed (see the module docstring), or None while it is open."""
    if facts.status is UnitStatus.DELIVERED:
        return "the unit was delivered"
    if facts.status is UnitStatus.ARRIVED:
        return f"the unit arrived at {facts.destination or 'its destination'}"
    diverted = alert["kind"] == AlertKind.DIVERTED.value
    if facts.plan_revision is not None and alert["plan_revision"] < facts.plan_revision \
            and not (diverted and facts.diversion is not None):  # one DIVERTED alert per diversion, across re-plans
        return f"superseded by plan revision {facts.plan_revision}"
    if diverted:  # open until the unit is back on its plan where it rejoins
        back = next((m for m in facts.milestones if m.key == alert["milestone"] and m.actual is not None), None)
        return f"back on the plan: {back.key} happened" if back is not None else None
    if alert["kind"] == AlertKind.OVERDUE.value:
        keys = [m.key for m in facts.milestones]
        if alert["milestone"] in keys:
            at = keys.index(alert["milestone"])
            happened = [m for m in facts.milestones[at:] if m.actual is not None]
            if happened:
                m = happened[0]
                what = "it happened" if m.key == alert["milestone"] else f"{m.key} happened"
                return f"{what} at {m.actual.isoformat().replace('+00:00', 'Z')}"  # type: ignore[union-attr]
        return None
    later = [
        a for a in alerts
        if a["kind"] == AlertKind.LATE.value and a["plan_revision"] == alert["plan_revision"]
        and (alert_order(a), a["minutes_late"]) > (alert_order(alert), alert["minutes_late"])
    ]
    if later:
        return f"superseded by the later alert {max(later, key=alert_order)['alert_id']}"
    keys = [m.key for m in facts.milestones]
    if alert["milestone"] in keys:
        done = [m for m in facts.milestones[keys.index(alert["milestone"]) + 1:] if m.actual is not None]
        if done and (done[-1].minutes_late or 0) <= done[-1].tolerance:
            return f"the delay was made up: {done[-1].key} was within tolerance"
    return None


def split_alerts(alerts: list[Mapping[str, Any]], facts: UnitFacts
                 ) -> tuple[list[Mapping[str, Any]], list[tuple[Mapping[str, Any], str]]]:
    """(open alerts, [(closed alert, reason)]), each newest first."""
    opened: list[Mapping[str, Any]] = []
    closed: list[tuple[Mapping[str, Any], str]] = []
    for a in sorted(alerts, key=alert_order, reverse=True):
        reason = closed_because(a, facts, alerts)
        if reason is None:
            opened.append(a)
        else:
            closed.append((a, reason))
    return opened, closed


# -- lists ------------------------------------------------------------------------------------------------


def summary(facts: UnitFacts, open_alerts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One row of the delayed-units list and of a hub's list (the UnitSummary schema, as plain data)."""
    worst = max(open_alerts, key=lambda a: (SEVERITY_RANK[a["severity"]], alert_order(a)), default=None)
    kinds = sorted({a["kind"] for a in open_alerts})
    return {
        "unit": facts.unit,
        "status": facts.status.value,
        "lane": facts.lane,
        "location": facts.location,
        "mode": facts.mode,
        "destination": facts.destination,
        "planned_arrival": facts.planned_arrival,
        "predicted_arrival": facts.eta,
        "minutes_late": facts.minutes_late,
        "attention": "OVERDUE" if "OVERDUE" in kinds else "DELAYED" if kinds else None,
        "open_alerts": len(open_alerts),
        "worst_severity": worst["severity"] if worst else None,
        "latest_alert": open_alerts[0] if open_alerts else None,
    }


def delayed_order(row: Mapping[str, Any]) -> tuple:
    """Most urgent first: overdue before delayed, then severity, then how late, then the unit id."""
    return (
        row["attention"] != "OVERDUE",
        -SEVERITY_RANK.get(row["worst_severity"] or "", 0),
        -(row["minutes_late"] or 0),
        row["unit"]["id"],
    )


def hub_relation(facts: UnitFacts, hub: str) -> tuple[str, dict[str, Any]] | None:
    """("at", {}) when the unit is at `hub` now; ("bound", details) when a planned arrival at `hub` is still
    ahead; None otherwise. Delivered units are at no hub."""
    if facts.status is UnitStatus.DELIVERED:
        return None
    if facts.location == hub and facts.status is not UnitStatus.IN_TRANSIT:
        return "at", {}
    furthest = max((i for i, m in enumerate(facts.milestones) if m.actual is not None), default=-1)
    ahead = facts.milestones[furthest + 1:]
    for m in ahead:
        if m.kind is PlannedStopKind.ARRIVAL and m.location == hub:
            nxt = next((x for x in ahead if x.kind is PlannedStopKind.ARRIVAL), None)
            return "bound", {
                "planned_at_hub": m.planned,
                "predicted_at_hub": facts.eta_stops.get(m.leg_index, m.predicted),
                "next_stop": nxt is m,
            }
    return None


def hub_order(row: Mapping[str, Any]) -> tuple:
    """Soonest expected at the hub first (predicted, else planned); datetimes or ISO strings."""
    when = row.get("predicted_at_hub") or row.get("planned_at_hub")
    return (when is None, instant(when) if when else _NEVER, row["unit"]["id"])
