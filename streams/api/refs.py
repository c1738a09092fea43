"""Reading the references people type: a container, air waybill, ULD or trailer id, a shipment reference (booking,
bill of lading, air waybill, CMR consignment) and a UN/LOCODE.

A malformed reference raises RefError with a message that says what is wrong (HTTP 400); a well-formed one
comes back normalised, as the tracking job keys its state (the unit id is the Kafka key)."""

from __future__ import annotations

import re

from pydantic import ValidationError

from schemas.refs import TrackedUnit, UnitKind, normalise_container
from schemas.shipments import ShipmentKind, ShipmentRef
from streams.feeds.locations import is_known_locode

_SPACES = re.compile(r"[\s\u00a0]+")
# What an ISO 6346 number looks like before its check digit is checked: owner code, category, digits. Anything
# starting with four letters and then only digits is read as an attempt at a container number, so a typo
# ("CSQU305438", a wrong check digit) is reported as such instead of being taken for a trailer plate.
_CONTAINER_LIKE = re.compile(r"^[A-Z]{4}\d+$")
_AWB_LIKE = re.compile(r"^\d{3}[- ]?\d+$", re.ASCII)
_AWB_EXACT = re.compile(r"^\d{3}[- ]?\d{8}$", re.ASCII)  # a shipment reference of this shape is an air waybill
_ULD_LIKE = re.compile(r"^[A-Z]{3}\d{4,5}[A-Z0-9]{2}$", re.ASCII)
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
MAX_REF = 40


class RefError(ValueError):
    """A reference that cannot be a unit or place id; the message is shown to the person who typed it."""


def guess_kind(ref: str) -> UnitKind:
    """Which kind of unit a reference looks like (the API also takes an explicit `kind`)."""
    compact = _SPACES.sub("", ref).upper()
    if _CONTAINER_LIKE.match(compact.replace("-", "")):
        return UnitKind.CONTAINER
    if _AWB_LIKE.match(ref.strip()):
        return UnitKind.AWB
    if _ULD_LIKE.match(compact.replace("-", "")):
        return UnitKind.ULD
    return UnitKind.TRAILER


def parse_unit_ref(ref: str, kind: str | None = None) -> TrackedUnit:
    """The unit a reference names, normalised (e.g. "csqu 305438-3" -> CONTAINER CSQU3054383)."""
    if not ref or not ref.strip():
        raise RefError("empty unit reference: give a container number, air waybill, ULD or trailer id")
    if len(ref) > MAX_REF:
        raise RefError(f"unit reference is too long ({len(ref)} characters, at most {MAX_REF})")
    if kind is not None:
        try:
            unit_kind = UnitKind(kind.strip().upper())
        except ValueError:
            raise RefError(f"unknown unit kind {kind!r}; one of {', '.join(k.value for k in UnitKind)}") from None
    else:
        unit_kind = guess_kind(ref)
    if unit_kind is UnitKind.CONTAINER:
        try:
            # ISO 6346 check (owner code, category U/J/Z/R, serial, check digit) by schemas.refs.
            number = normalise_container(_SPACES.sub("", ref).replace("-", "").upper())
            return TrackedUnit.model_construct(kind=UnitKind.CONTAINER, id=number)
        except ValueError as exc:
            raise RefError(str(exc)) from None
    try:
        return TrackedUnit(kind=unit_kind, id=ref)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise RefError(reason) from None


def parse_shipment_ref(ref: str, kind: str | None = None) -> ShipmentRef:
    """The shipment a reference names, normalised as the shipment job keys it.

    With no `kind`: a reference shaped like an air waybill (NNN-NNNNNNNN, the hyphen or a space optional) is an
    AIR_WAYBILL and its check digit must be right; anything else is looked up as given (upper-cased), whatever
    kind of document it is, so the kind returned is only a guess (BOOKING) until the stored shipment says.
    Booking, bill of lading and consignment numbers share one syntax: 3-35 letters, digits, '-' or '/'."""
    if not ref or not ref.strip():
        raise RefError("empty shipment reference: give a booking, bill of lading, air waybill or consignment number")
    if len(ref) > MAX_REF:
        raise RefError(f"shipment reference is too long ({len(ref)} characters, at most {MAX_REF})")
    if kind is not None and kind.strip():
        try:
            shipment_kind = ShipmentKind(kind.strip().upper())
        except ValueError:
            raise RefError(f"unknown shipment kind {kind!r}; one of "
                           f"{', '.join(k.value for k in ShipmentKind)}") from None
    else:
        shipment_kind = ShipmentKind.AIR_WAYBILL if looks_like_awb(ref) else ShipmentKind.BOOKING
    value = ref.strip()
    if shipment_kind is ShipmentKind.AIR_WAYBILL:
        value = value.replace(" ", "-")
    try:
        return ShipmentRef(kind=shipment_kind, id=value)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise RefError(reason) from None


def looks_like_awb(ref: str) -> bool:
    return bool(_AWB_EXACT.match(ref.strip()))


def parse_locode(ref: str) -> str:
    """A UN/LOCODE, compacted and upper-cased; RefError if it is not one syntactically."""
    if not (ref or "").isascii():
        raise RefError(f"not a UN/LOCODE (ASCII letters and digits only): {ref[:20]!r}")
    code = _SPACES.sub("", ref or "").upper()
    if not _LOCODE.match(code):
        raise RefError(f"not a UN/LOCODE (2-letter country + 3 characters A-Z/2-9): {ref[:20]!r}")
    return code


def known_hub(code: str) -> bool:
    return is_known_locode(code)
