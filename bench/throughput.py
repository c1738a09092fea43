"""`python -m bench`: how fast corridor's tracking job runs on one worker, against the limit of the same
broker and client library, on the embedded broker, in one run (ratios, because machines are noisy).

(a) limit: raw aiokafka consume, orjson decode, encode, produce of the same records;
(b) naive Faust: an agent passing the records through (await send per record);
(c) corridor: the tracking worker (`corridor worker`, RocksDB tables), input topics to every output topic, the
    shipment job's included (it runs in the same worker, fed by the tracking job);
then the end-to-end latency of (c) at a fixed offered load of one fifth of its maximum, on a fresh broker and
worker fed 2,000 other units' plans and then their events in arrival order (about 5 s of warm-up, then about 30 s
measured); each event is matched to the outputs it caused by their content. Then the same events at the same
rate through a plain aiokafka relay (`bench.relay`) on another fresh broker: the latency of the broker and client
library alone, as (a) is their throughput.
Before the brokers start, the engine alone on the same input (`python -m bench engine`, one round): `engine_eps`.
(b) and (c) run as separate worker processes, as in production; their throughput is input records divided by
the span between their first and last output record (broker timestamps), so start-up is not counted."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.engine import engine_rate, workload_inputs
from bench.workload import Workload, build
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker, die_with_parent
from streams.broker.tansu import true_end_offsets
from streams.processing.topics import TopicNames
from streams.topology.process import start_worker, stop_process

PARTITIONS = 4


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


async def produce(bootstrap: str, records: Iterable[tuple[str, bytes, bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    n = 0
    try:
        for topic, key, value in records:
            await producer.send(topic, key=key, value=value)
            n += 1
        await producer.flush()
    finally:
        await producer.stop()
    return n


async def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        return await true_end_offsets(bootstrap, await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def wait_committed(bootstrap: str, group: str, topics: list[str], timeout: float) -> None:
    """Until the group has committed every input record. (Asked through a consumer of the group that never
    joins it: the admin client's OffsetFetch does not parse Tansu's answer.)"""
    ends = await _end_offsets(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [(await consumer.committed(tp) or 0) >= end for tp, end in ends.items()]
            if all(done):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"group {group} did not finish within {timeout}s")
    finally:
        await consumer.stop()


async def output_span(bootstrap: str, topics: list[str]) -> float:
    """Seconds between the first and the last record written to these topics (producer timestamps)."""
    ends = await _end_offsets(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    first, last = [], []
    try:
        for tp, end in ends.items():
            if not end:
                continue
            consumer.assign([tp])
            for pos, sink in ((0, first), (end - 1, last)):
                consumer.seek(tp, pos)
                batch = await consumer.getmany(tp, timeout_ms=5000, max_records=1000)
                msgs = batch.get(tp, [])
                sink.append(msgs[0].timestamp if pos == 0 else msgs[-1].timestamp)
    finally:
        await consumer.stop()
    return (max(last) - min(first)) / 1000


async def raw_limit(bootstrap: str, source: str, dest: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=512 * 1024)
    await consumer.start()
    await producer.start()
    seen = 0
    started = None
    try:
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for msgs in batch.values():
                if started is None:
                    started = time.perf_counter()
                for m in msgs:
                    value = orjson.loads(m.value)
                    await producer.send(dest, key=m.key, value=orjson.dumps(value))
                seen += len(msgs)
        await producer.flush()
        assert started is not None
        return n / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


async def naive_faust(bootstrap: str, source: str, n: int, workdir: Path) -> float:
    dest = f"{source}.naive-out"
    await ensure_topics(bootstrap, [dest], PARTITIONS)
    app_id = f"naive-{uuid.uuid4().hex[:6]}"
    with open(workdir / "naive.log", "wb") as errors:
        proc = subprocess.Popen(
            preexec_fn=die_with_parent,
            args=[sys.executable, "-m", "bench.naive_worker", bootstrap, source, dest, app_id, str(workdir / app_id)],
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    try:
        await wait_committed(bootstrap, app_id, [source], timeout=600)
    finally:
        stop_process(proc)
    return n / await output_span(bootstrap, [dest])


def corridor_worker(bootstrap: str, topics: TopicNames, app_id: str, workdir: Path) -> subprocess.Popen:
    return start_worker(workdir / f"{app_id}.log", "warning", broker=bootstrap, app_id=app_id,
                        topic_prefix=topics.prefix, data_dir=workdir / app_id, embedded_broker=True,
                        web_enabled=False, commit_interval=0.5, partitions=PARTITIONS)


def _outputs(topics: TopicNames) -> list[str]:
    """Everything the job writes, the shipment job's outputs included (it runs in the same worker)."""
    return [topics.name(r) for r in ("timeline", "alert", "eta", "dead_letter", "shipment_feed",
                                     "shipment_timeline", "shipment_alert", "shipment_eta")]  # fmt: skip


