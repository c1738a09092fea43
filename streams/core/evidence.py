"""What the event history says about each planned milestone: its actual time and the carrier's estimate."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from schemas import CLASSIFIER_RANK, Classifier, TrackingEvent
from streams.core.milestones import PRIMARY, PlannedMilestone, matcher


class Evidence(NamedTuple):  # made for every milestone on every record: a tuple is the cheapest immutable record
    milestone: PlannedMilestone
    actual: TrackingEvent | None
    estimate: TrackingEvent | None

    @property
    def actual_time(self) -> datetime | None:
        return self.actual.event_time if self.actual else None

    @property
    def estimated_time(self) -> datetime | None:
        return self.estimate.event_time if self.estimate else None


def history(events: Iterable[TrackingEvent]) -> list[TrackingEvent]:
    """Distinct events in event-time order; ties broken so the order never depends on arrival order."""
    return sorted(events, key=lambda e: (e.event_time, -CLASSIFIER_RANK[e.classifier], e.event_id))


def better_actual(new: TrackingEvent, old: TrackingEvent | None) -> bool:
    # Primary evidence (ARRIVED over DISCHARGED), then the first reported, then a stable tie-break.
    if old is None:
        return True
    return (new.milestone not in PRIMARY, new.received_time, new.event_id) < (
        old.milestone not in PRIMARY, old.received_time, old.event_id)  # fmt: skip


def better_estimate(new: TrackingEvent, old: TrackingEvent | None) -> bool:
    # The latest word wins; an estimate outranks a carrier's plan received at the same time.
    if old is None:
        return True
    return (new.received_time, CLASSIFIER_RANK[new.classifier], new.event_id) > (
        old.received_time, CLASSIFIER_RANK[old.classifier], old.event_id)  # fmt: skip


def collect(
    milestones: list[PlannedMilestone], events: list[TrackingEvent]
) -> tuple[list[Evidence], dict[str, str]]:
    """Evidence per planned milestone (in plan order) and, per event id, the milestone key it matched."""
    actual: dict[str, TrackingEvent] = {}
    estimate: dict[str, TrackingEvent] = {}
    matched: dict[str, str] = {}
    match = matcher(milestones)
    for event in events:
        ms = match(event)
        if ms is None:
            continue
        matched[event.event_id] = ms.key
        if event.classifier is Classifier.ACTUAL:
            if better_actual(event, actual.get(ms.key)):
                actual[ms.key] = event
        elif better_estimate(event, estimate.get(ms.key)):
            estimate[ms.key] = event
    return [Evidence(ms, actual.get(ms.key), estimate.get(ms.key)) for ms in milestones], matched


def furthest_actual(evidence: list[Evidence]) -> int:
    """Index of the furthest milestone along the itinerary that actually happened, -1 if none."""
    for i in range(len(evidence) - 1, -1, -1):
        if evidence[i].actual is not None:
            return i
    return -1
