"""The batcher's watcher: a batch whose next record never comes is completed, so its records are acknowledged.

Faust clears a stream's queue when a rebalance starts and then waits for every record handed to an agent to be
acknowledged. A batcher that had seen records waiting (so kept its batch open) and then found the queue cleared
waited forever for the next record, and the worker's rebalance never finished. The stream here is a stand-in
with exactly that behaviour: its queue says records are waiting, and after the first record nothing comes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from streams.processing.engine import OutRecord
from streams.topology.batching import Batcher


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int


class _Event:  # weak-referenceable, as Faust's events are
    def __init__(self, partition: int, offset: int) -> None:
        self.message = _Message("in", partition, offset)
        self.key = b"k"
        self.value = b"v"


class _Queue:
    def empty(self) -> bool:
        return False  # "more is waiting": the batcher keeps its batch open


@dataclass
class _Channel:
    queue: _Queue = field(default_factory=_Queue)


class _Stream:
    def __init__(self, events: list[_Event]) -> None:
        self.enable_acks = True
        self.channel = _Channel()
        self._events = events
        self.acked: list[_Event] = []

    async def events(self):  # type: ignore[no-untyped-def]
        for event in self._events:
            yield event
        await asyncio.Event().wait()  # the queue was cleared: nothing more, ever

    async def ack(self, event: _Event) -> bool:
        self.acked.append(event)
        return True


class _Engine:
    def __init__(self) -> None:
        self.flushed = 0

    def process(self, topic, partition, offset, key, value) -> list[OutRecord]:  # type: ignore[no-untyped-def]
        return [OutRecord("out", key, value)]

    def flush(self, scope=None) -> int:  # type: ignore[no-untyped-def]
        self.flushed += 1
        return 0


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple] = []

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        self.sent.append((topic, key, value))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


async def _run_until(batcher: Batcher, stream: _Stream, done, timeout: float = 2.0) -> None:  # type: ignore[no-untyped-def]
    task = asyncio.ensure_future(batcher.run(stream))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_batch_left_waiting_is_completed_and_acknowledged() -> None:
    events = [_Event(0, 1), _Event(1, 7)]
    stream, engine, producer = _Stream(events), _Engine(), _Producer()
    batcher = Batcher(engine, producer, linger=0.02)  # type: ignore[arg-type]
    await _run_until(batcher, stream, lambda: len(stream.acked) == 2)
    assert stream.acked == events
    assert producer.sent == [("out", b"k", b"v")] * 2  # the outputs went out before the acknowledgement
    assert engine.flushed == 1 and batcher.batches == 1 and batcher.lingered == 1
    assert stream.enable_acks is False  # acknowledged by the batcher, not by Faust on its own


async def test_a_full_batch_is_completed_by_the_agent_not_the_watcher() -> None:
    events = [_Event(p % 2, p) for p in range(5)]
    stream, engine, producer = _Stream(events), _Engine(), _Producer()
    batcher = Batcher(engine, producer, max_records=5, linger=30.0)  # type: ignore[arg-type]
    await _run_until(batcher, stream, lambda: len(stream.acked) == 5)
    assert batcher.batches == 1 and batcher.lingered == 0


class _SlowEngine(_Engine):
    def process(self, topic, partition, offset, key, value) -> list[OutRecord]:  # type: ignore[no-untyped-def]
        deadline = time.perf_counter() + 0.002  # 2 ms of work per record, without yielding (as the engine)
        while time.perf_counter() < deadline:
            pass
        return super().process(topic, partition, offset, key, value)


async def test_a_long_batch_lets_another_agent_run() -> None:
    """Two agents in one worker: a 100-record batch of slow records (about 200 ms) must not hold up the other
    agent's lone record until it is done."""
    long_stream, lone_stream = _Stream([_Event(0, i) for i in range(100)]), _Stream([_Event(0, 0)])
    long = Batcher(_SlowEngine(), _Producer(), max_records=100, linger=30.0)  # type: ignore[arg-type]
    lone = Batcher(_Engine(), _Producer(), linger=0.001)  # type: ignore[arg-type]
    acked_when: list[int] = []  # how many of the long batch's records were acknowledged when the lone one was

    async def watch() -> None:
        while not lone_stream.acked:
            await asyncio.sleep(0)
        acked_when.append(len(long_stream.acked))

    tasks = [asyncio.ensure_future(b.run(s)) for b, s in ((long, long_stream), (lone, lone_stream))]  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(5):
            await watch()
            while len(long_stream.acked) < 100:
                await asyncio.sleep(0.01)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert acked_when == [0]  # the lone record was done while the long batch was still being processed
    assert long.batches == 1  # and yielding did not split the long batch
