"""The lean hand-over's back-pressure callbacks pause and resume fetching as Faust's conductor does."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

from aiokafka import TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP

from streams.topology import faust_drain
from streams.topology.faust_drain import _pressure_callbacks


class _Consumer:
    """Faust's own bookkeeping of the partitions it fetches (the methods the callbacks reach), nothing else."""

    _get_active_partitions = Consumer._get_active_partitions
    _set_active_tps = Consumer._set_active_tps
    on_buffer_full = Consumer.on_buffer_full
    on_buffer_drop = Consumer.on_buffer_drop

    def __init__(self, assigned: set[TP]) -> None:
        self._active_partitions = None
        self._buffered_partitions: set[TP] = set()
        self._paused_partitions: set[TP] = set()
        self._assigned = assigned
        self.full: list[TP] = []
        self.app = SimpleNamespace(in_recovery=False, sensors=SimpleNamespace(on_topic_buffer_full=self.full.append))

    def assignment(self) -> set[TP]:
        return set(self._assigned)


def test_a_full_queue_pauses_its_partition_and_a_drained_one_resumes_it() -> None:
    """Records come from the client with its own TopicPartition; the consumer's set of active partitions must
    only ever hold Faust's TP. Resuming with the client's tuple put one there, and the consumer's next look at the
    set failed an assertion that stopped the worker (seen once a stream's queue filled up and drained)."""
    tp = TP("corridor.events", 3)
    consumer = _Consumer({tp, TP("corridor.events", 1)})
    message = SimpleNamespace(topic="corridor.events", partition=3, tp=TopicPartition("corridor.events", 3))
    cache: dict = {}
    high, drop = _pressure_callbacks(consumer, message, cache)
    assert _pressure_callbacks(consumer, message, cache) == (high, drop)  # one pair per partition
    high()
    assert tp not in consumer._get_active_partitions()
    assert consumer.full == [tp] and all(type(x) is TP for x in consumer.full)
    drop()
    active = consumer._get_active_partitions()  # asserts every member is a TP
    assert tp in active and all(type(x) is TP for x in active)


class _Draining:
    """Just what `_drain_messages` reaches of a Faust consumer: fetches served in turn, a hand-over that may
    seek (as a rebalance does while a hand-over waits), and the read offsets."""

    _drain_messages = faust_drain._drain_messages
    consumer_stopped_errors = ()
    should_stop = False
    _commit_every = None

    def __init__(self, fetches: list[list[int]], seek_on: int, seek_to: int) -> None:
        self.fetches, self.seek_on, self.seek_to = fetches, seek_on, seek_to
        self.handed: list[int] = []
        self.gaps: list[tuple[int, int]] = []
        self._gap = defaultdict(lambda: SimpleNamespace(addi=lambda start, end: self.gaps.append((start, end))))
        self._read_offset: dict = defaultdict(lambda: None)
        self._stopped = asyncio.Event()
        self.suspend_flow = asyncio.Event()
        self.diag = SimpleNamespace(set_flag=lambda flag: None, unset_flag=lambda flag: None)
        self.app = SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
                                   flow_control=SimpleNamespace(is_active=lambda: True))  # fmt: skip
        self.transport = SimpleNamespace(app=self.app)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)

    async def seek(self, tp: TP, offset: int) -> None:
        self._read_offset[tp] = offset

    async def _add_gap(self, tp: TP, start: int, end: int) -> None:  # Faust's record of offsets with no record
        self.gaps.append((start, end))

    async def getmany(self, timeout: float):  # type: ignore[no-untyped-def]
        if not self.fetches:
            self._stopped.set()
            return
        for offset in self.fetches.pop(0):
            yield TP("t", 0), SimpleNamespace(topic="t", partition=0, offset=offset)

    async def callback(self, message) -> None:  # type: ignore[no-untyped-def]
        self.handed.append(message.offset)
        if message.offset == self.seek_on and self.seek_to is not None:
            self.seek_to, to = None, self.seek_to
            self._read_offset[TP("t", 0)] = to  # what Consumer.seek does


async def test_a_seek_during_a_hand_over_is_not_overwritten_by_the_stale_fetch() -> None:
    """Records 10 and 11 were fetched before a rebalance; while 10 was being handed over, the new generation's
    seek put the partition back at 5. What the client fetches from there must all be handed over: setting the
    read offset to 10, then 11, dropped 5 to 10 unread (a gap the commits stopped at)."""
    consumer = _Draining([[10, 11], [5, 6, 7, 8, 9, 10, 11]], seek_on=10, seek_to=5)
    await consumer._drain_messages(SimpleNamespace(_stopped=asyncio.Event()))
    assert consumer.handed == [10, 5, 6, 7, 8, 9, 10, 11]


async def test_a_gap_in_an_input_that_has_none_is_read_again_not_skipped() -> None:
    """Events and clock ticks are never compacted: offsets 7 and 8 missing from what came means a stale fetch or
    a position moved under the loop. Reading goes back to 7."""
    consumer = _Draining([[5, 6, 9], [7, 8, 9]], seek_on=-1, seek_to=None)
    consumer.app.corridor_ack_guard = SimpleNamespace(readers={"t": 1})
    consumer.app.corridor_gapless_topics = frozenset({"t"})
    consumer._read_offset[TP("t", 0)] = 5  # sought to 5 at the assignment
    await consumer._drain_messages(SimpleNamespace(_stopped=asyncio.Event()))
    assert consumer.handed == [5, 6, 7, 8, 9]


async def test_a_gap_that_reading_again_shows_each_time_is_taken_for_empty_offsets() -> None:
    """Transaction markers or compaction leave offsets without records: after three reads that skip them alike,
    reading goes on (a stale fetch does not repeat itself that often)."""
    consumer = _Draining([[5, 6, 9], [9], [9], [9], [10]], seek_on=-1, seek_to=None)
    consumer.app.corridor_ack_guard = SimpleNamespace(readers={"t": 1})
    consumer.app.corridor_gapless_topics = frozenset({"t"})
    consumer._read_offset[TP("t", 0)] = 5
    await consumer._drain_messages(SimpleNamespace(_stopped=asyncio.Event()))
    assert consumer.handed == [5, 6, 9, 10] and consumer.gaps == [(7, 9)]
