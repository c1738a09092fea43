"""Cursor paging of alerts, newest first, over lists that come from several workers. Pure."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson

from schemas import Severity
from streams.api.refs import RefError
from streams.api.units import alert_order

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
Key = tuple[datetime, str]


def encode_cursor(key: Key) -> str:
    raw = orjson.dumps([key[0].isoformat(), key[1]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Key | None:
    """The position after which the next page starts; RefError (400) if the cursor was not made here."""
    if not cursor:
        return None
    try:
        when, alert_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at = datetime.fromisoformat(when)
        if at.tzinfo is None or not isinstance(alert_id, str):
            raise ValueError
        return at, alert_id
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise RefError(f"invalid cursor {cursor[:40]!r}: pass back the next_cursor of a previous page") from None


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise RefError(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw[:20]!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise RefError(f"limit must be from 1 to {MAX_LIMIT}, got {limit}")
    return limit


def parse_severities(raw: str | None) -> frozenset[str] | None:
    """`severity=MAJOR` or `severity=MAJOR,CRITICAL`; None = any."""
    if not raw:
        return None
    wanted = {s.strip().upper() for s in raw.split(",") if s.strip()}
    unknown = wanted - {s.value for s in Severity}
    if unknown:
        raise RefError(f"unknown severity {', '.join(sorted(unknown))}; one or more of "
                       f"{', '.join(s.value for s in Severity)}, comma-separated")
    return frozenset(wanted)


ABOUT = ("unit", "shipment")


def parse_about(raw: str | None) -> frozenset[str]:
    """`about=unit`, `about=shipment` or both (the default): whose alerts to list."""
    if not raw:
        return frozenset(ABOUT)
    wanted = {s.strip().lower() for s in raw.split(",") if s.strip()}
    unknown = wanted - set(ABOUT)
    if unknown or not wanted:
        raise RefError(f"about must be unit, shipment or both (comma-separated), got {raw[:20]!r}")
    return frozenset(wanted)


def parse_open(raw: str | None) -> bool:
    if raw is None or raw == "":
        return True
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise RefError(f"open must be true or false, got {raw[:20]!r}")


def page(alerts: Iterable[Mapping[str, Any]], after: Key | None, limit: int, *, more_beyond: bool = False
         ) -> tuple[list[Mapping[str, Any]], str | None]:
    """The `limit` newest alerts strictly older than `after`, and the cursor of the next page (None at the
    end). Workers each return their own first page; merging those pages and paging again gives the global
    page, because every alert of the global page is among the first `limit` of its own worker; `more_beyond`
    says a worker has more than it returned."""
    rest = sorted((a for a in alerts if after is None or alert_order(a) < after), key=alert_order, reverse=True)
    items = rest[:limit]
    more = len(rest) > limit or more_beyond
    return items, encode_cursor(alert_order(items[-1])) if more and items else None
