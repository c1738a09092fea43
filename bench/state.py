"""`python -m bench state`: corridor's per-unit state at scale, on the embedded broker.

1,000,000 active units' states (realistic: simulator units part-way through their journeys, replicated under
new container numbers) are written to the units changelog exactly as a worker writes them. A fresh worker
(`corridor worker`, RocksDB) then rebuilds its tables from the changelog. Reported: encoded bytes per unit, bytes
per unit on disk (RocksDB directory after the rebuild), the worker's RSS, and the rebuild rate (records per
second of the rebuild, the start-up of an empty worker subtracted, both measured in this run)."""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from stdnum import iso6346

from bench.common import PARTITIONS, durable_waits, log
from bench.workload import build
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.core.policy import DEFAULT_POLICY
from streams.core.state import UnitState
from streams.processing.engine import Engine
from streams.topology.process import start_worker, stop_process


def sample_states(units: int = 2000) -> list[bytes]:
    """States of real simulated units, each taken part-way (a random prefix of its events): active units."""
    w = build(units)
    rng = random.Random(5)
    by_unit: dict[bytes, list[bytes]] = {}
    for k, v in w.events:
        by_unit.setdefault(k, []).append(v)
    engine = Engine({}, {}, TopicNames(), DEFAULT_POLICY)
    for k, v in w.plans:
        engine.process("corridor.plans", 0, None, k, v)
        events = by_unit.get(k, [])
        for e in events[: rng.randint(1, max(1, len(events)))]:
            engine.process("corridor.events", 0, None, k, e)
    return list(engine.units.values())


def _renamed(state: bytes, old: str, n: int) -> tuple[bytes, bytes]:
    owner = "CRD" + "U"
    serial = f"{n:06d}"
    new = owner + serial + iso6346.calc_check_digit(owner + serial)
    if n >= 1_000_000:  # a second owner code past a million
        owner = "CRE" + "U"
        serial = f"{n - 1_000_000:06d}"
        new = owner + serial + iso6346.calc_check_digit(owner + serial)
    return new.encode(), state.replace(old.encode(), new.encode())


async def _write_changelog(bootstrap: str, topic: str, samples: list[bytes], n: int) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1024 * 1024)
    await producer.start()
    total = 0
    try:
        for i in range(n):
            state = samples[i % len(samples)]
            old = UnitState.decode(state).unit.id  # type: ignore[union-attr]
            key, value = _renamed(state, old, i)
            total += len(value)
            await producer.send(topic, key=key, value=value, partition=partition_for(key, PARTITIONS))
            if i % 100_000 == 0 and i:
                log(f"    {i:,} written")
        await producer.flush()
    finally:
        await producer.stop()
    return total


