"""Typed identifiers: tracked units (containers, ULDs, air waybills, trailers), UN/LOCODEs, UTC times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints, model_validator
from stdnum import iso6346
from stdnum.exceptions import ValidationError as StdnumError

_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
_ULD = re.compile(r"^[A-Z][A-Z0-9][A-Z]\d{4,5}[A-Z0-9]{2}$", re.ASCII)  # ASCII: \d must not match other scripts' digits
_AWB = re.compile(r"^(\d{3})-?(\d{8})$", re.ASCII)
_TRAILER = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,14}$")
_CONTAINER = re.compile(r"^[A-Z]{3}[UJZR][0-9]{7}$")  # stdnum's own pattern lets digits and non-ASCII through


# Freight tracking has no business outside these years; an impossible date is a feed error, and a far-future
# one would drag the event-time watermark (and every overdue decision) with it.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def _utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00: a ValueError, so pydantic reports it as invalid
        raise ValueError(f"{value.isoformat()} is outside the representable range in UTC") from None
    if not EARLIEST_YEAR <= utc.year < LATEST_YEAR:
        raise ValueError(f"{utc.isoformat()} is not a plausible time (years {EARLIEST_YEAR}-{LATEST_YEAR - 1})")
    return utc


UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware instant, normalised to UTC. Naive times are rejected, never guessed."""


def ascii_id(value: str) -> str:
    """Identifiers are ASCII: `value`, or ValueError naming the first other character. One rule where ids enter
    (API, feeds, plans): no digit of another script or width is read as a digit (CSNU261913\uff19 is not
    CSNU2619139), and no letter is upper-cased into others ('\u00df' would become 'SS')."""
    if value.isascii():
        return value
    bad = next(c for c in value if not c.isascii())
    raise ValueError(f"identifiers are ASCII letters and digits; {value[:40]!r} contains {bad!r} "
                     f"(U+{ord(bad):04X})")


def _locode(value: str) -> str:
    code = ascii_id(value).replace(" ", "").upper()
    if not _LOCODE.match(code):
        raise ValueError(f"not a UN/LOCODE (2-letter country + 3 characters A-Z/2-9): {value!r}")
    return code


UnLocode = Annotated[str, AfterValidator(_locode)]

# Output records are built from validated input, so their fields are checked by pydantic-core alone (no Python
# validators): producing them is on the hot path of every worker.
Locode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")]
Instant = AwareDatetime
_OUTPUT_LOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")


@lru_cache(maxsize=4096)
def is_output_locode(value: str) -> bool:
    """Whether an output's Locode field accepts `value`. pydantic-core's `$` is the end of the text, so this is
    a full match: Python's `$` would also take a trailing newline (which `_locode` lets through)."""
    return _OUTPUT_LOCODE.fullmatch(value) is not None


class Mode(StrEnum):
    SEA = "SEA"
    RAIL = "RAIL"
    ROAD = "ROAD"
    AIR = "AIR"
    BARGE = "BARGE"


class UnitKind(StrEnum):
    CONTAINER = "CONTAINER"  # ISO 6346 container number
    ULD = "ULD"  # IATA unit load device, e.g. AKE12345CX
    AWB = "AWB"  # IATA air waybill, e.g. 020-12345675
    TRAILER = "TRAILER"  # road trailer or swap body, by plate or fleet number


def normalise_container(value: str) -> str:
    """Return the compact ISO 6346 number, or raise ValueError saying what is wrong."""
    try:
        ascii_id(value)  # before stdnum, which would NFKC-normalise full-width digits into ASCII ones
    except ValueError as exc:
        raise ValueError(f"not a valid ISO 6346 container number: {exc}") from None
    compact = iso6346.compact(value)
    if not _CONTAINER.match(compact):
        raise ValueError(
            f"not a valid ISO 6346 container number (3-letter owner code, U/J/Z/R, 7 digits): {value!r}"
        )
    try:
        return iso6346.validate(compact)
    except StdnumError as exc:
        raise ValueError(f"not a valid ISO 6346 container number ({exc}): {value!r}") from None


def normalise_awb(value: str) -> str:
    """Air waybill: 3-digit airline prefix, 8-digit serial whose last digit is the first seven mod 7."""
    m = _AWB.match(value.strip())
    if not m:
        raise ValueError(f"not an air waybill number (NNN-NNNNNNNN): {value!r}")
    prefix, serial = m.groups()
    if int(serial[:7]) % 7 != int(serial[7]):
        raise ValueError(f"air waybill check digit is wrong (serial mod 7): {value!r}")
    return f"{prefix}-{serial}"


@lru_cache(maxsize=65536)  # state reloads re-validate the same ids many times; the check digit is pure
def _normalise_unit(kind: UnitKind, value: str) -> str:
    if kind is UnitKind.CONTAINER:
        return normalise_container(value.strip())  # checks ASCII itself, before upper-casing (stdnum upper-cases)
    v = ascii_id(value).strip().upper()
    if kind is UnitKind.AWB:
        return normalise_awb(v)
    if kind is UnitKind.ULD:
        compact = v.replace(" ", "").replace("-", "")
        if not _ULD.match(compact):
            raise ValueError(f"not an IATA ULD id (type, serial, owner, e.g. AKE12345CX): {value!r}")
        return compact
    if not _TRAILER.match(v):
        raise ValueError(f"not a trailer id (2-15 letters, digits, spaces, hyphens): {value!r}")
    return v


@lru_cache(maxsize=65536)  # asked for every timeline written; a unit's id is the same on all of them
def is_normal_unit_id(kind: UnitKind, value: str) -> bool:
    """Whether validating a TrackedUnit of `kind` keeps `value` as it is."""
    try:
        return _normalise_unit(kind, value) == value
    except Exception:  # whatever it is, validation fails the same way on the model
        return False


class TrackedUnit(BaseModel):
    """The thing a carrier reports on. Its `id` is the Kafka key of every per-unit topic."""

    model_config = ConfigDict(frozen=True)

    kind: UnitKind
    id: str

    @model_validator(mode="after")
    def _check_id(self) -> TrackedUnit:
        object.__setattr__(self, "id", _normalise_unit(self.kind, self.id))
        return self

    @classmethod
    def container(cls, number: str) -> TrackedUnit:
        return cls(kind=UnitKind.CONTAINER, id=number)
