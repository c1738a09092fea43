"""The contract every feed adapter follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas import TrackingEvent


@dataclass(frozen=True, slots=True)
class Rejection:
    """Part of a message that could not become an event, with a reason a person can act on."""

    reason: str
    fragment: bytes | None = None  # the rejected part (one EDIFACT message, one JSON event, one FSU line...)
    index: int | None = None  # its position in the message (0-based), when the message holds several


@dataclass(slots=True)
class ParseResult:
    events: list[TrackingEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.events.extend(other.events)
        self.rejections.extend(other.rejections)


class FeedFormat(Protocol):
    """One input format. `parse` must never raise: anything unreadable becomes a Rejection, and a message
    holding some good and some bad events keeps the good ones."""

    name: str  # short id, also the raw topic suffix: e.g. "dcsa-tnt-2.2" -> corridor.raw.dcsa-tnt-2.2
    description: str  # one line, for `corridor formats`

    def sniff(self, data: bytes) -> bool:
        """True if `data` looks like this format (cheap; used by format detection)."""
        ...

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        """`received` (UTC) is when the message reached corridor: it becomes each event's received_time and
        resolves what the format leaves out (e.g. the year of an FSU date). `source` overrides the
        adapter's default source name."""
        ...
