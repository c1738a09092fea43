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
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import (
    PARTITIONS,
    corridor_worker,
    durable_waits,
    log,
    output_span,
    output_topics,
    pct,
    produce,
    wait_committed,
    workload_records,
)
from bench.engine import engine_rate, workload_inputs
from bench.latency import latency, relay_latency
from bench.workload import build
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker, die_with_parent
from streams.topology.process import stop_process


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
        await produce(b, workload_records(workload, topics))
        app_id = f"corridor-{uuid.uuid4().hex[:6]}"
        log("(c) corridor worker ...")
        worker = corridor_worker(b, topics, app_id, workdir, durable)
        try:
            await wait_committed(b, app_id, [topics.name("plan"), topics.name("event")], timeout=900)
            # Then the shipment job's backlog (unit reports written by the tracking job): done means all done.
            await wait_committed(b, app_id, [topics.name("shipment_feed")], timeout=900)
            corridor = n / await output_span(b, output_topics(topics))
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
        worker = corridor_worker(b, topics, app_id, workdir, durable)
        try:
            any_out, eta_alert, worker_part, broker_part = await latency(b, topics, app_id, probe, rate)
        finally:
            stop_process(worker)
    log("the same through a plain aiokafka relay (fresh broker) ...")
    with EmbeddedBroker(log_path=workdir / "broker-relay.log",
                        data=workdir / "broker-data-relay" if durable else None) as broker:
        relay = await relay_latency(broker.bootstrap, probe, rate, workdir,
                                    durable_waits(durable).get("embedded_fetch_wait_ms", 5))  # fmt: skip
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
