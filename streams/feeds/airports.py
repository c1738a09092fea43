"""IATA airport codes -> UN/LOCODE and IANA time zone, for the air cargo adapters (FSU, XFSU, ONE Record).

Air cargo messages name places by IATA airport code and give local times without an offset. An adapter needs
both the UN/LOCODE (the canonical event's `location`) and the airport's time zone (to turn the local time into
UTC). Both come from the `airportsdata` package (IATA code, country, IANA zone, and IATA's multi-airport city
table). An unknown airport gives None: the parsers reject the status with "unknown airport XXX" and never fall
back to UTC.

Which UN/LOCODE an airport gets, first rule that applies:

1. `LOCODE_OVERRIDES`: airports whose city's UN/LOCODE is not country + IATA code (Canada's Y-codes: YYZ ->
   CATOR; British cities with their own code: MAN -> GBMNC, BFS -> GBBEL; ...).
2. IATA multi-airport cities listed in `METRO_LOCODES` (city codes that are also the city's UN/LOCODE): the airport
   takes the city's code: JFK and LGA -> USNYC, CDG and ORY -> FRPAR, LHR -> GBLON, NRT and HND -> JPTYO,
   PVG -> CNSHA, ICN -> KRSEL. The city, not the airport's own entry (UN/LOCODE also lists USJFK), because freight
   plans name the city and carriers switch flights between a city's airports. Airports far from the city that
   the IATA table still files under it (Charleroi, Sandefjord-Torp, Dallas Love Field) are excluded.
3. `streams.feeds.locations.locode_for_iata`, when that module is installed and knows the airport (the UN/LOCODE
   table's IATA column).
4. Otherwise country + IATA code: UN/LOCODE gives a place the IATA code as its three letters where one exists
   (FRA -> DEFRA, LGG -> BELGG, HKG -> HKHKG, MAD -> ESMAD, DOH -> QADOH).

The rule is a best effort without the full UN/LOCODE list (IATA codes are sometimes reused by UN/LOCODE for
another place): extend `LOCODE_OVERRIDES` when a plan names an airport's place differently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_IATA = re.compile(r"^[A-Z]{3}$")
_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")

# Airports whose place's UN/LOCODE is not country + IATA code and not the IATA city code.
LOCODE_OVERRIDES: dict[str, str] = {
    # Canada: IATA Y-codes, UN/LOCODEs named after the city
    "YYZ": "CATOR",  # Toronto Pearson
    "YTZ": "CATOR",  # Toronto Billy Bishop
    "YUL": "CAMTR",  # Montreal Trudeau
    "YMX": "CAMTR",  # Montreal Mirabel
    "YVR": "CAVAN",  # Vancouver
    "YYC": "CACAL",  # Calgary
    "YEG": "CAEDM",  # Edmonton
    "YWG": "CAWNP",  # Winnipeg
    "YOW": "CAOTT",  # Ottawa
    "YHZ": "CAHAL",  # Halifax
    # United Kingdom: city codes differ from the airport codes
    "MAN": "GBMNC",  # Manchester
    "BHX": "GBBHM",  # Birmingham
    "GLA": "GBGLW",  # Glasgow
    "LPL": "GBLIV",  # Liverpool
    "BFS": "GBBEL",  # Belfast International
    "BHD": "GBBEL",  # Belfast City
    # Berlin Tegel, closed in 2020, still appears in old messages
    "TXL": "DEBER",
}

# IATA multi-airport city codes that are also the city's UN/LOCODE (three letters, with the country in front).
METRO_LOCODES: frozenset[str] = frozenset(
    {
        "BJS", "BKK", "BRU", "BUE", "CHI", "DFW", "DKR", "DXB", "HOU", "IEV", "IST", "JKT", "JNB", "LON", "MEL",
        "MIL", "MOW", "NGO", "NYC", "OSA", "OSL", "PAR", "RIO", "ROM", "SAO", "SEL", "SHA", "STO", "THR", "TPE",
        "TYO", "WAS",
    }
)  # fmt: skip
# Filed under a city in IATA's table but a place of their own (rule 4 applies).
METRO_EXCLUDED: frozenset[str] = frozenset({"CRL", "TRF", "DAL"})


@dataclass(frozen=True, slots=True)
class Airport:
    iata: str
    locode: str
    zone: ZoneInfo
    name: str
    country: str


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, dict], dict[str, str]]:
    """(IATA airports, airport -> city code) from airportsdata; loaded on first use (about 0.15 s)."""
    import airportsdata

    airports = airportsdata.load("IATA")
    metro: dict[str, str] = {}
    for city, entry in airportsdata.load_iata_macs().items():
        for code, ap in entry.get("airports", {}).items():
            if ap.get("country") == entry.get("country"):  # the table has a few country mix-ups
                metro[code] = city
    return airports, metro


@lru_cache(maxsize=1)
def _locations_lookup() -> Callable[[str], str | None] | None:
    """The UN/LOCODE table's IATA column (streams.feeds.locations), when that module is installed."""
    try:
        from streams.feeds import locations  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(locations, "locode_for_iata", None)


