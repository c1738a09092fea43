"""Calibrating the published band against what happened (split-conformal, per side): docs/learning.md,
"Calibration".

The composed band (`forecast`) is built from learned distributions under assumptions (independent components,
a sketch bucket's resolution, a small-sample widening) that can make it too wide or too narrow: one day before
arrival, a truck's 34 h drive is known to +-1%, finer than a sketch bucket (4%), and its band held every arrival.
Calibration measures, on a history, where actual arrivals fell relative to the band that stood then, and scales
each side of the bands published afterwards so that 10% fall below p10 and 10% above p90.

What is measured (`observe`): for a standing ETA band (p10, p50, p90) and the actual arrival, the error in units
of the band's side: (actual - p50) / (p90 - p50) when it came at or after the median, (p50 - actual) / (p50 - p10)
before it, in per mille; kept as sketches under `Z|side|lane|horizon|model` and `Z|side|*|horizon|model`
(`side`: hi or lo; `horizon`: the band's time to its median when published, in the backtest's classes 1, 3, 7
and 14 days; `model`: L for a learned band, P for the plan model's). They come from a history (`corridor learn`,
or a backtest's training run: `streams.processing.backtest.learn`), so they live in the prior, read-only.

What is applied (`calibrate`): a side's scale is the quantile of its measured errors that leaves `OUTSIDE` (7.5%)
of all arrivals beyond it: with a share `f` of arrivals on that side, the (1 - OUTSIDE / f) quantile, never below
`LIMITS[0]` (0.8) of the composed side. With fewer than `MIN_SAMPLES` measured, nothing is scaled. The median
never moves. Pure and deterministic: the same prior, band and time give the same bytes.

Why 7.5% and 0.8, not 10% and 0.25: the errors are measured on a month's history cross-fitted by departure (the
backtest's `heldout_band_errors`: each half of the departures predicted by a model learned from the other half),
and a month of one lane holds about 20 departures whose units share their train's or sailing's delay. A scale from
so few independent departures is noisy, and a band narrowed to the measured 80% missed the next month's
departures by up to 20 points (docs/learning.md, "Calibration"): aiming at 85% and never narrowing a side by more
than a fifth keeps that noise inside the 75-90% target."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from streams.core.learning.sketch import Sketch

Forecast = Any  # a `forecast.Forecast`, not imported: the forecast imports this module (`CALIBRATED`)

CALIBRATED = 32  # a forecast's `learned` bit: its band was scaled here (`forecast.model_name` says so)
MIN_SAMPLES = 60  # measured errors (both sides) per lane, or over all lanes, horizon class and model, before scaling
OUTSIDE = 0.075  # the share of arrivals aimed to fall beyond each of p10 and p90 (10% nominal, 7.5% for the noise)
LIMITS = (0.8, 4.0)  # a side is never narrowed below 0.8 or widened beyond four times what the composition gave
ANY_LANE = "*"
_H = timedelta(hours=1)
_MIN = timedelta(minutes=1)
# Horizon classes: the backtest's 1, 3, 7 and 14 days, split at their geometric means.
_EDGES = ((41.0, "1"), (110.0, "3"), (238.0, "7"))


def horizon_class(hours: float) -> str:
    for edge, name in _EDGES:
        if hours < edge:
            return name
    return "14"


@lru_cache(maxsize=4096)
def keys(side: str, lane: str | None, horizon: str, model: str) -> tuple[str, ...]:
    generic = f"Z|{side}|{ANY_LANE}|{horizon}|{model}"
    return (f"Z|{side}|{lane}|{horizon}|{model}", generic) if lane else (generic,)


def observe(lane: str | None, published: datetime, band: tuple[datetime, datetime, datetime], learned: bool,
            actual: datetime) -> list[tuple[str, float]]:  # fmt: skip
    """What one standing band (p10, p50, p90, published at `published`) and its actual arrival teach: (key,
    value) pairs. Nothing for a side of no width."""
    lo, mid, hi = band
    horizon = horizon_class(max(0.0, (mid - published) / _H))
    model = "L" if learned else "P"
    if actual >= mid:
        side, width, error = "hi", hi - mid, actual - mid
    else:
        side, width, error = "lo", mid - lo, mid - actual
    if width <= timedelta(0):
        return []
    value = round(1000 * (error / width))
    return [(k, value) for k in keys(side, lane, horizon, model)]


def _scale(model: Mapping[str, Sketch], side_keys: tuple[str, str]) -> float | None:
    """The scale of one side from the sketches of both sides (its own first)."""
    own, other = (model.get(k) for k in side_keys)
    n_own = own.n if own is not None else 0
    n = n_own + (other.n if other is not None else 0)
    if own is None or n < MIN_SAMPLES:
        return None
    share = n_own / n
    p = max(0.0, 1 - OUTSIDE / share) if share > OUTSIDE else 0.0
    (q,) = own.quantiles((p,))
    return min(LIMITS[1], max(LIMITS[0], q / 1000))


class Calibration:
    """The scales a prior's measured errors give, cached per (lane, horizon class, model)."""

    def __init__(self, prior: Mapping[str, Sketch]) -> None:
        self.model = prior
        self.active = any(k.startswith("Z|") for k in prior)
        self._cache: dict[tuple[str | None, str, str], tuple[float | None, float | None]] = {}

    def scales(self, lane: str | None, horizon: str, model: str) -> tuple[float | None, float | None]:
        ck = (lane, horizon, model)
        hit = self._cache.get(ck)
        if hit is None:
            lo = hi = None
            for lane_ in ((lane, ANY_LANE) if lane else (ANY_LANE,)):
                lo_keys = (f"Z|lo|{lane_}|{horizon}|{model}", f"Z|hi|{lane_}|{horizon}|{model}")
                lo = lo if lo is not None else _scale(self.model, lo_keys)
                hi = hi if hi is not None else _scale(self.model, (lo_keys[1], lo_keys[0]))
            hit = self._cache[ck] = (lo, hi)
        return hit

    def calibrate(self, band: Forecast, as_of: datetime, lane: str | None) -> Forecast:
        """`band` with each side scaled as the measured errors say; unchanged where too few were measured."""
        if not self.active:
            return band
        horizon = horizon_class(max(0.0, (band.mid - as_of) / _H))
        s_lo, s_hi = self.scales(lane, horizon, "L" if band.learned else "P")
        if s_lo is None and s_hi is None:
            return band
        lo = band.mid - _MIN * round(s_lo * ((band.mid - band.lo) / _MIN)) if s_lo is not None else band.lo
        hi = band.mid + _MIN * round(s_hi * ((band.hi - band.mid) / _MIN)) if s_hi is not None else band.hi
        return band._replace(lo=lo, hi=hi, learned=band.learned | CALIBRATED)
