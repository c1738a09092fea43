"""One milestone's arrival distribution (p10, p50, p90) from the one before it: the composition over the remaining
legs and dwells. Pure and deterministic: floats only in minutes, every result rounded to the whole minute (the
plan's own arithmetic, when nothing was learned, is kept exact), so a replay writes the same bytes.

Composition. A leg's transit (or a hub's wait) is added to the milestone before it: the medians add, and the
spreads below and above the median add in quadrature (sqrt of the sum of squares), as independent components'
do. It keeps the band asymmetric (a heavy tail widens p90 more than p10), costs a few float operations per
milestone, and gives the same answer in the full derivation and the incremental engine. Waiting for a scheduled
departure is a max, taken quantile by quantile.

A carrier's estimate is evidence, not a verdict: corrected by its source's learned error (a 5% optimistic
carrier's ETA is moved later by 5% of its horizon), it is blended with the forecast in proportion to each one's
precision (1 / spread^2). Without a learned error for its source, the old rule stands: a later estimate wins."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from streams.core.learning.calibration import CALIBRATED
from streams.core.learning.holds import Hold, hold_keys, release_keys
from streams.core.learning.knowledge import Quantiles, bias_key, transit_keys, wait_key
from streams.core.learning.sketch import GAMMA

if TYPE_CHECKING:
    from streams.core.learning.knowledge import Knowledge

# What a forecast used, as bits: the ETA's reason says which model it comes from.
TRANSIT, WAIT, BIAS, CAPE = 1, 2, 4, 8  # CAPE: the Cape risk widened p90 (streams.core.learning.lanes)
HOLD = 16  # a customs hold at the hub (streams.core.learning.holds) and what was learned of holds
_MIN = timedelta(minutes=1)
_Z = 2 * 1.2816  # p10 to p90 of a normal distribution, in standard deviations
_FLOOR = 30.0  # minutes: no forecast is trusted to better than this when blending
# A learned value is known only to its sketch bucket (GAMMA - 1 wide, relative): p10 and p90 lie at least half a
# bucket from the median, even where the sample put them in the median's bucket.
RESOLUTION = (GAMMA - 1) / 2
PLAN_SPREAD = 0.10  # plan model: a leg's p10/p90 lie this fraction of its planned duration (plus tolerance) away


class Forecast(NamedTuple):
    lo: datetime  # p10
    mid: datetime  # p50: the prediction
    hi: datetime  # p90
    learned: int = 0  # TRANSIT | WAIT | BIAS: learned components it rests on


def point(t: datetime) -> Forecast:
    return Forecast(t, t, t)


def _m(x: float) -> timedelta:
    return _MIN * round(x)  # faster than timedelta(minutes=...): this runs for every milestone of every record


def _mins(d: timedelta) -> float:
    return d / _MIN


def shift(f: Forecast, d: timedelta) -> Forecast:
    return Forecast(f.lo + d, f.mid + d, f.hi + d, f.learned)


def add(f: Forecast, q: Quantiles, flag: int = 0) -> Forecast:
    """`f` plus an independent duration of quantiles `q` (minutes). Each side of `q` is at least its resolution
    (`RESOLUTION` of the median): a three-week sea transit whose p10 and p50 fell in one 4% bucket (a day wide) is
    not known to the minute below its median. Taken as exact, that empty side won any later blend with a
    carrier's estimate on that side, pinning the band's p10 to the median's half hour (simulator seeds 11/12: the
    sea lane's band held 40% of arrivals)."""
    lo, m, hi = q
    mid = f.mid + _MIN * round(m)
    res = RESOLUTION * abs(m)
    d = m - lo
    below = math.hypot((f.mid - f.lo) / _MIN, d if d > res else res)
    d = hi - m
    above = math.hypot((f.hi - f.mid) / _MIN, d if d > res else res)
    return Forecast(mid - _MIN * round(below), mid, mid + _MIN * round(above), f.learned | flag)


def at_least(f: Forecast, t: datetime) -> Forecast:
    if t <= f.lo and t <= f.mid and t <= f.hi:  # nothing to hold back (most calls): the same forecast
        return f
    return Forecast(t, f.mid if f.mid > t else t, f.hi if f.hi > t else t, f.learned)


def blend(f: Forecast, e: Forecast) -> Forecast:
    """Precision-weighted mean of two forecasts of one time; each side's spread combined as independent
    measurements' are."""
    s1 = max(_mins(f.hi - f.lo) / _Z, _FLOOR)
    s2 = max(_mins(e.hi - e.lo) / _Z, _FLOOR)
    w1, w2 = 1 / (s1 * s1), 1 / (s2 * s2)
    mid = f.mid + _m(_mins(e.mid - f.mid) * w2 / (w1 + w2))

    def side(a: float, b: float) -> float:
        a, b = max(a, _FLOOR), max(b, _FLOOR)
        return 1 / math.sqrt(1 / (a * a) + 1 / (b * b))

    below = side(_mins(f.mid - f.lo), _mins(e.mid - e.lo))
    above = side(_mins(f.hi - f.mid), _mins(e.hi - e.mid))
    return Forecast(min(mid - _m(below), mid), mid, max(mid + _m(above), mid), f.learned | e.learned)


