"""Arrival prediction: carry every observed deviation through the remaining legs, with what was learned from
completed legs where there is enough of it (`streams.core.learning`), as a band (p10, p50, p90)."""

from __future__ import annotations

from datetime import datetime

from schemas import Mode, PlannedStopKind
from streams.core.evidence import Evidence, furthest_actual
from streams.core.learning import forecast as fc
from streams.core.learning.forecast import Forecast
from streams.core.learning.holds import Holds, hold_between
from streams.core.learning.lanes import cape_risk
from streams.core.milestones import PlannedMilestone
from streams.core.policy import TrackingPolicy

_ARRIVAL = PlannedStopKind.ARRIVAL
_DEPARTURE = PlannedStopKind.DEPARTURE
_SEA = Mode.SEA
# Enum members' `.value` goes through a descriptor; read for several milestones of every record.
_VALUE: dict[Mode | PlannedStopKind, str] = {m: m.value for m in (*Mode, *PlannedStopKind)}


def predict(evidence: list[Evidence], watermark: datetime | None, policy: TrackingPolicy,
            holds: Holds = ()) -> list[Forecast | None]:  # fmt: skip
    """Forecast of every milestone, in plan order: the actual where it happened; None for a milestone
    passed without a report; otherwise composed from the previous forecast.

    - Transit time is not compressible: an arrival is the predicted departure plus the leg's learned transit,
      or else its planned transit.
    - Dwell is: a unit arriving late leaves after the mode's minimum connection, never before the
      scheduled departure; plus the hub's learned wait beyond that rule.
    - A carrier estimate is evidence weighed by its source's learned error; with none learned, a later one
      wins (carriers' estimates are optimistic, so a later one carries information we lack, such as a diversion).
    - Nothing that has not happened is predicted before the watermark: as of event time it is still ahead.
    - A sea leg under way on a lane through Suez: once its Suez passage is overdue and most of the lane's
      recent sailings went round the Cape, its arrival's p90 (and so every later one's) adds the Cape detour
      (`streams.core.learning.lanes.cape_risk`; not for a unit already diverted: its own route says where it goes).
    - A unit held by customs at a hub (`holds`, `streams.core.learning.holds`) leaves after its release: the
      hold's learned duration given how long it has lasted, plus the learned wait after a release there.
    """
    furthest = furthest_actual(evidence)
    preds: list[Forecast | None] = []
    prev: Forecast | None = None
    prev_ms: PlannedMilestone | None = None
    for i, ev in enumerate(evidence):
        pred = predict_one(ev, i < furthest, prev, prev_ms, watermark, policy, holds=holds)
        preds.append(pred)
        if pred is not None:
            prev, prev_ms = pred, ev.milestone
    return preds


def predict_one(ev: Evidence, passed: bool, prev: Forecast | None, prev_ms: PlannedMilestone | None,
                watermark: datetime | None, policy: TrackingPolicy, cape: bool = True,
                holds: Holds = ()) -> Forecast | None:  # fmt: skip
    """One milestone's forecast from the last forecast one before it (`predict`'s rules; the incremental
    engine applies them from the first milestone that changed). `passed`: a later milestone has an actual.
    `cape`: the Cape risk may widen it (False for a diverted unit)."""
    ms = ev.milestone
    if ev.actual is not None:
        return fc.point(ev.actual.event_time)
    if passed:
        return None
    kn = policy.knowledge
    prev_planned = prev_ms.planned if prev_ms is not None else None
    if ms.kind is _ARRIVAL:
        pred = fc.arrival(prev, _VALUE[prev_ms.kind] if prev_ms else None, prev_ms.leg_index if prev_ms else None,
                          prev_ms.location if prev_ms else None, prev_planned, ms.planned, ms.leg_index, ms.location,
                          _VALUE[ms.mode], ms.carrier, policy.tolerance(ms.mode), kn)  # fmt: skip
    else:
        # At the hub (its arrival happened: a point no later than the watermark), the wait ahead is conditioned
        # on how long it has lasted.
        at_hub = watermark if prev is not None and prev.lo == prev.hi and prev.mid <= (watermark or prev.mid) \
            and prev_ms is not None and prev_ms.location == ms.location else None
        hold = hold_between(holds, ms.location, prev.mid) if holds and at_hub is not None else None
        pred = fc.departure(prev, prev_planned, ms.planned, _VALUE[ms.kind], ms.location, _VALUE[ms.mode],
                            policy.min_connection(ms.mode), kn, at_hub, hold)  # fmt: skip
    est = ev.estimate
    if est is not None:
        pred = fc.with_estimate(pred, est.event_time, est.received_time, est.source, _VALUE[ms.mode], kn)
    # Under way at sea: the departure before it happened (a point at or before the watermark; a predicted
    # departure lies at or after the watermark, and then no Suez passage can be overdue).
    if cape and kn is not None and watermark is not None and ms.mode is _SEA and prev is not None \
            and prev_ms is not None and prev_ms.kind is _DEPARTURE and prev_ms.leg_index == ms.leg_index \
            and prev.lo == prev.hi and ms.kind is _ARRIVAL:
        pred = cape_risk(pred, prev_ms.location, ms.location, prev.mid, ms.planned - prev_ms.planned, watermark,
                         policy.tolerance(ms.mode), kn)  # fmt: skip
    if watermark is not None and pred.lo < watermark:
        pred = fc.at_least(pred, watermark)
    return pred
