"""`Publisher(ordered=True)`: each record is appended before the next is sent (bench chaos compares a live run with
replay, which takes records in their stamps' order; a worker can only order what the broker already has)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from schemas import ClockTick
from schemas.topics import TopicNames
from streams.io.kafka import Publisher


class _Producer:
    def __init__(self) -> None:
        self.pending: list[asyncio.Future] = []
        self.sent = 0

    async def send(self, topic, key=None, value=None, partition=None, timestamp_ms=None):  # type: ignore[no-untyped-def]
        self.sent += 1
        future = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future


async def _sends_before_delivery(ordered: bool) -> int:
    """How many records the publisher handed to the client before the first delivery came back."""
    pub = Publisher("127.0.0.1:9", TopicNames("t"), 2, stamped=True, ordered=ordered)
    producer = pub._producer = _Producer()  # type: ignore[assignment]
    tick = ClockTick(time=datetime(2026, 3, 1, tzinfo=UTC))
    task = asyncio.ensure_future(pub.send(tick))
    second = asyncio.ensure_future(_after(task, pub, tick))
    for _ in range(10):
        await asyncio.sleep(0)
    before = producer.sent
    for future in producer.pending:
        future.set_result(None)
    for _ in range(10):
        await asyncio.sleep(0)
        for future in producer.pending:
            if not future.done():
                future.set_result(None)
    await asyncio.wait_for(second, 1)
    return before


async def _after(task: asyncio.Future, pub: Publisher, tick: ClockTick) -> None:
    await task
    await pub.send(tick)


async def test_an_ordered_publisher_waits_for_each_record_to_be_appended() -> None:
    assert await _sends_before_delivery(ordered=True) == 2  # the tick's two partitions, then it waits
    assert await _sends_before_delivery(ordered=False) == 4  # both ticks handed over at once
