"""What the tracking job has learned from completed legs: distributions of segment transit, of the wait at each
hub beyond the plan's rule, and of each source's estimate error. Pure: no I/O, no clock.

Learned per input partition. A partition's records are applied in offset order by exactly one worker, so what a
partition has learned after a record is a function of that partition's input up to it: a replay (or a rebuilt
worker) learns exactly what the live run learned, whatever the other partitions did meanwhile. Learning over
all partitions would make a unit's ETA depend on how its partition was interleaved with others.

A `prior` (`corridor learn`) is read-only knowledge every partition starts from: quantiles come from the prior
and the partition's own sketch together.

Model keys (strings, also the encoding's keys):
- `T|origin|destination|mode|carrier` and `T|origin|destination|mode|*`: a leg's actual transit (minutes),
  per carrier or service, and per segment whatever the carrier;
- `W|kind|location|mode`: how much later a departure (or delivery) happened than the plan's rule says (the
  planned departure, or the arrival plus the minimum connection when running late), in minutes: the heavy
  tail of border and hub dwell;
- `B|source|mode`: a source's estimate error, `(actual - estimate) / (estimate - received)`, in per mille of
  the estimate's horizon (a carrier whose ETAs are 5% optimistic gives +50 whatever the voyage's length);
- `C|origin|destination|YYYY-MM-DD`: the lane's sea legs that left on that day (event time), 1 for one that went
  round the Cape of Good Hope, 0 for one that did not: the lane summary `sailings` reads (see
  docs/design/lane-state.md). Both values fall in buckets of their own, so its counts are exact."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import orjson

from streams.core.learning.calibration import Calibration
from streams.core.learning.sketch import Sketch

QUANTILES = (0.1, 0.5, 0.9)
SMALL_SAMPLE_WIDENING = 1.5  # spreads x (1 + this / sqrt(n)): x1.5 at 8 observations, x1.15 at 150
Quantiles = tuple[float, float, float]
Observations = dict[str, list]
_UNSET: Any = object()  # observation id -> [value, model key, model key...] (see `observe`)


@lru_cache(maxsize=8192)  # asked for on every prediction of every milestone
def transit_keys(origin: str, destination: str, mode: str, carrier: str | None) -> tuple[str, ...]:
    generic = f"T|{origin}|{destination}|{mode}|*"
    return (f"T|{origin}|{destination}|{mode}|{carrier}", generic) if carrier else (generic,)


@lru_cache(maxsize=8192)
def wait_key(kind: str, location: str, mode: str) -> str:
    return f"W|{kind}|{location}|{mode}"


@lru_cache(maxsize=8192)
def sailing_key(origin: str, destination: str, day: date) -> str:
    return f"C|{origin}|{destination}|{day.isoformat()}"


@lru_cache(maxsize=8192)
def bias_key(source: str, mode: str) -> str:
    return f"B|{source}|{mode}"


def encode_model(model: Mapping[str, Sketch]) -> bytes:
    return orjson.dumps({k: model[k].encode() for k in sorted(model) if model[k].n > 0})


def decode_model(raw: bytes | None) -> dict[str, Sketch]:
    if not raw:
        return {}
    return {k: Sketch.decode(v) for k, v in orjson.loads(raw).items()}


def model_of(lessons: Iterable[Observations]) -> dict[str, Sketch]:
    """The model that units teaching `lessons` (each unit's observations, as its state keeps them) make
    together: what `Knowledge.apply` builds from them one change at a time, whatever the order (bucket counts)."""
    model: dict[str, Sketch] = {}
    for observed in lessons:
        for obs in observed.values():
            value = obs[0]
            for key in obs[1:]:
                sketch = model.get(key)
                if sketch is None:
                    sketch = model[key] = Sketch()
                sketch.add(value)
    return model


class Knowledge:
    """The learned models of the partitions a job works on, one partition current at a time (`partition`, set
    by the engine before each record). A partition's model is made when first asked for after `forget`:
    `lessons(partition)`, when given, yields what each of the partition's units has taught (the model is
    their sum, `model_of`); otherwise `load(partition)` reads a stored model (None: nothing yet), and
    `dirty` names the partitions changed since the engine last stored them. `version` changes whenever a quantile
    that was asked for changed: derived views cached beside units recompute their predictions then."""

    def __init__(self, prior: Mapping[str, Sketch] | None = None, *, min_samples: int = 8,
                 load: Callable[[int], bytes | None] | None = None,
                 lessons: Callable[[int], Iterable[Observations]] | None = None) -> None:  # fmt: skip
        self.prior = dict(prior or {})
        self.calibration = Calibration(self.prior)  # the band's calibration: measured on a history, in the prior
        self.min_samples = min_samples
        self._load = load
        self._lessons = lessons
        self._models: dict[int, dict[str, Sketch]] = {}
        self._cache: dict[tuple[int, str], Quantiles | None] = {}
        self.dirty: set[int] = set()
        self.partition = 0
        self.version = 0
        self._residual: set[tuple[int, str]] = set()  # keys asked for `remaining`: any change moves `version`

    # -- reading -----------------------------------------------------------------------------------------

    def model(self, partition: int | None = None) -> dict[str, Sketch]:
        p = self.partition if partition is None else partition
        model = self._models.get(p)
        if model is None:
            if self._lessons is not None:
                model = model_of(self._lessons(p))
            else:
                model = decode_model(self._load(p) if self._load else None)
            self._models[p] = model
        return model

    def quantiles(self, key: str) -> Quantiles | None:
        """p10, p50, p90 of what the prior and the current partition hold under `key`; None with fewer than
        `min_samples` observations (the caller falls back to the plan)."""
        ck = (self.partition, key)
        q = self._cache.get(ck, _UNSET)  # one lookup: asked for several times per milestone of every record
        if q is _UNSET:
            q = self._cache[ck] = self._compute(key)
        return q

    def _compute(self, key: str) -> Quantiles | None:
        own, prior = self.model().get(key), self.prior.get(key)
        sketch = own.merge(prior) if own is not None and prior is not None else own or prior
        if key[0] == "C":  # a lane's sailings of one day: (round the Cape, all, 0), no sample floor
            return None if sketch is None else (float(sketch.counts.get(1, 0)), float(sketch.n), 0.0)
        q = None
        if sketch is not None and sketch.n >= self.min_samples:
            p10, p50, p90 = sketch.quantiles(QUANTILES)
            # A sample's p10-p90 holds fewer than 80% of new values (about (n-1)/(n+1) of it), and units on one
            # departure share its disruptions, so n overstates the independent observations: widen in proportion.
            w = 1 + SMALL_SAMPLE_WIDENING / math.sqrt(sketch.n)
            q = (round(p50 - (p50 - p10) * w, 2), p50, round(p50 + (p90 - p50) * w, 2))
        return q

    def first(self, keys: Sequence[str]) -> Quantiles | None:
        """The most specific of `keys` that has enough data."""
        for k in keys:
            q = self.quantiles(k)
            if q is not None:
                return q
        return None

    def remaining(self, key: str, waited: float) -> Quantiles | None:
        """p10, p50, p90 of a wait (a `W|` key) given it has already lasted `waited` minutes: the quantiles of
        the values learned at or beyond that (the residual wait, as survival analysis has it). A unit still at
        a hub long past its rule is not about to leave: its remaining wait is the tail's. None with fewer than
        `min_samples` such values (the caller keeps its unconditioned forecast)."""
        self._residual.add((self.partition, key))
        own, prior = self.model().get(key), self.prior.get(key)
        sketch = own.merge(prior) if own is not None and prior is not None else own or prior
        if sketch is None:
            return None
        tail = sketch.at_least(waited)
        if tail.n < self.min_samples:
            return None
        p10, p50, p90 = tail.quantiles(QUANTILES)
        w = 1 + SMALL_SAMPLE_WIDENING / math.sqrt(tail.n)
        return (round(max(waited, p50 - (p50 - p10) * w), 2), p50, round(p50 + (p90 - p50) * w, 2))

    def remaining_first(self, keys: Sequence[str], waited: float) -> Quantiles | None:
        """`remaining` under the most specific of `keys` that has enough such values."""
        for k in keys:
            q = self.remaining(k, waited)
            if q is not None:
                return q
        return None

    def sailings(self, origin: str, destination: str, day: date, days: int) -> tuple[int, int]:
        """(round the Cape, all) among the lane's sea legs that left on `day` or the `days` - 1 days before it, as
        the prior and the current partition know them. Read through the same cache as quantiles, so a change
        to a day that was asked for moves `version` (and the predictions resting on it are made again)."""
        cape = n = 0
        for k in range(days):
            q = self.quantiles(sailing_key(origin, destination, day - timedelta(days=k)))
            if q is not None:
                cape, n = cape + int(q[0]), n + int(q[1])
        return cape, n

    # -- learning ----------------------------------------------------------------------------------------

    def apply(self, old: Observations, new: Observations) -> None:
        """A unit's observations went from `old` to `new` (both as its state keeps them): take back what changed
        or went away, add what is new. Adding the same observations twice changes nothing."""
        if old == new:
            return
        model = self.model()
        touched: dict[str, None] = {}  # in order, once each
        for oid, obs in old.items():
            if new.get(oid) != obs:
                for key in obs[1:]:
                    sketch = model.get(key)
                    if sketch is not None:
                        sketch.remove(obs[0])
                        touched[key] = None
                        if sketch.n <= 0:
                            del model[key]
        for oid, obs in new.items():
            if old.get(oid) != obs:
                for key in obs[1:]:
                    sketch = model.get(key)
                    if sketch is None:  # not `setdefault(key, Sketch())`: that builds a sketch for every lesson
                        sketch = model[key] = Sketch()
                    sketch.add(obs[0])
                    touched[key] = None
        if touched:
            self.dirty.add(self.partition)
        for key in touched:
            self._changed(key)

    def _changed(self, key: str) -> None:
        """Predictions depend on quantiles only: the version moves only when one that was asked for changed (most
        observations added to a well-filled sketch move none of its rounded p10, p50, p90)."""
        ck = (self.partition, key)
        if ck in self._residual:  # read conditioned on how long a wait lasted: any change may move it
            self.version += 1
        if ck in self._cache:
            q = self._compute(key)
            if q != self._cache[ck]:
                self._cache[ck] = q
                self.version += 1

    def encoded(self, partition: int) -> bytes:
        return encode_model(self.model(partition))

    def forget(self) -> None:
        """Partitions moved: what is in memory may be stale (another worker may have learned meanwhile)."""
        self._models.clear()
        self._cache.clear()
        self._residual.clear()
        self.dirty.clear()
        self.version += 1

    def merged(self) -> dict[str, Sketch]:
        """Every partition's model in memory, and the prior, merged: what `corridor learn` writes as a prior."""
        out: dict[str, Sketch] = {k: Sketch(dict(v.counts)) for k, v in self.prior.items()}
        for model in self._models.values():
            for k, s in model.items():
                out[k] = out[k].merge(s) if k in out else Sketch(dict(s.counts))
        return out
