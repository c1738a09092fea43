"""Engine throughput without Kafka: the simulator's records through `Engine.process` (as `corridor replay`
and the worker's agent call it), against a baseline of decoding and re-encoding the same bytes.

    python -m bench.engine [--units-per-corridor 50] [--rounds 3]
    python -m bench.engine --units 20000    # the throughput benchmark's input, in the worker's batches

With `--units`, the input is `python -m bench`'s (plans, then events in arrival order) and state changes are
flushed every 1,000 records, as the worker's batches flush them: the ceiling of phase (c) if Kafka, Faust,
RocksDB and the shipment job cost nothing.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

import orjson

from bench.common import PARTITIONS, workload_records
from schemas import ClockTick, dumps
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.processing import collector
from streams.processing.engine import Engine
from streams.sim.scenario import generate


def _inputs(units_per_corridor: int) -> list[tuple[str, int, bytes | None, bytes]]:
    topics = TopicNames()
    out = []
    for rec in generate(seed=11, units_per_corridor=units_per_corridor).records:
        r = rec.record
        raw = dumps(r)
        if isinstance(r, ClockTick):
            out += [(topics.name("clock"), p, None, raw) for p in range(PARTITIONS)]
        else:
            key = r.unit.id.encode()
            out.append((topics.name(r.record), partition_for(key, PARTITIONS), key, raw))
    return out


def _workload_inputs(units: int) -> list[tuple[str, int, bytes | None, bytes]]:
    from bench.workload import build

    return workload_inputs(build(units))


def workload_inputs(workload) -> list[tuple[str, int, bytes | None, bytes]]:  # type: ignore[no-untyped-def]
    """A `bench.workload.Workload` as the engine's inputs: the throughput benchmark's records, in its order."""
    return [(topic, partition_for(key, PARTITIONS), key, value)
            for topic, key, value in workload_records(workload, TopicNames())]  # fmt: skip


def engine_rate(inputs, rounds: int = 1) -> float:  # type: ignore[no-untyped-def]
    """Records a second through the engine alone, in the worker's batches of 1,000 (best of `rounds`)."""
    return len(inputs) / min(engine(inputs, 1000)[0] for _ in range(rounds))


def baseline(inputs, clock: Callable[[], float] = time.perf_counter) -> float:  # type: ignore[no-untyped-def]
    t = clock()
    for _, _, _, raw in inputs:
        orjson.dumps(orjson.loads(raw))
    return clock() - t


def engine(inputs, batch: int = 0, coalesce: bool = False,  # type: ignore[no-untyped-def]
           clock: Callable[[], float] = time.perf_counter, learning: bool = True) -> tuple[float, int]:
    """`batch`: flush state changes every `batch` records (write-behind, as the worker: a unit's timeline is written
    once per batch with `coalesce`); 0: write through. Returns the time taken (by `clock`: `time.process_time` for
    the process's CPU time, steadier than the wall clock on a shared machine) and the number of output records.
    `learning`: the learned ETA model (issue #25) on, as the worker runs it, or off (the plan-only ETA)."""
    eng = Engine({}, {}, TopicNames(), DEFAULT_POLICY, write_behind=batch > 0, coalesce=coalesce, learning=learning)
    # The collector as the worker sets it; the inputs (a list of tuples the worker never holds) kept out of its scans.
    thresholds = gc.get_threshold()
    gc.collect()
    collector.freeze()
    collector.tune()
    try:
        t = clock()
        lists: list[list] = []
        outputs = 0
        for i, (topic, p, key, raw) in enumerate(inputs, 1):
            lists.append(eng.process(topic, p, None, key, raw))
            if batch and i % batch == 0:
                eng.flush()
                # Counted once final (a batch's later timeline takes an earlier one's place), then let go, as the
                # worker lets a batch's outputs go once sent.
                outputs += sum(map(len, lists))
                lists.clear()
        eng.flush()
        outputs += sum(map(len, lists))
        elapsed = clock() - t
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    return elapsed, outputs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench engine")
    ap.add_argument("--units-per-corridor", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--units", type=int, default=None, help="the throughput benchmark's input for this many units")
    ap.add_argument("--coalesce", action="store_true",
                    help="one timeline per unit per batch (CORRIDOR_COALESCE_TIMELINES)")
    ap.add_argument("--cpu", action="store_true",
                    help="time the engine by the process's CPU time, not the wall clock (a shared, loaded machine)")
    ap.add_argument("--no-learning", action="store_true",
                    help="the plan-only ETA: no learned model (to measure what learning costs a record)")
    args = ap.parse_args(argv)
    if args.units:
        inputs, batch, units = _workload_inputs(args.units), 1000, args.units
    else:
        inputs, batch, units = _inputs(args.units_per_corridor), 0, 4 * args.units_per_corridor
    clock = time.process_time if args.cpu else time.perf_counter
    base = min(baseline(inputs, clock) for _ in range(args.rounds))
    runs = [engine(inputs, batch, args.coalesce, clock, not args.no_learning) for _ in range(args.rounds)]
    best, outputs = min(r[0] for r in runs), runs[0][1]
    n = len(inputs)
    print(f"records: {n} in, {outputs} out ({units} units{f', flushed every {batch}' if batch else ''})")
    print(f"baseline (orjson decode+encode): {n / base:>12,.0f} records/s")
    print(f"engine (decode, track, encode):  {n / best:>12,.0f} records/s ({best / n * 1e6:.0f} µs a record"
          f"{', CPU time' if args.cpu else ''}{', learning off' if args.no_learning else ''})")
    print(orjson.dumps({"records": n, "baseline_rps": round(n / base), "engine_rps": round(n / best),
                        "ratio": round(base / best, 4)}).decode())


if __name__ == "__main__":
    main()