def _inputs(w: Workload, topics: TopicNames) -> Iterable[tuple[str, bytes, bytes]]:
    for key, value in w.plans:
        yield topics.name("plan"), key, value
    for key, value in w.events:
        yield topics.name("event"), key, value


async def latency(
    bootstrap: str,
    topics: TopicNames,
    group: str,
    probe: Workload,
    rate: float,
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Send `probe`'s events at `rate` per second, in arrival order but with at most one event per unit in flight,
    and time each to its first output, and to the first ETA update or alert it caused."""
    await produce(bootstrap, ((topics.name("plan"), k, v) for k, v in probe.plans))
    await wait_committed(bootstrap, group, [topics.name("plan")], timeout=120)
    warm_up, order = probe_schedule(probe, rate)
    reader = AIOKafkaConsumer(
        topics.name("timeline"),
        topics.name("alert"),
        topics.name("eta"),
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        group_id=None,
        fetch_max_wait_ms=5,  # measure the worker, not this reader's polling
    )
    await reader.start()
    await reader.getmany(timeout_ms=500)  # joined, positioned at the end
    # An output is told to belong to an event by its content, not by its timing: the first timeline of the unit
    # that lists the event's id, and the ETA updates and alerts the worker wrote with that timeline (same unit,
    # same producer timestamp, give or take a millisecond). Sweeps also write ETA updates and alerts for units
    # whose time ran out, caused by other units' events: timing alone pinned those on the unit's last event.
    events: list[tuple[str, float, float]] = []  # sequence -> (event id, send time, wall-clock send time in ms)
    in_flight: dict[bytes, int] = {}  # unit -> sequence of its latest event
    timeline_read: dict[int, tuple[float, int]] = {}  # sequence -> (read time, producer timestamp in ms)
    eta_alerts: dict[bytes, list[tuple[int, float]]] = {}  # unit -> (producer timestamp, read time), as read
    broker_part: list[float] = []  # output created -> read here
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    timeline_topic = topics.name("timeline")

    async def read() -> None:
        while True:
            batch = await reader.getmany(timeout_ms=100)
            now = time.perf_counter()
            wall = time.time() * 1000
            for tp, msgs in batch.items():
                for m in msgs:
                    if len(events) > warm_up:  # not during the warm-up
                        broker_part.append((wall - m.timestamp) / 1000)
                    seq = in_flight.get(m.key)
                    if seq is None:
                        continue
                    if tp.topic != timeline_topic:
                        eta_alerts.setdefault(m.key, []).append((m.timestamp, now))
                    elif seq not in timeline_read and events[seq][0] in _event_ids(m.value):
                        timeline_read[seq] = (now, m.timestamp)

    task = asyncio.create_task(read())
    try:
        async for seq, key, value in paced(order, rate):
            events.append((orjson.loads(value)["event_id"], time.perf_counter(), time.time() * 1000))
            in_flight[key] = seq
            await producer.send(topics.name("event"), key=key, value=value)
        await asyncio.sleep(3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await reader.stop()
    first_any, first_eta_alert, worker_part = [], [], []
    for seq, (read_at, written) in timeline_read.items():
        if seq < warm_up:
            continue
        _, at, at_wall = events[seq]
        first_any.append(read_at - at)
        caused = [(ts, r) for ts, r in eta_alerts.get(order[seq][0], ()) if abs(ts - written) <= 1 and r >= at]
        if caused:
            ts, r = min(caused, key=lambda c: c[1])
            first_eta_alert.append(r - at)
            worker_part.append((ts - at_wall) / 1000)
    return first_any, first_eta_alert, worker_part, broker_part


async def relay_latency(bootstrap: str, probe: Workload, rate: float, workdir: Path) -> list[float]:
    """The same probe at the same rate through `bench.relay` (the least a worker can do, two hops of the broker as
    corridor's path has): seconds from producing each event to reading it back, the warm-up left out. This is
    what the broker and client library alone cost at this load, the latency counterpart of (a)."""
    source, dest = f"relay-{uuid.uuid4().hex[:6]}.in", f"relay-{uuid.uuid4().hex[:6]}.out"
    await ensure_topics(bootstrap, [source, dest], PARTITIONS)
    with open(workdir / "relay.log", "wb") as errors:
        args = [sys.executable, "-m", "bench.relay", bootstrap, source, dest, "relay"]
        proc = subprocess.Popen(args, preexec_fn=die_with_parent, stdout=subprocess.DEVNULL, stderr=errors)
    reader = AIOKafkaConsumer(dest, bootstrap_servers=bootstrap, auto_offset_reset="latest", group_id=None,
                              fetch_max_wait_ms=5)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await reader.start()
    await producer.start()
    try:
        await reader.getmany(timeout_ms=500)
        while True:  # the relay has joined and passes records through
            await producer.send_and_wait(source, key=b"ready", value=b'{"event_id": "ready"}')
            if await reader.getmany(timeout_ms=2000):
                break
        warm_up, order = probe_schedule(probe, rate)
        sent: dict[str, float] = {}
        took: list[float] = []

        async def read() -> None:
            while True:
                batch = await reader.getmany(timeout_ms=100)
                now = time.perf_counter()
                for msgs in batch.values():
                    for m in msgs:
                        at = sent.pop(orjson.loads(m.value)["event_id"], None)
                        if at is not None:
                            took.append(now - at)

        task = asyncio.create_task(read())
        async for seq, key, value in paced(order, rate):
            if seq >= warm_up:
                sent[orjson.loads(value)["event_id"]] = time.perf_counter()
            await producer.send(source, key=key, value=value)
        await asyncio.sleep(3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return took
    finally:
        stop_process(proc)
        await producer.stop()
        await reader.stop()


def _event_ids(timeline: bytes) -> set[str]:
    """The events a timeline shows, those it merged as other sources' reports of the same event included."""
    entries = orjson.loads(timeline).get("events", ())
    return {e["event_id"] for e in entries} | {i for e in entries for i in e.get("also_reported", ())}


def probe_schedule(probe: Workload, rate: float) -> tuple[int, list[tuple[bytes, bytes]]]:
    """How many events are warm-up (about 5 s, not measured: the first events of 2,000 fresh units start a storm
    of missed milestones), and the events to send: the warm-up, then about 30 s measured."""
    warm_up = int(rate * 5)
    return warm_up, probe_order(probe.events, warm_up + max(2000, int(rate * 30)), spacing=max(1, int(rate)))


async def paced(order: list[tuple[bytes, bytes]], rate: float) -> AsyncIterator[tuple[int, bytes, bytes]]:
    """(sequence, key, value) of each event when it is due: `rate` per second from now."""
    start = time.perf_counter()
    for seq, (key, value) in enumerate(order):
        delay = start + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        yield seq, key, value


def probe_order(events: list[tuple[bytes, bytes]], count: int, spacing: int) -> list[tuple[bytes, bytes]]:
    """The first `count` events to send, in arrival order, except that a unit's next event waits until `spacing`
    sends (one second) after its previous one, so each output can be told apart from the unit's next event's.
    Arrival order keeps event time moving as it does live; sending unit after unit instead (the first version)
    made the watermark leap days back and forth, and each leap declared most units' milestones missed."""
    pending = iter(events)
    deferred: list[tuple[bytes, bytes]] = []  # held back, in arrival order
    last: dict[bytes, int] = {}
    order: list[tuple[bytes, bytes]] = []
    while len(order) < count:
        i = len(order)
        pick = next((j for j, (k, _) in enumerate(deferred) if i - last.get(k, -spacing) >= spacing), None)
        if pick is not None:
            rec = deferred.pop(pick)
        else:
            for rec in pending:
                if i - last.get(rec[0], -spacing) >= spacing:
                    break
                deferred.append(rec)
            else:
                break  # every event is sent or held back
        last[rec[0]] = i
        order.append(rec)
    return order


def pct(values: list[float], q: float) -> float | None:
    """The q-quantile in milliseconds; None when nothing was measured (the worker never answered in time)."""
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


async def run(units: int, probe_units: int, durable: bool = False) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="corridor-bench-"))
    log(f"building the workload: {units} units ...")
    workload = build(units)
    probe = build(probe_units, seed=2, distinct_events=True)
    n = workload.records
    log(f"{n} input records ({len(workload.plans)} plans, {len(workload.events)} events)")
    # The engine alone on the same input (`python -m bench engine`, one round), before any broker runs: how much
    # of (c)'s time is the tracking logic itself, measured in the same run.
    log("engine alone, in process ...")
    engine_eps = engine_rate(workload_inputs(workload))
    log(f"    {engine_eps:,.0f} records/s; broker starting")
    # durable: the same benchmark on `corridor broker --data` (Tansu's s3:// engine on a local SeaweedFS)
    with EmbeddedBroker(log_path=workdir / "broker.log", data=workdir / "broker-data" if durable else None) as broker:
        b = broker.bootstrap
        source = f"bench-{uuid.uuid4().hex[:6]}.input"
        await ensure_topics(b, [source, f"{source}.raw-out"], PARTITIONS)
        await produce(b, ((source, k, v) for k, v in [*workload.plans, *workload.events]))
        log("(a) raw aiokafka ...")
        limit = await raw_limit(b, source, f"{source}.raw-out", n)
        log(f"    {limit:,.0f} records/s")
        log("(b) naive Faust agent ...")
        naive = await naive_faust(b, source, n, workdir)
        log(f"    {naive:,.0f} records/s")

        topics = TopicNames(f"bench-{uuid.uuid4().hex[:6]}.")
        await ensure_topics(b, topics.all, PARTITIONS)
        await produce(b, _inputs(workload, topics))
        app_id = f"corridor-{uuid.uuid4().hex[:6]}"
        log("(c) corridor worker ...")
        worker = corridor_worker(b, topics, app_id, workdir)
        try:
            await wait_committed(b, app_id, [topics.name("plan"), topics.name("event")], timeout=900)
            # Then the shipment job's backlog (unit reports written by the tracking job): done means all done.
            await wait_committed(b, app_id, [topics.name("shipment_feed")], timeout=900)
            corridor = n / await output_span(b, _outputs(topics))
            log(f"    {corridor:,.0f} records/s")
        finally:
            stop_process(worker)
    # Latency on a broker of its own: Tansu's in-memory store lists every stored batch of a partition on each
    # fetch, so after the backlog every hop took tens of milliseconds more, which is the embedded broker's cost,
    # not the job's (Kafka finds an offset through its index).
    rate = corridor / 5
    log(f"latency at {rate:,.0f} records/s ({len(probe.plans)} probe units, fresh broker and worker) ...")
    with EmbeddedBroker(log_path=workdir / "broker-latency.log",
                        data=workdir / "broker-data-latency" if durable else None) as broker:
        b = broker.bootstrap
        topics = TopicNames(f"bench-{uuid.uuid4().hex[:6]}.")
        await ensure_topics(b, topics.all, PARTITIONS)
        app_id = f"corridor-{uuid.uuid4().hex[:6]}"
        worker = corridor_worker(b, topics, app_id, workdir)
        try:
            any_out, eta_alert, worker_part, broker_part = await latency(b, topics, app_id, probe, rate)
        finally:
            stop_process(worker)
    log("the same through a plain aiokafka relay (fresh broker) ...")
    with EmbeddedBroker(log_path=workdir / "broker-relay.log",
                        data=workdir / "broker-data-relay" if durable else None) as broker:
        relay = await relay_latency(broker.bootstrap, probe, rate, workdir)
    return {
        "records": n,
        "units": workload.units,
        "limit_eps": round(limit),
        "naive_faust_eps": round(naive),
        "corridor_eps": round(corridor),
        "ratio": round(corridor / limit, 3),
        "engine_eps": round(engine_eps),
        "offered_eps": round(rate),
        "latency_samples": len(eta_alert),
        "p50_ms": pct(eta_alert, 0.50),
        "p99_ms": pct(eta_alert, 0.99),
        "first_output_p50_ms": pct(any_out, 0.50),
        "first_output_p99_ms": pct(any_out, 0.99),
        "worker_p50_ms": pct(worker_part, 0.50),
        "worker_p99_ms": pct(worker_part, 0.99),
        "read_p50_ms": pct(broker_part, 0.50),
        "read_p99_ms": pct(broker_part, 0.99),
        "relay_p50_ms": pct(relay, 0.50),
        "relay_p99_ms": pct(relay, 0.99),
    }


