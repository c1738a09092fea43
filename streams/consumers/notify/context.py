"""What alerts do not carry but subscribers filter on: a unit's lane and customer (from its latest plan on
corridor.plans) and its shipment refs (booking, bill of lading, AWB, from corridor.events). Read with a
group-less consumer over the same partition numbers the notify group assigned to this instance (the topics
are co-partitioned by unit), from the beginning of retention."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import TrackedUnit
from streams.consumers.common import stop_consumer
from streams.consumers.notify.matching import UnitContext
from streams.kafka_security import KafkaSecurity, client_kwargs

log = logging.getLogger(__name__)


class ContextReader:
    def __init__(self, bootstrap: str, plans_topic: str, events_topic: str,
                 security: KafkaSecurity | None = None) -> None:
        self._topics = (plans_topic, events_topic)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                          auto_offset_reset="earliest", **client_kwargs(security))
        self._plans: dict[str, tuple[int, str | None, str | None]] = {}  # unit -> (revision, lane, customer)
        self._shipments: dict[str, set[str]] = {}
        self._task: asyncio.Task | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="notify-context")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await stop_consumer(self._consumer)

    async def assign(self, partitions: set[int]) -> None:
        current = self._consumer.assignment()
        wanted = {TopicPartition(t, p) for t in self._topics for p in partitions}
        if wanted == current:
            return
        self._consumer.assign(list(wanted))
        new = wanted - current
        if new:
            await self._consumer.seek_to_beginning(*new)

    def knows(self, unit: str) -> bool:
        return unit in self._plans

    def get(self, unit: str) -> UnitContext:
        _, lane, customer = self._plans.get(unit, (0, None, None))
        return UnitContext(lane, customer, frozenset(self._shipments.get(unit, ())))

    async def catch_up(self, timeout: float) -> bool:
        """Wait until everything written to the assigned partitions before this call has been read: plans
        and events that led to an alert were written before the alert. False on timeout."""
        tps = list(self._consumer.assignment())
        if not tps:
            return True
        ends = await self._consumer.end_offsets(tps)

        async def behind() -> bool:
            for tp, end in ends.items():
                if await self._position(tp) < end:
                    return True
            return False

        async def loop() -> None:
            while await behind():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.1)

        try:
            await asyncio.wait_for(loop(), timeout)
            return True
        except TimeoutError:
            return False

    async def wait_for_unit(self, unit: str, timeout: float) -> bool:
        async def loop() -> None:
            while not self.knows(unit):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
            return True
        except TimeoutError:
            return False

    async def _position(self, tp: TopicPartition) -> int:
        try:
            return await self._consumer.position(tp)
        except Exception:  # revoked meanwhile
            return 1 << 62

    async def _run(self) -> None:
        while True:
            if not self._consumer.assignment():
                await asyncio.sleep(0.1)
                continue
            batch = await self._consumer.getmany(timeout_ms=200)
            for tp, msgs in batch.items():
                for m in msgs:
                    # malformed input is the worker's to dead-letter, not ours (JSONDecodeError is a ValueError)
                    with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError):
                        self._apply(tp.topic, orjson.loads(m.value) if m.value else None)
            self._changed.set()

    def _apply(self, topic: str, value: dict | None) -> None:
        if not isinstance(value, dict):
            return
        unit = TrackedUnit.model_validate(value["unit"]).id  # as the worker normalises it on alerts
        if topic == self._topics[0]:
            revision = int(value.get("revision") or 1)
            if revision >= self._plans.get(unit, (0, None, None))[0]:
                self._plans[unit] = (revision, value.get("lane"), value.get("customer"))
        else:
            refs = {str(v).upper() for v in (value.get("shipment") or {}).values() if v}
            if refs:
                self._shipments.setdefault(unit, set()).update(refs)
