"""`python -m bench fanout`: one vessel's ETA changes fanned out to every container aboard, through a real worker.

Loads a manifest of N containers (12,000 by default) on one vessel voyage: each unit's plan (Shanghai to
Rotterdam on the voyage) and its ACTUAL LOADED event naming the voyage, on the canonical topics. Once the worker has
taken all of it (unit job, boardings, conveyance job), sends `changes` successive estimated arrivals of the vessel at
Rotterdam (alternately three and one day after the plan's: each moves every unit's ETA by two days, more than the
3% of the time left that makes a move worth publishing) to `corridor.conveyances`, one at a time, and for each measures:

- the time from the change (the producer's acknowledgement) to the last unit's `EtaUpdate` carrying it (the ETA
  records' timestamps, stamped by the worker's producer on this machine's clock), and of it the hand-over: until
  this process has read the last fan-out record the conveyance job wrote for it (the rest is the unit job's
  per-unit work and its writes);
- the ETA updates it caused (one per unit aboard, none for any other) and the records and bytes it wrote, per topic
  (outputs, internal topics and the tables' changelogs; key and value as a consumer reads them, before any
  compression of the batches), counted once the worker is idle again;
- the CPU seconds the worker and the broker spent on it (from /proc, from the send until the worker is idle again):
  on a shared machine, wall-clock seconds move with the other sessions' load, CPU seconds much less.

`--workers N` runs N workers in one group (they share the partitions, and so the vessel's units; CPU is their sum).
As a baseline in the same run, the same fan-out through the engines alone, in this process with in-memory stores
(`replay`'s routing, no broker), in CPU seconds: the share of the worker's CPU that is the join and tracking logic
itself. The machine may be shared with other work: compare CPU seconds and ratios, not wall-clock seconds with
another run's."""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from stdnum import iso6346

from bench.common import PARTITIONS as WORKER_PARTITIONS
from bench.throughput import produce, wait_committed
from schemas import Leg, Plan, TrackedUnit, TrackingEvent, TransportRef
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceEvent
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.broker.tansu import true_end_offsets
from streams.core.policy import DEFAULT_POLICY
from streams.processing import collector
from streams.processing.conveyances import ConveyanceEngine
from streams.processing.engine import Engine
from streams.topology.process import start_worker, stop_process

PARTITIONS = 4
T0 = datetime(2026, 3, 2, tzinfo=UTC)
VESSEL = Conveyance(kind="VESSEL", vessel_imo="9321483", vessel_name="MAERSK KOWLOON", voyage="2103N")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def manifest(units: int) -> tuple[list[Plan], list[TrackingEvent]]:
    plans, loads = [], []
    for i in range(units):
        body = f"MSKU{i:06d}"
        unit = TrackedUnit.container(body + iso6346.calc_check_digit(body))
        plans.append(Plan(unit=unit, revision=1, issued_time=T0, lane="CNSHA-NLRTM", legs=[
            Leg(mode="SEA", carrier="MAEU", origin="CNSHA", destination="NLRTM", planned_departure=T0 + timedelta(1),
                planned_arrival=T0 + timedelta(30), reference="2103N")]))  # fmt: skip
        at = T0 + timedelta(days=1, seconds=i)
        loads.append(TrackingEvent(event_id=f"load-{unit.id}", source="terminal", unit=unit, mode="SEA",
                                   milestone="LOADED", classifier="ACTUAL", location="CNSHA", event_time=at,
                                   received_time=at + timedelta(minutes=5),
                                   transport=TransportRef(vessel_imo="9321483", voyage="2103N")))  # fmt: skip
    return plans, loads


