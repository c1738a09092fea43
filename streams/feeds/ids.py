"""Identifiers shared by the feed adapters: container numbers with actionable reasons, stable event ids."""

from __future__ import annotations

import hashlib
import re

from stdnum import iso6346

from schemas import TrackedUnit
from schemas.refs import UnitKind, ascii_id

_CONTAINER = re.compile(r"^[A-Z]{3}[UJZR]\d{7}$", re.ASCII)


class IdError(ValueError):
    """An identifier that cannot name a unit; the message says what is wrong with it."""


def container(value: object) -> TrackedUnit:
    """A TrackedUnit for an ISO 6346 number, or IdError saying exactly what is wrong (check digit expected...)."""
    if not isinstance(value, str) or not value.strip():
        raise IdError("no container number given")
    try:
        ascii_id(value)  # the one rule for ids: ASCII (a full-width or Arabic-Indic digit is refused)
    except ValueError as exc:
        raise IdError(str(exc)) from None
    compact = re.sub(r"[\s-]", "", value).upper()
    if not _CONTAINER.match(compact):
        raise IdError(
            f"{value.strip()[:40]!r} is not an ISO 6346 container number "
            "(3-letter owner code, U/J/Z/R, 6-digit serial, check digit)"
        )
    expected = iso6346.calc_check_digit(compact[:10])
    if expected != compact[10]:
        raise IdError(f"container {compact} has a wrong check digit (expected {expected})")
    return TrackedUnit(kind=UnitKind.CONTAINER, id=compact)


def event_id(source: str, *parts: object) -> str:
    """Deterministic id from the source's own id (parts = (id,) or (id, unit) when one report names several units),
    or else from what identifies the event (unit, milestone, classifier, place, time). Prefixed with the source so
    two feeds' ids never collide; readable when short, else a hash (the schema allows 128 characters)."""
    text = ":".join("" if p is None else str(p) for p in parts)
    plain = f"{source}:{text}"
    if len(plain) <= 128 and plain.isprintable():
        return plain
    return f"{source}:#{hashlib.sha256(text.encode()).hexdigest()[:40]}"
