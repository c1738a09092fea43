"""Engine throughput without Kafka: the simulator's records through `Engine.process` (as `corridor replay`
and the worker's agent call it), against a baseline of decoding and re-encoding the same bytes.

    python -m bench.engine [--units-per-corridor 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import orjson

from schemas import ClockTick, dumps
from streams.core.policy import DEFAULT_POLICY
from streams.processing.engine import Engine
from streams.processing.replay import partition_for
from streams.processing.topics import TopicNames
from streams.sim.scenario import generate

PARTITIONS = 4


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


def baseline(inputs) -> float:
    t = time.perf_counter()
    for _, _, _, raw in inputs:
        orjson.dumps(orjson.loads(raw))
    return time.perf_counter() - t


def engine(inputs) -> tuple[float, int]:
    eng = Engine({}, {}, TopicNames(), DEFAULT_POLICY)
    t = time.perf_counter()
    n = 0
    for topic, p, key, raw in inputs:
        n += len(eng.process(topic, p, None, key, raw))
    return time.perf_counter() - t, n


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench engine")
    ap.add_argument("--units-per-corridor", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    inputs = _inputs(args.units_per_corridor)
    base = min(baseline(inputs) for _ in range(args.rounds))
    runs = [engine(inputs) for _ in range(args.rounds)]
    best, outputs = min(r[0] for r in runs), runs[0][1]
    n = len(inputs)
    print(f"records: {n} in, {outputs} out ({4 * args.units_per_corridor} units)")
    print(f"baseline (orjson decode+encode): {n / base:>12,.0f} records/s")
    print(f"engine (decode, track, encode):  {n / best:>12,.0f} records/s")
    print(orjson.dumps({"records": n, "baseline_rps": round(n / base), "engine_rps": round(n / best),
                        "ratio": round(base / best, 4)}).decode())


if __name__ == "__main__":
    main()
