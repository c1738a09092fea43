"""End-to-end latency at a fixed offered load: events sent at a steady rate, each matched to the outputs it caused
by their content (`latency`), and the same events through a plain aiokafka relay (`relay_latency`): what the
broker and client library alone cost. Used by `python -m bench` (bench/throughput.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import PARTITIONS, produce, wait_committed
from bench.workload import Workload
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import die_with_parent
from streams.topology.process import stop_process


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
                    elif seq not in timeline_read and events[seq][0] in event_ids(m.value):
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


async def relay_latency(bootstrap: str, probe: Workload, rate: float, workdir: Path,
                        wait_ms: int = 5) -> list[float]:  # fmt: skip
    """The same probe at the same rate through `bench.relay` (the least a worker can do, two hops of the broker as
    corridor's path has): seconds from producing each event to reading it back, the warm-up left out. This is
    what the broker and client library alone cost at this load, the latency counterpart of (a)."""
    source, dest = f"relay-{uuid.uuid4().hex[:6]}.in", f"relay-{uuid.uuid4().hex[:6]}.out"
    await ensure_topics(bootstrap, [source, dest], PARTITIONS)
    with open(workdir / "relay.log", "wb") as errors:
        args = [sys.executable, "-m", "bench.relay", bootstrap, source, dest, "relay", str(wait_ms)]
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


def event_ids(timeline: bytes) -> set[str]:
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
