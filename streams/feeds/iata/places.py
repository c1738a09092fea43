"""Where and when an IATA message says something happened: an IATA airport code or a UN/LOCODE -> a Place with
its time zone, and local or ISO 8601 times -> aware UTC. A local time at a place whose zone is unknown is a
problem, never read as UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from streams.feeds.airports import airport, zone_for_locode


def to_utc(local: datetime, zone: ZoneInfo) -> datetime | None:
    """A naive local time at a place -> aware UTC (None when out of range). Ambiguous DST times take the first."""
    try:
        return local.replace(tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError):
        return None



def utc_received(received: datetime) -> datetime:
    """`received` as aware UTC (a naive value is taken as UTC, as the contract says it is)."""
    if received.tzinfo is None:
        return received.replace(tzinfo=UTC)
    return received.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Place:
    locode: str
    zone: ZoneInfo | None  # None: only times with an explicit offset can be placed
    label: str  # as the message named it


_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")


def resolve_place(code: str | None) -> Place | str:
    """An IATA airport code or a UN/LOCODE -> Place, or the problem text."""
    if not code or not code.strip():
        return "no location"
    compact = code.strip().upper().replace(" ", "")
    if len(compact) == 3:
        found = airport(compact)
        return Place(found.locode, found.zone, compact) if found else f"unknown airport {compact}"
    if _LOCODE.match(compact):
        return Place(compact, zone_for_locode(compact), compact)
    return f"location {code.strip()[:20]!r} is neither an IATA airport code nor a UN/LOCODE"


def instant(text: str | None, place: Place) -> datetime | str:
    """An ISO 8601 date-time -> aware UTC; one without offset is local time at `place`. Or the problem text."""
    if not text or not text.strip():
        return "no date-time"
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return f"{raw[:40]!r} is not an ISO 8601 date-time"
    if moment.tzinfo is not None:
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            return f"{raw[:40]!r} is out of range"
    if place.zone is None:
        return f"local time {raw[:40]} at {place.label}, whose time zone is unknown"
    found = to_utc(moment, place.zone)
    return found if found is not None else f"{raw[:40]!r} is out of range"
