"""Positions of places for the map, from corridor's UN/LOCODE table (streams.feeds.locations)."""

from __future__ import annotations

from typing import Any

from streams.feeds.locations import LocationError, check_locode, locode_name, locode_position

# The hubs of the seed corridors (README): drawn faintly on every map for orientation, and listed by /api/hubs.
LANDMARKS = (
    "CNCKG", "CNAKL", "KZDOS", "KZALS", "KZHOR", "CNHRS", "BYBQT", "PLMAL", "DEDUI", "HUBUD", "VNHAN", "CNPIN",
    "CNSHA", "SGSIN", "EGPSD", "ZACPT", "NLRTM", "HKHKG", "BELGG", "ESMAD",
)


def place(code: str) -> dict[str, Any] | None:
    """{locode, name, lat, lon} of a known code; None for a code not in the table."""
    pos = locode_position(code)
    if pos is None:
        return None
    return {"locode": code, "name": locode_name(code), "lat": pos[0], "lon": pos[1]}


def hub_place(code: str) -> dict[str, Any]:
    """A hub as a Place, with lat/lon null when the table lacks its position; LocationError when the code
    cannot be a real place (its country does not exist)."""
    code = check_locode(code)
    return place(code) or {"locode": code, "name": None, "lat": None, "lon": None}


def landmarks() -> list[dict[str, Any]]:
    return [p for p in map(place, LANDMARKS) if p is not None]


__all__ = ["LANDMARKS", "LocationError", "hub_place", "landmarks", "place"]
