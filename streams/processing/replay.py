"""Replay a recorded history through the engine: JSON lines of plans, events and clock ticks, in any order.

Records are put in a canonical order (when each became known, then a stable tie-break) and routed to
partitions as Kafka's default partitioner would route them, with clock ticks broadcast to every
partition, so each partition sees what it would have seen live. The same input always gives the same
output, byte for byte."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import orjson
from aiokafka.partitioner import murmur2

from schemas import ClockTick, DecodeError, Plan, TrackingEvent, decode_input, loads
from streams.core.policy import TrackingPolicy
from streams.processing.engine import Engine, OutRecord
from streams.processing.topics import TopicNames

Record = Plan | TrackingEvent | ClockTick
_RANK = {Plan: 0, TrackingEvent: 1, ClockTick: 2}


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client, aiokafka and Faust use)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def known_at(record: Record) -> datetime:
    if isinstance(record, Plan):
        return record.issued_time
    if isinstance(record, TrackingEvent):
        return record.received_time
    return record.time


def canonical_order(records: Iterable[Record]) -> list[Record]:
    def key(r: Record) -> tuple:
        ident = r.event_id if isinstance(r, TrackingEvent) else r.unit.id if isinstance(r, Plan) else ""
        return (known_at(r), _RANK[type(r)], ident, r.model_dump_json())

    return sorted(records, key=key)


@dataclass
class ReplayResult:
    outputs: list[OutRecord]
    accepted: int
    rejected: int


def replay(
    lines: Iterable[bytes | str], topics: TopicNames, policy: TrackingPolicy, partitions: int
) -> ReplayResult:
    engine = Engine({}, {}, topics, policy)
    records: list[Record] = []
    outputs: list[OutRecord] = []
    for n, line in enumerate(lines, 1):
        raw = line.encode() if isinstance(line, str) else line
        if not raw.strip():
            continue
        try:
            records.append(decode_input(raw))
        except DecodeError as exc:
            outputs.append(engine.dead_letter("replay", 0, n, None, raw, f"line {n}: {exc}"))
    rejected = len(outputs)
    for record in canonical_order(records):
        role = "plan" if isinstance(record, Plan) else "event" if isinstance(record, TrackingEvent) else "clock"
        raw = record.model_dump_json().encode()
        if isinstance(record, ClockTick):
            for p in range(partitions):
                outputs += engine.process(topics.name(role), p, None, None, raw)
        else:
            key = record.unit.id.encode()
            outputs += engine.process(topics.name(role), partition_for(key, partitions), None, key, raw)
    return ReplayResult(outputs, len(records), rejected)


def as_json_lines(outputs: Iterable[OutRecord]) -> Iterator[bytes]:
    """One line per output: {"topic", "key", "value"}; value is the record as it went to the topic."""
    for o in outputs:
        yield orjson.dumps({"topic": o.topic, "key": o.key.decode() if o.key else None, "value": loads(o.value)})
