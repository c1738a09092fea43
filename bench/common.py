"""What the Kafka benchmarks share: the partition count, producing a workload, waiting for a consumer group to
commit everything, the span of a job's output (broker timestamps), starting a corridor worker, and quantiles."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.workload import Workload
from schemas.topics import TopicNames
from streams.broker.tansu import true_end_offsets
from streams.topology.process import start_worker

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


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
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
    ends = await end_offsets(bootstrap, topics)
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
    ends = await end_offsets(bootstrap, topics)
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



def corridor_worker(bootstrap: str, topics: TopicNames, app_id: str, workdir: Path,
                    durable: bool = False) -> subprocess.Popen:  # fmt: skip
    return start_worker(workdir / f"{app_id}.log", "warning", broker=bootstrap, app_id=app_id,
                        topic_prefix=topics.prefix, data_dir=workdir / app_id, embedded_broker=True,
                        web_enabled=False, commit_interval=0.5, partitions=PARTITIONS, **durable_waits(durable))


def durable_waits(durable: bool) -> dict[str, int]:
    """On the durable broker a worker's fetches wait what `corridor worker` gives them there (at least 500 ms,
    streams.broker.resolve.for_long_runs): with the embedded default of 5 ms, Tansu's s3:// engine answers a large
    changelog's fetches empty (docs/operations.md)."""
    from streams.broker.resolve import LONG_RUN_FETCH_WAIT_MS

    return {"embedded_fetch_wait_ms": LONG_RUN_FETCH_WAIT_MS} if durable else {}


def output_topics(topics: TopicNames) -> list[str]:
    """Everything the job writes, the shipment job's outputs included (it runs in the same worker)."""
    return [topics.name(r) for r in ("timeline", "alert", "eta", "dead_letter", "shipment_feed",
                                     "shipment_timeline", "shipment_alert", "shipment_eta")]  # fmt: skip


def workload_records(w: Workload, topics: TopicNames) -> Iterable[tuple[str, bytes, bytes]]:
    for key, value in w.plans:
        yield topics.name("plan"), key, value
    for key, value in w.events:
        yield topics.name("event"), key, value



def pct(values: list[float], q: float) -> float | None:
    """The q-quantile in milliseconds; None when nothing was measured (the worker never answered in time)."""
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)
