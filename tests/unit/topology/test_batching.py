"""The batcher's watcher: a batch whose next record never comes is completed, so its records are acknowledged.

Faust clears a stream's queue when a rebalance starts and then waits for every record handed to an agent to be
acknowledged. A batcher that had seen records waiting (so kept its batch open) and then found the queue cleared
waited forever for the next record, and the worker's rebalance never finished. The stream here is a stand-in
with exactly that behaviour: its queue says records are waiting, and after the first record nothing comes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest

from streams.processing.engine import OutRecord
from streams.topology.batching import Batcher


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    timestamp: float = 0.0


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


class _Queue2:
    def empty(self) -> bool:
        return True


class _OrderEngine(_Engine):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[tuple[str, int]] = []

    def process(self, topic, partition, offset, key, value) -> list[OutRecord]:  # type: ignore[no-untyped-def]
        self.order.append((topic, offset))
        return [OutRecord("feed", key, value), OutRecord("out", key, value)]


class _StampingProducer(_Producer):
    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        self.sent.append((topic, timestamp))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def _stamped(topic: str, offset: int, timestamp: float) -> _Event:
    event = _Event(0, offset)
    event.message = _Message(topic, 0, offset, timestamp)
    return event


async def test_a_record_is_held_until_the_other_topic_catches_up_and_internal_outputs_keep_its_timestamp() -> None:
    """An event arrives before the plan stamped earlier: it waits while the plans partition is behind, the plan
    goes first, and the events wait on (plans may bring another record) until the consumer reports the plans
    partition caught up; then the watcher releases them."""
    behind = {"plans": True}
    stream = _Stream([_stamped("events", 0, 20.0), _stamped("plans", 0, 10.0), _stamped("events", 1, 30.0)])
    stream.channel.queue = _Queue2()  # type: ignore[assignment]
    engine, producer = _OrderEngine(), _StampingProducer()
    caught_up = lambda topic, partition, next_offset: not behind.get(topic, False)  # noqa: E731
    batcher = Batcher(engine, producer, linger=30.0, topics=["plans", "events"], caught_up=caught_up,  # type: ignore[arg-type]
                      max_idle=60.0, internal={"feed"})  # fmt: skip
    task = asyncio.ensure_future(batcher.run(stream))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(2):
            while len(stream.acked) < 1 or batcher.merge.held < 2:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)  # the watcher looks every 10 ms: still held while plans is behind
            assert engine.order == [("plans", 0)] and batcher.merge.held == 2
            behind["plans"] = False  # a fetch answered: nothing more on plans
            while len(stream.acked) < 3:
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert engine.order == [("plans", 0), ("events", 0), ("events", 1)]
    assert [s for s in producer.sent if s[0] == "feed"] == [("feed", 10.0), ("feed", 20.0), ("feed", 30.0)]
    assert {s[1] for s in producer.sent if s[0] == "out"} == {None}  # public outputs: stamped when written
    assert batcher.merge.forced == 0


class _FaustConsumer:
    """Faust's consumer as `caught_up_on` reads it: high-water marks from the fetches, committed offsets."""

    def __init__(self) -> None:
        self.ends: dict = {}
        self._committed_offset: dict = {}

    def highwater(self, tp):  # type: ignore[no-untyped-def]
        if tp.topic == "gone":
            raise AssertionError("not assigned")  # what aiokafka does for a partition it no longer has
        return self.ends.get(tp)


def test_caught_up_reads_the_fetched_high_water_mark_against_the_next_or_committed_offset() -> None:
    from faust.types import TP

    from streams.topology.consumer_view import caught_up_on

    consumer = _FaustConsumer()
    caught_up = caught_up_on(consumer)
    assert caught_up("plans", 0, 5) is None  # no fetch answered yet: not known
    consumer.ends[TP("plans", 0)] = 6
    assert caught_up("plans", 0, 5) is False and caught_up("plans", 0, 6) is True
    assert caught_up("plans", 0, None) is False  # nothing read, nothing committed: starts at 0
    consumer._committed_offset[TP("plans", 0)] = 6
    assert caught_up("plans", 0, None) is True
    assert caught_up("gone", 0, None) is True  # revoked: nothing more will come from it


class _AiokafkaConsumer:
    def __init__(self) -> None:
        self.polled: dict = {}

    def last_poll_timestamp(self, tp):  # type: ignore[no-untyped-def]
        assert tp in self.polled, "Partition is not assigned"  # as aiokafka asserts
        return self.polled[tp]


