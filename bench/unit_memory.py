"""`python -m bench units-memory [--records N]`: what a unit held in the engine's cache costs in memory.

The soak's feed (`bench.soak.feed`: units starting and finishing all the time) goes through `Engine.process`, as
the worker calls it, with state flushed every 1,000 records into dicts, under `tracemalloc`. Then the cache is let
go of in layers, and what each layer held is the traced memory that went with it (after a full collection):

- `derivation`: each cached state's incremental derivation (`streams.core.incremental.Derivation`);
- `rows`: each cached state's encoded event rows (`UnitState._rows`);
- `state`: the decoded states themselves (events, plan, ETAs, links...) and the cache's bookkeeping.

What is shared between units (enum members, interned strings, the lru-cached datetimes of `from_micros`) stays
and is not counted: the figures are what one more cached unit costs. The encoded state (what the store holds,
`len(UnitState.encode())`) is printed beside them for scale.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import time
import tracemalloc

import orjson

from bench.common import PARTITIONS
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.incremental import Derivation
from streams.core.policy import DEFAULT_POLICY
from streams.core.state import UnitState
from streams.processing.engine import Engine


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure(records: int, cached_units: int = 1_000_000) -> dict:
    from bench.soak import feed

    topics = TopicNames()
    inputs = [(t, partition_for(k, PARTITIONS), k, v) for t, k, v in itertools.islice(feed(topics), records)]
    tracemalloc.start()
    eng = Engine({}, {}, topics, DEFAULT_POLICY, write_behind=True, cached_units=cached_units)
    t = time.perf_counter()
    for i, (topic, p, key, raw) in enumerate(inputs, 1):
        eng.process(topic, p, None, key, raw)
        if i % 1000 == 0:
            eng.flush()
    eng.flush()
    elapsed = time.perf_counter() - t
    cache = eng._units._cache
    states = [s for s in cache.values() if s is not None]
    units = len(states)
    stored = sum(len(v) for v in eng.units.values())
    events = sum(len(s.events) for s in states)
    derived = sum(s._derived is not None for s in states)

    # What a miss costs in the engine beyond the store's read: decoding the state and deriving its view afresh.
    encoded = [(s.encode(), s) for s in states]
    t = time.process_time()
    for raw, s in encoded:
        fresh = UnitState.decode(raw)
        Derivation(fresh.unit, fresh.plan, fresh.events, eng.policy).view(s._derived._watermark)
    miss_us = (time.process_time() - t) / units * 1e6
    del encoded, fresh

    before = _traced()
    for s in states:
        s._derived = None
    after_derivation = _traced()
    for s in states:
        s._rows = {}
    after_rows = _traced()
    del states
    eng._units._cache.clear()
    eng._units._sizes.clear()
    eng._units._absent.clear()
    after_state = _traced()
    tracemalloc.stop()
    kb = 1024
    return {
        "records": len(inputs), "units": units, "events_per_unit": round(events / units, 1),
        "with_derivation": derived, "seconds": round(elapsed, 1),
        "stored_kb_per_unit": round(stored / len(eng.units) / kb, 2),
        "derivation_kb": round((before - after_derivation) / units / kb, 2),
        "rows_kb": round((after_derivation - after_rows) / units / kb, 2),
        "state_kb": round((after_rows - after_state) / units / kb, 2),
        "cached_kb_per_unit": round((before - after_state) / units / kb, 2),
        "miss_us": round(miss_us),
    }


def _inputs(records: int, workload: int | None) -> list[tuple[str, int, bytes, bytes]]:
    """The soak's feed's first `records`, or with `workload` the throughput benchmark's input for that many units."""
    topics = TopicNames()
    if workload:
        from bench.engine import workload_inputs
        from bench.workload import build

        return workload_inputs(build(workload))  # type: ignore[no-any-return]
    from bench.soak import feed

    return [(t, partition_for(k, PARTITIONS), k, v) for t, k, v in itertools.islice(feed(topics), records)]


