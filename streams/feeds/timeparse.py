"""Times as feeds write them -> UTC-aware datetimes, or a TimeError a person can act on.

Three shapes occur: ISO 8601 with an offset (DCSA, EPCIS, JSON feeds), EDIFACT DTM values with a format code
(102, 203, 204, 205...), and local wall-clock times with no offset at all (EDIFACT, rail spreadsheets). The last are
resolved with the location's IANA zone; an unknown location is an error, never silently UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from schemas.refs import EARLIEST_YEAR, LATEST_YEAR
from streams.feeds.locations import locode_zone


class TimeError(ValueError):
    """A time that cannot be placed on the UTC timeline; the message says why."""


# EDIFACT 2379 date/time format codes we read: digits pattern -> strptime format (time zone suffix handled apart).
_DTM_FORMATS: dict[str, tuple[str, str]] = {
    "101": (r"\d{6}", "%y%m%d"),
    "102": (r"\d{8}", "%Y%m%d"),
    "201": (r"\d{10}", "%y%m%d%H%M"),
    "203": (r"\d{12}", "%Y%m%d%H%M"),
    "204": (r"\d{14}", "%Y%m%d%H%M%S"),
    "205": (r"\d{12}[+-]\d{4}", "%Y%m%d%H%M"),  # CCYYMMDDHHMMZHHMM: with UTC offset
    "303": (r"\d{12}[A-Z]{1,3}|\d{12}[+-]\d{2}", "%Y%m%d%H%M"),  # CCYYMMDDHHMMZZZ: zone as letters
    "304": (r"\d{14}[A-Z]{1,3}|\d{14}[+-]\d{2}", "%Y%m%d%H%M%S"),
}
_UTC_NAMES = {"Z", "UTC", "GMT", "UT"}


def _plausible(value: datetime, raw: str) -> datetime:
    if not EARLIEST_YEAR <= value.year < LATEST_YEAR:
        raise TimeError(f"{raw}: year {value.year} is not plausible (expected {EARLIEST_YEAR}-{LATEST_YEAR - 1})")
    return value


def parse_iso(raw: object, *, field: str = "time") -> datetime:
    """ISO 8601 with an offset ('Z' or +hh:mm) -> UTC. A time without offset is an error here: callers that accept
    local times use `parse_iso_or_local`."""
    value = parse_iso_any(raw, field=field)
    if value.tzinfo is None:
        raise TimeError(f"{field} {raw}: has no UTC offset (ISO 8601 with Z or +hh:mm expected)")
    return value


def parse_iso_any(raw: object, *, field: str = "time") -> datetime:
    """ISO 8601 -> aware UTC datetime, or naive if the text has no offset."""
    if not isinstance(raw, str) or not raw.strip():
        raise TimeError(f"{field}: missing")
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise TimeError(f"{field} {text[:40]}: not an ISO 8601 date-time") from None
    _plausible(value, text)
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise TimeError(f"{field} {text}: outside the representable range") from None


def local_to_utc(naive: datetime, locode: str) -> datetime:
    """Wall-clock time at a UN/LOCODE -> UTC, using the place's IANA zone (DST included)."""
    zone = locode_zone(locode)
    if zone is None:
        raise TimeError(f"no time zone known for {locode}: local time {naive.isoformat()} cannot be placed in UTC")
    try:
        return naive.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise TimeError(f"{naive.isoformat()} at {locode}: outside the representable range") from None


def parse_iso_or_local(raw: object, locode: str, *, field: str = "time") -> datetime:
    """ISO 8601 with offset, or without: then local time at `locode`."""
    value = parse_iso_any(raw, field=field)
    return value if value.tzinfo is not None else local_to_utc(value, locode)


def _zone_suffix(suffix: str, raw: str) -> timezone:
    if suffix in _UTC_NAMES:
        return UTC
    m = re.fullmatch(r"([+-])(\d{2})(\d{2})?", suffix)
    if not m:
        raise TimeError(f"{raw}: time zone {suffix!r} is not one we read (UTC, GMT, Z or +hhmm)")
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    if hours > 14 or minutes > 59:
        raise TimeError(f"{raw}: offset {suffix} is not a real UTC offset")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if m.group(1) == "+" else -delta)


def parse_dtm(raw: object, fmt: object = "203") -> datetime:
    """An EDIFACT DTM value in format `fmt` (2379 code) -> naive local datetime, or aware when the format carries a
    zone (205, 303, 304). Raises TimeError("2024-13-45: not a date ...")."""
    value = raw.strip() if isinstance(raw, str) else ""
    code = (fmt.strip() if isinstance(fmt, str) else "") or "203"
    if not value:
        raise TimeError("no date given")
    spec = _DTM_FORMATS.get(code)
    if spec is None:
        raise TimeError(f"{value}: date format {code} is not one we read ({', '.join(sorted(_DTM_FORMATS))})")
    pattern, strf = spec
    if not re.fullmatch(pattern, value):
        raise TimeError(f"{value}: not a date in format {code}")
    digits = {"%y%m%d": 6, "%Y%m%d": 8, "%y%m%d%H%M": 10, "%Y%m%d%H%M": 12, "%Y%m%d%H%M%S": 14}[strf]
    try:
        parsed = datetime.strptime(value[:digits], strf)
    except ValueError:
        raise TimeError(f"{value}: not a date") from None
    _plausible(parsed, value)
    suffix = value[digits:]
    return parsed.replace(tzinfo=_zone_suffix(suffix, value)).astimezone(UTC) if suffix else parsed


def dtm_to_utc(raw: object, fmt: object, locode: str) -> datetime:
    """DTM value -> UTC: its own zone when the format has one, else local time at `locode`."""
    parsed = parse_dtm(raw, fmt)
    return parsed if parsed.tzinfo is not None else local_to_utc(parsed, locode)
