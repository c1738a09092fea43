"""The milestones a plan expects, and which planned milestone an event is evidence of."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from schemas import Milestone, Mode, Plan, PlannedStopKind, TrackingEvent
from streams.core.records import PlanRecord


@dataclass(frozen=True, slots=True)
class PlannedMilestone:
    key: str  # KIND:LOCODE:occurrence - stable across plan revisions that keep the route
    kind: PlannedStopKind
    leg_index: int
    mode: Mode
    location: str
    planned: datetime
    carrier: str | None = None  # the leg's (learned transit is kept per carrier where there is enough data)


# Which event milestones evidence which planned stop kind. The first of each list is the primary evidence;
# a discharge evidences arrival only when no arrival was reported.
EVIDENCE: dict[Milestone, PlannedStopKind] = {
    Milestone.DEPARTED: PlannedStopKind.DEPARTURE,
    Milestone.ARRIVED: PlannedStopKind.ARRIVAL,
    Milestone.DISCHARGED: PlannedStopKind.ARRIVAL,
    Milestone.DELIVERED: PlannedStopKind.DELIVERY,
}
PRIMARY = frozenset({Milestone.DEPARTED, Milestone.ARRIVED, Milestone.DELIVERED})
KEY_PREFIX = {PlannedStopKind.DEPARTURE: "DEP", PlannedStopKind.ARRIVAL: "ARR", PlannedStopKind.DELIVERY: "DLV"}


def planned_milestones(plan: Plan | PlanRecord) -> list[PlannedMilestone]:
    """Departure and arrival of every leg, in itinerary order, then the promised delivery."""
    if isinstance(plan, PlanRecord):
        # A unit's state keeps one PlanRecord object for all its records: find it by identity before hashing
        # it (which hashes every leg). The memo holds the plan, so its id cannot be reused while it is there.
        hit = _BY_IDENTITY.get(id(plan))
        if hit is None or hit[0] is not plan:
            hit = (plan, _planned_cached(plan))
            if len(_BY_IDENTITY) >= _IDENTITY_SLOTS:
                del _BY_IDENTITY[next(iter(_BY_IDENTITY))]  # the oldest
            _BY_IDENTITY[id(plan)] = hit
        return list(hit[1])
    return _planned(plan)


_IDENTITY_SLOTS = 4096
_BY_IDENTITY: dict[int, tuple[PlanRecord, tuple[PlannedMilestone, ...]]] = {}


@lru_cache(maxsize=4096)  # one plan serves every record of its unit
def _planned_cached(plan: PlanRecord) -> tuple[PlannedMilestone, ...]:
    return tuple(_planned(plan))


def _planned(plan: Plan | PlanRecord) -> list[PlannedMilestone]:
    seen: Counter[tuple[PlannedStopKind, str]] = Counter()
    out: list[PlannedMilestone] = []

    def add(kind: PlannedStopKind, leg: int, mode: Mode, loc: str, at: datetime) -> None:
        seen[(kind, loc)] += 1
        key = f"{KEY_PREFIX[kind]}:{loc}:{seen[(kind, loc)]}"
        out.append(PlannedMilestone(key, kind, leg, mode, loc, at, plan.legs[leg].carrier))

    for i, leg in enumerate(plan.legs):
        add(PlannedStopKind.DEPARTURE, i, leg.mode, leg.origin, leg.planned_departure)
        add(PlannedStopKind.ARRIVAL, i, leg.mode, leg.destination, leg.planned_arrival)
    if plan.promised_delivery is not None:
        last = plan.legs[-1]
        add(PlannedStopKind.DELIVERY, len(plan.legs) - 1, last.mode, last.destination, plan.promised_delivery)
    return out


def match(event: TrackingEvent, milestones: list[PlannedMilestone]) -> PlannedMilestone | None:
    """The planned milestone this event evidences: same kind and place; on repeated calls at the same
    place, the one planned nearest the event time."""
    return matcher(milestones)(event)


def matcher(milestones: list[PlannedMilestone]) -> Callable[[TrackingEvent], PlannedMilestone | None]:
    """`match` against these milestones, for many events: the milestones are grouped by kind and place once."""
    by_place: dict[tuple[PlannedStopKind, str], list[PlannedMilestone]] = {}
    for ms in milestones:
        by_place.setdefault((ms.kind, ms.location), []).append(ms)

    def match_one(event: TrackingEvent) -> PlannedMilestone | None:
        kind = EVIDENCE.get(event.milestone)
        candidates = by_place.get((kind, event.location)) if kind is not None else None
        if not candidates:
            return None
        best = candidates[0]
        for ms in candidates[1:]:  # in plan order: the first of equally near ones wins
            if abs(ms.planned - event.event_time) < abs(best.planned - event.event_time):
                best = ms
        return best

    return match_one
