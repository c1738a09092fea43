"""The shipment job: shipment plans, unit reports and clock ticks in; shipment timelines, alerts, ETAs out.

Keyed by shipment. Unit reports come from the unit job (`Engine`), which forwards a unit's timeline to each
shipment whose cargo it carries; the two jobs share the clock topic, so each partition's watermark moves
with the same ticks."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from schemas import ClockTick, DecodeError, ShipmentPlan, decode, decode_input, dumps, loads
from schemas.topics import TopicNames
from streams.core.shipments.policy import ShipmentPolicy
from streams.core.shipments.state import ShipmentState
from streams.core.shipments.tracker import Outcome, advance, apply_plan, apply_report
from streams.processing.keyed import KeyedEngine, OutRecord, Step
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES

log = logging.getLogger(__name__)

Input = ShipmentPlan | dict[str, Any] | ClockTick


class ShipmentEngine(KeyedEngine[ShipmentState]):
    kind = "shipment"
    log = log

    def __init__(self, shipments: MutableMapping[bytes, bytes], clock: MutableMapping[bytes, bytes],
                 topics: TopicNames, policy: ShipmentPolicy, *, write_behind: bool = False,
                 cached_shipments: int = 20_000, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:  # fmt: skip
        """As the unit Engine (the shape they share: `streams.processing.keyed`): `write_behind` keeps changes in
        memory until `flush()`; an input whose outputs or new state would not fit in a record of
        `max_record_bytes` is refused to the dead-letter topic."""
        super().__init__(shipments, clock, topics, ShipmentState, write_behind=write_behind,
                         cached=cached_shipments, max_record_bytes=max_record_bytes)  # fmt: skip
        self.shipments, self._shipments = shipments, self._states  # the store itself (up to date after `flush`)
        self._fine = self._fine_watermarks
        self.policy = policy
        self._out_topic = {
            "shipment_timeline": topics.name("shipment_timeline"),
            "shipment_alert": topics.name("shipment_alert"),
            "shipment_eta": topics.name("shipment_eta"),
        }

    def _decode(self, role: str | None, topic: str, key: bytes | None, data: bytes) -> Input | None:
        record: Input
        if role == "shipment_plan":
            record = decode(data, ShipmentPlan)
            if key != record.shipment.id.encode():
                raise DecodeError(f"record key {key!r} is not the shipment id {record.shipment.id!r}: "
                                  "shipment topics must be keyed by shipment")  # fmt: skip
        elif role == "shipment_feed":
            record = loads(data)
            if not isinstance(record, dict) or record.get("record") != "unit_report":
                raise DecodeError("expected a unit_report record")
            if key != str(record.get("shipment_id")).encode():
                raise DecodeError(f"record key {key!r} is not the report's shipment id")
        elif role == "clock":
            try:
                record = decode_input(data, expected="clock")  # type: ignore[assignment]
            except DecodeError:
                return None  # the unit job dead-letters bad ticks; once is enough
        else:
            raise DecodeError(f"topic {topic!r} is not an input of the shipment job")
        return record

    def _watermark_candidate(self, record: Input) -> datetime | None:
        if isinstance(record, ClockTick):
            return record.time
        if isinstance(record, dict) and record.get("timeline", {}).get("as_of"):
            return datetime.fromisoformat(record["timeline"]["as_of"])
        return None

    def _target(self, record: Input, raw: bytes, wm: datetime | None) -> tuple[str, Step] | None:
        if isinstance(record, ShipmentPlan):
            return record.shipment.id, lambda s: apply_plan(s, record, raw, wm, self.policy)
        if isinstance(record, dict):
            return record["shipment_id"], lambda s: apply_report(s, record, wm, self.policy)
        return None

    def _outputs(self, key: bytes, outcome: Outcome) -> list[OutRecord]:
        return [OutRecord(self._out_topic[o.record], key, dumps(o)) for o in outcome.outputs]

    def _advance(self, state: ShipmentState, watermark: datetime) -> Outcome:
        return advance(state, watermark, self.policy)

    def _due(self, state: ShipmentState) -> datetime | None:
        return None if state.ref is None else state.next_due