def test_heard_reads_when_the_consumer_last_had_a_fetch_answer_for_the_partition() -> None:
    from types import SimpleNamespace

    from faust.types import TP

    from streams.topology.consumer_view import heard_on

    client = _AiokafkaConsumer()
    heard = heard_on(SimpleNamespace(_thread=SimpleNamespace(_ensure_consumer=lambda: client)))
    client.polled[TP("plans", 0)] = None
    assert heard("plans", 0) is None  # assigned, no fetch answered yet
    client.polled[TP("plans", 0)] = 1_700_000_000_123
    assert heard("plans", 0) == 1_700_000_000_123
    assert heard("gone", 0) == float("inf")  # revoked: nothing more will come from it


async def test_held_records_are_let_go_unprocessed_when_a_rebalance_stops_the_flow() -> None:
    """Faust suspends the flow, clears the queues and waits for every record handed to the agent to be
    acknowledged. A record held for a lagging input is not processed out of its order (it decided against a
    clock the other topics had not reached): it is let go, unacknowledged, for the next owner to read again."""
    flowing = {"on": True}
    stream = _Stream([_stamped("events", 0, 20.0)])
    stream.channel.queue = _Queue2()  # type: ignore[assignment]
    engine = _OrderEngine()
    let_go: list = []
    batcher = Batcher(engine, _StampingProducer(), linger=0.01, topics=["plans", "events"],  # type: ignore[arg-type]
                      caught_up=lambda topic, partition, next_offset: topic != "plans", max_idle=60.0,
                      flowing=lambda: flowing["on"], let_go=let_go.append)  # fmt: skip
    task = asyncio.ensure_future(batcher.run(stream))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(2):
            while batcher.merge.held < 1:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)
            assert stream.acked == []  # plans lags: the event waits
            flowing["on"] = False
            while not let_go:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert engine.order == [] and stream.acked == [] and batcher.merge.held == 0
    assert [m.offset for m in let_go] == [0]


class _Delivery:
    def __init__(self, offset: int) -> None:
        self.offset = offset


class _SlowBroker(_Producer):
    """Acknowledges each send a millisecond later (or reports it failed), and logs when."""

    def __init__(self, log: list[str], fail: str | None = None) -> None:
        super().__init__()
        self.log, self.fail, self.offset = log, fail, 0

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        self.log.append(f"send {topic}")
        self.offset += 1
        future = asyncio.get_running_loop().create_future()

        def deliver(offset: int) -> None:
            self.log.append(f"delivered {topic}")
            if topic == self.fail:
                future.set_exception(RuntimeError(f"{topic} not written"))
            else:
                future.set_result(_Delivery(offset))

        asyncio.get_running_loop().call_later(0.001, deliver, self.offset)
        return future


class _Table:
    """A RawTable as the batcher uses it: an outbox of changelog records, applied once delivered."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.changelog, self.log = name, log
        self.outbox: list[tuple[int, bytes, bytes | None]] = []
        self.applied: list[tuple[list, dict]] = []
        self.kv: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.kv.get(key)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.kv[key] = value
        self.outbox.append((0, key, value))

    def get_in(self, partition: int, key: bytes) -> bytes | None:
        return self.kv.get(key)

    def take_outbox(self) -> list[tuple[int, bytes, bytes | None]]:
        out, self.outbox = self.outbox, []
        return out

    def apply(self, written, offsets, actives) -> None:  # type: ignore[no-untyped-def]
        self.log.append(f"apply {self.changelog}")
        self.applied.append((written, offsets))

    def forget(self) -> None:
        self.outbox = []


class _StatefulEngine(_Engine):
    def __init__(self, tables: list[_Table]) -> None:
        super().__init__()
        self.tables = tables

    def flush(self, scope=None) -> int:  # type: ignore[no-untyped-def]
        for table in self.tables:
            table.outbox.append((0, b"k", b"state"))
        return super().flush(scope)


class _AckLog(_Stream):
    def __init__(self, events: list[_Event], log: list[str]) -> None:
        super().__init__(events)
        self.channel.queue = _Queue2()  # type: ignore[assignment]
        self.log = log

    async def ack(self, event: _Event) -> bool:
        self.log.append("ack")
        return await super().ack(event)


async def test_a_batch_is_written_outputs_first_then_each_table_then_acknowledged() -> None:
    """Outputs delivered before any state is sent (a worker dying in between re-emits them, never loses them),
    each table's changelog delivered before its local store is written and before the next table (the
    watermark's, last) is sent, the input acknowledged last."""
    log: list[str] = []
    units, clock = _Table("units", log), _Table("clock", log)
    stream = _AckLog([_Event(0, 1)], log)
    batcher = Batcher(_StatefulEngine([units, clock]), _SlowBroker(log), tables=[units, clock],  # type: ignore[arg-type]
                      linger=30.0)  # fmt: skip
    await _run_until(batcher, stream, lambda: stream.acked)
    assert log == ["send out", "delivered out", "send units", "delivered units", "apply units",
                   "send clock", "send clock", "delivered clock", "delivered clock", "apply clock",
                   "ack"]  # the clock's state, then the input position: fmt: skip
    assert units.applied == [([(0, b"k", b"state")], {0: 2})]  # with the offset the broker gave it


