"""Replay a recorded history through both jobs: JSON lines of plans, events, clock ticks and shipment plans,
in any order. Unit reports the unit job forwards go straight to the shipment job, as they would via Kafka.

Records are put in a canonical order (when each became known, then a stable tie-break) and routed to
partitions as Kafka's default partitioner would route them, with clock ticks broadcast to every
partition, so each partition sees what it would have seen live. The same input always gives the same
output, byte for byte."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from schemas import ClockTick, DecodeError, Plan, ShipmentPlan, TrackingEvent, decode_input, loads
from streams.core.policy import TrackingPolicy
from streams.core.shipments.policy import ShipmentPolicy
from streams.processing.engine import Engine, OutRecord
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES
from streams.processing.shipments import ShipmentEngine
from streams.processing.topics import TopicNames

Record = Plan | TrackingEvent | ClockTick | ShipmentPlan
_RANK = {ShipmentPlan: 0, Plan: 0, TrackingEvent: 1, ClockTick: 2}


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as the Java client, aiokafka and Faust use)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def known_at(record: Record) -> datetime:
    if isinstance(record, Plan | ShipmentPlan):
        return record.issued_time
    if isinstance(record, TrackingEvent):
        return record.received_time
    return record.time


def canonical_order(records: Iterable[Record]) -> list[Record]:
    def key(r: Record) -> tuple:
        ident = (r.event_id if isinstance(r, TrackingEvent) else r.unit.id if isinstance(r, Plan)
                 else r.shipment.id if isinstance(r, ShipmentPlan) else "")  # fmt: skip
        return (known_at(r), _RANK[type(r)], ident, r.model_dump_json())

    return sorted(records, key=key)


@dataclass
class ReplayResult:
    outputs: list[OutRecord]
    accepted: int
    rejected: int


def replay(
    lines: Iterable[bytes | str], topics: TopicNames, policy: TrackingPolicy, partitions: int,
    shipment_policy: ShipmentPolicy | None = None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    **learning: Any,
) -> ReplayResult:
    """`learning`: the engine's learning arguments (`Settings.learning_options`): a replay learns as a worker does."""
    engine = Engine({}, {}, topics, policy, max_record_bytes=max_record_bytes, **learning)
    shipments = ShipmentEngine({}, {}, topics, shipment_policy or ShipmentPolicy(eta_min_shift=policy.eta_min_shift),
                               max_record_bytes=max_record_bytes)  # fmt: skip
    feed = topics.name("shipment_feed")

    def unit_job(topic: str, p: int, key: bytes | None, raw: bytes) -> list[OutRecord]:
        out = engine.process(topic, p, None, key, raw)
        for o in [o for o in out if o.topic == feed]:
            assert o.key is not None
            out += shipments.process(feed, partition_for(o.key, partitions), None, o.key, o.value)
        return out

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
        raw = record.model_dump_json().encode()
        if isinstance(record, ClockTick):
            for p in range(partitions):
                outputs += unit_job(topics.name("clock"), p, None, raw)
            for p in range(partitions):
                outputs += shipments.process(topics.name("clock"), p, None, None, raw)
        elif isinstance(record, ShipmentPlan):
            key = record.shipment.id.encode()
            outputs += shipments.process(topics.name("shipment_plan"), partition_for(key, partitions), None, key, raw)
        else:
            role = "plan" if isinstance(record, Plan) else "event"
            key = record.unit.id.encode()
            outputs += unit_job(topics.name(role), partition_for(key, partitions), key, raw)
    return ReplayResult(outputs, len(records), rejected)


def as_json_lines(outputs: Iterable[OutRecord]) -> Iterator[bytes]:
    """One line per output: {"topic", "key", "value"}; value is the record as it went to the topic."""
    for o in outputs:
        yield orjson.dumps({"topic": o.topic, "key": o.key.decode() if o.key else None, "value": loads(o.value)})
