"""Delay detection: late milestones and overdue ones, against the plan, in event time."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from schemas import AlertKind, DelayAlert, TrackedUnit
from streams.core.evidence import Evidence
from streams.core.policy import TrackingPolicy
from streams.core.timeline import UnitView, minutes


@lru_cache(maxsize=65536)  # asked on every re-derivation (is the next milestone's overdue alert out?)
def alert_id(unit_id: str, milestone_key: str, kind: AlertKind) -> str:
    digest = hashlib.blake2b(f"{unit_id}|{milestone_key}|{kind.value}".encode(), digest_size=10).hexdigest()
    return f"al-{digest}"


@dataclass(frozen=True, slots=True)
class Candidate:
    evidence: Evidence
    kind: AlertKind
    minutes_late: int


def candidates(view: UnitView, watermark: datetime | None, policy: TrackingPolicy,
               late: Collection[int] | None = None) -> list[Candidate]:  # fmt: skip
    """Milestones beyond tolerance: every late actual (among milestones `late`, by index, if given), and the next
    expected milestone if overdue.

    Only the next expected milestone can be overdue: later ones are late by implication, and a milestone
    passed without a report (a later one happened) is a missing report, not a delay."""
    out: list[Candidate] = []
    for ev in view.evidence if late is None else [view.evidence[i] for i in sorted(late)]:
        if ev.actual is not None:
            late = minutes((ev.actual.event_time - ev.milestone.planned).total_seconds())
            if late > policy.tolerance(ev.milestone.mode).total_seconds() / 60:
                out.append(Candidate(ev, AlertKind.LATE, late))
    nxt = view.next_expected
    if nxt is not None and watermark is not None:
        ev = view.evidence[nxt]
        overdue = minutes((watermark - ev.milestone.planned).total_seconds())
        if overdue > policy.tolerance(ev.milestone.mode).total_seconds() / 60:
            out.append(Candidate(ev, AlertKind.OVERDUE, overdue))
    return out


def new_alerts(
    unit: TrackedUnit,
    plan_revision: int,
    view: UnitView,
    watermark: datetime | None,
    policy: TrackingPolicy,
    emitted: set[str],
    floor_minutes: int,
    late: Collection[int] | None = None,
) -> list[DelayAlert]:
    """Alerts not raised before. One per milestone and kind (stable ids), and only when the delay exceeds
    what was already alerted for this plan by more than the tolerance: a delay carried unchanged from
    one stop to the next is not news; a delay that grows is. `late`: the milestones (indexes) whose LATE
    alerts to consider, if not all (those whose actual changed: see `streams.core.incremental`)."""
    alerts: list[DelayAlert] = []
    for c in candidates(view, watermark, policy, late):
        ms = c.evidence.milestone
        aid = alert_id(unit.id, ms.key, c.kind)
        tol = policy.tolerance(ms.mode).total_seconds() / 60
        if aid in emitted or c.minutes_late - floor_minutes <= tol:
            continue
        actual = c.evidence.actual_time
        detected = max(t for t in (actual, watermark) if t is not None) if (actual or watermark) else ms.planned
        verb = {"DEPARTURE": "departure from", "ARRIVAL": "arrival at", "DELIVERY": "delivery at"}[ms.kind.value]
        hours = c.minutes_late / 60
        message = (
            f"{unit.id} {verb} {ms.location} {hours:.1f} h late ({ms.mode.value.lower()} leg {ms.leg_index + 1})"
            if c.kind is AlertKind.LATE
            else f"{unit.id} {verb} {ms.location} not reported {hours:.1f} h after plan "
            f"({ms.mode.value.lower()} leg {ms.leg_index + 1})"
        )
        alerts.append(
            DelayAlert.model_construct(
                alert_id=aid,
                unit=unit,
                kind=c.kind,
                severity=policy.severity(ms.mode, c.minutes_late),
                milestone=ms.key,
                milestone_kind=ms.kind,
                location=ms.location,
                leg_index=ms.leg_index,
                mode=ms.mode,
                planned=ms.planned,
                actual=actual,
                minutes_late=c.minutes_late,
                detected_at=detected,
                plan_revision=plan_revision,
                message=message,
            )
        )
        floor_minutes = max(floor_minutes, c.minutes_late)
    return alerts


def diversion_alert(unit: TrackedUnit, plan_revision: int, view: UnitView, watermark: datetime | None,
                    policy: TrackingPolicy, emitted: Collection[str]) -> DelayAlert | None:  # fmt: skip
    """The DIVERTED alert, once per diversion: the unit was seen at a place its plan does not go through.
    It names the planned milestone where the unit rejoins its plan (else the next one expected), the first
    unplanned place, and how late the re-derived route makes that milestone (its severity: the impact known when
    it was detected). Its id is the diversion's (its first unplanned event), not the plan revision's: a re-plan
    that does not cover where the unit went does not raise it again, and growing lateness is told by the LATE
    and OVERDUE alerts, which escalate, not by DIVERTED again."""
    div = view.diversion
    if div is None:
        return None
    aid = alert_id(unit.id, f"DIVERTED:{div.first_event}", AlertKind.DIVERTED)
    if aid in emitted:
        return None
    idx = div.rejoin if div.rejoin is not None else min(view.furthest + 1, len(view.evidence) - 1)
    ms = view.evidence[idx].milestone
    pred = view.predicted[idx] or view.evidence[idx].actual_time
    late = max(0, minutes((pred - ms.planned).total_seconds())) if pred is not None else 0
    milestones = [ev.milestone for ev in view.evidence]
    detected = max(div.first_seen, watermark) if watermark is not None else div.first_seen
    return DelayAlert.model_construct(
        alert_id=aid, unit=unit, kind=AlertKind.DIVERTED, severity=policy.severity(div.mode, late),
        milestone=ms.key, milestone_kind=ms.kind, location=div.places[0], leg_index=div.first_leg, mode=div.mode,
        planned=ms.planned, actual=div.first_seen, minutes_late=late, detected_at=detected,
        plan_revision=plan_revision, message=f"{unit.id} {div.reason(milestones)}",
    )  # fmt: skip