async def test_each_batch_records_with_its_state_the_next_input_offsets_it_holds_the_effects_of() -> None:
    """Written last, in the last table (the clock): a worker whose state comes back behind the group's committed
    offset seeks back there instead of skipping (`input_placement.rewind_to_state`)."""
    log: list[str] = []
    units, clock = _Table("units", log), _Table("clock", log)
    stream = _AckLog([_Event(0, 4), _Event(1, 7), _Event(0, 5)], log)
    batcher = Batcher(_StatefulEngine([units, clock]), _SlowBroker(log), tables=[units, clock],  # type: ignore[arg-type]
                      linger=0.01, topics=["in", "other"])  # fmt: skip
    await _run_until(batcher, stream, lambda: len(stream.acked) == 3)
    assert batcher.state_position("in", 0) == 6 and batcher.state_position("in", 1) == 8
    assert batcher.state_position("other", 0) is None  # never read: the state says nothing of it
    assert batcher.state_position("elsewhere", 0) is None  # not this job's input
    for written, _ in clock.applied:  # with each batch, last
        assert written[-1][1].startswith(b"input-position:") and written[0][1] == b"k"
    assert not any(key.startswith(b"input-position") for written, _ in units.applied for _, key, _ in written)


@pytest.mark.parametrize("fail", ["out", "units", "clock"])
async def test_a_batch_the_broker_does_not_take_is_not_acknowledged_and_stops_the_worker(fail: str) -> None:
    log: list[str] = []
    units, clock = _Table("units", log), _Table("clock", log)
    stream = _AckLog([_Event(0, 1), _Event(0, 2)], log)
    failures: list[BaseException] = []

    async def on_failure(exc: BaseException) -> None:
        failures.append(exc)

    batcher = Batcher(_StatefulEngine([units, clock]), _SlowBroker(log, fail=fail), tables=[units, clock],  # type: ignore[arg-type]
                      linger=30.0, on_failure=on_failure)  # fmt: skip
    with pytest.raises(RuntimeError, match=f"{fail} not written"):
        async with asyncio.timeout(2):
            await batcher.run(stream)  # type: ignore[arg-type]
    assert stream.acked == [] and "ack" not in log  # neither the failed batch nor the record after it
    assert failures == [batcher.failure] and str(batcher.failure) == f"{fail} not written"
    later = {"out": "send units", "units": "apply units", "clock": "apply clock"}[fail]
    assert later not in log  # nothing of the batch written after the failure
    with pytest.raises(RuntimeError):  # restarted by Faust's supervisor: it writes nothing more
        await batcher.run(_AckLog([_Event(0, 3)], log))  # type: ignore[arg-type]
    assert stream.acked == [] and len(failures) == 1


