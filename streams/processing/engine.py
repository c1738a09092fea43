"""Records in, records out: decode, run the core, keep state, encode. Bad input becomes a dead letter."""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import replace
from datetime import datetime

import orjson

from schemas import ClockTick, DecodeError, EtaUpdate, Plan, TrackingEvent, UnitKind, decode_input, dumps
from schemas.codec import dumps_plain
from schemas.events import Classifier
from schemas.topics import TopicNames
from streams.core.learning import Knowledge, Sketch
from streams.core.policy import TrackingPolicy
from streams.core.reports import report_targets
from streams.core.state import UnitState, learned_of
from streams.core.tracker import Outcome, advance, apply_event, apply_plan
from streams.processing import unit_conveyance
from streams.processing.cache import Scope
from streams.processing.keyed import KeyedEngine, OutRecord, Source, Step, dead_letter
from streams.processing.limits import DEFAULT_MAX_RECORD_BYTES

log = logging.getLogger(__name__)

__all__ = ["Engine", "OutRecord", "dead_letter"]  # OutRecord and dead_letter live in keyed.py; imported from here too


class Engine(KeyedEngine[UnitState]):
    """The tracking job for the partitions it is given. `units` and `clock` are key-value stores: Faust
    tables in a worker (changelogged, RocksDB-backed), dicts in replay and unit tests. Its shape (decode, step,
    save, sweep, dead letters) is the one it shares with the shipment job: `streams.processing.keyed`.

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

    kind = "unit"
    log = log

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
        super().__init__(units, clock, topics, UnitState, write_behind=write_behind, cached=cached_units,
                         max_record_bytes=max_record_bytes)  # fmt: skip
        self.units, self._units = units, self._states  # the store itself (up to date after `flush`), its cache
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
        return super().flush(scope)

    def forget(self) -> None:
        """Drop what is held in memory (partitions were reassigned): caches, unwritten changes, sub-hour
        watermarks and what the due index was last seen to hold."""
        super().forget()
        if self.knowledge is not None:
            self.knowledge.forget()
        self._latest.clear()

    def process(
        self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None
    ) -> list[OutRecord]:
        role = self.topics.role_of(topic)
        if role == "conveyance_feed":  # a conveyance event for units of this partition (docs/design/conveyances.md)
            return unit_conveyance.apply_feed(self, topic, partition, offset, key, value)
        out = self._process(role, topic, partition, offset, key, value)
        if self.coalesce:  # a dead letter alone supersedes nothing
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
        super().at_partition(partition)
        if self.knowledge is not None:
            self.knowledge.partition = partition

    # -- internals ---------------------------------------------------------------------------------

    def _decode(self, role: str | None, topic: str, key: bytes | None, data: bytes) -> Plan | TrackingEvent | ClockTick:
        if role not in ("plan", "event", "clock"):
            raise DecodeError(f"topic {topic!r} is not an input of the tracking job")
        record = decode_input(data, expected=role)
        if not isinstance(record, ClockTick):
            unit_key = record.unit.id.encode()
            if key != unit_key:
                raise DecodeError(
                    f"record key {key!r} is not the unit id {record.unit.id!r}: per-unit topics must be "
                    "keyed by unit so a unit's plan and events meet on one partition"
                )
        return record

    def _run(self, record: Plan | TrackingEvent | ClockTick, source: Source, key: bytes | None,
             value: bytes | None) -> list[OutRecord]:  # fmt: skip
        before = None if isinstance(record, ClockTick) or not self.boardings else self._units.get(key)  # type: ignore[arg-type]
        out = super()._run(record, source, key, value)
        if self.boardings and not isinstance(record, ClockTick):  # who boards which ride, for the conveyance job
            out += unit_conveyance.boardings(self, record, before, OutRecord)
        return out

    def _watermark_candidate(self, record: Plan | TrackingEvent | ClockTick) -> datetime | None:
        return _watermark_candidate(record)

    def _target(self, record: Plan | TrackingEvent | ClockTick, raw: bytes,
                wm: datetime | None) -> tuple[str, Step] | None:  # fmt: skip
        inc = self.incremental
        if isinstance(record, Plan):
            return record.unit.id, lambda s: apply_plan(s, record, wm, self.policy, incremental=inc)
        if isinstance(record, TrackingEvent):
            return record.unit.id, lambda s: apply_event(s, record, wm, self.policy, incremental=inc)
        return None

    def _outputs(self, key: bytes, outcome: Outcome) -> list[OutRecord]:
        out: list[OutRecord] = []
        if outcome.timeline:  # encoded before anything is saved: a timeline its model refuses fails the whole record
            assert outcome.view is not None
            out.append(OutRecord(self._out_topic["timeline"], key, outcome.view.timeline_json))
        out += [OutRecord(self._out_topic[o.record], key, dumps_plain(o) if type(o) is EtaUpdate else dumps(o))
                for o in outcome.records]  # fmt: skip
        if outcome.state.links or (outcome.state.unit is not None and outcome.state.unit.kind is UnitKind.AWB):
            out += self._reports(outcome, out)
        return out

    def _saved(self, outcome: Outcome) -> None:
        if outcome.learned_before is not None and self.knowledge is not None:  # only once the state is saved
            self.knowledge.apply(outcome.learned_before, outcome.state.learned)

    def _advance(self, state: UnitState, watermark: datetime) -> Outcome:
        return advance(state, watermark, self.policy, incremental=self.incremental)

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


def _learned_key(partition: int) -> bytes:
    return f"learned:{partition}".encode()


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
