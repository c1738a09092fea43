"""A small, mergeable, deterministic distribution sketch: counts in fixed signed log-spaced buckets.

Why not a t-digest (or a library's): a t-digest's centroids depend on the order values arrive in, so two workers
fed the same values in another interleaving (or a replay after a rebalance) would answer differently, and
removing a value (a corrected event) is not defined. Fixed buckets make the sketch a plain multiset of bucket
indexes: adding, removing and merging are integer additions, the same values give the same sketch whatever their
order, and the encoding is a short sorted list of [bucket, count] pairs. The price is a relative error of
`GAMMA - 1` (about 4%) on each quantile, well inside what an ETA can promise.

Values are minutes (durations, delays, or per-mille ratios), of either sign."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

GAMMA = 1.04
_LOG_GAMMA = math.log(GAMMA)


def bucket(value: float) -> int:
    """0 for |value| < 1; otherwise +-(1 + floor(log_GAMMA |value|)), the sign of the value."""
    a = abs(value)
    if a < 1.0:
        return 0
    i = 1 + math.floor(math.log(a) / _LOG_GAMMA)
    return i if value > 0 else -i


@lru_cache(maxsize=4096)  # read for every quantile of every sketch the job recomputes as it learns
def representative(index: int) -> float:
    """The value a bucket stands for: the geometric middle of its bounds, rounded to a hundredth."""
    if index == 0:
        return 0.0
    a = GAMMA ** (abs(index) - 0.5)
    return round(a if index > 0 else -a, 2)


class Sketch:
    """A multiset of values, kept as bucket counts. Not thread-safe; small (tens of buckets in practice)."""

    __slots__ = ("counts", "n")

    def __init__(self, counts: dict[int, int] | None = None) -> None:
        self.counts: dict[int, int] = {k: v for k, v in (counts or {}).items() if v > 0}
        self.n = sum(self.counts.values())

    def add(self, value: float, times: int = 1) -> None:
        b = bucket(value)
        c = self.counts.get(b, 0) + times
        if c > 0:
            self.counts[b] = c
        else:
            self.counts.pop(b, None)
        self.n = sum(self.counts.values()) if c < 0 else self.n + times

    def remove(self, value: float) -> None:
        """Take back one value added before (a corrected or retracted observation)."""
        self.add(value, -1)

    def merge(self, other: Sketch) -> Sketch:
        out = Sketch(dict(self.counts))
        for k, v in other.counts.items():
            out.counts[k] = out.counts.get(k, 0) + v
        out.n = self.n + other.n
        return out

    def quantiles(self, qs: Iterable[float]) -> tuple[float, ...]:
        """The values at ranks q * (n - 1), interpolated between neighbouring ranks' buckets (`qs` ascending: one
        pass over the buckets for all of them)."""
        if self.n == 0:
            raise ValueError("an empty sketch has no quantiles")
        counts = self.counts
        keys = sorted(counts)
        last = len(keys) - 1
        out = []
        i, seen = 0, counts[keys[0]]  # keys[i] holds ranks [seen - counts[keys[i]], seen)
        for q in qs:
            rank = q * (self.n - 1)
            lo = math.floor(rank)
            frac = rank - lo
            while lo >= seen and i < last:
                i += 1
                seen += counts[keys[i]]
            v = v_lo = representative(keys[i])
            if frac != 0:
                j, s = i, seen
                while lo + 1 >= s and j < last:
                    j += 1
                    s += counts[keys[j]]
                v = v_lo + (representative(keys[j]) - v_lo) * frac
            out.append(round(v, 2))
        return tuple(out)

    def at_least(self, floor: float) -> Sketch:
        """The values in buckets whose representative is at least `floor`: what remains possible of a wait that
        has already lasted `floor`."""
        return Sketch({k: v for k, v in self.counts.items() if representative(k) >= floor})

    def _at(self, keys: list[int], rank: int) -> float:
        seen = 0
        for k in keys:
            seen += self.counts[k]
            if rank < seen:
                return representative(k)
        return representative(keys[-1])

    def encode(self) -> list[list[int]]:
        return [[k, self.counts[k]] for k in sorted(self.counts)]

    @classmethod
    def decode(cls, raw: Iterable[Iterable[int]]) -> Sketch:
        return cls({int(k): int(v) for k, v in raw})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sketch) and self.counts == other.counts

    def __repr__(self) -> str:
        return f"Sketch(n={self.n}, buckets={len(self.counts)})"