def throughput(inputs: list[tuple[str, int, bytes, bytes]], sizes: list[int],
               rounds: int = 2) -> dict[int, tuple[float, float]]:  # fmt: skip
    """Records per CPU second through the engine (batches of 1,000, as `bench engine --units`) with the cache bounded
    at each of `sizes` units, best of `rounds`, runs of the sizes interleaved so that the machine's load falls on
    all of them alike. The stores are dicts: a miss costs decoding and re-deriving the unit, not a RocksDB read."""
    topics = TopicNames()
    best: dict[int, float] = {}
    missed: dict[int, float] = {}
    for _ in range(rounds):
        for size in sizes:
            eng = Engine({}, {}, topics, DEFAULT_POLICY, write_behind=True, cached_units=size)
            gc.collect()
            t = time.process_time()
            for i, (topic, p, key, raw) in enumerate(inputs, 1):
                eng.process(topic, p, None, key, raw)
                if i % 1000 == 0:
                    eng.flush()
            eng.flush()
            rate = len(inputs) / (time.process_time() - t)
            best[size] = max(best.get(size, 0.0), rate)
            missed[size] = eng._units.misses / len(inputs)
            del eng
    return {size: (best[size], missed[size]) for size in sizes}


def growth(records: int, cached_units: int, top: int = 12) -> list[str]:
    """What the engine's Python heap gains between the middle and the end of `records` of the soak's feed with the
    cache bounded at `cached_units` (full by the middle): `tracemalloc` snapshots diffed by the line that allocated."""
    inputs = _inputs(records, None)
    tracemalloc.start(1)
    eng = Engine({}, {}, TopicNames(), DEFAULT_POLICY, write_behind=True, cached_units=cached_units)
    middle = None
    for i, (topic, p, key, raw) in enumerate(inputs, 1):
        eng.process(topic, p, None, key, raw)
        if i % 1000 == 0:
            eng.flush()
        if i == len(inputs) // 2:
            gc.collect()
            middle = tracemalloc.take_snapshot()
    eng.flush()
    gc.collect()
    end = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert middle is not None
    stats = end.compare_to(middle, "lineno")
    total = sum(s.size_diff for s in stats)
    return [f"second half: {total / 2**20:+.1f} MB of Python heap ({len(eng._units._cache):,} units cached)",
            *(f"{s.size_diff / 2**10:+9.0f} KB {s.count_diff:+8,} blocks  {s.traceback[0]}" for s in stats[:top])]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench units-memory")
    ap.add_argument("--records", type=int, default=60_000, help="records of the soak's feed (60,000: its warm-up)")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                    help="also the engine's throughput with the cache bounded at these sizes (e.g. 1000,5000,100000)")
    ap.add_argument("--workload", type=int, default=None,
                    help="time --sizes on the throughput benchmark's input for this many units instead")
    ap.add_argument("--growth", type=int, default=None, metavar="UNITS",
                    help="only: what grows in the second half of --records with the cache bounded at UNITS")
    args = ap.parse_args(argv)
    if args.growth:
        for line in growth(args.records, args.growth):
            print(line)
        return {}
    if args.sizes:
        inputs = _inputs(args.records, args.workload)
        print(f"{len(inputs):,} records of {'the soak' if not args.workload else 'the throughput benchmark'}'s input")
        rates = throughput(inputs, args.sizes)
        del inputs
        top = rates[max(args.sizes)][0]
        for size in args.sizes:
            rate, missed = rates[size]
            print(f"cache of {size:>9,} units: {rate:>8,.0f} records/s (CPU), {rate / top:.3f} of the largest"
                  f" cache's; {missed:.1%} of the records read their unit from the store")
    r = measure(args.records)
    print(f"{r['records']:,} records of the soak's feed: {r['units']:,} units cached "
          f"({r['events_per_unit']} events each on average, {r['with_derivation']:,} with a derivation)")
    print(f"memory per cached unit: {r['cached_kb_per_unit']} KB = derivation {r['derivation_kb']} KB"
          f" + encoded event rows {r['rows_kb']} KB + decoded state {r['state_kb']} KB"
          f" (stored, encoded: {r['stored_kb_per_unit']} KB)")
    print(f"a miss: {r['miss_us']} µs of CPU to decode a unit's state and derive its view afresh (besides the read)")
    print(orjson.dumps(r).decode())
    return r


if __name__ == "__main__":
    main()