def change(n: int) -> ConveyanceEvent:
    """The vessel's n-th estimated arrival at Rotterdam, reported on day 5 + n: three days after the plan's for an odd
    n, one day after for an even one. Each moves the ETA by two days: with the plan's arrival 29 days after the
    watermark (the last loading), a move must exceed 3% of the time left (CORRIDOR_ETA_RELATIVE_SHIFT), about 21
    hours, to be published; an hour's slip per change, as this benchmark sent before that rule, is published by
    nobody."""
    return ConveyanceEvent(event_id=f"eta-{n}", source="carrier", conveyance=VESSEL, mode="SEA",
                           call=ConveyanceCall(location="NLRTM", facility="ECTDELTA"), milestone="ARRIVED",
                           classifier="ESTIMATED", event_time=T0 + timedelta(days=31 + 2 * (n % 2)),
                           received_time=T0 + timedelta(days=5 + n))  # fmt: skip


def in_process(plans: list[Plan], loads: list[TrackingEvent], changes: int) -> list[float]:
    """CPU seconds per change through the engines alone (in-memory stores, no broker; this process's CPU time, which
    other sessions' load on a shared machine does not inflate as it does wall-clock time), with the garbage
    collector as the worker sets it (`streams.processing.collector`): with Python's defaults, full collections over
    12,000 units' states took a third of this figure, which the worker does not spend."""
    thresholds = gc.get_threshold()
    gc.collect()
    collector.freeze()  # the manifest (lists the worker never holds) out of the collector's scans
    collector.tune()
    try:
        return _in_process(plans, loads, changes)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _in_process(plans: list[Plan], loads: list[TrackingEvent], changes: int) -> list[float]:
    topics = TopicNames()
    units = Engine({}, {}, topics, DEFAULT_POLICY, boardings=True)
    rides = ConveyanceEngine({}, topics, PARTITIONS)
    internal = {topics.name("boarding"), topics.name("conveyance_feed")}

    def follow(out: list) -> int:
        etas = 0
        while out:
            o = out.pop()
            if o.topic == topics.name("eta"):
                etas += 1
            elif o.topic == topics.name("boarding"):
                out += rides.process(o.topic, partition_for(o.key, PARTITIONS), None, o.key, o.value)
            elif o.topic == topics.name("conveyance_feed"):
                out += units.process(o.topic, partition_for(o.key, PARTITIONS), None, o.key, o.value)
        return etas

    for role, records in (("plan", plans), ("event", loads)):
        for r in records:
            key = r.unit.id.encode()
            out = units.process(topics.name(role), partition_for(key, PARTITIONS), None, key, orjson.dumps(
                r.model_dump(mode="json")))  # fmt: skip
            follow([o for o in out if o.topic in internal])
    took = []
    for n in range(1, changes + 1):
        ev = change(n)
        key = ev.conveyance.id.encode()
        start = time.process_time()
        etas = follow(rides.process(topics.name("conveyance"), partition_for(key, PARTITIONS), None, key,
                                    ev.model_dump_json().encode()))  # fmt: skip
        took.append(time.process_time() - start)
        assert etas == len(plans), f"in process: {etas} ETA updates for change {n}, not {len(plans)}"
    return took


async def _ends(consumer: AIOKafkaConsumer, bootstrap: str, names: list[str]) -> dict[TopicPartition, int]:
    tps = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
    return await true_end_offsets(bootstrap, await consumer.end_offsets(tps))


