"""CO2e per leg and per unit, well-to-wheel, in the manner of ISO 14083 and the GLEC Framework: for each leg,
distance (km) x cargo mass (t) x the mode's default intensity (g CO2e per tonne-km).

- Distances: sea and rail by route from the route table (`streams.core.routes`: Suez or Cape, Alashankou or
  Khorgos...), otherwise great-circle x the mode's adjustment factor; air great-circle + 95 km.
- A diverted unit's legs from where it left the plan to where it rejoins it are counted along the route it really
  took (e.g. Singapore - Cape Town - Rotterdam), so CO2e is recomputed when a unit is diverted.
- Mass: the plan's `cargo_tonnes`, else the unit kind's default (and the result says which).

Factors, their sources and basis: `streams/core/data/emissions.toml`. Pure: no I/O after the data is read."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from itertools import pairwise
from typing import Any

from schemas import Mode
from streams.core.routes import distance_rules, great_circle_km, surface_or_air_km, table


@dataclass(frozen=True, slots=True)
class Factor:
    mode: Mode
    vehicle: str
    g_per_tkm: float
    basis: str
    source: str


@cache
def _data() -> dict[str, Any]:
    return tomllib.loads(files("streams.core").joinpath("data/emissions.toml").read_text("utf-8"))


@cache
def factors() -> dict[Mode, Factor]:
    return {Mode(k): Factor(Mode(k), v["vehicle"], float(v["g_per_tkm"]), v["basis"], v["source"])
            for k, v in _data()["factors"].items()}  # fmt: skip


@cache
def default_payloads() -> dict[str, float]:
    return {k: float(v) for k, v in _data()["payload_t"].items()}


@lru_cache(maxsize=8192)
def distance(mode: Mode, a: str, b: str) -> tuple[float | None, str]:
    """(km, how it was found) for one hop: by the route table, else from positions; (None, why) if neither."""
    t = table()
    if mode is not Mode.AIR:
        r = t.shortest(a, b, mode)
        if r is not None and r.segments:
            return r.km, "route table: " + " / ".join(r.names)
    pa, pb = t.position(a), t.position(b)
    if pa is None or pb is None:
        return None, f"no position for {a if pa is None else b}"
    if mode is Mode.AIR:
        return surface_or_air_km(mode, pa, pb), f"great-circle {great_circle_km(pa, pb):.0f} km + " \
            f"{distance_rules().air_extra_km:.0f} km"  # fmt: skip
    return surface_or_air_km(mode, pa, pb), f"great-circle x {distance_rules().factor(mode)}"


@dataclass(frozen=True, slots=True)
class Hop:
    """What the cargo travelled (or is planned to travel) on one or more plan legs: `stops` in order."""

    first_leg: int
    last_leg: int
    mode: Mode
    stops: tuple[str, ...]
    diverted: bool = False


def hops_of(legs: Sequence[Any], diverted: tuple[int, int, tuple[str, ...], tuple[Mode, ...]] | None = None
            ) -> list[Hop]:  # fmt: skip
    """One hop per plan leg; with `diverted` = (first leg, last leg, stops actually travelled, the mode between each
    two stops), those legs are one hop along the stops per mode travelled (e.g. (1, 1, ("SGSIN", "ZACPT", "NLRTM"),
    (SEA, SEA)): one sea hop; an aircraft diverted to Brussels and trucked on, (0, 1, ("HKHKG", "BEBRU", "ESMAD"),
    (AIR, ROAD)): an air hop and a road hop)."""
    out: list[Hop] = []
    i = 0
    while i < len(legs):
        if diverted is not None and i == diverted[0]:
            first, last, stops, modes = diverted
            start = 0
            for k in range(1, len(modes) + 1):  # a hop per run of one mode
                if k == len(modes) or modes[k] != modes[start]:
                    out.append(Hop(first, last, modes[start], stops[start: k + 1], True))
                    start = k
            i = last + 1
            continue
        g = legs[i]
        out.append(Hop(i, i, g.mode, (g.origin, g.destination)))
        i += 1
    return out


def estimate(hops: Sequence[Hop], tonnes: float, tonnes_source: str) -> dict[str, Any]:
    """The `co2e` of a timeline: per hop km, factor and kg; the total (None if a hop has no distance or factor)."""
    table = factors()
    rows: list[dict[str, Any]] = []
    total: float | None = 0.0
    for h in hops:
        km: float | None = 0.0
        methods = []
        for a, b in pairwise(h.stops):
            d, how = distance(h.mode, a, b)
            methods.append(how)
            km = None if d is None or km is None else km + d
        f = table.get(h.mode)
        kg = None if km is None or f is None else km * tonnes * f.g_per_tkm / 1000
        total = None if kg is None or total is None else total + kg
        rows.append({
            "leg_index": h.first_leg, "last_leg_index": h.last_leg, "mode": h.mode, "stops": list(h.stops),
            "km": None if km is None else round(km, 1), "distance": "; ".join(dict.fromkeys(methods)),
            "g_per_tkm": f.g_per_tkm if f else None, "vehicle": f.vehicle if f else None,
            "kg": None if kg is None else round(kg, 1), "diverted": h.diverted,
        })  # fmt: skip
    return {"kg": None if total is None else round(total, 1), "tonnes": tonnes, "tonnes_source": tonnes_source,
            "basis": "well-to-wheel (ISO 14083 / GLEC v3 default factors)", "legs": rows}  # fmt: skip


def tonnes_of(cargo_tonnes: float | None, unit_kind: str) -> tuple[float, str]:
    if cargo_tonnes is not None:
        return cargo_tonnes, "plan"
    return default_payloads().get(unit_kind, 10.0), f"default for {unit_kind} (no cargo_tonnes in the plan)"


@lru_cache(maxsize=4096)  # one plan (and diversion) serves every record of its unit
def for_plan(legs: tuple[Any, ...], cargo_tonnes: float | None, unit_kind: str,
             diverted: tuple[int, int, tuple[str, ...], tuple[Mode, ...]] | None = None) -> dict[str, Any]:  # fmt: skip
    """A unit's CO2e for its plan's legs (LegRecords or Legs), along a diversion if any."""
    tonnes, source = tonnes_of(cargo_tonnes, unit_kind)
    return estimate(hops_of(legs, diverted), tonnes, source)
