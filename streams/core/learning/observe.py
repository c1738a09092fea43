"""What one unit's history teaches: an observation per completed leg (transit), per departure or delivery that
happened (its wait beyond the plan's rule) and per milestone that happened with an estimate standing (the
estimate's error). A pure function of the plan and the evidence, so the unit's state can keep the observations
it contributed and the job adds only what changed (`Knowledge.apply`): a re-delivered event teaches nothing
twice, and a corrected or retracted one takes its lesson back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from schemas import PlannedStopKind
from streams.core.evidence import Evidence
from streams.core.learning.knowledge import Observations, bias_key, transit_keys, wait_key
from streams.core.policy import TrackingPolicy

_MIN = timedelta(minutes=1)
_ARR, _DEP = PlannedStopKind.ARRIVAL, PlannedStopKind.DEPARTURE
# Beyond these, an observation is a data error (a wrong year, a unit idle for months), not a lesson.
MAX_MINUTES = 200 * 24 * 60
MAX_ERROR_PER_MILLE = 5000


def observations(evidence: Sequence[Evidence], carriers: Sequence[str | None], policy: TrackingPolicy) -> Observations:
    """`carriers`: each leg's carrier, by leg index."""
    out: Observations = {}
    prev: Evidence | None = None
    for ev in evidence:
        ms, actual = ev.milestone, ev.actual_time
        if actual is not None:
            mode = ms.mode.value
            if ms.kind is _ARR:
                if prev is not None and prev.milestone.kind is _DEP and prev.milestone.leg_index == ms.leg_index \
                        and prev.actual is not None:
                    minutes = round((actual - prev.actual.event_time) / _MIN)
                    if 0 < minutes <= MAX_MINUTES:
                        carrier = carriers[ms.leg_index] if ms.leg_index < len(carriers) else None
                        out[f"T{ms.leg_index}"] = [minutes, *transit_keys(prev.milestone.location, ms.location, mode,
                                                                           carrier)]  # fmt: skip
            else:
                rule = ms.planned
                if prev is not None and prev.actual is not None:
                    conn = min(ms.planned - prev.milestone.planned, policy.min_connection(ms.mode))
                    rule = max(rule, prev.actual.event_time + conn)
                minutes = round((actual - rule) / _MIN)
                if abs(minutes) <= MAX_MINUTES:
                    out[f"W{ms.key}"] = [minutes, wait_key(ms.kind.value, ms.location, mode)]
            est = ev.estimate
            if est is not None:
                horizon = (est.event_time - est.received_time) / _MIN
                if horizon >= 60:
                    error = round(1000 * ((actual - est.event_time) / _MIN) / horizon)
                    if abs(error) <= MAX_ERROR_PER_MILLE:
                        out[f"B{ms.key}"] = [error, bias_key(est.source, mode)]
        prev = ev
    return out
