"""Run an engine over a Faust stream in batches, acknowledging input only once its effects are written.

Faust acknowledges a record as soon as the agent body has handled it, and commits acknowledged offsets in
the background after flushing the producer. The engines keep state changes in memory until `flush()` (one
table write per changed key per batch, not one per record), so the agent acknowledges by hand: after the
batch's state is flushed to the tables (their changelog messages queued) and its outputs queued for sending.
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

`drop()` (called once the partitions are revoked, after that wait) forgets what is left: neither its state
nor its outputs were written and its records were not acknowledged, so whichever worker owns them next reads
them again."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Protocol

import faust
from faust.streams import _current_event
from faust.types import TP, ProducerT

from streams.processing.cache import Scope
from streams.processing.engine import OutRecord
from streams.topology.raw_table import RawTable

log = logging.getLogger(__name__)


def _report_failure(sent: asyncio.Future) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.error("an output record could not be written: %r", sent.exception())


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
    ) -> None:
        """`tables`: the engine's `RawTable`s, whose changelog records this batcher sends; `actives`: the
        partitions the worker owns now (the assignor's), for their changelog offsets; `time_slice`: how long a
        batch runs before it lets the event loop run the other agents (seconds)."""
        self.engine = engine
        self.producer = producer
        self.max_records = max_records
        self.tables = tables
        self.actives = actives
        self.linger = linger
        self.time_slice = time_slice
        self._events: list[faust.EventT] = []
        self._out: list[OutRecord] = []
        self._appended_at = 0.0  # monotonic time of the latest record added to the batch
        self._completing = asyncio.Lock()  # the agent and the watcher complete batches one at a time, in order
        self.batches = 0  # for tests and diagnostics
        self.records = 0
        self.lingered = 0  # batches the watcher completed

    def drop(self) -> None:
        self._events = []
        self._out = []
        for table in self.tables:
            table.forget()

    async def run(self, stream: faust.StreamT) -> None:
        stream.enable_acks = False  # acknowledged below, once the batch is written
        queue = stream.channel.queue
        process = self.engine.process
        watcher = asyncio.ensure_future(self._watch(stream))
        perf_counter, time_slice = time.perf_counter, self.time_slice
        slice_end = perf_counter() + time_slice
        try:
            async for event in stream.events():
                msg = event.message
                self._out += process(msg.topic, msg.partition, msg.offset, event.key, event.value)
                self._events.append(event)
                self._appended_at = time.monotonic()
                if len(self._events) >= self.max_records or queue.empty():
                    async with self._completing:
                        if self._events:  # the watcher may have completed it meanwhile
                            await self._complete(stream)
                    slice_end = perf_counter() + time_slice
                elif perf_counter() > slice_end:
                    # A stream hands over waiting records without yielding to the event loop: let the other
                    # agents (and the fetcher) run, so a long batch here does not hold up their records.
                    await asyncio.sleep(0)
                    slice_end = perf_counter() + time_slice
        finally:
            watcher.cancel()

    async def _watch(self, stream: faust.StreamT) -> None:
        while True:
            await asyncio.sleep(self.linger)
            if self._events and time.monotonic() - self._appended_at >= self.linger:
                async with self._completing:
                    if self._events:
                        self.lingered += 1
                        try:
                            await self._complete(stream)
                        except Exception:  # as in the agent: logged; its records stay un-acknowledged
                            log.exception("a lingering batch could not be completed")

    async def _complete(self, stream: faust.StreamT) -> None:
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

        if self.tables:
            actives = self.actives()
            for table in self.tables:  # changelog offsets acknowledged since the previous batch
                table.persist(actives)
        self.engine.flush(as_record_of)
        send = self.producer.send
        for table in self.tables:  # the state first, then what it caused
            topic = table.changelog
            for partition, key, value in table.take_outbox():
                sent = await send(topic, key, value, partition, None, None)
                sent.add_done_callback(functools.partial(table.on_sent, partition))  # type: ignore[attr-defined]
        perf_counter = time.perf_counter
        slice_end = perf_counter() + self.time_slice
        for rec in out:
            if perf_counter() > slice_end:  # a sweep can write thousands: let the other agents run meanwhile
                await asyncio.sleep(0)
                slice_end = perf_counter() + self.time_slice
            # Straight to the Kafka client (awaiting only when its buffer is full), without Faust's per-message
            # bookkeeping. Faust flushes the producer before it commits input offsets, so nothing is committed
            # before its outputs (and the tables' changelog messages) are written.
            sent = await send(rec.topic, rec.key, rec.value, None, None, None)
            sent.add_done_callback(_report_failure)  # type: ignore[attr-defined]
        for event in events:
            await stream.ack(event)
        self.batches += 1
        self.records += len(events)
