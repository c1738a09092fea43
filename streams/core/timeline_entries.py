"""A unit timeline's entries, encoded once and kept encoded (orjson fragments) by the incremental derivation.

Entries that many units show alike are shared: encoded once per change instead of once per unit, and kept once
(the conveyance fan-out: docs/design/conveyances.md)."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.codec import dumps_fields
from streams.core.evidence import Evidence
from streams.core.learning.forecast import Forecast
from streams.core.records import EventRecord
from streams.core.timeline import milestone_data


def fragment(fields: dict[str, Any]) -> orjson.Fragment:
    """Encoded once, kept for as long as the unit is in memory: copied to bytes of its own size, since orjson's
    output keeps the whole buffer it wrote into (4 KB, for an entry of 300 bytes)."""
    return orjson.Fragment(bytes(memoryview(dumps_fields(fields))))


# Timeline entries shared between units, encoded once per change instead of once per unit, and kept once:
# - an event reported once: a conveyance's news is one and the same entry in the timelines of the thousands of
#   units aboard (same event id and fields, same planned milestone matched);
# - a milestone: units booked on one leg of a voyage share its planned milestones, and a carrier's estimate later
#   than their own prediction moves them all to the same forecast (the leg's planned transit and spread).
# What an entry shows is all in its key (event times with their zone: equal instants in other zones are written
# otherwise; every time in the core is UTC, as `milestone_entry`'s key and the per-unit cache assume). A memo of
# a pure function, emptied when full.
_SHARED_ENTRIES: dict[tuple[Any, ...], orjson.Fragment] = {}
_SHARED_MILESTONES: dict[tuple[Any, ...], orjson.Fragment] = {}
_SHARED_MAX = 4096


def milestone_entry(ev: Evidence, f: Forecast | None, shown: tuple[Any, ...]) -> orjson.Fragment:
    """`milestone_data(ev, f)` encoded: a function of the milestone and `shown` (its actual and estimated times,
    whether it happened, its forecast)."""
    key = (ev.milestone, shown)
    hit = _SHARED_MILESTONES.get(key)
    if hit is None:
        if len(_SHARED_MILESTONES) >= _SHARED_MAX:
            _SHARED_MILESTONES.clear()
        hit = _SHARED_MILESTONES[key] = fragment(milestone_data(ev, f))
    return hit


def event_entry(e: EventRecord, matched: str | None, also: list[str]) -> orjson.Fragment:
    """An event's timeline entry, as `timeline.derive` writes it."""
    if also:
        return fragment({
            "event_id": e.event_id, "source": e.source, "milestone": e.milestone, "classifier": e.classifier,
            "mode": e.mode, "location": e.location, "event_time": e.event_time, "received_time": e.received_time,
            "matched": matched, "also_reported": also,
        })  # fmt: skip
    at, received = e.event_time, e.received_time
    key = (e.event_id, e.source, e.milestone, e.classifier, e.mode, e.location, at, at.tzinfo, received,
           received.tzinfo, matched)  # fmt: skip
    hit = _SHARED_ENTRIES.get(key)
    if hit is None:
        if len(_SHARED_ENTRIES) >= _SHARED_MAX:
            _SHARED_ENTRIES.clear()
        hit = _SHARED_ENTRIES[key] = fragment({
            "event_id": e.event_id, "source": e.source, "milestone": e.milestone, "classifier": e.classifier,
            "mode": e.mode, "location": e.location, "event_time": at, "received_time": received,
            "matched": matched, "also_reported": [],
        })  # fmt: skip
    return hit
