"""Faust's pure-Python stream acknowledges the records it skips (fetched in an older consumer generation, or handed
over while flow is stopped) though nothing processed them; the guard keeps those offsets uncommitted. (Faust's
compiled stream iterator, used where its extension is built, skips them without acknowledging.)"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import faust.streams
import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage as Message

from streams.topology import ack_guard

TOPIC = "corridor.events"


def _app() -> faust.App:
    app = faust.App("ack-guard-test", broker="kafka://127.0.0.1:1", store="memory://")
    app.flow_control.resume()
    app.topics._acking_topics.add(TOPIC)  # as when an agent subscribes to the topic
    return app


def _message(offset: int, generation: int) -> Message:
    return Message(TOPIC, 0, offset, 0.0, 0, {}, b"k", b"v", None, generation_id=generation)


async def _skip_through_a_stream(app: faust.App, messages: list[Message]) -> None:
    """Hand the records to a stream the way a worker does, after a rebalance moved the generation on: Faust's
    stream skips each (stale generation) and acknowledges it."""
    channel = app.channel()
    stream = app.stream(channel)

    async def drain() -> None:
        async for _ in stream.events():  # pragma: no cover - every record is skipped
            raise AssertionError("a stale record was handed to the agent")

    task = asyncio.ensure_future(drain())
    await asyncio.sleep(0.05)
    app.consumer_generation_id = 2  # the records were fetched in generation 1
    for m in messages:
        await channel.put(app.create_event(m.key, m.value, m.headers, m))
    await asyncio.sleep(0.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _acked(app: faust.App) -> list[int]:
    return sorted(app.consumer._acked[TP(TOPIC, 0)])


@pytest.fixture
def python_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faust.streams, "_CStreamIterator", None)


async def test_faust_acknowledges_the_records_its_stream_skips(python_streams: None) -> None:
    """Why the guard exists: without it the skipped offsets count as done and would be committed."""
    app = _app()
    app.consumer_generation_id = 1
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    await _skip_through_a_stream(app, [_message(o, 1) for o in range(10, 15)])
    assert _acked(app) == [10, 11, 12, 13, 14]


async def test_the_guard_refuses_records_no_agent_handled(python_streams: None) -> None:
    app = _app()
    guard = ack_guard.install(app)
    guard.reads([TOPIC])
    app.consumer_generation_id = 1
    app.consumer._committed_offset[TP(TOPIC, 0)] = 10
    await _skip_through_a_stream(app, [_message(o, 1) for o in range(10, 15)])
    assert _acked(app) == []
    assert guard.refused == 5


def test_a_refused_record_is_not_waited_for() -> None:
    """A rebalance waits for the records in progress: a refused one is done (every reader let go of it), and
    waiting for it held the rebalance forever."""
    app = _app()
    guard = ack_guard.install(app)
    guard.reads([TOPIC])
    app.consumer._committed_offset[TP(TOPIC, 0)] = 0
    m = _message(4, 0)
    app.consumer._unacked_messages.add(m)
    assert not app.consumer.ack(m)
    assert m not in app.consumer._unacked_messages and _acked(app) == []


def test_a_record_is_acknowledged_once_every_reader_handled_it() -> None:
    """Clock ticks are read by both jobs: one job's handling is not enough."""
    app = _app()
    guard = ack_guard.install(app)
    guard.reads([TOPIC])
    guard.reads([TOPIC])
    app.consumer._committed_offset[TP(TOPIC, 0)] = 0
    m = _message(3, 0)
    guard.handled(m)
    assert not app.consumer.ack(m)
    guard.handled(m)
    assert app.consumer.ack(m) and _acked(app) == [3]
    other = Message("corridor.raw.other", 0, 1, 0.0, 0, {}, b"k", b"v", None)
    assert guard.may_ack(other)  # topics nobody guards are left to Faust


def test_forgetting_drops_what_was_handled_but_not_acknowledged() -> None:
    app = _app()
    guard = ack_guard.install(app)
    guard.reads([TOPIC])
    app.consumer._committed_offset[TP(TOPIC, 0)] = 0
    m = _message(1, 0)
    guard.handled(m)
    guard.forget()  # partitions revoked: the record is read again by whoever owns it next
    assert not app.consumer.ack(m)


def test_a_rebalance_does_not_wait_for_records_it_cleared_from_a_queue() -> None:
    """A clock tick one job took and the other still had queued: cleared, it would be waited for forever."""
    app = _app()
    ack_guard.install(app)
    m = _message(7, app.consumer_generation_id)
    m.refcount = 2  # two agents read it; one took it (and tracked it), the other's copy is queued
    app.consumer._unacked_messages.add(m)
    queue = app.FlowControlQueue(maxsize=10)
    app.flow_control.manage_queue(queue)
    queue.put_nowait(app.create_event(m.key, m.value, m.headers, m))
    app.flow_control.clear()  # what a rebalance does before it waits for acknowledgements
    assert m not in app.consumer._unacked_messages and not m.acked
    assert _acked(app) == []  # not acknowledged: read again from the committed offset


async def test_a_stale_record_skipped_after_a_rebalance_is_read_again_from_where_nothing_is_skipped() -> None:
    """The new generation's reading may be past it already: sought back to the earliest of the record, the read
    offset and the committed offset (the commits stopped at its gap for good otherwise)."""
    tp = TP(TOPIC, 0)
    sought: list[tuple[TP, int]] = []

    class Consumer:
        _read_offset = {tp: 70}
        _committed_offset = {tp: 60}

        def assignment(self) -> set[TP]:
            return {tp}

        async def seek(self, partition: TP, offset: int) -> None:
            sought.append((partition, offset))

    consumer = Consumer()
    for offset in (65, 62, 66):  # a burst of skipped records: one seek, to the earliest that skips nothing
        ack_guard._read_again(consumer, SimpleNamespace(tp=tp, offset=offset))
    await consumer.__dict__["corridor_read_again_task"]
    assert sought == [(tp, 60)]
