"""The soak's arithmetic, apart from its plumbing (tested in tests/unit/bench/test_soak_stats.py): the
least-squares slope of RSS over time with its confidence interval, the verdict on it, where the steady phase
starts (every bounded cache full or stable), and quantiles of Prometheus histograms.

What "flat within noise" means here. A worker's RSS wanders by a few MB from minute to minute (allocator
arenas, RocksDB memtables filling and flushing, garbage collection), so a slope fitted to a short run is never
exactly zero. The verdict therefore takes both the noise and what matters to an operator into account:
- the slope is fitted over the steady phase only: from the first sample at which every bounded cache (the
  engines' decoded units, shipments and rides, the lru caches, RocksDB's budget) is full or has stopped filling
  (`steady_from`), so that caches filling towards their bounds do not count as growth;
- **flat within noise**: the slope's 95% confidence interval contains zero (the data cannot tell it from no
  growth) *and* its upper end is below the growth budget: the rate at which the worker would reach its memory
  target (1 GB, docs/performance.md) from its current RSS in 24 hours. So a run too noisy or too short to rule out
  a leak that matters is not called flat;
- **grows**: the whole interval is above zero; reported with the hours to the target at that slope;
- **grows within budget**: the whole interval is above zero and below the budget: a real but slow growth (a
  worker's allocator settling, or a small leak) that a 30-minute run cannot tell apart, and that would not reach
  the target within the horizon;
- **falls**: the whole interval is below zero (memory given back after the warm-up): no leak;
- **inconclusive**: the interval contains zero but reaches past the budget: run longer."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Two-sided 95% quantiles of Student's t by degrees of freedom (1 to 30); 1.96 beyond.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(df: int) -> float:
    if df < 1:
        return math.inf
    return _T95[df - 1] if df <= len(_T95) else 1.96


@dataclass(frozen=True)
class Fit:
    slope: float  # units of y per unit of x
    intercept: float
    stderr: float  # standard error of the slope (inf with fewer than 3 points)
    residual_sd: float  # scatter of the points about the line
    n: int

    @property
    def half_width(self) -> float:
        """Half the width of the slope's 95% confidence interval."""
        return t95(self.n - 2) * self.stderr

    @property
    def low(self) -> float:
        return self.slope - self.half_width

    @property
    def high(self) -> float:
        return self.slope + self.half_width


def fit(xs: Sequence[float], ys: Sequence[float]) -> Fit:
    """Ordinary least squares y = intercept + slope * x."""
    n = len(xs)
    if n != len(ys) or n < 2:
        raise ValueError("need at least two (x, y) points")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("the x values are all equal")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    sse = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    if n < 3:
        return Fit(slope, intercept, math.inf, 0.0, n)
    residual_sd = math.sqrt(sse / (n - 2))
    return Fit(slope, intercept, residual_sd / math.sqrt(sxx), residual_sd, n)


def second_half(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """The points from the middle of the run's span on."""
    middle = (xs[0] + xs[-1]) / 2
    keep = [(x, y) for x, y in zip(xs, ys, strict=True) if x >= middle]
    return [x for x, _ in keep], [y for _, y in keep]


@dataclass(frozen=True)
class Verdict:
    word: str  # flat within noise | grows | grows within budget | falls | inconclusive
    budget_mb_per_h: float  # the growth that would reach the target in `horizon_h`
    hours_to_target: float | None  # at the fitted slope, when it grows

    def __str__(self) -> str:
        text = f"{self.word} (growth budget {self.budget_mb_per_h:.1f} MB/h"
        if self.hours_to_target is not None:
            text += f"; at this slope the target is reached in {self.hours_to_target:,.1f} h"
        elif self.budget_mb_per_h == 0:
            text += "; RSS is already above the target"
        return text + ")"


def verdict(f: Fit, rss_now_mb: float, target_mb: float = 1024, horizon_h: float = 24) -> Verdict:
    """`f`: RSS in MB against time in hours (the second half of the run). See the module's docstring."""
    budget = max(target_mb - rss_now_mb, 0.0) / horizon_h
    hours = (target_mb - rss_now_mb) / f.slope if f.slope > 0 and rss_now_mb < target_mb else None
    if f.low > 0:
        return Verdict("grows within budget" if f.high <= budget else "grows", budget, hours)
    if f.high < 0:
        return Verdict("falls", budget, None)
    if f.high <= budget:
        return Verdict("flat within noise", budget, None)
    return Verdict("inconclusive", budget, None)


def histogram_delta(before: dict[float, float], after: dict[float, float]) -> dict[float, float]:
    """Cumulative bucket counts (upper bound -> count) observed between two scrapes."""
    return {le: after[le] - before.get(le, 0.0) for le in after}


def histogram_quantile(buckets: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding the q-quantile of cumulative counts (upper bound -> count, +Inf
    included), as Prometheus' histogram_quantile would bound it; None when nothing was observed. The answer is
    "at most this": the buckets are all the resolution there is."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    for le in bounds:
        if buckets[le] >= rank:
            return le
    return bounds[-1]


def mb_per_hour(samples: Iterable[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """(seconds since the start, RSS in MB) -> (hours, MB)."""
    pts = list(samples)
    return [s / 3600 for s, _ in pts], [mb for _, mb in pts]


Fill = tuple[float, float]  # (entries, bound) of one bounded cache in one sample


def unsettled(fills: Sequence[Mapping[str, Fill]], i: int, window: int = 3, tolerance: float = 0.01) -> list[str]:
    """The caches that at sample `i` are neither full (entries within `tolerance` of the bound) nor stable (grown
    by at most `tolerance` of the bound over the last `window` samples): still filling. Before `window` samples
    only a full cache is settled; a cache missing from a sample had no entries then."""
    names = sorted(set().union(*(f.keys() for f in fills[: i + 1])))
    out = []
    for name in names:
        entries, bound = fills[i].get(name, (0.0, 0.0))
        if bound <= 0:  # unbounded: not a cache that fills to a bound
            continue
        if entries >= (1 - tolerance) * bound:
            continue
        if i >= window and entries - fills[i - window].get(name, (0.0, bound))[0] <= tolerance * bound:
            continue
        out.append(name)
    return out


def steady_from(fills: Sequence[Mapping[str, Fill]], window: int = 3, tolerance: float = 0.01) -> int | None:
    """The first sample from which every bounded cache is full or stable (`unsettled` is empty), at least `window`
    samples in: the start of the steady phase, whose slope is the one that says whether memory grows. None when
    the caches were still filling at the last sample."""
    for i in range(window, len(fills)):
        if not unsettled(fills, i, window, tolerance):
            return i
    return None