def _locode(iata: str, country: str) -> str:
    if iata in LOCODE_OVERRIDES:
        return LOCODE_OVERRIDES[iata]
    city = _tables()[1].get(iata)
    if city in METRO_LOCODES and iata not in METRO_EXCLUDED:
        return country + city
    lookup = _locations_lookup()
    if lookup is not None:
        try:
            found = lookup(iata)
        except Exception:  # another module's data problem must not break air cargo parsing
            found = None
        if isinstance(found, str) and _LOCODE.match(found) and found[:2] == country:
            return found
    return country + iata


def airport(code: str) -> Airport | None:
    """The airport with this IATA code, or None when the code is unknown or has no usable time zone."""
    code = code.strip().upper() if isinstance(code, str) else ""
    return _airport(code) if _IATA.match(code) else None


@cache  # keys are three letters: at most 17,576 entries
def _airport(code: str) -> Airport | None:
    entry = _tables()[0].get(code)
    if not entry:
        return None
    country = str(entry.get("country") or "")
    try:
        zone = ZoneInfo(str(entry.get("tz") or ""))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    if not re.match(r"^[A-Z]{2}$", country):
        return None
    locode = _locode(code, country)
    if not _LOCODE.match(locode):
        return None
    return Airport(iata=code, locode=locode, zone=zone, name=str(entry.get("name") or code), country=country)


def locode_for(code: str) -> str | None:
    found = airport(code)
    return found.locode if found else None


def zone_for(code: str) -> ZoneInfo | None:
    found = airport(code)
    return found.zone if found else None


@lru_cache(maxsize=1)
def _zones_by_locode() -> dict[str, ZoneInfo]:
    zones: dict[str, ZoneInfo] = {}
    for code in sorted(_tables()[0]):
        found = airport(code)
        if found is not None:
            zones.setdefault(found.locode, found.zone)
    return zones


def zone_for_locode(locode: str) -> ZoneInfo | None:
    """Time zone of a UN/LOCODE (for messages that give a UN/LOCODE and a local time): the zone of an airport
    whose place it is (DEFRA, USNYC...), else streams.feeds.locations' table when installed, else None."""
    code = locode.replace(" ", "").upper() if isinstance(locode, str) else ""
    if not _LOCODE.match(code):
        return None
    found = _zones_by_locode().get(code)
    if found is None:
        try:
            from streams.feeds.locations import locode_zone  # the UN/LOCODE table, when installed
        except ImportError:
            return None
        try:
            zone = locode_zone(code)
        except Exception:  # another module's data problem must not break air cargo parsing
            return None
        found = zone if isinstance(zone, ZoneInfo) else None
    return found