class _PartitionSeeingEngine(_Engine):
    """Notes the partition of the record Faust takes as current while each record is processed: its RocksDB
    store reads a key in that partition's database."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int | None]] = []

    def process(self, topic, partition, offset, key, value) -> list[OutRecord]:  # type: ignore[no-untyped-def]
        from faust.streams import current_event

        event = current_event()
        self.seen.append((partition, None if event is None else event.message.partition))
        return super().process(topic, partition, offset, key, value)


async def test_the_record_processed_is_the_current_one_whatever_the_stream_took_last() -> None:
    """The agent and the watcher share the records the merge released: the agent, whose current record (the
    stream's latest) is of partition 1, may process one of partition 0 the watcher released. Faust's store then
    read that unit in partition 1's database, found nothing, and the unit lost its plan and history (seen in
    `test_write_failures[unit-state-rebuilt]`, one run in four)."""
    import weakref

    from faust.streams import _current_event

    engine = _PartitionSeeingEngine()
    batcher = Batcher(engine, _Producer())  # type: ignore[arg-type]
    latest = _Event(1, 9)
    token = _current_event.set(weakref.ref(latest))  # type: ignore[arg-type]
    try:
        batcher._ready.extend([_Event(0, 3), _Event(1, 9), _Event(2, 4)])  # type: ignore[list-item]
        await batcher._drain(_Stream([]))  # type: ignore[arg-type]
        assert _current_event.get()() is latest  # type: ignore[misc]  # the stream's own is left as it was
    finally:
        _current_event.reset(token)
    assert engine.seen == [(0, 0), (1, 1), (2, 2)]


class _Placements:
    """Where the consumer last sought each input partition, as `input_placement.placement_of` answers it; `seek`
    places again, as a real seek does (a new placement number)."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], tuple[int, int]] = {}
        self.sought: list[tuple[str, int, int]] = []
        self._n = 0

    def place(self, topic: str, partition: int, offset: int) -> None:
        self._n += 1
        self.at[(topic, partition)] = (self._n, offset)

    def placed(self, topic: str, partition: int) -> tuple[int, int] | None:
        return self.at.get((topic, partition))

    def seek(self, topic: str, partition: int, offset: int) -> None:
        self.sought.append((topic, partition, offset))
        self.place(topic, partition, offset)


