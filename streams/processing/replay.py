"""Replay a recorded history through both jobs: JSON lines of plans, events, clock ticks and shipment plans,
in any order. Unit reports the unit job forwards go straight to the shipment job, as they would via Kafka.

Conveyance events (`"record": "conveyance_event"`) go to the conveyance job, which fans them out to the units
aboard (docs/design/conveyances.md); its own records (boardings, fan-out) are followed but not returned. LISTED
boardings (`"record": "boarding"`: the units a bay plan lists, as `corridor parse` prints them and ingest writes
them) go to the conveyance job too.

Records are put in a canonical order (when each became known, then a stable tie-break) and routed to
partitions as Kafka's default partitioner would route them, with clock ticks broadcast to every
partition, so each partition sees what it would have seen live. The same input always gives the same
output, byte for byte."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from schemas import ClockTick, DecodeError, Plan, ShipmentPlan, decode_input, loads
from schemas.conveyances import ConveyanceEvent
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.conveyance import Boarding
from streams.core.history_order import Record, canonical_order
from streams.core.policy import TrackingPolicy
from streams.core.shipments.policy import ShipmentPolicy
from streams.processing.conveyances import ConveyanceEngine
from streams.processing.engine import Engine, OutRecord
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES
from streams.processing.shipments import ShipmentEngine


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
    engine = Engine({}, {}, topics, policy, max_record_bytes=max_record_bytes, boardings=True, **learning)
    shipments = ShipmentEngine({}, {}, topics, shipment_policy or ShipmentPolicy(eta_min_shift=policy.eta_min_shift),
                               max_record_bytes=max_record_bytes)  # fmt: skip
    rides = ConveyanceEngine({}, topics, partitions, max_record_bytes=max_record_bytes)
    feed, boarding, conveyance_feed = (topics.name(r) for r in ("shipment_feed", "boarding", "conveyance_feed"))
    plumbing = (boarding, conveyance_feed)

    def unit_job(topic: str, p: int, key: bytes | None, raw: bytes) -> list[OutRecord]:
        """The record's outputs, followed through the internal topics (unit reports to the shipment job, boardings
        to the conveyance job, its fan-out back to the unit job), each as soon as it is written, as live."""
        out = engine.process(topic, p, None, key, raw) if topic != boarding else []
        if topic == boarding:
            out = rides.process(topic, partition_for(key or b"", partitions), None, key, raw)
        i = 0
        while i < len(out):
            o = out[i]
            i += 1
            assert o.key is not None or o.topic not in (feed, boarding, conveyance_feed)
            if o.topic == feed:
                out += shipments.process(feed, partition_for(o.key, partitions), None, o.key, o.value)  # type: ignore[arg-type]
            elif o.topic == boarding:
                out += rides.process(boarding, partition_for(o.key, partitions), None, o.key, o.value)  # type: ignore[arg-type]
            elif o.topic == conveyance_feed:
                out += engine.process(conveyance_feed, partition_for(o.key, partitions), None, o.key, o.value)  # type: ignore[arg-type]
        return [o for o in out if o.topic not in plumbing]  # the conveyance join's own records stay inside

    records: list[Record] = []
    outputs: list[OutRecord] = []
    for n, line in enumerate(lines, 1):
        raw = line.encode() if isinstance(line, str) else line
        if not raw.strip():
            continue
        try:
            records.append(_conveyance(raw) if b'"conveyance_event"' in raw or b'"boarding"' in raw
                           else decode_input(raw))  # fmt: skip
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
        elif isinstance(record, ConveyanceEvent):  # re-keyed by ride by the conveyance job, then as above
            key = record.conveyance.id.encode()
            first = rides.process(topics.name("conveyance"), partition_for(key, partitions), None, key, raw)
            outputs += [o for r in first for o in ([r] if r.topic != boarding else unit_job(boarding, 0, r.key,
                                                                                           r.value))]
        elif isinstance(record, Boarding):  # a loading list's unit, keyed by its ride as ingest writes it
            outputs += unit_job(boarding, 0, record.ride.encode(), raw)
        elif isinstance(record, ShipmentPlan):
            key = record.shipment.id.encode()
            outputs += shipments.process(topics.name("shipment_plan"), partition_for(key, partitions), None, key, raw)
        else:
            role = "plan" if isinstance(record, Plan) else "event"
            key = record.unit.id.encode()
            outputs += unit_job(topics.name(role), partition_for(key, partitions), key, raw)
    return ReplayResult(outputs, len(records), rejected)


def _conveyance(raw: bytes) -> ConveyanceEvent | Boarding:
    obj = loads(raw)
    if isinstance(obj, dict) and obj.get("record") == "conveyance_event":
        try:
            return ConveyanceEvent.model_validate(obj)
        except ValueError as exc:
            raise DecodeError(f"invalid conveyance_event: {exc}") from None
    if isinstance(obj, dict) and obj.get("record") == "boarding":
        try:
            found = Boarding.model_validate(obj)
        except ValueError as exc:
            raise DecodeError(f"invalid boarding: {exc}") from None
        if found.basis != "LISTED":  # the others are the unit job's, derived from plans and events replayed
            raise DecodeError(f"a boarding replayed must be LISTED (a loading list's), not {found.basis}")
        return found
    return decode_input(raw)  # type: ignore[return-value]


def as_json_lines(outputs: Iterable[OutRecord]) -> Iterator[bytes]:
    """One line per output: {"topic", "key", "value"}; value is the record as it went to the topic."""
    for o in outputs:
        yield orjson.dumps({"topic": o.topic, "key": o.key.decode() if o.key else None, "value": loads(o.value)})