async def raw_read(bootstrap: str, topic: str, n: int, wait_ms: int = 20) -> float:
    """The limit for a rebuild: seconds for a plain aiokafka consumer to read the same changelog (and do nothing
    with it), on the same broker; if it stalls, the time it would take at the rate it read."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_wait_ms=wait_ms)  # fmt: skip
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        started = time.perf_counter()
        seen = 0
        while seen < n:
            batch = await consumer.getmany(timeout_ms=2000, max_records=10_000)
            if not batch:
                break
            seen += sum(len(msgs) for msgs in batch.values())
        if seen < n:  # a stalled read must not pass for a fast one: the rate is of what was read
            log(f"    the plain consumer read {seen:,} of {n:,} records, then nothing for 2 s")
        return (time.perf_counter() - started) * n / max(seen, 1)
    finally:
        await consumer.stop()


def _worker(bootstrap: str, app_id: str, prefix: str, data: Path, logfile: Path, durable: bool) -> subprocess.Popen:
    return start_worker(logfile, broker=bootstrap, app_id=app_id, topic_prefix=prefix, data_dir=data,
                        embedded_broker=True, web_enabled=False, partitions=PARTITIONS, **durable_waits(durable))


def _wait_ready(proc: subprocess.Popen, logfile: Path, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        text = logfile.read_text(errors="replace") if logfile.exists() else ""
        if re.search(r"\[\^Worker\]: Ready", text):
            return time.monotonic() - started
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {text[-2000:]}")
        time.sleep(0.1)
    raise TimeoutError("worker not ready")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def run(units: int, durable: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(prefix="corridor-state-"))
    log("sampling realistic unit states ...")
    samples = sample_states()
    broker_restart = None
    with EmbeddedBroker(log_path=work / "broker.log", data=work / "broker-data" if durable else None) as broker:
        b = broker.bootstrap
        prefix = f"s{uuid.uuid4().hex[:6]}."
        topics = TopicNames(prefix)
        await ensure_topics(b, topics.all, PARTITIONS)
        # An empty worker first: its start-up time is subtracted from the rebuild.
        empty_id = f"empty-{uuid.uuid4().hex[:6]}"
        proc = _worker(b, empty_id, prefix, work / empty_id, work / "empty.log", durable)
        try:
            empty_startup = _wait_ready(proc, work / "empty.log", 120)
        finally:
            stop_process(proc, 60)
        app_id = f"state-{uuid.uuid4().hex[:6]}"
        changelog = f"{app_id}-units-changelog"
        await ensure_topics(b, [changelog], PARTITIONS)
        log(f"writing {units:,} unit states to {changelog} ...")
        encoded = await _write_changelog(b, changelog, samples, units)
        if durable:  # recover as after a restart of the machine: the broker, too, starts again on its directory
            log("stopping the durable broker and starting it again on the same directory ...")
            broker.stop()
            started = time.monotonic()
            broker.start(timeout=120)
            broker_restart = time.monotonic() - started
        log("rebuilding a fresh worker from the changelog ...")
        proc = _worker(b, app_id, prefix, work / app_id, work / "state.log", durable)
        try:
            ready = _wait_ready(proc, work / "state.log", 1800)
            time.sleep(2)
            rss = _rss_mb(proc.pid)
        finally:
            stop_process(proc, 60)
        disk = _du(work / app_id)
        log("reading the changelog with a plain consumer (the limit) ...")
        raw = await raw_read(b, changelog, units, durable_waits(durable).get("embedded_fetch_wait_ms", 20))
    rebuild = max(ready - empty_startup, 1e-3)
    return {
        "units": units,
        "encoded_bytes_per_unit": round(encoded / units),
        "disk_bytes_per_unit": round(disk / units),
        "rss_mb": round(rss),
        "rebuild_s": round(rebuild, 1),
        "rebuild_rps": round(units / rebuild),
        "raw_read_rps": round(units / raw),
        "rebuild_ratio": round(raw / rebuild, 3),
        "empty_worker_startup_s": round(empty_startup, 1),
        # durable: seconds for the broker to start again on its directory, and broker restart + worker ready
        "broker_restart_s": None if broker_restart is None else round(broker_restart, 1),
        "restart_to_ready_s": None if broker_restart is None else round(broker_restart + ready, 1),
    }


def main(units: int = 1_000_000, durable: bool = False) -> None:
    started = time.monotonic()
    r = asyncio.run(run(units, durable))
    print(f"units: {r['units']:,} active units; broker: {'durable (s3:// on SeaweedFS)' if durable else 'memory://'}")
    print(
        f"state per unit: {r['encoded_bytes_per_unit']} bytes encoded, {r['disk_bytes_per_unit']} bytes on disk "
        f"(RocksDB, after rebuild)   target <= 1024"
    )
    print(f"worker RSS after rebuild: {r['rss_mb']} MB   target <= 1024")
    print(
        f"rebuild from changelog: {r['rebuild_s']} s = {r['rebuild_rps']:,} records/s   target >= 50,000 "
        f"(empty worker start-up {r['empty_worker_startup_s']} s subtracted)"
    )
    print(f"limit: a plain aiokafka consumer reads the same changelog at {r['raw_read_rps']:,} records/s; "
          f"rebuild/limit {r['rebuild_ratio']}")
    if r["broker_restart_s"] is not None:
        print(f"restart: the durable broker started again on its directory in {r['broker_restart_s']} s; "
              f"broker restart to a ready worker with every unit's state: {r['restart_to_ready_s']} s")
    print(f"run time {time.monotonic() - started:.0f} s")
    print(orjson.dumps(r).decode())
