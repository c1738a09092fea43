"""The references an IATA message names: an air waybill (with its check digit), a flight, the pieces of a part
shipment. Shared by the FSU, FFM, XFSU and ONE Record adapters."""

from __future__ import annotations

import re

_AWB = re.compile(r"^(\d{3})-?(\d{8})$")


def awb_problem(text: str) -> tuple[str | None, str | None]:
    """(normalised AWB "NNN-NNNNNNNN", None) or (None, actionable problem)."""
    m = _AWB.match(text.strip())
    if not m:
        return None, f"{text.strip()[:40]!r} is not an air waybill number (NNN-NNNNNNNN)"
    prefix, serial = m.groups()
    expected = int(serial[:7]) % 7
    if expected != int(serial[7]):
        return None, f"AWB {prefix}-{serial}: check digit should be {expected}"
    return f"{prefix}-{serial}", None


def split_flight(flight: str | None) -> tuple[str | None, str | None]:
    """("LH", "LH400") from "LH400"; (carrier, None) from a bare carrier code; (None, None) otherwise."""
    if not flight:
        return None, None
    m = re.match(r"^([A-Z][A-Z0-9]|[0-9][A-Z])\s*(\d{1,5}[A-Z]?)?$", flight.strip().upper())
    if not m:
        return None, flight.strip()[:16] or None
    carrier, number = m.groups()
    return carrier, (carrier + number) if number else None



def partial_pieces(split: str | None, pieces: int | None, total: int | None) -> int | None:
    """The pieces a status concerns when it concerns part of the shipment: shipment description code P, or fewer
    pieces than the shipment's total; None for the whole shipment or when unknown (ShipmentRefs.pieces)."""
    if pieces is None or pieces < 1:
        return None
    if (split or "").upper() == "P" or (total is not None and pieces < total):
        return pieces
    return None
