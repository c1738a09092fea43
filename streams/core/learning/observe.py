"""What one unit's history teaches: an observation per completed leg (transit), per departure or delivery that
happened (its wait beyond the plan's rule) and per milestone that happened with an estimate standing (the
estimate's error). A pure function of the plan and the evidence, so the unit's state can keep the observations
it contributed and the job adds only what changed (`Knowledge.apply`): a re-delivered event teaches nothing
twice, and a corrected or retracted one takes its lesson back.

A sea leg on a lane that can go through Suez or round the Cape also gives the lane summary one sailing (`S<leg>`):
round the Cape (1) once the unit was seen at a Cape-only place (`cape_legs`) or arrived after a transit nearer
the Cape route's, else through Suez (0) once it arrived; filed under the day its route became known (seen round
the Cape, or arrived), so a window of recent days counts both kinds alike. See docs/design/lane-state.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from schemas import Mode, PlannedStopKind
from streams.core.evidence import Evidence
from streams.core.learning.holds import Holds, hold_between, hold_keys, release_keys
from streams.core.learning.knowledge import Observations, bias_key, sailing_key, transit_keys, wait_key
from streams.core.learning.lanes import cape_lane, went_round_cape
from streams.core.policy import TrackingPolicy

_MIN = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_ARR, _DEP = PlannedStopKind.ARRIVAL, PlannedStopKind.DEPARTURE
_VALUE: dict[Mode | PlannedStopKind, str] = {m: m.value for m in (*Mode, *PlannedStopKind)}  # without the descriptor
# Beyond these, an observation is a data error (a wrong year, a unit idle for months), not a lesson.
MAX_MINUTES = 200 * 24 * 60
MAX_ERROR_PER_MILLE = 5000


Chunk = list[tuple[str, list]]  # what one milestone teaches (with the one before it), in the order it is filed


def observations(evidence: Sequence[Evidence], carriers: Sequence[str | None], policy: TrackingPolicy,
                 cape_legs: Mapping[int, datetime] | None = None, holds: Holds = ()) -> Observations:  # fmt: skip
    """`carriers`: each leg's carrier, by leg index; `cape_legs`: the sea legs the unit was seen round the Cape on
    (its diversion), and when it was first seen there; `holds`: its customs holds (a released one teaches how
    long holds last there, and the departure after it how long a unit takes to leave once released)."""
    return observe_again(evidence, carriers, policy, cape_legs, holds)[0]


def observe_again(evidence: Sequence[Evidence], carriers: Sequence[str | None], policy: TrackingPolicy,
                  cape_legs: Mapping[int, datetime] | None = None, holds: Holds = (),
                  before: tuple[Sequence[Evidence], list[Chunk]] | None = None,
                  ) -> tuple[Observations, list[Chunk]]:  # fmt: skip
    """`observations`, and what each milestone taught (its chunk). `before`: an earlier evidence of the same
    plan, carriers and holds, and its chunks: a milestone whose Evidence and the one before it are the same
    objects as then teaches what it taught then (what a milestone teaches depends on those two only, given the
    plan and the holds), so only the chunks of the milestones that changed, and of the one after each, are
    computed again. The same bytes as computed afresh: the chunks are filed in the same order."""
    reuse = before is not None and len(before[0]) == len(evidence)
    old_ev, old_chunks = before if reuse else ((), [])  # type: ignore[misc]
    chunks: list[Chunk] = []
    out: Observations = {}
    prev: Evidence | None = None
    same_prev = True
    for i, ev in enumerate(evidence):
        same = reuse and old_ev[i] is ev
        chunk = old_chunks[i] if same and same_prev else _teach(prev, ev, carriers, policy, holds)
        chunks.append(chunk)
        if chunk:
            out.update(chunk)
        prev, same_prev = ev, same
    for n, (place, held, released) in enumerate(holds):
        if released is not None:
            minutes = round((released - held) / _MIN)
            if 0 <= minutes <= MAX_MINUTES:
                out[f"H{n}"] = [minutes, *hold_keys(place)]
    _sailings(evidence, cape_legs or {}, out)
    return out, chunks


def _teach(prev: Evidence | None, ev: Evidence, carriers: Sequence[str | None], policy: TrackingPolicy,
           holds: Holds) -> Chunk:
    """What milestone `ev` teaches, `prev` the milestone before it: its leg's transit (an arrival), its wait
    beyond the plan's rule and after a customs release (a departure or delivery), its estimate's error."""
    act = ev.actual
    if act is None:
        return []
    out: Chunk = []
    ms = ev.milestone
    actual = act.event_time
    mode = _VALUE[ms.mode]
    if ms.kind is _ARR:
        if prev is not None and prev.milestone.kind is _DEP and prev.milestone.leg_index == ms.leg_index \
                and prev.actual is not None:
            minutes = round((actual - prev.actual.event_time) / _MIN)
            if 0 < minutes <= MAX_MINUTES:
                carrier = carriers[ms.leg_index] if ms.leg_index < len(carriers) else None
                out.append((f"T{ms.leg_index}", [minutes, *transit_keys(prev.milestone.location, ms.location, mode,
                                                                         carrier)]))  # fmt: skip
    else:
        rule = ms.planned
        if prev is not None and prev.actual is not None:
            conn = min(ms.planned - prev.milestone.planned, policy.min_connection(ms.mode))
            rule = max(rule, prev.actual.event_time + conn)
        minutes = round((actual - rule) / _MIN)
        if abs(minutes) <= MAX_MINUTES:
            out.append((f"W{ms.key}", [minutes, wait_key(_VALUE[ms.kind], ms.location, mode)]))
        if holds and prev is not None and prev.actual is not None and prev.milestone.location == ms.location:
            hold = hold_between(holds, ms.location, prev.actual.event_time)
            if hold is not None and hold[2] is not None and hold[1] <= actual:
                after = round((actual - hold[2]) / _MIN)
                if 0 <= after <= MAX_MINUTES:
                    out.append((f"R{ms.key}", [after, *release_keys(_VALUE[ms.kind], ms.location, mode)]))
    est = ev.estimate
    if est is not None:
        horizon = (est.event_time - est.received_time) / _MIN
        if horizon >= 60:
            error = round(1000 * ((actual - est.event_time) / _MIN) / horizon)
            if abs(error) <= MAX_ERROR_PER_MILLE:
                out.append((f"B{ms.key}", [error, bias_key(est.source, mode)]))
    return out


def _sailings(evidence: Sequence[Evidence], cape_legs: Mapping[int, datetime], out: Observations) -> None:
    departed: dict[int, Evidence] = {}
    sea = Mode.SEA
    for ev in evidence:
        ms = ev.milestone
        if ms.mode is not sea or ev.actual is None:
            continue
        if ms.kind is _DEP:
            departed[ms.leg_index] = ev
        elif ms.kind is _ARR and ms.leg_index in departed:
            dep = departed.pop(ms.leg_index)
            hours = (ev.actual.event_time - dep.actual.event_time) / _HOUR  # type: ignore[union-attr]
            cape = went_round_cape(dep.milestone.location, ms.location, hours)
            if cape is not None:  # the lane has the choice
                seen = cape_legs.get(ms.leg_index)
                known = seen if seen is not None else ev.actual.event_time
                key = sailing_key(dep.milestone.location, ms.location, known.date())
                out[f"S{ms.leg_index}"] = [int(cape or seen is not None), key]
    for leg, dep in departed.items():  # under way: counted now only if seen round the Cape
        seen = cape_legs.get(leg)
        if seen is not None:
            arr = next((e for e in evidence if e.milestone.kind is _ARR and e.milestone.leg_index == leg), None)
            if arr is not None and cape_lane(dep.milestone.location, arr.milestone.location) is not None:
                out[f"S{leg}"] = [1, sailing_key(dep.milestone.location, arr.milestone.location, seen.date())]
