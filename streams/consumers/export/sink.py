"""The export consumer: reads timelines, alerts and ETA updates as the consumer group `group`, buffers them
per topic-partition, and writes a batch when it is big or old enough (files.py explains the exactly-once
naming). Several instances split the partitions between them; they must share the output directory."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.consumers.common import ConsumerTuning, group_consumer
from streams.consumers.export.files import BatchFiles
from streams.consumers.export.rows import Row, rows_for
from streams.settings import Settings

log = logging.getLogger(__name__)
ROLES = ("timeline", "alert", "eta")


@dataclass(frozen=True)
class ExportConfig:
    out: Path
    group: str = "corridor-export"
    batch_records: int = 5000
    flush_seconds: float = 10.0
    tuning: ConsumerTuning = field(default_factory=ConsumerTuning)


@dataclass
class _Buffer:
    started: float
    records: list[ConsumerRecord] = field(default_factory=list)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, sink: ExportSink) -> None:
        self._sink = sink

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._sink._lock:
            for tp in revoked:  # unwritten rows are dropped: whoever gets the partition re-reads them
                self._sink._buffers.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        async with self._sink._lock:
            self._sink._generation += 1
            for tp in assigned:
                await self._sink._resume(tp)
            self._sink.last_activity = time.monotonic()


class ExportSink:
    def __init__(self, settings: Settings, bootstrap: str, config: ExportConfig) -> None:
        self.settings, self.bootstrap, self.config = settings, bootstrap, config
        self.topics = TopicNames(settings.topic_prefix)
        self._roles = {self.topics.name(r): r for r in ROLES}
        self.files = BatchFiles(config.out)
        self.stats: Counter[str] = Counter()
        self._buffers: dict[TopicPartition, _Buffer] = {}
        self._next: dict[TopicPartition, int] = {}  # next offset to write, per assigned partition
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self.last_activity: float | None = None  # monotonic time of the last record read (or assignment)
        self._generation = 0  # bumped by each assignment: a fetch from before it may hold stale positions

    async def start(self) -> ExportSink:
        s = self.settings
        security = s.kafka_security()
        await ensure_topics(self.bootstrap, self.topics.all, s.partitions, s.replication, security=security)
        self._consumer = group_consumer(self.bootstrap, list(self._roles), self.config.group, self.config.tuning,
                                        _Rebalance(self), security=security)
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="export")
        return self

    async def stop(self) -> None:
        """Stop without writing what is buffered: it was not committed, so it is read again next time."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if hasattr(self, "_consumer"):
            await self._consumer.stop()

    async def __aenter__(self) -> ExportSink:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait(self, stop: asyncio.Event) -> None:
        assert self._task is not None
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopping, self._task], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if self._task.done() and not self._task.cancelled() and self._task.exception():
            raise RuntimeError("export failed") from self._task.exception()

    async def drain(self) -> None:
        """Write every buffered record now (before exiting on idle)."""
        commits = {}
        async with self._lock:
            for tp in list(self._buffers):
                buf = self._buffers.pop(tp)
                if buf.records:
                    commits[tp] = await self._flush(tp, buf)
        await self._commit(commits)

    def idle_for(self) -> float | None:
        return None if self.last_activity is None else time.monotonic() - self.last_activity

    def written_up_to(self) -> dict[TopicPartition, int]:
        """Per assigned partition, the next offset to write (everything before it is on disk)."""
        return dict(self._next)

    async def _resume(self, tp: TopicPartition) -> None:
        self._buffers.pop(tp, None)
        resume = self.files.resume_offset(tp.topic, tp.partition)
        removed = self.files.remove_leftovers(tp.topic, tp.partition, resume or 0)
        if removed:
            log.warning("removed %d file(s) of an unfinished batch of %s[%d]", len(removed), tp.topic, tp.partition)
            self.stats["leftovers_removed"] += len(removed)
        if resume is None:
            await self._consumer.seek_to_beginning(tp)
            self._next[tp] = 0
        else:
            self._consumer.seek(tp, resume)
            self._next[tp] = resume

    async def _run(self) -> None:
        while True:
            generation = self._generation
            batch = await self._consumer.getmany(timeout_ms=200, max_records=self.config.batch_records)
            commits: dict[TopicPartition, int] = {}
            async with self._lock:
                now = time.monotonic()
                if generation != self._generation:
                    batch = {}  # fetched before a rebalance moved the positions: read again from them
                if batch:
                    self.last_activity = now
                for tp, msgs in batch.items():
                    if tp not in self._next:
                        continue  # revoked while this fetch was in flight
                    buf = self._buffers.setdefault(tp, _Buffer(now))
                    for m in msgs:  # strictly the next offsets: never the same record twice in a batch
                        if m.offset >= (buf.records[-1].offset + 1 if buf.records else self._next[tp]):
                            buf.records.append(m)
                for tp, buf in list(self._buffers.items()):
                    if buf.records and (len(buf.records) >= self.config.batch_records
                                        or now - buf.started >= self.config.flush_seconds):
                        commits[tp] = await self._flush(tp, self._buffers.pop(tp))
                    elif not buf.records:
                        self._buffers.pop(tp)
            await self._commit(commits)  # outside the lock: a commit can wait for a rebalance, which needs it

    async def _commit(self, commits: dict[TopicPartition, int]) -> None:
        if not commits:
            return
        try:
            await self._consumer.commit(commits)
        except KafkaError as exc:
            log.warning("offset commit failed (the files are the source of truth): %s", exc)

    async def _flush(self, tp: TopicPartition, buf: _Buffer) -> int:
        role = self._roles[tp.topic]
        rows: list[Row] = []
        skipped = 0
        for m in buf.records:
            try:
                value = orjson.loads(m.value) if m.value else None
                rows += rows_for(role, value, tp.partition, m.offset) if isinstance(value, dict) else []
                skipped += not isinstance(value, dict)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                skipped += 1
                log.warning("skipping %s[%d]@%d: %s", tp.topic, tp.partition, m.offset, exc)
        first, last = buf.records[0].offset, buf.records[-1].offset
        written = await asyncio.to_thread(self.files.write, tp.topic, tp.partition, first, last, rows,
                                          len(buf.records), skipped)
        self._next[tp] = last + 1
        self.stats["batches"] += 1
        self.stats["records"] += written.records
        self.stats["rows"] += sum(written.files.values())
        return last + 1


async def run_export(settings: Settings, bootstrap: str, config: ExportConfig, stop: asyncio.Event,
                     idle_exit: float = 0.0, on_ready: Any = None) -> dict[str, int]:
    """Run until `stop` is set or, with `idle_exit` > 0, until nothing was read for that many seconds (then
    write what is buffered and exit: a batch export)."""
    async with ExportSink(settings, bootstrap, config) as sink:
        if on_ready is not None:
            on_ready(sink)
        if idle_exit > 0:
            async def idle() -> None:
                while (sink.idle_for() or 0.0) < idle_exit:
                    await asyncio.sleep(0.1)
                stop.set()

            watcher = asyncio.create_task(idle())
            try:
                await sink.wait(stop)
            finally:
                watcher.cancel()
            if watcher.done() and not watcher.cancelled():
                await sink.drain()
        else:
            await sink.wait(stop)
        return dict(sink.stats)
