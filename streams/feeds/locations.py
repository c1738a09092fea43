"""UN/LOCODE knowledge: which codes we know, their IANA time zone, position and IATA code.

The tables in data/ are built by data/build_locodes.py (its docstring says from what). A code missing from the
table is *unknown*, never guessed: `locode_zone` then falls back only to the zone of a country that has exactly one
(a German place is on Europe/Berlin wherever it is), and returns None otherwise. Nothing here ever assumes UTC."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SYNTAX = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")


class LocationError(ValueError):
    """A location code that cannot be used; the message is meant for the person fixing the feed."""


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    lat: float
    lon: float
    tz: str
    iata: str


@cache
def _places() -> dict[str, Place]:
    text = (files(__package__) / "data" / "locodes.csv").read_text(encoding="utf-8")
    return {
        r["locode"]: Place(r["name"], float(r["lat"]), float(r["lon"]), r["tz"], r["iata"])
        for r in csv.DictReader(text.splitlines())
    }


@cache
def _countries() -> dict[str, str]:
    text = (files(__package__) / "data" / "countries.csv").read_text(encoding="utf-8")
    return {r["country"]: r["zone"] for r in csv.DictReader(text.splitlines())}


@cache
def _by_iata() -> dict[str, str]:
    return {p.iata: code for code, p in sorted(_places().items()) if p.iata}


def _compact(code: object) -> str:
    return code.replace(" ", "").strip().upper() if isinstance(code, str) else ""


def is_known_locode(code: object) -> bool:
    """True if the code is in our UN/LOCODE table (seaports, dry ports, hubs, cargo airports)."""
    return _compact(code) in _places()


def is_country(cc: object) -> bool:
    return isinstance(cc, str) and cc.upper() in _countries()


def check_locode(value: object) -> str:
    """The compact code, or LocationError. Codes of a real country are accepted even when our table lacks them
    (the table is a few thousand of the ~116,000 codes); a made-up country is not."""
    code = _compact(value)
    if not _SYNTAX.match(code):
        raise LocationError(f"location {str(value)[:20]!r} is not a UN/LOCODE (2-letter country + 3 characters)")
    if code not in _places() and code[:2] not in _countries():
        raise LocationError(f"location {code} is not a UN/LOCODE we know ({code[:2]} is not a country code)")
    return code


@lru_cache(maxsize=4096)
def locode_zone(code: object) -> ZoneInfo | None:
    """IANA zone of a location (for local times without offset), or None when unknown."""
    c = _compact(code)
    place = _places().get(c)
    name = place.tz if place and place.tz else _countries().get(c[:2], "")
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # the host's tz database lacks it: unknown, not UTC
        return None


def locode_position(code: object) -> tuple[float, float] | None:
    """(lat, lon) in degrees, for geofences; None when the code is not in our table."""
    place = _places().get(_compact(code))
    return (place.lat, place.lon) if place else None


def locode_name(code: object) -> str | None:
    place = _places().get(_compact(code))
    return place.name if place else None


def locode_for_iata(iata_code: object) -> str | None:
    """UN/LOCODE of an IATA airport/city code (LGG -> BELGG), when the table has it."""
    return _by_iata().get(_compact(iata_code)) if isinstance(iata_code, str) else None
