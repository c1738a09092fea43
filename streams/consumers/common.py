"""What the consumers share: a group consumer tuned like the worker, an offset tracker that commits only
past finished records, and a stop event wired to SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from streams.kafka_security import KafkaSecurity, client_kwargs


@dataclass(frozen=True, slots=True)
class ConsumerTuning:
    """Group timings. The defaults match the worker's (fast joins on the embedded broker, see the shared
    notes); tests use shorter ones because Tansu makes a rejoining member wait out the session timeout."""

    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    rebalance_timeout_ms: int = 2000


FAST = ConsumerTuning(session_timeout_ms=2500, heartbeat_interval_ms=500, rebalance_timeout_ms=1000)


def group_consumer(
    bootstrap: str, topics: list[str], group: str, tuning: ConsumerTuning,
    listener: ConsumerRebalanceListener | None = None, security: KafkaSecurity | None = None,
) -> AIOKafkaConsumer:
    """A consumer in `group` that never auto-commits. The range assignor gives one member the same partition
    numbers of every subscribed topic, so co-partitioned topics (keyed by unit) meet in one member."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
        partition_assignment_strategy=(RangePartitionAssignor,),
        session_timeout_ms=tuning.session_timeout_ms, heartbeat_interval_ms=tuning.heartbeat_interval_ms,
        rebalance_timeout_ms=tuning.rebalance_timeout_ms, **client_kwargs(security),
    )
    consumer.subscribe(topics, listener=listener)
    return consumer


@dataclass
class OffsetTracker:
    """Per partition: which read records are still being worked on. The commit point of a partition is its
    lowest unfinished offset (or one past the highest seen), so a commit never skips a record in flight."""

    _pending: dict[TopicPartition, dict[int, int]] = field(default_factory=dict)
    _next: dict[TopicPartition, int] = field(default_factory=dict)
    _committed: dict[TopicPartition, int] = field(default_factory=dict)

    def hold(self, tp: TopicPartition, offset: int) -> None:
        """One more piece of work for this record (the first call also marks it seen)."""
        pending = self._pending.setdefault(tp, {})
        pending[offset] = pending.get(offset, 0) + 1
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)

    def release(self, tp: TopicPartition, offset: int) -> None:
        pending = self._pending.get(tp)
        if pending is None or offset not in pending:
            return  # partition revoked meanwhile: its new owner re-reads the record
        pending[offset] -= 1
        if pending[offset] <= 0:
            del pending[offset]

    def in_flight(self) -> int:
        return sum(len(p) for p in self._pending.values())

    def commit_points(self) -> dict[TopicPartition, int]:
        """Offsets to commit that moved since the last call."""
        out = {}
        for tp, nxt in self._next.items():
            pending = self._pending.get(tp)
            point = min(pending) if pending else nxt
            if point > self._committed.get(tp, -1):
                out[tp] = point
        return out

    def committed(self, points: dict[TopicPartition, int]) -> None:
        self._committed.update(points)

    def forget(self, tps: list[TopicPartition] | set[TopicPartition]) -> None:
        for tp in tps:
            self._pending.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)


def stop_event_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for commands that run until stopped."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, also when the broker is gone. aiokafka's fetcher, closed while a fetch sleeps out its
    retry back-off, cancels that fetch and lets its CancelledError out of stop() before the client's connections
    are closed: that error is not ours (unless this task is itself being cancelled), so the close is finished."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        with contextlib.suppress(Exception):
            await consumer._client.close()  # what stop() had left to do
