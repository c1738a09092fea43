"""When a unit with open alerts counts as resolved, from its timeline (corridor.timelines):

- ARRIVED: the timeline says ARRIVED or DELIVERED (arrival closes the story, late or not);
- CAUGHT_UP: the predicted (or actual) arrival at destination is late by no more than the tolerance of the
  final leg's mode (sea/barge 12 h, rail 6 h, air 3 h, road 2 h), in a timeline computed after the latest
  open alert was detected (event time), so the timeline that raised an alert cannot also resolve it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from schemas import Mode
from streams.core.policy import DEFAULT_POLICY


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass(frozen=True, slots=True)
class UnitState:
    unit: str
    partition: int
    offset: int
    lane: str | None
    status: str
    minutes_late: int | None
    tolerance_minutes: int
    as_of: str | None

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("unit", "partition", "offset"):
            d.pop(k)
        return d


def _tolerance_minutes(timeline: dict[str, Any]) -> int:
    arrivals = [m for m in timeline.get("milestones") or [] if m.get("kind") == "ARRIVAL"]
    mode = arrivals[-1]["mode"] if arrivals else timeline.get("mode")
    try:
        return int(DEFAULT_POLICY.tolerance(Mode(mode)).total_seconds() // 60)
    except (ValueError, KeyError):
        return 0


def unit_state(timeline: dict[str, Any], partition: int, offset: int) -> UnitState:
    return UnitState(
        unit=timeline["unit"]["id"], partition=partition, offset=offset, lane=timeline.get("lane"),
        status=timeline.get("status", ""), minutes_late=timeline.get("minutes_late"),
        tolerance_minutes=_tolerance_minutes(timeline), as_of=timeline.get("as_of"),
    )


def resolution(state: UnitState, latest_detected: str | None) -> str | None:
    """"ARRIVED", "CAUGHT_UP" or None (still late, or nothing newer than the alerts)."""
    if state.status in ("ARRIVED", "DELIVERED"):
        return "ARRIVED"
    as_of, detected = parse_time(state.as_of), parse_time(latest_detected)
    if as_of is None or (detected is not None and as_of <= detected):
        return None
    if state.minutes_late is not None and state.minutes_late <= state.tolerance_minutes:
        return "CAUGHT_UP"
    return None