def main(units: int = 20000, probe_units: int = 2000, durable: bool = False) -> None:
    started = time.monotonic()
    result = asyncio.run(run(units, probe_units, durable))
    print(f"broker: {'durable (s3:// on SeaweedFS)' if durable else 'memory://'}")
    print(f"input: {result['records']:,} records (plans and events) for {result['units']:,} units")
    print(f"(a) limit, raw aiokafka      {result['limit_eps']:>9,} records/s")
    print(f"(b) naive Faust agent        {result['naive_faust_eps']:>9,} records/s")
    print(f"(c) corridor tracking job    {result['corridor_eps']:>9,} records/s   ratio (c)/(a) {result['ratio']}")
    print(f"the engine alone, in process {result['engine_eps']:>9,} records/s (no Kafka, Faust or RocksDB)")
    print(
        f"latency of (c) at {result['offered_eps']:,} records/s offered, producing an event to reading the ETA "
        f"update or alert it caused ({result['latency_samples']} samples): p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms; to its first output: p50 {result['first_output_p50_ms']} ms, "
        f"p99 {result['first_output_p99_ms']} ms"
    )
    print(
        f"  of which: send to the worker writing the ETA update or alert (its record timestamp) p50 "
        f"{result['worker_p50_ms']} ms, p99 {result['worker_p99_ms']} ms; any output written to read here p50 "
        f"{result['read_p50_ms']} ms, p99 {result['read_p99_ms']} ms"
    )
    print(
        f"the same events at the same rate through a plain aiokafka relay on a fresh broker (two hops of the broker, "
        f"as corridor's path has; the broker's and client's share): p50 {result['relay_p50_ms']} ms, "
        f"p99 {result['relay_p99_ms']} ms"
    )
    print(f"run time {time.monotonic() - started:.0f} s")
    keys = ("limit_eps", "naive_faust_eps", "corridor_eps", "ratio", "p50_ms", "p99_ms", "engine_eps",
            "relay_p99_ms")
    print(orjson.dumps({k: result[k] for k in keys}).decode())
