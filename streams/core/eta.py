"""Arrival prediction: carry every observed deviation through the remaining legs of the plan."""

from __future__ import annotations

from datetime import datetime

from schemas import PlannedStopKind
from streams.core.evidence import Evidence, furthest_actual
from streams.core.policy import TrackingPolicy


def predict(evidence: list[Evidence], watermark: datetime | None, policy: TrackingPolicy) -> list[datetime | None]:
    """Predicted time of every milestone, in plan order: the actual where it happened; None for a milestone
    passed without a report; otherwise the previous prediction carried forward.

    - Transit time is not compressible: an arrival is the predicted departure plus the planned transit.
    - Dwell is: a unit arriving late leaves after the mode's minimum connection, never before the
      scheduled departure.
    - A carrier estimate later than ours wins (carriers' estimates are optimistic, so a later one carries
      information we lack, such as a diversion).
    - Nothing that has not happened is predicted before the watermark: as of event time it is still ahead.
    """
    furthest = furthest_actual(evidence)
    preds: list[datetime | None] = []
    prev_pred: datetime | None = None
    prev_planned: datetime | None = None
    for i, ev in enumerate(evidence):
        pred = predict_one(ev, i < furthest, prev_pred, prev_planned, watermark, policy)
        preds.append(pred)
        if pred is not None:
            prev_pred, prev_planned = pred, ev.milestone.planned
    return preds


def predict_one(ev: Evidence, passed: bool, prev_pred: datetime | None, prev_planned: datetime | None,
                watermark: datetime | None, policy: TrackingPolicy) -> datetime | None:
    """One milestone's prediction from the last predicted one before it (`predict`'s rules; the incremental
    engine applies them from the first milestone that changed). `passed`: a later milestone has an actual."""
    ms = ev.milestone
    if ev.actual is not None:
        return ev.actual.event_time
    if passed:
        return None
    pred = ms.planned
    if prev_pred is not None and prev_planned is not None:
        gap = ms.planned - prev_planned
        if ms.kind is PlannedStopKind.ARRIVAL:
            pred = prev_pred + gap
        else:
            pred = max(ms.planned, prev_pred + min(gap, policy.min_connection(ms.mode)))
    if ev.estimate is not None:
        pred = max(pred, ev.estimate.event_time)
    if watermark is not None and pred < watermark:
        pred = watermark
    return pred
