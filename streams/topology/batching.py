"""Run an engine over a Faust stream in batches, acknowledging input only once its effects are written.

Faust acknowledges a record as soon as the agent body has handled it, and commits acknowledged offsets in
the background after flushing the producer. The engines keep state changes in memory until `flush()` (one
table write per changed key per batch, not one per record), so the agent acknowledges by hand, once the batch
is written, in this order:
1. its outputs, delivered (acknowledged by the broker);
2. then its state: each table's changelog records, delivered, then written to its local store;
3. then its input records are acknowledged (Faust commits them later).
Outputs before state: a worker that dies in between reads the batch again, finds its state not yet changed by
it, and emits its outputs again (at least once: consumers see a repeat, never a gap). State first would lose
them: the batch's events would look like duplicates. A write the broker refuses or does not acknowledge in time
(the client retries until its request timeout) stops the worker (`on_failure`: the app crashes, the process
exits non-zero for its supervisor to restart): its input is not acknowledged, so it is read again, not lost.
A batch ends when the stream has nothing more waiting (so a lone record is handled at once: batching adds no
latency at low load) or when it reaches `max_records`.

A batch whose next record never comes is completed by a watcher after `linger` seconds. That happens when a
rebalance starts while the agent waits for the next record: Faust clears the stream's queue, then waits for
every record handed to an agent to be acknowledged before it lets the partitions go. Without the watcher the
worker waited forever (its rebalance never finished, and its partitions were never taken over). The records
were processed in the current generation, so completing the batch is right.

A stream hands over waiting records without yielding to the event loop, so a batch of a thousand records held
the loop for seconds, and with it every other agent of the worker (a big batch of the shipment job stalled the
tracking job's live records). A batch now lets the loop run every `time_slice` (5 ms) of work.

Records are taken in timestamp order across the job's input topics, per partition number
(`streams/processing/input_order.py`): a record may be held until the other topics of its partition number have
caught up. The watcher releases what the consumer's newer high-water marks allow, and what waited too long.
Outputs to `internal` topics (read by another job of corridor's, which orders its input the same way) carry the
timestamp of the record that caused them, as Kafka Streams does it: a unit's report to its shipments is then
ordered by when the event that caused it was stamped, not by when the worker got round to it.

Each batch also writes, last, the next input offset of every input partition it read (`input-position:<p>` in
the job's last table, its clock): what the worker's state holds the effects of. A worker whose state came back
behind the group's committed offset (a changelog write that landed after the next owner rebuilt, a rebuild that
stopped short) would otherwise skip the records in between; after each rebuild the inputs are sought back to
where the state says (`input_placement.rewind_to_state`).

Each record must also follow the one before it from the same input partition since the partition's latest
seek, or it is let go to be read again in its place (`streams/topology/input_sequence.py`).

`drop()` (called once the partitions are revoked, after that wait) forgets what is left: neither its state
nor its outputs were written and its records were not acknowledged, so whichever worker owns them next reads
them again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from typing import Protocol

import faust
import orjson
from faust.streams import _current_event
from faust.types import TP, ProducerT

from streams.processing.cache import Scope
from streams.processing.engine import OutRecord
from streams.processing.input_order import CaughtUp, Heard, InputMerge
from streams.topology import faults
from streams.topology.batch_send import Record, batch_sender
from streams.topology.input_sequence import Placed, SequenceCheck
from streams.topology.raw_table import RawTable

log = logging.getLogger(__name__)

POSITION_KEY = b"input-position:%d"  # in a job's last table: {input topic: next offset} of the state's partition
CHANGELOG_MARK = "~%s"  # and {"~" + another table's changelog: offset of the last record written with the state}


async def _delivered(sent: list[tuple[int, int, asyncio.Future]]) -> list:
    """The results of sends (partition, records, future), once all are acknowledged; the first failure raises."""
    return [await future for _, _, future in sent]


async def _no_failure_handler(exc: BaseException) -> None:
    return None


def _never_behind(topic: str, partition: int, next_offset: int | None) -> bool | None:
    return True


class BatchEngine(Protocol):
    def process(self, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None) -> list[OutRecord]: ...  # fmt: skip

    def flush(self, scope: Scope | None = None) -> int: ...


class Batcher:
    def __init__(
        self,
        engine: BatchEngine,
        producer: ProducerT,
        max_records: int = 1000,
        *,
        tables: Sequence[RawTable] = (),
        actives: Callable[[], Collection[TP]] = frozenset,
        linger: float = 0.05,
        time_slice: float = 0.005,
        topics: Collection[str] = (),
        caught_up: CaughtUp = _never_behind,
        heard: Heard | None = None,
        max_idle: float = 2.0,
        flowing: Callable[[], bool] = lambda: True,
        internal: Collection[str] = (),
        on_failure: Callable[[BaseException], Awaitable[None]] = _no_failure_handler,
        handled: Callable[[object], None] = lambda message: None,
        let_go: Callable[[object], None] = lambda message: None,
        placed: Placed | None = None,
        gapless: Collection[str] = (),
        seek: Callable[[str, int, int], object] = lambda topic, partition, offset: None,
    ) -> None:
        """`tables`: the engine's `RawTable`s, whose changelog records this batcher sends; `actives`: the
        partitions the worker owns now (the assignor's), for their changelog offsets; `time_slice`: how long a
        batch runs before it lets the event loop run the other agents (seconds); `topics`: the inputs, in
        timestamp ties' order, `caught_up`, `heard` and `max_idle` (seconds; 0: arrival order) for their ordering, and
        `flowing` false while the consumer hands nothing over (a rebalance: Faust waits for what the agent
        holds, so it is done at once); `internal`: output topics whose records take the timestamp of the record
        that caused them; `on_failure`: called once if a batch cannot be written (the worker must stop: this
        batcher acknowledges nothing after it); `handled`: told of each input record once its batch is written,
        just before it is acknowledged (the worker's `AckGuard`: nothing else may acknowledge it); `let_go`: told of
        each input record left unprocessed at a rebalance, for Faust to stop waiting for it; `placed`: where each
        input partition was last sought to (None: no sequence check), `gapless` the inputs without offset gaps,
        and `seek` seeks one back (see the module docstring)."""
        self.engine = engine
        self.producer = producer
        self.max_records = max_records
        self.tables = tables
        self.actives = actives
        self.linger = linger
        self.time_slice = time_slice
        self.merge: InputMerge[faust.EventT] = InputMerge(list(topics), caught_up, max_idle=max_idle if topics else 0,
                                                          heard=heard)
        self.flowing = flowing
        self.internal = frozenset(internal)
        self.on_failure = on_failure
        self.handled = handled
        self.let_go = let_go
        self.failure: BaseException | None = None  # what stopped this batcher: it writes nothing more
        self._ready: deque[faust.EventT] = deque()  # released by the merge, not yet processed
        self._slice_end = 0.0  # when the current time slice ends (perf_counter)
        self._events: list[faust.EventT] = []
        self._out: list[tuple[list[OutRecord], float | None]] = []  # each record's outputs, with its timestamp
        self._appended_at = 0.0  # monotonic time of the latest record added to the batch
        self._completing = asyncio.Lock()  # the agent and the watcher complete batches one at a time, in order
        # Set while a completing batch hands its outputs to the producer, before its state is taken from the
        # engine: no record may be processed then, or its state changes would be written with this batch's.
        self._open = asyncio.Event()
        self._open.set()
        self.batches = 0  # for tests and diagnostics
        self.records = 0
        self.lingered = 0  # batches the watcher completed
        self._disordered = 0  # the merge's count of records taken out of timestamp order, as last logged
        self._checked: set[int] = set()  # partitions whose state was checked since the last assignment
        self.reindexed = 0  # partitions whose due index was re-made (`_check_state`)
        self.sequence = None if placed is None else SequenceCheck(placed, gapless, seek, self._take_back)

    @property
    def out_of_sequence(self) -> int:
        """Records let go by the sequence check (diagnostics, tests)."""
        return 0 if self.sequence is None else self.sequence.out_of_sequence

    def drop(self) -> None:
        self._checked.clear()
        if self.sequence is not None:
            self.sequence.clear()
        self._events = []
        self._out = []
        self._ready.clear()
        self.merge.clear()
        for table in self.tables:
            table.forget()

    async def run(self, stream: faust.StreamT) -> None:
        if self.failure is not None:  # Faust restarts a crashed agent: what this one holds in memory is unwritten
            raise self.failure
        stream.enable_acks = False  # acknowledged below, once the batch is written
        queue = stream.channel.queue
        merge, ready = self.merge, self._ready
        add, forced = merge.add, merge.forced_full
        sequence = self.sequence
        watcher = asyncio.ensure_future(self._watch(stream))
        try:
            async for event in stream.events():
                msg = event.message
                if sequence is not None and not sequence.follows(msg.topic, msg.partition, msg.offset):
                    self.let_go(msg)  # not processed, not acknowledged: it comes again in its place
                    continue
                ready += add(msg.topic, msg.partition, msg.offset, msg.timestamp, event)  # or held for now
                if merge.forced_full != forced:  # too many held on one partition number
                    log.warning("%d records taken out of timestamp order: %d held on partition %d",
                                merge.forced_full - forced, merge.max_held, msg.partition)  # fmt: skip
                    forced = merge.forced_full
                await self._drain(stream)
                if self._events and queue.empty():
                    await self._complete_batch(stream)
        except Exception as exc:
            await self._fail(exc)
            raise
        finally:
            watcher.cancel()

    def _take_back(self, topic: str, partition: int, start: int) -> None:
        """The partition was sought back to `start`: what is held or waiting from there on is read again."""
        taken = self.merge.take_from(topic, partition, start)
        if self._ready:
            mine = [e for e in self._ready if e.message.topic == topic and e.message.partition == partition
                    and e.message.offset >= start]  # fmt: skip
            if mine:
                gone = {id(e) for e in mine}
                kept = [e for e in self._ready if id(e) not in gone]
                self._ready.clear()
                self._ready.extend(kept)
                taken += mine
        for event in taken:
            self.let_go(event.message)

    async def _fail(self, exc: BaseException) -> None:
        if self.failure is not None:
            return
        self.failure = exc
        log.critical("a batch could not be written (%r): the worker stops. Its input records, and any after them, "
                     "are not acknowledged: the next worker to own them reads them again", exc)  # fmt: skip
        await self.on_failure(exc)

    async def _send(self, records: list[Record]) -> list[tuple[int, int, asyncio.Future]]:
        """Hand records (topic, key, value, partition or None, timestamp in seconds or None) to the Kafka client:
        (partition, how many records, future) per send."""
        records = [(t, k, v, p, int(ts * 1000) if ts else None) for t, k, v, p, ts in records]
        batches = batch_sender(self.producer, self.time_slice)  # None: record by record (not aiokafka's producer)
        if batches is not None:
            return [(p, n, future) for _, p, n, future in await batches.send(records)]
        send, perf_counter = self.producer.send, time.perf_counter
        slice_end = perf_counter() + self.time_slice
        sent = []
        for topic, key, value, partition, ms in records:
            if perf_counter() > slice_end:  # a sweep can write thousands: let the other agents run meanwhile
                await asyncio.sleep(0)
                slice_end = perf_counter() + self.time_slice
            future = await send(topic, key, value, partition, ms / 1000 if ms else None, None)
            sent.append((partition, 1, future))
        return sent

    async def _drain(self, stream: faust.StreamT) -> None:
        """Process the released records in their order; the agent and the watcher may both be in here, and
        each takes the next one, so the order holds."""
        ready, process = self._ready, self.engine.process
        perf_counter = time.perf_counter
        if self.merge.disordered != self._disordered:  # diagnostics: the clock may have decided ahead of a record
            log.warning("%d records taken after a record of another topic stamped later (the latest: %s)",
                        self.merge.disordered - self._disordered, self.merge.last_disorder)  # fmt: skip
            self._disordered = self.merge.disordered
        set_current, reset_current, ref = _current_event.set, _current_event.reset, weakref.ref
        while ready:
            if not self._open.is_set():  # a batch is being completed: its state is not taken yet
                await self._open.wait()
                if not ready:
                    break
            event = ready.popleft()
            msg = event.message
            if msg.partition not in self._checked:
                self._check_state(msg.partition)
            # The record processed is the current one while it is: Faust's RocksDB store reads a key in the
            # database of the current record's partition, and the merge hands over records of other partitions
            # than the stream's latest (the watcher releases held ones). Read in the wrong partition's database,
            # a unit not in the cache looked unknown: planless, its history gone (test_write_failures, 1 in 4).
            token = set_current(ref(event))
            try:
                out = process(msg.topic, msg.partition, msg.offset, event.key, event.value)
            finally:
                reset_current(token)
            self._out.append((out, msg.timestamp))
            self._events.append(event)
            self._appended_at = time.monotonic()
            if len(self._events) >= self.max_records:
                await self._complete_batch(stream)
            elif perf_counter() > self._slice_end:
                # A stream hands over waiting records without yielding to the event loop: let the other agents
                # (and the fetcher) run, so a long batch here does not hold up their records.
                await asyncio.sleep(0)
                self._slice_end = perf_counter() + self.time_slice

    async def _complete_batch(self, stream: faust.StreamT) -> None:
        async with self._completing:
            if self._events:  # the other caller may have completed it meanwhile
                await self._complete(stream)
        self._slice_end = time.perf_counter() + self.time_slice

    def _mark_positions(self, events: list[faust.EventT],
                        as_record_of: Callable[[int], contextlib.AbstractContextManager],
                        written: dict[int, dict[str, int]]) -> None:  # fmt: skip
        """Record, with the batch's state, the next offset of each input partition it read, and the offset of
        the last record written to each other table's changelog partition (`written`). Overwritten, not merged
        upwards: a batch re-read after a restart lowers it again, which only means more is re-read."""
        nexts: dict[int, dict[str, int]] = {}
        for event in events:
            msg = event.message
            topics = nexts.setdefault(msg.partition, {})
            if msg.offset >= topics.get(msg.topic, 0):
                topics[msg.topic] = msg.offset + 1
        for partition, marks in written.items():
            if partition in nexts:  # a table's records are filed under a partition the batch read
                nexts[partition].update(marks)
        table = self.tables[-1]
        for partition, topics in nexts.items():
            key = POSITION_KEY % partition
            with as_record_of(partition):
                old = table.get(key)
                table[key] = orjson.dumps({**orjson.loads(old), **topics} if old else topics,
                                          option=orjson.OPT_SORT_KEYS)  # fmt: skip

    def _check_state(self, partition: int) -> None:
        """Once per partition and assignment, before its first record: if another table's changelog holds
        records past what the last table says was written with its state (a batch's clock records lost, its
        units' not: two changelogs, no transaction), the engine re-makes what the last table derives from the
        others (the due index), so no unit is left unindexed (bench chaos: units never swept again)."""
        self._checked.add(partition)
        reindex = getattr(self.engine, "reindex", None)
        if len(self.tables) < 2 or reindex is None:
            return
        raw = self.tables[-1].get_in(partition, POSITION_KEY % partition)
        marks = orjson.loads(raw) if raw else {}
        for table in self.tables[:-1]:
            persisted_in = getattr(table, "persisted_in", None)
            held = persisted_in(partition) if persisted_in is not None else None
            mark = marks.get(CHANGELOG_MARK % table.changelog)
            if held is not None and (mark is None or held > mark):
                n = reindex(partition)
                self.reindexed += 1
                log.warning("partition %d: %s holds changelog records up to offset %d, but the last table was "
                            "written with it up to %s (%s): %d due times indexed again", partition, table.changelog,
                            held, mark, "a batch half written" if mark is not None else "not recorded before",
                            n)  # fmt: skip
                return

    def state_position(self, topic: str, partition: int) -> int | None:
        """The next offset of `topic`'s `partition` whose effects this job's state does not hold, as its last
        table says (None: it does not say)."""
        if not self.tables or topic not in self.merge.topics:
            return None
        raw = self.tables[-1].get_in(partition, POSITION_KEY % partition)
        return orjson.loads(raw).get(topic) if raw else None

    async def _watch(self, stream: faust.StreamT) -> None:
        tick = min(self.linger, 0.01)  # held records wait on the consumer's news: look often
        queue = stream.channel.queue
        while True:
            await asyncio.sleep(tick if self.merge.held else self.linger)
            forced = self.merge.forced_idle
            if self.merge.held and not self.flowing():
                # A rebalance: Faust waits for every record handed to the agent. What is held waits for an
                # earlier record of another topic; processed now, out of order, it decided against the wrong
                # clock. It is let go unprocessed (and unacknowledged: read again from the committed offset).
                left = self.merge.take_held()
                for event in left:
                    self.let_go(event.message)
                log.info("%d records held for timestamp order left unprocessed at a rebalance: they are read "
                         "again from the committed offset", len(left))  # fmt: skip
            released = self.merge.ready(more_waiting=not queue.empty()) if self.merge.held else []
            if self.merge.forced_idle > forced and self.flowing():  # a partition said it had more: nothing came
                log.warning("%d records taken out of timestamp order after waiting %.1f s for another input "
                            "(last waited on: %s)",
                            self.merge.forced_idle - forced, self.merge.max_idle,
                            ", ".join(f"{t}[{p}]" for p, t in sorted(self.merge.waiting_on.items())))  # fmt: skip
            if released:
                self._ready += released
                try:
                    await self._drain(stream)
                    if self._events and queue.empty():
                        await self._complete_batch(stream)
                except Exception as exc:
                    await self._fail(exc)
                    return
            elif self._events and time.monotonic() - self._appended_at >= self.linger:
                async with self._completing:
                    if self._events:
                        self.lingered += 1
                        try:
                            await self._complete(stream)
                        except Exception as exc:
                            await self._fail(exc)
                            return

    async def _complete(self, stream: faust.StreamT) -> None:
        if self.failure is not None:
            raise self.failure  # a batch before this one is unwritten: acknowledging this one would skip it
        events, out = self._events, self._out
        self._events, self._out = [], []
        by_partition = {event.message.partition: event for event in events}

        @contextlib.contextmanager
        def as_record_of(partition: int | None) -> Iterator[None]:
            # Faust files a table write under the partition of the current record (and sends its changelog
            # message there): make a record of the write's own partition current.
            token = _current_event.set(weakref.ref(by_partition[partition]))  # type: ignore[index]
            try:
                yield
            finally:
                _current_event.reset(token)

        # 1. What the batch caused. Straight to the Kafka client (awaiting only when its buffer is full), without
        # Faust's per-message bookkeeping, a record batch per partition (`batch_send`); awaited all at once below.
        # Handed over before the state is taken from the engine (encoding thousands of states after a fan-out):
        # the outputs leave that much sooner. Meanwhile no record is processed (`_open`), so the state taken is
        # this batch's.
        internal = self.internal
        self._open.clear()
        try:
            sent = await self._send([(rec.topic, rec.key, rec.value, None, timestamp if rec.topic in internal else None)
                                     for records, timestamp in out for rec in records])  # fmt: skip
            await asyncio.sleep(0)  # the producer's sender takes what was handed over since the last slice
            self.engine.flush(as_record_of)  # into the tables' outboxes (and, for a table not raw, written now)
            writes = [(table, table.take_outbox()) for table in self.tables]
        finally:
            self._open.set()
        await _delivered(sent)
        # 2. The state that says it was caused, table by table in the order given (the watermark's last: a worker
        # that reads the batch again with the watermark already moved would re-derive it at a later event time):
        # changelog, then the local store.
        # The last table's records say, with the input positions, how far each other table's changelog was
        # written for this state (`_mark_positions`), so they are written once those are delivered.
        actives = self.actives() if writes else ()
        written: dict[int, dict[str, int]] = {}  # partition -> {changelog mark: highest offset}
        for n, (table, outbox) in enumerate(writes):
            if n == len(writes) - 1:
                self._mark_positions(events, as_record_of, written)
                outbox += table.take_outbox()
            if not outbox:
                continue
            offsets: dict[int, int] = {}
            written_now = await self._send([(table.changelog, key, value, partition, None)
                                            for partition, key, value in outbox])  # fmt: skip
            for (partition, count, _), result in zip(written_now, await _delivered(written_now), strict=True):
                last = result.offset + count - 1  # a send's result gives the offset of its first record
                if last > offsets.get(partition, -1):
                    offsets[partition] = last
            table.apply(outbox, offsets, actives)
            for partition, offset in offsets.items():
                written.setdefault(partition, {})[CHANGELOG_MARK % table.changelog] = offset
        # 3. The input, which Faust commits later (it flushes the producer first).
        await faults.hold("batch_written")
        handled = self.handled
        for event in events:
            handled(event.message)
            await stream.ack(event)
        self.batches += 1
        self.records += len(events)