def _sequenced(placements: _Placements, engine: _Engine, let_go: list, **kwargs: object) -> Batcher:
    return Batcher(engine, _Producer(), linger=0.01, let_go=let_go.append, placed=placements.placed,  # type: ignore[arg-type]
                   gapless={"events"}, seek=placements.seek, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def _on(topic: str, offset: int) -> _Event:
    return _stamped(topic, offset, float(offset))


async def test_a_record_fetched_before_its_partition_was_sought_is_read_again_in_its_place() -> None:
    """Series 1601's run 1: right after a rebalance a worker processed a tick from its previous generation's fetch,
    five days ahead of its partition's events. A record that does not follow its partition's latest seek is let go
    (not processed, not acknowledged); a stale one past the next offset has the partition sought back once, and
    the records are then processed in offset order, the stale ones in their place."""
    placements, engine, let_go = _Placements(), _OrderEngine(), []
    stream = _Stream([_on("events", 8), _on("events", 5)])  # handed over before the assignment's seek
    batcher = _sequenced(placements, engine, let_go)
    await _run_until(batcher, stream, lambda: len(let_go) == 2)
    assert engine.order == [] and [m.offset for m in let_go] == [8, 5] and placements.sought == []

    placements.place("events", 0, 5)  # the assignment's seek to the committed offset
    stream = _Stream([_on("events", 8), _on("events", 9), *(_on("events", n) for n in range(5, 10))])
    await _run_until(batcher, stream, lambda: len(stream.acked) == 5)
    assert placements.sought == [("events", 0, 5)]  # once: 9, the rest of that stale fetch, is just let go
    assert [m.offset for m in let_go[2:]] == [8, 9]
    assert engine.order == [("events", n) for n in range(5, 10)]
    assert [e.message.offset for e in stream.acked] == [5, 6, 7, 8, 9]
    assert batcher.out_of_sequence == 4


async def test_the_sequence_check_lets_a_record_through_only_in_offset_order_from_the_latest_seek() -> None:
    placements, engine, let_go = _Placements(), _OrderEngine(), []
    placements.place("events", 0, 10)
    placements.place("plans", 0, 3)
    stream = _Stream([_on("events", 10), _on("events", 10), _on("plans", 7), _on("events", 11), _on("events", 13)])
    batcher = _sequenced(placements, engine, let_go)
    await _run_until(batcher, stream, lambda: len(stream.acked) == 3 and placements.sought)
    assert engine.order == [("events", 10), ("plans", 7), ("events", 11)]  # plans are compacted: gaps are real
    assert [m.offset for m in let_go] == [10, 13]  # a repeat, and a jump past 12 in a topic without gaps
    assert placements.sought == [("events", 0, 12)]
    batcher.drop()  # revoked: nothing is placed until the next assignment's seek
    placements.at.clear()
    stream = _Stream([_on("events", 12)])
    await _run_until(batcher, stream, lambda: len(let_go) == 3)
    assert stream.acked == []


class _SeekingConsumer:
    def __init__(self, earliest: int) -> None:
        self.earliest, self.sought = earliest, []

    async def earliest_offsets(self, *tps):  # type: ignore[no-untyped-def]
        return {tp: self.earliest for tp in tps}

    async def seek(self, tp, offset):  # type: ignore[no-untyped-def]
        self.sought.append((tp.topic, tp.partition, offset))


async def test_a_seek_back_goes_to_the_log_start_when_retention_deleted_the_offsets_between() -> None:
    from streams.topology.input_placement import seeker

    for earliest, to in ((0, 5), (7, 7)):
        consumer = _SeekingConsumer(earliest)
        seeker(consumer)("events", 2, 5)
        for _ in range(5):
            await asyncio.sleep(0)
        assert consumer.sought == [("events", 2, to)]


def test_every_seek_places_the_partition_anew_and_a_revocation_forgets_it() -> None:
    from faust.types import TP

    from streams.topology import input_placement

    class Consumer:
        pass

    consumer = Consumer()
    placed = input_placement.placement_of(consumer)
    assert placed("events", 1) is None
    input_placement._placed(consumer, TP("events", 1), 40)
    first = placed("events", 1)
    input_placement._placed(consumer, TP("events", 1), 40)
    second = placed("events", 1)
    assert first is not None and second is not None and first[1] == second[1] == 40 and second[0] > first[0]
    input_placement.forget_placements(consumer)
    assert placed("events", 1) is None


async def test_records_held_past_a_seek_back_are_let_go_and_read_again() -> None:
    """A record held for timestamp order whose partition is sought back to or below it (the rewind to the state,
    a start check) comes again: the held copy is let go, so it is processed once, in its new place."""
    placements, engine, let_go = _Placements(), _OrderEngine(), []
    placements.place("events", 0, 4)
    placements.place("plans", 0, 0)
    stream = _Stream([_on("events", 4), _on("events", 5)])
    stream.channel.queue = _Queue2()  # type: ignore[assignment]
    batcher = _sequenced(placements, engine, let_go, topics=["plans", "events"],
                         caught_up=lambda topic, partition, next_offset: topic != "plans" or next_offset is not None,
                         max_idle=60.0)  # plans lag until one is read  # fmt: skip
    await _run_until(batcher, stream, lambda: batcher.merge.held == 2)
    placements.place("events", 0, 5)  # sought back to 5: the held 5 comes again, the held 4 does not
    stream = _Stream([_on("events", 5), _on("plans", 0)])
    stream.channel.queue = _Queue2()  # type: ignore[assignment]
    await _run_until(batcher, stream, lambda: len(stream.acked) == 3)
    assert [m.offset for m in let_go] == [5]
    assert engine.order == [("plans", 0), ("events", 4), ("events", 5)]


async def test_no_record_is_processed_while_a_batch_hands_over_its_outputs_before_its_state_is_taken() -> None:
    """A batch hands its outputs to the producer before it takes its state from the engine (the outputs leave
    sooner). A record processed in between (the watcher drains while the producer's buffer is full) would have
    its state written with that batch, ahead of its own outputs: it waits until the state is taken."""
    log: list[str] = []
    gate = asyncio.Event()

    class Engine(_Engine):
        def process(self, topic, partition, offset, key, value) -> list[OutRecord]:  # type: ignore[no-untyped-def]
            log.append(f"process {offset}")
            return super().process(topic, partition, offset, key, value)

        def flush(self, scope=None) -> int:  # type: ignore[no-untyped-def]
            log.append("flush")
            return super().flush(scope)

    class Producer(_Producer):
        async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
            log.append("send")
            await gate.wait()  # the client's buffer is full
            return await super().send(topic, key, value, partition, timestamp, headers)

    stream = _Stream([_Event(0, 1)])
    batcher = Batcher(Engine(), Producer(), max_records=1, linger=30.0)  # type: ignore[arg-type]
    agent = asyncio.ensure_future(batcher.run(stream))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(2):
            while "send" not in log:
                await asyncio.sleep(0.001)
        batcher._ready.append(_Event(0, 2))  # type: ignore[arg-type]  # as the watcher releases a held record
        watcher = asyncio.ensure_future(batcher._drain(stream))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert log == ["process 1", "send"]  # the second record waits
        gate.set()
        async with asyncio.timeout(2):
            await watcher
            while len(stream.acked) < 2:
                await asyncio.sleep(0.001)
        assert log == ["process 1", "send", "flush", "process 2", "send", "flush"]
    finally:
        agent.cancel()
        await asyncio.gather(agent, return_exceptions=True)
