"""The route table: the seed corridors' real alternatives (Suez or the Cape; Alashankou - Dostyk or Khorgos;
Brest - Malaszewicze; Liege, Brussels, Amsterdam, Frankfurt or Madrid by air), as one small graph per mode.

Data and sources: `streams/core/data/routes.toml`. Pure: no I/O after the table is read (once, from the
package), no clock. Used to re-derive a diverted unit's remaining route (`streams.core.diversion`) and for leg
distances in CO2e (`streams.core.co2e`)."""

from __future__ import annotations

import heapq
import math
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from schemas import Mode

KM_PER_NM = 1.852
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Segment:
    mode: Mode
    a: str
    b: str
    km: float
    hours: float
    route: str  # the alternative it belongs to: "Suez", "Cape", "Khorgos"...
    via: str


@dataclass(frozen=True, slots=True)
class Route:
    """A path through the table: its stops, segments, length and typical transit."""

    mode: Mode
    segments: tuple[Segment, ...]

    @property
    def stops(self) -> tuple[str, ...]:
        return (self.segments[0].a, *(s.b for s in self.segments)) if self.segments else ()

    @property
    def km(self) -> float:
        return sum(s.km for s in self.segments)

    @property
    def hours(self) -> float:
        return sum(s.hours for s in self.segments)

    @property
    def names(self) -> tuple[str, ...]:
        """The alternatives it takes, in order, without repeats (e.g. ("Malacca", "Cape"))."""
        out: list[str] = []
        for s in self.segments:
            if not out or out[-1] != s.route:
                out.append(s.route)
        return tuple(out)


def great_circle_km(p: tuple[float, float], q: tuple[float, float]) -> float:
    """Haversine distance on a sphere of the Earth's mean radius."""
    (la1, lo1), (la2, lo2) = (tuple(map(math.radians, x)) for x in (p, q))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


class RouteTable:
    def __init__(self, places: dict[str, tuple[float, float, str]], segments: list[Segment]) -> None:
        self.places = places
        self.segments = segments
        self._out: dict[tuple[Mode, str], list[Segment]] = {}
        for s in segments:
            self._out.setdefault((s.mode, s.a), []).append(s)
            rev = Segment(s.mode, s.b, s.a, s.km, s.hours, s.route, s.via)
            self._out.setdefault((s.mode, s.b), []).append(rev)

    def position(self, code: str) -> tuple[float, float] | None:
        p = self.places.get(code)
        return (p[0], p[1]) if p else None

    def knows(self, code: str, mode: Mode) -> bool:
        return (mode, code) in self._out

    def shortest(self, a: str, b: str, mode: Mode, *, avoid: frozenset[str] = frozenset()) -> Route | None:
        """The shortest path (by distance) from a to b by `mode`, through no place in `avoid`; None if none."""
        return _shortest(self, a, b, mode, avoid)

    def alternatives(self, a: str, b: str, mode: Mode) -> list[Route]:
        """The shortest path, then the shortest one avoiding each intermediate stop of those found (a small
        Yen-like search: enough for a table of a few dozen segments), distinct, shortest first."""
        first = self.shortest(a, b, mode)
        if first is None:
            return []
        found = {first.stops: first}
        queue = [first]
        while queue and len(found) < 8:
            r = queue.pop(0)
            for stop in r.stops[1:-1]:
                alt = self.shortest(a, b, mode, avoid=frozenset({stop}))
                if alt is not None and alt.stops not in found:
                    found[alt.stops] = alt
                    queue.append(alt)
        return sorted(found.values(), key=lambda r: (r.km, r.stops))


@lru_cache(maxsize=4096)
def _shortest(table: RouteTable, a: str, b: str, mode: Mode, avoid: frozenset[str]) -> Route | None:
    if a == b:
        return Route(mode, ())
    best: dict[str, float] = {a: 0.0}
    heap: list[tuple[float, str, tuple[Segment, ...]]] = [(0.0, a, ())]
    while heap:
        d, node, path = heapq.heappop(heap)
        if node == b:
            return Route(mode, path)
        if d > best.get(node, math.inf):
            continue
        for s in table._out.get((mode, node), ()):
            if s.b in avoid:
                continue
            nd = d + s.km
            if nd < best.get(s.b, math.inf):
                best[s.b] = nd
                heapq.heappush(heap, (nd, s.b, (*path, s)))
    return None


def road_fallback(t: RouteTable, a: str, b: str, mode: Mode) -> Route | None:
    """A road route the table has no segments for (an airport a flight was diverted to, to where its cargo was
    going): one segment of great-circle x the road adjustment factor (`[distance] road_factor`), at the table's
    typical truck speed (`[speeds_kmh] ROAD`, rests included). None for other modes or unknown positions."""
    if mode is not Mode.ROAD or a == b:
        return None
    pa, pb = t.position(a), t.position(b)
    if pa is None or pb is None:
        return None
    km = round(surface_or_air_km(Mode.ROAD, pa, pb), 1)
    hours = round(km / float(_raw()["speeds_kmh"]["ROAD"]), 1)
    how = f"great-circle x {distance_rules().factor(Mode.ROAD)}"
    return Route(Mode.ROAD, (Segment(Mode.ROAD, a, b, km, hours, "road", how),))


@dataclass(frozen=True, slots=True)
class DistanceRules:
    air_extra_km: float
    factors: tuple[tuple[Mode, float], ...]

    def factor(self, mode: Mode) -> float:
        return dict(self.factors).get(mode, 1.0)


@cache
def _raw() -> dict:
    return tomllib.loads(files("streams.core").joinpath("data/routes.toml").read_text("utf-8"))


@cache
def distance_rules() -> DistanceRules:
    d = _raw()["distance"]
    return DistanceRules(float(d["air_extra_km"]), (
        (Mode.ROAD, float(d["road_factor"])), (Mode.RAIL, float(d["rail_factor"])),
        (Mode.SEA, float(d["sea_factor"])), (Mode.BARGE, float(d["barge_factor"])),
    ))  # fmt: skip


@cache
def table() -> RouteTable:
    """The route table shipped with corridor."""
    return build(_raw())


def build(raw: dict) -> RouteTable:
    """A RouteTable from the TOML structure of `data/routes.toml` (tests build small ones)."""
    places = {k: (float(v["lat"]), float(v["lon"]), str(v.get("name", k))) for k, v in raw["places"].items()}
    speeds = {Mode(k): float(v) for k, v in raw["speeds_kmh"].items()}
    segments = []
    for s in raw["segments"]:
        mode = Mode(s["mode"])
        if "km" in s:
            km = float(s["km"])
        elif "nm" in s:
            km = float(s["nm"]) * KM_PER_NM
        else:
            km = surface_or_air_km(mode, places[s["a"]][:2], places[s["b"]][:2])
        hours = float(s["hours"]) if "hours" in s else km / speeds[mode]
        segments.append(Segment(mode, s["a"], s["b"], round(km, 1), round(hours, 1), s.get("route", ""),
                                s.get("via", "")))  # fmt: skip
    return RouteTable(places, segments)


def surface_or_air_km(mode: Mode, p: tuple[float, float], q: tuple[float, float]) -> float:
    """A distance from positions alone, the GLEC way: air great-circle + the air allowance; surface modes
    great-circle x the mode's adjustment factor (`data/emissions.toml`)."""
    rules = distance_rules()
    gc = great_circle_km(p, q)
    if mode is Mode.AIR:
        return gc + rules.air_extra_km
    return gc * rules.factor(mode)
