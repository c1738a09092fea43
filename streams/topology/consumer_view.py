"""What a Faust consumer knows of its partitions, as the input merge asks it (`streams/processing/input_order.py`):
whether everything fetched of a partition was handed over, and when its high-water mark was last heard."""

from __future__ import annotations

import math

from faust.types import TP

from streams.processing.input_order import CaughtUp, Heard


def caught_up_on(consumer: object) -> CaughtUp:
    """Whether a Faust consumer has handed over everything it knows of a partition: the next offset to read
    (the committed one if nothing was read since the assignment) has reached the partition's high-water mark,
    which each fetch response carries (right on Tansu too, unlike its list-offsets answer)."""
    tps: dict[tuple[str, int], TP] = {}
    committed = consumer._committed_offset  # type: ignore[attr-defined]  # Faust's, set when it seeks and commits
    highwater = consumer.highwater  # type: ignore[attr-defined]

    def caught_up(topic: str, partition: int, next_offset: int | None) -> bool | None:
        tp = tps.get((topic, partition))
        if tp is None:
            tp = tps[(topic, partition)] = TP(topic, partition)
        try:
            end = highwater(tp)
        except Exception:  # not assigned (any more): nothing more will come from it
            return True
        if end is None:  # no fetch answered yet
            return None
        return (committed.get(tp) or 0 if next_offset is None else next_offset) >= end

    return caught_up


def heard_on(consumer: object) -> Heard:
    """When a Faust consumer last heard each partition's high-water mark: the time (ms) of the latest fetch
    response that carried it (aiokafka's `last_poll_timestamp`; None before the first). A partition it no longer
    has answers infinity: nothing more will come from it (as `caught_up_on` answers)."""
    tps: dict[tuple[str, int], TP] = {}

    def heard(topic: str, partition: int) -> float | None:
        tp = tps.get((topic, partition))
        if tp is None:
            tp = tps[(topic, partition)] = TP(topic, partition)
        try:
            return consumer._thread._ensure_consumer().last_poll_timestamp(tp)  # type: ignore[attr-defined]
        except Exception:  # not assigned (any more)
            return math.inf

    return heard
