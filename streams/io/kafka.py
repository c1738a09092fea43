"""Publish corridor's inputs and read its outputs with plain aiokafka clients (used by the simulator,
replay against a broker, the demo's live view and the integration tests)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import ClockTick, Plan, ShipmentPlan, TrackingEvent, dumps, loads
from schemas.topics import TopicNames
from streams.core.history_order import known_at
from streams.kafka_security import KafkaSecurity, client_kwargs


class Publisher:
    """Sends plans and events keyed by unit id (the default murmur2 partitioner, as Faust and Java clients
    use) and broadcasts clock ticks to every partition of the clock topic."""

    def __init__(self, bootstrap: str, topics: TopicNames, partitions: int, *, stamped: bool = False,
                 ordered: bool = False, security: KafkaSecurity | None = None) -> None:
        """`stamped`: each record's Kafka timestamp is when it became known (a plan's issue time, an event's
        receipt, a tick's time) instead of when it is sent: publishing a recorded history, the worker then
        takes it in the order it happened whatever order it is sent in. Unstamped, each record is stamped with
        the wall clock, but never earlier than the record sent before it, plus a millisecond: the worker takes
        records in timestamp order across topics, with ties by topic (plans first), so two records sent in the
        same millisecond (an event, then a plan revision issued later) would be taken in the other order than
        they were sent, and `corridor replay` of what was sent would differ from the live run.

        `ordered`: each record is appended before the next is sent. A worker can order only what the broker
        already has: records sent together land in other partitions in any order, so a record stamped later can
        be read, and taken, while one stamped earlier in another topic is not appended yet (the other topic
        looks caught up; Kafka Streams does the same). Replay takes them in their stamps' order. Seen in `bench
        chaos`: an event taken before two ticks stamped up to seven hours earlier, sent in the same flush."""
        self.topics = topics
        self.partitions = partitions
        self.stamped = stamped
        self.ordered = ordered
        self._last_stamp = 0  # milliseconds: the latest unstamped record's timestamp
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0 if ordered else 5, acks="all",
                                          **client_kwargs(security))

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, record: Plan | TrackingEvent | ClockTick | ShipmentPlan) -> None:
        value = dumps(record)
        stamp = int(known_at(record).timestamp() * 1000) if self.stamped else self._wall_stamp()
        if isinstance(record, ShipmentPlan):
            sent = [await self._producer.send(self.topics.name("shipment_plan"), key=record.key.encode(),
                                              value=value, timestamp_ms=stamp)]  # fmt: skip
        elif isinstance(record, ClockTick):
            topic = self.topics.name("clock")
            sent = [await self._producer.send(topic, value=value, partition=p, timestamp_ms=stamp)
                    for p in range(self.partitions)]  # fmt: skip
        else:
            role = "plan" if isinstance(record, Plan) else "event"
            sent = [await self._producer.send(self.topics.name(role), key=record.unit.id.encode(), value=value,
                                              timestamp_ms=stamp)]  # fmt: skip
        if self.ordered:
            await asyncio.gather(*sent)

    def _wall_stamp(self) -> int:
        self._last_stamp = max(time.time_ns() // 1_000_000, self._last_stamp + 1)
        return self._last_stamp

    async def send_raw(self, topic: str, value: bytes | None, key: bytes | None = None) -> None:
        await self._producer.send(topic, key=key, value=value, timestamp_ms=self._wall_stamp())

    async def send_all(self, records: Iterable[Plan | TrackingEvent | ClockTick | ShipmentPlan]) -> None:
        for r in records:
            await self.send(r)
        await self._producer.flush()

    async def flush(self) -> None:
        await self._producer.flush()


@dataclass
class OutputReader:
    """Reads every output topic from the beginning, in the background, into per-topic lists."""

    bootstrap: str
    topics: TopicNames
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    _keys: dict[str, list[bytes | None]] = field(default_factory=lambda: defaultdict(list))
    security: KafkaSecurity | None = None
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def names(self) -> list[str]:
        return self.topics.outputs

    async def __aenter__(self) -> OutputReader:
        self._consumer = AIOKafkaConsumer(
            *self.names, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, group_id=None, fetch_max_wait_ms=50,  # a live view: poll often
            **client_kwargs(self.security),
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    self.records[tp.topic].append(loads(m.value))
                    self._keys[tp.topic].append(m.key)
            if batch:
                self._changed.set()

    def keys(self, topic: str) -> list[bytes | None]:
        return self._keys[topic]

    def of(self, role: str) -> list[dict[str, Any]]:
        return self.records[self.topics.name(role)]  # type: ignore[arg-type]

    async def wait_for(self, predicate, timeout: float = 30.0) -> None:
        """Wait until predicate(self) is true, or raise TimeoutError."""
        async def loop() -> None:
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(loop(), timeout)

    async def settle(self, quiet: float = 1.5, timeout: float = 60.0) -> None:
        """Wait until no output has arrived for `quiet` seconds."""
        async def loop() -> None:
            while True:
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), quiet)
                except TimeoutError:
                    return
        await asyncio.wait_for(loop(), timeout)
