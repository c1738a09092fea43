"""The lean hand-over's back-pressure callbacks pause and resume fetching as Faust's conductor does."""

from __future__ import annotations

from types import SimpleNamespace

from aiokafka import TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP

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
