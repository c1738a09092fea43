"""Records in, records out: decode, run the core, keep state, encode. Bad input becomes a dead letter."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime

import orjson

from schemas import ClockTick, DeadLetter, DecodeError, Plan, TrackingEvent, UnitKind, decode_input, dumps
from schemas.events import Classifier
from schemas.topics import TopicNames
from streams.core.learning import Knowledge, Sketch
from streams.core.policy import TrackingPolicy
from streams.core.reports import report_targets
from streams.core.state import UnitState, learned_of
from streams.core.tracker import Outcome, Refused, advance, apply_event, apply_plan
from streams.processing import unit_conveyance
from streams.processing.cache import Scope, StateCache
from streams.processing.limits import (
    DEFAULT_MAX_RECORD_BYTES,
    STEP_SLACK,
    TooLarge,
    check,
    dead_letter_bytes,
    save,
    swept,
)
from streams.processing.schedule import PartitionClock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes


class Engine:
    """The tracking job for the partitions it is given. `units` and `clock` are key-value stores: Faust
    tables in a worker (changelogged, RocksDB-backed), dicts in replay and unit tests.

    With `write_behind`, state changes stay in memory until `flush()` (the worker flushes once per batch of
    input records, before acknowledging them); without, every `process` call leaves the stores up to date.

    An input whose outputs or new state would not fit in a record of `max_record_bytes` (key and value) is
    refused to the dead-letter topic, its unit's state unchanged (`streams.processing.limits`).

    With `coalesce` (and `write_behind`: the worker with CORRIDOR_COALESCE_TIMELINES), a unit's timeline is written
    once per batch, the latest: a newer timeline of the unit takes the place of the one an earlier record of the
    batch returned, which is removed from the list `process` returned for it (the caller sends a batch's lists
    after `flush`, as the worker's batcher does). Alerts, ETA updates, unit reports and dead letters are never
    coalesced. As Kafka Streams' record cache does for a table: the timelines topic is compacted, its consumers
    want the latest. See docs/design/outputs.md."""

    def __init__(
        self,
        units: MutableMapping[bytes, bytes],
        clock: MutableMapping[bytes, bytes],
        topics: TopicNames,
        policy: TrackingPolicy,
        *,
        write_behind: bool = False,
        cached_units: int = 100_000,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        incremental: bool = True,
        coalesce: bool = False,
        boardings: bool = False,
        learning: bool = True,
        prior: Mapping[str, Sketch] | None = None,
        min_samples: int = 8,
    ) -> None:
        self.units, self.clock = units, clock  # the stores themselves (up to date after `flush`)
        self._units: StateCache[UnitState] = StateCache(units, UnitState.decode, UnitState.encode, cached_units,
                                                       write_behind)  # fmt: skip
        self._clock: StateCache[bytes] = StateCache(clock, max_items=4 * cached_units, write_behind=write_behind)
        self.topics = topics
        # What the job learns from completed legs (streams/core/learning): one model per input partition, the sum
        # of what its units' states say they taught (`UnitState.learned`), made from the units store when the
        # partition is first needed after an assignment. Not stored: a copy in the clock table is written with a
        # batch's other clock keys, after its units (two changelogs, no transaction), and a worker killed in
        # between came back with units that had taught what the copy lacked (bench chaos: ETAs on the plan live,
        # on the learned dwell in replay). A store that cannot list a partition's units (a plain dict: replay,
        # benchmarks, tests) keeps the copy, under `learned:<partition>`, written once per batch.
        # `prior` (corridor learn) is what every partition starts from.
        self.knowledge: Knowledge | None = None
        values_in = getattr(units, "values_in", None)
        self._stores_learned = values_in is None
        if learning and policy.knowledge is None:
            if values_in is not None:
                self.knowledge = Knowledge(prior, min_samples=min_samples,
                                           lessons=lambda p: (learned_of(v) for v in values_in(p)))  # fmt: skip
            else:
                self.knowledge = Knowledge(prior, min_samples=min_samples,
                                           load=lambda p: self._clock.get(_learned_key(p)))  # fmt: skip
            policy = replace(policy, knowledge=self.knowledge)
        self.policy = policy
        self.max_record_bytes = max_record_bytes
        self.incremental = incremental  # False: every record re-derives its unit whole (the specification)
        self.coalesce = coalesce and write_behind  # written through, every record is a batch of its own
        self.boardings = boardings  # write who boards which ride for the conveyance job (worker, replay)
        # Since the last flush: each unit's latest timeline record and the list `process` returned it in.
        self._latest: dict[bytes | None, tuple[list[OutRecord], OutRecord]] = {}
        self.coalesced = 0  # timelines taken back (superseded within their batch), for the record
        self._out_topic = {
            "timeline": topics.name("timeline"),
            "alert": topics.name("alert"),
            "eta": topics.name("eta"),
        }
        self._feed = topics.name("shipment_feed")
        self._dead = topics.name("dead_letter")
        self._fine_watermarks: dict[int, datetime] = {}
        self._due_earliest: dict[tuple[int, int], int] = {}  # see PartitionClock

    @property
    def fine_watermarks(self) -> dict[int, datetime]:
        """Each partition's watermark as this worker last saw it (the clock table has it once the batch is
        written): what the query API reads, so it answers with the watermark the job uses."""
        return self._fine_watermarks

    def flush(self, scope: Scope | None = None) -> int:
        """Write the state changed since the last flush to the stores; returns how many keys were written. The
        batch ends here: the lists `process` returned are final."""
        self._latest.clear()
        if self.knowledge is not None and self.knowledge.dirty:
            if self._stores_learned:
                for p in sorted(self.knowledge.dirty):
                    self._clock.partition = p
                    self._clock[_learned_key(p)] = self.knowledge.encoded(p)
            self.knowledge.dirty.clear()
        return self._units.flush(scope) + self._clock.flush(scope)

    def forget(self) -> None:
        """Drop what is held in memory (partitions were reassigned): caches, unwritten changes, sub-hour
        watermarks and what the due index was last seen to hold."""
        self._units.clear()
        self._clock.clear()
        if self.knowledge is not None:
            self.knowledge.forget()
        self._latest.clear()
        self._fine_watermarks.clear()
        self._due_earliest.clear()

    def process(
        self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None
    ) -> list[OutRecord]:
        role = self.topics.role_of(topic)
        if role == "conveyance_feed":  # a conveyance event for units of this partition (docs/design/conveyances.md)
            return unit_conveyance.apply_feed(self, topic, partition, offset, key, value)
        try:
            if role not in ("plan", "event", "clock"):
                raise DecodeError(f"topic {topic!r} is not an input of the tracking job")
            record = decode_input(value if value is not None else b"", expected=role)
            if not isinstance(record, ClockTick):
                unit_key = record.unit.id.encode()
                if key != unit_key:
                    raise DecodeError(
                        f"record key {key!r} is not the unit id {record.unit.id!r}: per-unit topics must be "
                        "keyed by unit so a unit's plan and events meet on one partition"
                    )
        except DecodeError as exc:
            return [self.dead_letter(topic, partition, offset, key, value, str(exc))]
        try:
            before = None if isinstance(record, ClockTick) or not self.boardings else self._units.get(key)  # type: ignore[arg-type]
            out = self._apply(record, (topic, partition, offset), len(value or b""),
                              lambda reason: self.dead_letter(topic, partition, offset, key, value, reason))
            if self.boardings and not isinstance(record, ClockTick):  # who boards which ride, for the conveyance job
                out += unit_conveyance.boardings(self, record, before, OutRecord)
        except Exception as exc:  # a bug must not crash the worker or lose the record
            log.exception("failed to process %s[%s]@%s", topic, partition, offset)
            return [self.dead_letter(topic, partition, offset, key, value, f"processing failed: {exc!r}")]
        if self.coalesce:
            self._supersede(out)
        return out

    def _supersede(self, out: list[OutRecord]) -> None:
        """Take back, from the lists returned earlier in the batch (or from `out` itself, when a sweep stepped the
        unit again), each timeline that a timeline in `out` supersedes. Only once `out` is final: a record that
        fails after its step returns a dead letter alone, and the unit's earlier timeline then stays."""
        topic = self._out_topic["timeline"]
        for rec in [r for r in out if r.topic == topic]:
            held = self._latest.get(rec.key)
            if held is not None:
                records, old = held
                for i, r in enumerate(records):
                    if r is old:
                        del records[i]
                        self.coalesced += 1
                        break
            self._latest[rec.key] = (out, rec)

    def at_partition(self, partition: int) -> None:
        """What follows changes `partition`'s state: its units, its clock and what its model learns."""
        self._units.partition = self._clock.partition = partition
        if self.knowledge is not None:
            self.knowledge.partition = partition

    def reindex(self, partition: int) -> int:
        """Index every unit of `partition` at its due time again; returns how many. For a clock that may lack
        entries its units' states imply (its batch's clock records were lost, its units' were not); an entry
        too many is dropped when reached."""
        items_in = getattr(self.units, "items_in", None)
        if items_in is None:
            return 0
        self.at_partition(partition)
        clock = PartitionClock(self._clock, partition, self._fine_watermarks, self._due_earliest)
        return clock.reindex(items_in(partition), lambda raw: UnitState.decode(raw).next_due)

    # -- internals ---------------------------------------------------------------------------------

    def _apply(self, record: Plan | TrackingEvent | ClockTick, source: tuple[str, int, int | None],
               size: int, refuse: Callable[[str], OutRecord]) -> list[OutRecord]:  # fmt: skip
        partition = source[1]
        self.at_partition(partition)
        clock = PartitionClock(self._clock, partition, self._fine_watermarks, self._due_earliest)
        wm, moved = clock.advance(_watermark_candidate(record))
        out: list[OutRecord] = []
        inc = self.incremental
        try:
            if isinstance(record, Plan):
                out += self._step(record.unit.id, clock,
                                  lambda s: apply_plan(s, record, wm, self.policy, incremental=inc), size, input=True)
            elif isinstance(record, TrackingEvent):
                out += self._step(record.unit.id, clock,
                                  lambda s: apply_event(s, record, wm, self.policy, incremental=inc), size, input=True)
        except Refused as exc:  # the unit will not take it; the time it tells of has passed all the same
            out.append(refuse(str(exc)))
        except TooLarge as exc:
            out.append(refuse(f"{exc}: refused, the unit is unchanged"))
        if moved and wm is not None:
            out += self._sweep(clock, wm, source)
        return out

    def _step(self, unit_id: str, clock: PartitionClock, step, size: int = 0, *,
              input: bool = False) -> list[OutRecord]:  # fmt: skip
        """`size`: of the input the step applies (0: time passing), for the bound on the new state's size;
        `input`: the step applies a plan or an event."""
        key = unit_id.encode()
        state = self._units.get(key) or UnitState()
        outcome: Outcome = step(state)
        out: list[OutRecord] = []
        if outcome.timeline:  # encoded before anything is saved: a timeline its model refuses fails the whole record
            assert outcome.view is not None
            out.append(OutRecord(self._out_topic["timeline"], key, outcome.view.timeline_json))
        out += [OutRecord(self._out_topic[o.record], key, dumps(o)) for o in outcome.records]
        if outcome.state.links or (outcome.state.unit is not None and outcome.state.unit.kind is UnitKind.AWB):
            out += self._reports(outcome, out)
        limit = self.max_record_bytes
        for rec in out:
            check(f"{unit_id}'s record for {rec.topic}", rec.key, rec.value, limit)
        if outcome.changed:
            save(self._units, key, outcome.state, size + STEP_SLACK, limit, f"{unit_id}'s state")
            if outcome.learned_before is not None and self.knowledge is not None:  # only once the state is saved
                self.knowledge.apply(outcome.learned_before, outcome.state.learned)
            if outcome.state.next_due is not None:
                clock.schedule(unit_id, outcome.state.next_due, previous=state.next_due)
        elif input and state.next_due is not None:
            # A plan or event the unit already holds, read again. Its batch's state reached the broker in part:
            # the units changelog, not the clock's (two topics, no transaction), so the restored unit holds it
            # while the due index lacks its entry, and the unit was never swept again (bench chaos: a worker
            # killed mid-write; `OVERDUE` alerts missing, `LATE` ones instead). Index it again: an entry too many
            # is dropped when reached; a carrier's re-sent event costs two small writes.
            clock.schedule(unit_id, state.next_due)
        return out

    def _reports(self, outcome: Outcome, out: list[OutRecord]) -> list[OutRecord]:
        """Forward the unit's timeline to the shipments it carries (or carried, when their links changed),
        and an air waybill's own timeline to the shipment it is (`streams.core.reports` says which)."""
        st = outcome.state
        assert st.unit is not None
        targets, own = report_targets(st, outcome.linked, outcome.timeline)
        if not targets and not own:
            return []
        timeline = next((r.value for r in out if r.topic == self._out_topic["timeline"]), None)
        if timeline is None:
            assert outcome.view is not None
            timeline = outcome.view.timeline_json
        reports = []
        for target in targets:
            kind, sid = target.split(":", 1)
            reports.append(OutRecord(self._feed, sid.encode(), _report(sid, kind, st.links[target], False, timeline)))
        if own:
            reports.append(OutRecord(self._feed, st.unit.id.encode(),
                                     _report(st.unit.id, "AIR_WAYBILL", [], True, timeline)))  # fmt: skip
        return reports

    def _sweep(self, clock: PartitionClock, wm: datetime, source: tuple[str, int, int | None]) -> list[OutRecord]:
        out: list[OutRecord] = []

        def due_of(unit_id: str) -> datetime | None:
            state = self._units.get(unit_id.encode())
            return None if state is None else state.next_due

        def step(unit_id: str) -> None:
            out.extend(swept(lambda: self._step(unit_id, clock,
                                                lambda s: advance(s, wm, self.policy, incremental=self.incremental)),
                             lambda reason: self.dead_letter(*source, unit_id.encode(), None, reason), "unit", wm))

        clock.sweep(wm, due_of, step)
        return out

    def dead_letter(
        self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None, reason: str
    ) -> OutRecord:
        return dead_letter(self._dead, topic, partition, offset, key, value, reason, self.max_record_bytes)


