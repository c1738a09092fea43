"""The contract every feed adapter follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas import Conveyance, ConveyanceEvent, TrackedUnit, TrackingEvent


@dataclass(frozen=True, slots=True)
class Rejection:
    """Part of a message that could not become an event, with a reason a person can act on."""

    reason: str
    fragment: bytes | None = None  # the rejected part (one EDIFACT message, one JSON event, one FSU line...)
    index: int | None = None  # its position in the message (0-based), when the message holds several
    # A warning drops only a part of an event that was kept (e.g. a container reference with a wrong check digit
    # inside a vessel's TRANSPORT event): it still goes to the dead-letter topic, but the message parsed.
    warning: bool = False


@dataclass(frozen=True, slots=True)
class Listing:
    """One unit on a loading list or bay plan (BAPLIE): aboard `conveyance` from `boards` to `leaves` (None: not
    said), as of `as_of` (UTC, the list's own time). It says who is aboard, not that anything happened to the unit,
    so it is no unit event: ingest writes it to the conveyance job as a LISTED boarding (docs/design/conveyances.md)."""

    conveyance: Conveyance
    unit: TrackedUnit
    boards: str | None
    leaves: str | None
    as_of: datetime


@dataclass(slots=True)
class ParseResult:
    events: list[TrackingEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Events about a vessel, train, flight or truck trip rather than one unit (see schemas/conveyances.py).
    conveyances: list[ConveyanceEvent] = field(default_factory=list)
    # Units a loading list or bay plan puts aboard a conveyance (Listing).
    listings: list[Listing] = field(default_factory=list)

    def extend(self, other: ParseResult) -> None:
        self.events.extend(other.events)
        self.rejections.extend(other.rejections)
        self.conveyances.extend(other.conveyances)
        self.listings.extend(other.listings)

    def add_conveyance(self, event: ConveyanceEvent) -> None:
        """Keep one copy of a conveyance event a message repeats (one per container or air waybill reported)."""
        if event not in self.conveyances:
            self.conveyances.append(event)

    @property
    def errors(self) -> list[Rejection]:
        """The rejections that are not warnings: parts of the message that became nothing."""
        return [r for r in self.rejections if not r.warning]


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
