"""What the route table says about a sea lane's two ways round Africa: through Suez, or round the Cape of Good
Hope. Read by the lane summary (`streams.core.learning.observe`: did a sailing go round the Cape?) and by the
Cape-risk widening of a Suez-routed leg's band (`streams.core.diversion.cape_risk`). Pure; cached per lane."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from schemas import Mode
from streams.core.learning.forecast import CAPE, Forecast
from streams.core.routes import table

if TYPE_CHECKING:
    from streams.core.learning.knowledge import Knowledge

SUEZ_CANAL = "EGPSD"  # Port Said, the Suez Canal's northern end in the route table


@dataclass(frozen=True, slots=True)
class CapeLane:
    suez_hours: float  # typical transit through Suez
    cape_hours: float  # typical transit round the Cape
    canal_hours: float  # from the origin to the canal, through Suez: when a Suez passage is due

    @property
    def detour_hours(self) -> float:
        return self.cape_hours - self.suez_hours


@cache
def cape_lane(origin: str, destination: str) -> CapeLane | None:
    """The lane's Suez and Cape routes, when its shortest sea route goes through Suez and the table knows a way
    round the Cape; else None (the lane has no such choice)."""
    t = table()
    suez = t.shortest(origin, destination, Mode.SEA)
    if suez is None or "Suez" not in suez.names or SUEZ_CANAL not in suez.stops:
        return None
    cape = t.shortest(origin, destination, Mode.SEA, avoid=frozenset({SUEZ_CANAL}))
    if cape is None or "Cape" not in cape.names:
        return None
    to_canal = t.shortest(origin, SUEZ_CANAL, Mode.SEA)
    return CapeLane(suez.hours, cape.hours, to_canal.hours if to_canal is not None else 0.0)


@cache
def cape_places() -> frozenset[str]:
    """Places only the Cape routes go through (Cape Town): a sailing seen there went round the Cape."""
    t = table()
    on: dict[str, set[str]] = {}
    for s in t.segments:
        if s.mode is Mode.SEA:
            on.setdefault(s.a, set()).add(s.route)
            on.setdefault(s.b, set()).add(s.route)
    return frozenset(p for p, routes in on.items() if routes == {"Cape"})


def went_round_cape(origin: str, destination: str, transit_hours: float) -> bool | None:
    """Whether a completed sea leg's actual transit says it went round the Cape (nearer the Cape route's
    typical transit than the Suez route's); None when the lane has no such choice."""
    lane = cape_lane(origin, destination)
    if lane is None:
        return None
    return transit_hours > lane.suez_hours + lane.detour_hours / 2


# -- The Cape risk of a Suez-routed leg under way ------------------------------------------------------------

CAPE_WINDOW_DAYS = 30  # "recent": sailings whose route became known within this many days (event time)
CAPE_MIN_SAILINGS = 2  # fewer known sailings on the lane say nothing


def cape_share(sailings: Iterable[tuple[datetime, bool]], now: datetime,
               window: timedelta = timedelta(days=CAPE_WINDOW_DAYS)) -> tuple[int, int]:  # fmt: skip
    """(sailings round the Cape, sailings) among a lane's sailings known within `window` before `now` (event
    time): each sailing is (when, went round the Cape)."""
    recent = [cape for when, cape in sailings if now - window <= when <= now]
    return sum(recent), len(recent)


def cape_widening(origin: str, destination: str, overdue: bool, cape: int, sailings: int,
                  min_sailings: int = CAPE_MIN_SAILINGS) -> timedelta:  # fmt: skip
    """How much later than its median a Suez-routed sea leg's arrival may plausibly be, before any report says
    so: when its Suez passage is overdue and most of the lane's recent sailings went round the Cape, the whole
    Cape detour (its extra transit over Suez, from the route table); else nothing. A p90 adds it; the median
    does not move until a report (or the carrier's estimate) says the unit is going round."""
    lane = cape_lane(origin, destination)
    if lane is None or not overdue or sailings < min_sailings or cape * 2 < sailings:
        return timedelta(0)
    return timedelta(hours=lane.detour_hours)


def suez_due(origin: str, destination: str, departed: datetime, planned: timedelta,
             tolerance: timedelta) -> datetime | None:  # fmt: skip
    """When a sailing that left `origin` at `departed`, planned to take `planned` to `destination`, should have
    passed the Suez Canal if it went that way: its typical transit there (route table) plus the mode's
    tolerance. None when the lane has no Suez-or-Cape choice, or its plan already goes round the Cape (a
    planned transit nearer the Cape route's). Nothing reports a Suez passage on these plans (the canal is not a
    call; a report there would make the unit diverted), so after that moment silence no longer confirms Suez."""
    lane = cape_lane(origin, destination)
    if lane is None or went_round_cape(origin, destination, planned / timedelta(hours=1)):
        return None
    return departed + timedelta(hours=lane.canal_hours) + tolerance


def cape_risk(f: Forecast, origin: str, destination: str, departed: datetime, planned: timedelta, now: datetime,
              tolerance: timedelta, knowledge: Knowledge) -> Forecast:  # fmt: skip
    """The arrival forecast of a sea leg under way (left `origin` at `departed`), its p90 widened by the Cape
    detour when its Suez passage is overdue (`suez_due`) and most of the lane's recent sailings (as this
    partition's lane summary knows them, `Knowledge.sailings`) went round the Cape."""
    due = suez_due(origin, destination, departed, planned, tolerance)
    if due is None or now < due:
        return f
    cape, n = knowledge.sailings(origin, destination, now.date(), CAPE_WINDOW_DAYS + 1)
    wide = cape_widening(origin, destination, True, cape, n)
    if not wide:
        return f
    return Forecast(f.lo, f.mid, f.hi + wide, f.learned | CAPE)