def arrival(prev: Forecast | None, prev_kind: str | None, prev_leg: int | None, prev_location: str | None,
            prev_planned: datetime | None, planned: datetime, leg: int, location: str, mode: str,
            carrier: str | None, tolerance: timedelta, knowledge: Knowledge | None) -> Forecast:  # fmt: skip
    """An arrival: the departure before it plus the leg's learned transit, or else plus the planned transit
    (transit is not compressible) with the plan model's band."""
    if prev is None or prev_planned is None:
        return point(planned)
    if knowledge is not None and prev_kind == "DEPARTURE" and prev_leg == leg and prev_location is not None:
        q = knowledge.first(transit_keys(prev_location, location, mode, carrier))
        if q is not None:
            return add(prev, q, TRANSIT)
    gap = planned - prev_planned
    spread = _plan_spread(tolerance, gap)
    mid = prev.mid + gap
    below = math.hypot((prev.mid - prev.lo) / _MIN, spread)
    above = math.hypot((prev.hi - prev.mid) / _MIN, spread)
    return Forecast(mid - _m(below), mid, mid + _m(above), prev.learned)


@lru_cache(maxsize=4096)
def _plan_spread(tolerance: timedelta, gap: timedelta) -> float:
    return tolerance / _MIN + PLAN_SPREAD * max(gap / _MIN, 0.0)


def departure(prev: Forecast | None, prev_planned: datetime | None, planned: datetime, kind: str, location: str,
              mode: str, min_connection: timedelta, knowledge: Knowledge | None,
              now: datetime | None = None, hold: Hold | None = None) -> Forecast:  # fmt: skip
    """A departure (or delivery): dwell is compressible, so a unit running late leaves after the minimum
    connection, never before the scheduled time (the plan's rule); plus the hub's learned wait beyond that
    rule (queues at a gauge change, a missed train). `now`: the watermark, when the unit is at the hub (`prev`
    is its actual arrival): once it has waited past its rule, the wait ahead is the learned wait given it has
    lasted that long (`Knowledge.remaining`), not the unconditioned one."""
    if prev is None or prev_planned is None:
        base = point(planned)
    else:
        conn = min(planned - prev_planned, min_connection)
        base = at_least(shift(prev, conn), planned)
    if knowledge is not None:
        if hold is not None and now is not None and base.lo == base.hi:
            held = held_departure(base, hold, kind, location, mode, min_connection, planned, knowledge, now)
            if held is not None:
                return held
        key = wait_key(kind, location, mode)
        if now is not None and now > base.mid and base.lo == base.hi:
            q = knowledge.remaining(key, _mins(now - base.mid))
            if q is not None:
                return add(base, q, WAIT)
        q = knowledge.quantiles(key)
        if q is not None:
            return add(base, q, WAIT)
    return base


def held_departure(base: Forecast, hold: Hold, kind: str, location: str, mode: str, min_connection: timedelta,
                   planned: datetime, knowledge: Knowledge, now: datetime) -> Forecast | None:  # fmt: skip
    """A departure (or delivery) from a hub where the unit is held by customs (`hold`: its place, when it was
    held, when released if that is known by `now`). The release is the hold's time plus the learned hold
    duration given it has lasted until `now` (a residual, as for a wait); the departure is the release plus the
    learned wait after a release there (handling, the next scheduled departure), given it has lasted since the
    release; without enough of those, the plan's rule from the release (the minimum connection, never before the
    scheduled departure) plus the hub's usual wait. Never before the plan's rule from the arrival (`base`, a
    point). None, with too few holds learned to say when an open one ends: the caller predicts as without it."""
    _, held, released = hold
    now = max(now, released or held)  # reported before the watermark reached it: it happened all the same
    if released is None:
        lasted = _mins(now - held)
        q = knowledge.remaining_first(hold_keys(location), lasted)
        if q is None:  # too few holds learned that lasted this long: when holds end, at least not before now
            q = knowledge.first(hold_keys(location))
            if q is None:
                return None
        release = at_least(add(point(held), q, HOLD), now)  # not reported by now: not released before now
    else:
        release = point(released)
    keys = release_keys(kind, location, mode)
    q = knowledge.remaining_first(keys, _mins(now - released)) if released is not None and now > released else None
    if q is None:
        q = knowledge.first(keys)
    if q is not None:
        out = add(release, q, HOLD)
    else:
        out = at_least(shift(release, min_connection), planned)
        w = knowledge.quantiles(wait_key(kind, location, mode))
        out = add(out, w, WAIT) if w is not None else out
        out = Forecast(out.lo, out.mid, out.hi, out.learned | HOLD)
    return at_least(out, base.mid)


def with_estimate(f: Forecast, estimate: datetime, received: datetime, source: str, mode: str,
                  knowledge: Knowledge | None) -> Forecast:  # fmt: skip
    horizon = _mins(estimate - received)
    q = knowledge.quantiles(bias_key(source, mode)) if knowledge is not None and horizon >= 60 else None
    if q is None:  # no learned error for this source: a later estimate wins (carriers' ETAs are optimistic)
        return shift(f, estimate - f.mid) if estimate > f.mid else f
    e = Forecast(estimate + _m(q[0] * horizon / 1000), estimate + _m(q[1] * horizon / 1000),
                 estimate + _m(q[2] * horizon / 1000), BIAS)  # fmt: skip
    return blend(f, e)


def model_name(learned: int) -> str:
    """What the reason says about the model."""
    if not learned:
        return "plan"
    parts = [name for bit, name in ((TRANSIT, "transit"), (WAIT, "dwell"), (BIAS, "source bias"),
                                    (HOLD, "customs hold")) if learned & bit]  # fmt: skip
    name = "learned " + "+".join(parts) if parts else "plan"
    name = f"{name}; band calibrated" if learned & CALIBRATED else name
    return f"{name}; p90 widened: recent sailings on the lane went round the Cape" if learned & CAPE else name
