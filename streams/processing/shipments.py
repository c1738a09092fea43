"""The shipment job: shipment plans, unit reports and clock ticks in; shipment timelines, alerts, ETAs out.

Keyed by shipment. Unit reports come from the unit job (`Engine`), which forwards a unit's timeline to each
shipment whose cargo it carries; the two jobs share the clock topic, so each partition's watermark moves
with the same ticks."""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from datetime import datetime
from typing import Any

from schemas import ClockTick, DecodeError, ShipmentPlan, decode, decode_input, dumps, loads
from schemas.topics import TopicNames
from streams.core.shipments.policy import ShipmentPolicy
from streams.core.shipments.state import ShipmentState
from streams.core.shipments.tracker import Outcome, advance, apply_plan, apply_report
from streams.processing.cache import Scope, StateCache
from streams.processing.engine import OutRecord, dead_letter
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES, STEP_SLACK, TooLarge, check, save, swept
from streams.processing.schedule import PartitionClock

log = logging.getLogger(__name__)

Input = ShipmentPlan | dict[str, Any] | ClockTick


class ShipmentEngine:
    def __init__(self, shipments: MutableMapping[bytes, bytes], clock: MutableMapping[bytes, bytes],
                 topics: TopicNames, policy: ShipmentPolicy, *, write_behind: bool = False,
                 cached_shipments: int = 20_000, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:  # fmt: skip
        """As the unit Engine: `write_behind` keeps changes in memory until `flush()`; an input whose outputs or
        new state would not fit in a record of `max_record_bytes` is refused to the dead-letter topic."""
        self.shipments, self.clock = shipments, clock  # the stores themselves (up to date after `flush`)
        self._shipments: StateCache[ShipmentState] = StateCache(
            shipments, ShipmentState.decode, ShipmentState.encode, cached_shipments, write_behind)
        self._clock: StateCache[bytes] = StateCache(clock, max_items=4 * cached_shipments, write_behind=write_behind)
        self.topics = topics
        self.policy = policy
        self.max_record_bytes = max_record_bytes
        self._out_topic = {
            "shipment_timeline": topics.name("shipment_timeline"),
            "shipment_alert": topics.name("shipment_alert"),
            "shipment_eta": topics.name("shipment_eta"),
        }
        self._dead = topics.name("dead_letter")
        self._fine: dict[int, datetime] = {}
        self._due_earliest: dict[tuple[int, int], int] = {}  # see PartitionClock

    @property
    def fine_watermarks(self) -> dict[int, datetime]:
        """Each partition's watermark as this worker last saw it (the clock table has it once the batch is
        written): what the query API reads, so it answers with the watermark the job uses."""
        return self._fine

    def flush(self, scope: Scope | None = None) -> int:
        """Write the state changed since the last flush to the stores, each input partition's inside
        `scope(partition)`; returns how many keys were written."""
        return self._shipments.flush(scope) + self._clock.flush(scope)

    def forget(self) -> None:
        self._shipments.clear()
        self._clock.clear()
        self._fine.clear()
        self._due_earliest.clear()

    def reindex(self, partition: int) -> int:
        """As the unit Engine's: index every shipment of `partition` at its due time again."""
        items_in = getattr(self.shipments, "items_in", None)
        if items_in is None:
            return 0
        self._shipments.partition = self._clock.partition = partition
        clock = PartitionClock(self._clock, partition, self._fine, self._due_earliest)

        def due_of(raw: bytes) -> datetime | None:
            state = ShipmentState.decode(raw)
            return None if state.ref is None else state.next_due

        return clock.reindex(items_in(partition), due_of)

    def process(self, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None) -> list[OutRecord]:  # fmt: skip
        role = self.topics.role_of(topic)
        data = value if value is not None else b""
        try:
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
                    return []  # the unit job dead-letters bad ticks; once is enough
            else:
                raise DecodeError(f"topic {topic!r} is not an input of the shipment job")
        except DecodeError as exc:
            return [self._letter(topic, partition, offset, key, value, str(exc))]
        try:
            return self._apply(record, data, (topic, partition, offset),
                               lambda reason: self._letter(topic, partition, offset, key, value, reason))
        except Exception as exc:  # a bug must not crash the worker or lose the record
            log.exception("failed to process %s[%s]@%s", topic, partition, offset)
            return [self._letter(topic, partition, offset, key, value, f"processing failed: {exc!r}")]

    def _letter(self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None,
                reason: str) -> OutRecord:  # fmt: skip
        return dead_letter(self._dead, topic, partition, offset, key, value, reason, self.max_record_bytes)

    def _apply(self, record: Input, raw: bytes, source: tuple[str, int, int | None],
               refuse: Callable[[str], OutRecord]) -> list[OutRecord]:  # fmt: skip
        partition = source[1]
        self._shipments.partition = self._clock.partition = partition  # this record's changes are its partition's
        clock = PartitionClock(self._clock, partition, self._fine, self._due_earliest)
        candidate: datetime | None = None
        if isinstance(record, ClockTick):
            candidate = record.time
        elif isinstance(record, dict) and record.get("timeline", {}).get("as_of"):
            candidate = datetime.fromisoformat(record["timeline"]["as_of"])
        wm, moved = clock.advance(candidate)
        out: list[OutRecord] = []
        try:
            if isinstance(record, ShipmentPlan):
                out += self._step(record.shipment.id, clock, lambda s: apply_plan(s, record, raw, wm, self.policy),
                                  len(raw), input=True)  # fmt: skip
            elif isinstance(record, dict):
                out += self._step(record["shipment_id"], clock, lambda s: apply_report(s, record, wm, self.policy),
                                  len(raw), input=True)  # fmt: skip
        except TooLarge as exc:  # the time the report tells of has passed all the same
            out.append(refuse(f"{exc}: refused, the shipment is unchanged"))
        if moved and wm is not None:
            out += self._sweep(clock, wm, source)
        return out

    def _step(self, shipment_id: str, clock: PartitionClock, step, size: int = 0, *,
              input: bool = False) -> list[OutRecord]:  # fmt: skip
        """`size`: of the input the step applies (0: time passing), for the bound on the new state's size;
        `input`: the step applies a plan or a report."""
        key = shipment_id.encode()
        state = self._shipments.get(key) or ShipmentState()
        outcome: Outcome = step(state)
        out = [OutRecord(self._out_topic[o.record], key, dumps(o)) for o in outcome.outputs]
        limit = self.max_record_bytes
        for rec in out:
            check(f"{shipment_id}'s record for {rec.topic}", key, rec.value, limit)
        if outcome.changed:
            save(self._shipments, key, outcome.state, size + STEP_SLACK, limit, f"{shipment_id}'s state")
            if outcome.state.next_due is not None:
                clock.schedule(shipment_id, outcome.state.next_due, previous=state.next_due)
        elif input and state.next_due is not None:  # held already: the due index may lack it (see the unit engine)
            clock.schedule(shipment_id, state.next_due)
        return out

    def _sweep(self, clock: PartitionClock, wm: datetime, source: tuple[str, int, int | None]) -> list[OutRecord]:
        out: list[OutRecord] = []

        def due_of(sid: str) -> datetime | None:
            state = self._shipments.get(sid.encode())
            return None if state is None or state.ref is None else state.next_due

        def step(sid: str) -> None:
            out.extend(swept(lambda: self._step(sid, clock, lambda s: advance(s, wm, self.policy)),
                             lambda reason: self._letter(*source, sid.encode(), None, reason), "shipment", wm))

        clock.sweep(wm, due_of, step)
        return out
