"""Customs holds as evidence: what a forwarder knows of a unit held at a hub (docs/learning.md, "Customs holds").

A hold (`CUSTOMS_HOLD`, or `CUSTOMS_SELECTED_FOR_INSPECTION`) reported at a place opens a hold there; the next
`CUSTOMS_RELEASED` at that place closes it. A release with no open hold (a routine clearance) says nothing about
a wait and is ignored. Only actual, live events count. Pure and deterministic: the same events give the same
holds whatever order they arrived in (ties on event time are broken by event id, as the history is).

What the ETA learns from them (`observe`): how long holds last at a place (`H|place`, and `H|*` over every place,
customs holds being alike enough to pool where one place has too few), and how long a unit takes to leave a place
once its hold there is released (`R|kind|place|mode`, and `R|*` over every place: handling, then the next
scheduled departure, and whatever else waits). What it predicts with them (`forecast.held_departure`): a held
unit leaves after its release (the hold's learned duration, given it has lasted this long) plus the learned wait
after a release."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from schemas import Classifier, Milestone, TrackingEvent

OPENS = frozenset({Milestone.CUSTOMS_HOLD, Milestone.CUSTOMS_SELECTED_FOR_INSPECTION})
CLOSES = frozenset({Milestone.CUSTOMS_RELEASED})
CUSTOMS = OPENS | CLOSES
ANY_PLACE = "*"

# (place, held at, released at or None), sorted.
Hold = tuple[str, datetime, datetime | None]
Holds = tuple[Hold, ...]


def is_customs(event: TrackingEvent) -> bool:
    return event.classifier is Classifier.ACTUAL and not event.retracted and event.milestone in CUSTOMS


def holds_of(events: Iterable[TrackingEvent]) -> Holds:
    """The unit's holds, from its customs events (others are skipped)."""
    by_place: dict[str, list[tuple[datetime, int, str]]] = {}
    for e in events:
        if is_customs(e):
            by_place.setdefault(e.location, []).append((e.event_time, int(e.milestone in CLOSES), e.event_id))
    out: list[Hold] = []
    for place, reports in by_place.items():
        reports.sort()  # a hold and its release at the same minute: the hold first
        held: datetime | None = None
        for at, closes, _ in reports:
            if not closes:
                if held is None:
                    held = at
            elif held is not None:
                out.append((place, held, at))
                held = None
        if held is not None:
            out.append((place, held, None))
    out.sort(key=lambda h: (h[0], h[1]))
    return tuple(out)


def hold_between(holds: Holds, place: str, after: datetime) -> Hold | None:
    """The last hold at `place` opened at or after `after` (the unit's arrival there). A hold or a release is an
    actual event: known once reported, even when the watermark has not reached its time yet."""
    found = None
    for h in holds:
        if h[0] == place and h[1] >= after:
            found = h
    return found


@lru_cache(maxsize=4096)
def hold_keys(place: str) -> tuple[str, ...]:
    return (f"H|{place}", f"H|{ANY_PLACE}")


@lru_cache(maxsize=4096)
def release_key(kind: str, place: str, mode: str) -> str:
    return f"R|{kind}|{place}|{mode}"


@lru_cache(maxsize=4096)
def release_keys(kind: str, place: str, mode: str) -> tuple[str, ...]:
    """The wait after a release at this place, then pooled over every place, kind and mode (a unit released
    anywhere is collected, handled and sent on: where one place has too few, all of them say how long that takes)."""
    return (release_key(kind, place, mode), f"R|{ANY_PLACE}")