def _learned_key(partition: int) -> bytes:
    return f"learned:{partition}".encode()


def dead_letter(dead_topic: str, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None, reason: str, limit: int = DEFAULT_MAX_RECORD_BYTES) -> OutRecord:  # fmt: skip
    """A rejected record, with why and its original bytes (cut if the letter would not fit in `limit`), for the
    dead-letter topic."""
    letter = DeadLetter(
        source_topic=topic, partition=partition, offset=offset, key=key, reason=reason, original=value or b""
    )
    return OutRecord(dead_topic, key, dead_letter_bytes(letter, limit))


def _report(shipment_id: str, kind: str, links: list[list], own: bool, timeline: bytes) -> bytes:
    # The timeline is embedded as already encoded for the timelines topic, not re-encoded.
    head = orjson.dumps({"record": "unit_report", "shipment_id": shipment_id, "shipment_kind": kind,
                         "links": links, "own": own})  # fmt: skip
    return head[:-1] + b',"timeline":' + timeline + b"}"


def _watermark_candidate(record: Plan | TrackingEvent | ClockTick) -> datetime | None:
    """Only what has actually happened moves event time forward; plans and estimates speak of the future.
    An actual event is clamped to its receipt so a source with a fast clock cannot pull time ahead."""
    if isinstance(record, ClockTick):
        return record.time
    if isinstance(record, TrackingEvent) and record.classifier is Classifier.ACTUAL:
        return min(record.event_time, record.received_time)
    return None
