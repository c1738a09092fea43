"""How long to wait before asking a carrier again: its Retry-After when it gave one, else exponential backoff."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delay-seconds or an HTTP-date), or None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        at = parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - now).total_seconds())


def delay(attempt: int, base: float, cap: float, asked: float | None) -> float:
    """Wait before attempt `attempt + 1` (attempt counts from 0): the server's wish wins, within `cap`."""
    if asked is not None:
        return min(asked, cap)
    return min(base * (2**attempt), cap)