async def _written(bootstrap: str, before: dict[TopicPartition, int], after: dict[TopicPartition, int]
                   ) -> dict[str, tuple[int, int]]:  # fmt: skip
    """Records and bytes (key + value) written to each topic between two sets of end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 1024 * 1024)  # fmt: skip
    await consumer.start()
    tally: dict[str, list[int]] = {}
    try:
        for tp, end in after.items():
            start = before.get(tp, 0)
            if end <= start:
                continue
            consumer.assign([tp])
            consumer.seek(tp, start)
            pos = start
            while pos < end:
                batch = await consumer.getmany(tp, timeout_ms=5000, max_records=5000)
                msgs = batch.get(tp, [])
                if not msgs:
                    break
                for m in msgs:
                    if m.offset >= end:
                        break
                    t = tally.setdefault(tp.topic, [0, 0])
                    t[0] += 1
                    t[1] += len(m.key or b"") + len(m.value or b"")
                pos = msgs[-1].offset + 1
    finally:
        await consumer.stop()
    return {k: (v[0], v[1]) for k, v in tally.items()}


async def run(units: int, changes: int, workers: int = 1) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="corridor-fanout-"))
    log(f"building a manifest of {units} containers on one voyage ...")
    plans, loads = manifest(units)
    log("baseline: the engines alone, in process ...")
    t = time.perf_counter()
    alone = in_process(plans, loads, min(changes, 3))
    log(f"    {statistics.median(alone):.2f} CPU s per change (median of {len(alone)}); "
        f"{time.perf_counter() - t:.0f} s with the load")  # fmt: skip
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        b = broker.bootstrap
        topics = TopicNames(f"fan-{uuid.uuid4().hex[:6]}.")
        await ensure_topics(b, topics.all, PARTITIONS)
        app_id = f"corridor-{uuid.uuid4().hex[:6]}"
        assert broker.process is not None and WORKER_PARTITIONS == PARTITIONS
        # As `bench.common.corridor_worker`, each worker with a state directory of its own (one group: they share
        # the partitions, so a vessel's units, spread over every partition, are stepped by all of them).
        procs = [start_worker(workdir / f"{app_id}-{i}.log", "warning", broker=b, app_id=app_id,
                              topic_prefix=topics.prefix, data_dir=workdir / f"{app_id}-{i}", embedded_broker=True,
                              web_enabled=False, commit_interval=0.5, partitions=PARTITIONS)
                 for i in range(workers)]  # fmt: skip
        try:
            return await _measure(b, topics, app_id, plans, loads, changes, alone,
                                  (*(p.pid for p in procs), broker.process.pid))  # fmt: skip
        finally:
            for p in procs:
                stop_process(p)


async def _measure(b: str, topics: TopicNames, app_id: str, plans: list[Plan], loads: list[TrackingEvent],
                   changes: int, alone: list[float], pids: tuple[int, ...]) -> dict:  # fmt: skip
    """`pids`: the workers', then the broker's."""
    units = len(plans)
    t = time.perf_counter()
    await produce(b, [(topics.name("plan"), p.unit.id.encode(), p.model_dump_json().encode()) for p in plans])
    await produce(b, [(topics.name("event"), e.unit.id.encode(), e.model_dump_json().encode()) for e in loads])
    inputs = [topics.name(r) for r in ("plan", "event", "conveyance")]
    await wait_committed(b, app_id, inputs, timeout=1800)
    await wait_committed(b, app_id, [topics.name("boarding"), topics.name("conveyance_feed")], timeout=1800)
    log(f"manifest loaded through the worker in {time.perf_counter() - t:.0f} s")

    eta_topic = topics.name("eta")
    seen: Counter[str] = Counter()  # ETA updates by predicted arrival
    last: dict[str, float] = {}  # predicted arrival -> timestamp (ms) of the latest update carrying it
    feed_topic = topics.name("conveyance_feed")
    # When (ms, this machine's clock) the reader got each fan-out record since the change was sent: their own
    # timestamps are the change's (internal records carry the timestamp of the record that caused them).
    fed: list[float] = []
    reader = AIOKafkaConsumer(eta_topic, feed_topic, bootstrap_servers=b, auto_offset_reset="latest", group_id=None,
                              max_partition_fetch_bytes=8 * 1024 * 1024)  # fmt: skip
    await reader.start()
    await asyncio.sleep(1)
    stop = asyncio.Event()

    async def read() -> None:
        while not stop.is_set():
            for msgs in (await reader.getmany(timeout_ms=200)).values():
                for m in msgs:
                    if m.topic == feed_topic:
                        fed.append(time.time() * 1000)
                        continue
                    when = orjson.loads(m.value)["predicted_arrival"]
                    seen[when] += 1
                    last[when] = max(last.get(when, 0), m.timestamp)

    reading = asyncio.create_task(read())
    admin = AIOKafkaConsumer(bootstrap_servers=b)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=b, linger_ms=0)
    await producer.start()
    spans: list[float] = []
    handover: list[float] = []  # from the change to the last fan-out record it caused (the conveyance job's part)
    cpu: list[tuple[float, float]] = []  # (workers, broker) CPU seconds per change
    per_change: list[dict[str, tuple[int, int]]] = []
    stray: list[int] = []
    try:
        every = sorted(t for t in await admin.topics() if t.startswith((topics.prefix, app_id)))
        for n in range(1, changes + 1):
            ev = change(n)
            want = ev.event_time.strftime("%Y-%m-%dT%H:%M:%SZ")
            before = await _ends(admin, b, every)
            cpu_before = [_cpu_seconds(pid) for pid in pids]
            seen.clear()  # the predictions alternate: count this change's updates only (the last change's are in)
            last.clear()
            fed.clear()
            result = await (await producer.send(topics.name("conveyance"), key=ev.conveyance.id.encode(),
                                                value=ev.model_dump_json().encode()))  # fmt: skip
            deadline = time.monotonic() + 300
            while seen[want] < units and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if seen[want] < units:
                raise TimeoutError(f"change {n}: {seen[want]} of {units} units had their ETA update after 300 s")
            spans.append((last[want] - result.timestamp) / 1000)
            handover.append((max(fed, default=result.timestamp) - result.timestamp) / 1000)
            await wait_committed(b, app_id, [*inputs, topics.name("boarding"), topics.name("conveyance_feed")],
                                 timeout=600)  # fmt: skip
            await asyncio.sleep(1.0)  # the changelogs of the batch's tables are written after its outputs
            spent = [_cpu_seconds(pid) - c for pid, c in zip(pids, cpu_before, strict=True)]
            cpu.append((sum(spent[:-1]), spent[-1]))
            per_change.append(await _written(b, before, await _ends(admin, b, every)))
            eta_written = per_change[-1].get(eta_topic, (0, 0))[0]
            stray.append(eta_written - units)  # ETA updates written beyond one per unit aboard
            log(f"change {n}: last unit's ETA update after {spans[-1]:.2f} s (fan-out records read after "
                f"{handover[-1]:.2f} s); "
                f"{sum(r for r, _ in per_change[-1].values()):,} records, "
                f"{sum(s for _, s in per_change[-1].values()) / 1e6:.1f} MB written; CPU: worker {cpu[-1][0]:.2f} s, "
                f"broker {cpu[-1][1]:.2f} s")  # fmt: skip
    finally:
        stop.set()
        await reading
        await reader.stop()
        await producer.stop()
        await admin.stop()
    by_topic: dict[str, list[float]] = {}
    for written in per_change:
        for topic, (records, size) in written.items():
            short = topic.removeprefix(topics.prefix).removeprefix(app_id + "-")
            by_topic.setdefault(short, [0, 0])
            by_topic[short][0] += records / len(per_change)
            by_topic[short][1] += size / len(per_change)
    return {
        "units": units,
        "changes": changes,
        "workers": len(pids) - 1,
        "p50_s": round(statistics.median(spans), 2),
        "max_s": round(max(spans), 2),
        "handover_p50_s": round(statistics.median(handover), 2),
        "worker_cpu_p50_s": round(statistics.median(c[0] for c in cpu), 2),
        "broker_cpu_p50_s": round(statistics.median(c[1] for c in cpu), 2),
        "engines_alone_cpu_p50_s": round(statistics.median(alone), 2),
        "worker_cpu_over_engines": round(statistics.median(c[0] for c in cpu) / statistics.median(alone), 2),
        "eta_updates_per_change": units,
        "eta_updates_beyond_one_per_unit": max(stray, default=0),
        "records_per_change": round(sum(r for r, _ in by_topic.values())),
        "mb_per_change": round(sum(s for _, s in by_topic.values()) / 1e6, 2),
        "per_topic": {k: {"records": round(r), "kb": round(s / 1e3)} for k, (r, s) in sorted(by_topic.items())},
    }


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench fanout")
    parser.add_argument("--units", type=int, default=12_000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker processes in the group (CPU: their sum)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.units, args.changes, args.workers))
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
