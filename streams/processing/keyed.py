"""The shape both tracking jobs share (units: `engine.Engine`; shipments: `shipments.ShipmentEngine`): a record in,
decoded or dead-lettered; its partition's event-time clock moved; the one state it names stepped, checked to fit,
saved and indexed by when it next falls due; the states that fell due swept. Each job says only what differs:
how it decodes its inputs, which state an input steps and how, what a step outputs, how time passing steps a
state. One dead-letter path for all of it: bad input, a refused input, a result too large, a bug."""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from schemas import DeadLetter, DecodeError
from schemas.topics import TopicNames
from streams.core.schedule import PartitionClock
from streams.core.tracker import Refused
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


@dataclass(frozen=True, slots=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes


def dead_letter(dead_topic: str, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None, reason: str, limit: int = DEFAULT_MAX_RECORD_BYTES) -> OutRecord:  # fmt: skip
    """A rejected record, with why and its original bytes (cut if the letter would not fit in `limit`), for the
    dead-letter topic."""
    letter = DeadLetter(
        source_topic=topic, partition=partition, offset=offset, key=key, reason=reason, original=value or b""
    )
    return OutRecord(dead_topic, key, dead_letter_bytes(letter, limit))


class State(Protocol):
    next_due: datetime | None

    def encode(self) -> bytes: ...


S = TypeVar("S", bound=State)
Source = tuple[str, int, int | None]  # topic, partition, offset of the input record
Step = Callable[[Any], Any]  # a state -> the core's outcome: `.state`, `.changed` and the outputs


class KeyedEngine(Generic[S]):
    """A job keyed by one kind of tracked thing, over key-value stores (`states`, `clock`): Faust tables in a
    worker (changelogged, RocksDB-backed), dicts in replay and unit tests. With `write_behind`, state changes stay
    in memory until `flush()`; an input whose outputs or new state would not fit in a record of
    `max_record_bytes` is refused to the dead-letter topic, its state unchanged (`streams.processing.limits`)."""

    kind: ClassVar[str]  # what a state tracks ("unit", "shipment"), as dead letters' reasons name it
    log: ClassVar[logging.Logger]  # the job module's logger

    def __init__(self, states: MutableMapping[bytes, bytes], clock: MutableMapping[bytes, bytes],
                 topics: TopicNames, state_type: type[S], *, write_behind: bool, cached: int,
                 max_record_bytes: int) -> None:  # fmt: skip
        self.clock = clock  # the store itself (up to date after `flush`)
        self._states: StateCache[S] = StateCache(states, state_type.decode, state_type.encode, cached,  # type: ignore[attr-defined]
                                                 write_behind)  # fmt: skip
        self._new_state = state_type
        self._clock: StateCache[bytes] = StateCache(clock, max_items=4 * cached, write_behind=write_behind)
        self.topics = topics
        self.max_record_bytes = max_record_bytes
        self._dead = topics.name("dead_letter")
        self._fine_watermarks: dict[int, datetime] = {}
        self._due_earliest: dict[tuple[int, int], int] = {}  # see PartitionClock

    @property
    def fine_watermarks(self) -> dict[int, datetime]:
        """Each partition's watermark as this worker last saw it (the clock table has it once the batch is
        written): what the query API reads, so it answers with the watermark the job uses."""
        return self._fine_watermarks

    def flush(self, scope: Scope | None = None) -> int:
        """Write the state changed since the last flush to the stores, each input partition's inside
        `scope(partition)`; returns how many keys were written."""
        return self._states.flush(scope) + self._clock.flush(scope)

    def cache_fill(self) -> tuple[int, int]:
        """(states kept decoded, their bound): the cache fills to its bound and stays there (`/metrics`)."""
        return self._states.cached, self._states.max_items

    def forget(self) -> None:
        """Drop what is held in memory (partitions were reassigned): caches, unwritten changes, sub-hour
        watermarks and what the due index was last seen to hold."""
        self._states.clear()
        self._clock.clear()
        self._fine_watermarks.clear()
        self._due_earliest.clear()

    def at_partition(self, partition: int) -> None:
        """What follows changes `partition`'s state."""
        self._states.partition = self._clock.partition = partition

    def reindex(self, partition: int) -> int:
        """Index every state of `partition` at its due time again; returns how many. For a clock that may lack
        entries its states imply (a batch's clock records were lost, its states' were not: the batcher finds
        the states' changelog further along than the clock says); an entry too many is dropped when reached."""
        items_in = getattr(self._states.backing, "items_in", None)
        if items_in is None:
            return 0
        self.at_partition(partition)
        clock = PartitionClock(self._clock, partition, self._fine_watermarks, self._due_earliest)
        decode = self._states._decode
        return clock.reindex(items_in(partition), lambda raw: self._due(decode(raw)))

    def process(self, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None) -> list[OutRecord]:  # fmt: skip
        return self._process(self.topics.role_of(topic), topic, partition, offset, key, value)

    def dead_letter(self, topic: str, partition: int, offset: int | None, key: bytes | None, value: bytes | None,
                    reason: str) -> OutRecord:  # fmt: skip
        return dead_letter(self._dead, topic, partition, offset, key, value, reason, self.max_record_bytes)

    # -- what each job says ------------------------------------------------------------------------

    def _decode(self, role: str | None, topic: str, key: bytes | None, data: bytes) -> Any:
        """The input record, checked against its key; raises DecodeError (a dead letter). None: an input to
        ignore."""
        raise NotImplementedError

    def _watermark_candidate(self, record: Any) -> datetime | None:
        """The event time the record tells has passed, if any."""
        raise NotImplementedError

    def _target(self, record: Any, raw: bytes, watermark: datetime | None) -> tuple[str, Step] | None:
        """The id of the state the record steps, and the step; None: time passing only (a clock tick)."""
        raise NotImplementedError

    def _outputs(self, key: bytes, outcome: Any) -> list[OutRecord]:
        """What a step outputs, in order."""
        raise NotImplementedError

    def _saved(self, outcome: Any) -> None:
        """After a step's new state is saved."""

    def _advance(self, state: S, watermark: datetime) -> Any:
        """Time passing steps a state that fell due."""
        raise NotImplementedError

    def _due(self, state: S) -> datetime | None:
        """When a stored state falls due (the due index may hold entries that no longer do)."""
        return state.next_due

    def _run(self, record: Any, source: Source, key: bytes | None, value: bytes | None) -> list[OutRecord]:
        """Apply a decoded input: its outputs, refusals as dead letters."""
        return self._apply(record, source, value or b"", lambda reason: self.dead_letter(*source, key, value, reason))

    # -- the shape ---------------------------------------------------------------------------------

    def _process(self, role: str | None, topic: str, partition: int, offset: int | None, key: bytes | None,
                 value: bytes | None) -> list[OutRecord]:  # fmt: skip
        try:
            record = self._decode(role, topic, key, value if value is not None else b"")
        except DecodeError as exc:
            return [self.dead_letter(topic, partition, offset, key, value, str(exc))]
        if record is None:
            return []
        try:
            return self._run(record, (topic, partition, offset), key, value)
        except Exception as exc:  # a bug must not crash the worker or lose the record
            self.log.exception("failed to process %s[%s]@%s", topic, partition, offset)
            return [self.dead_letter(topic, partition, offset, key, value, f"processing failed: {exc!r}")]

    def _apply(self, record: Any, source: Source, raw: bytes, refuse: Callable[[str], OutRecord]) -> list[OutRecord]:
        partition = source[1]
        self.at_partition(partition)
        clock = PartitionClock(self._clock, partition, self._fine_watermarks, self._due_earliest)
        wm, moved = clock.advance(self._watermark_candidate(record))
        out: list[OutRecord] = []
        try:
            target = self._target(record, raw, wm)
            if target is not None:
                out += self._step(target[0], clock, target[1], len(raw), input=True)
        except Refused as exc:  # the state will not take it; the time it tells of has passed all the same
            out.append(refuse(str(exc)))
        except TooLarge as exc:
            out.append(refuse(f"{exc}: refused, the {self.kind} is unchanged"))
        if moved and wm is not None:
            out += self._sweep(clock, wm, source)
        return out

    def _step(self, id_: str, clock: PartitionClock, step: Step, size: int = 0, *,
              input: bool = False) -> list[OutRecord]:  # fmt: skip
        """`size`: of the input the step applies (0: time passing), for the bound on the new state's size;
        `input`: the step applies an input (a plan, an event, a report)."""
        key = id_.encode()
        state = self._states.get(key) or self._new_state()
        outcome = step(state)
        out = self._outputs(key, outcome)  # encoded before anything is saved: an output that fails fails the record
        limit = self.max_record_bytes
        for rec in out:
            if len(rec.value) + (len(rec.key) if rec.key else 0) > limit:  # `check`'s test: its message made only then
                check(f"{id_}'s record for {rec.topic}", rec.key, rec.value, limit)
        if outcome.changed:
            save(self._states, key, outcome.state, size + STEP_SLACK, limit, f"{id_}'s state")
            self._saved(outcome)
            if outcome.state.next_due is not None:
                clock.schedule(id_, outcome.state.next_due, previous=state.next_due)
        elif input and state.next_due is not None:
            # An input the state already holds, read again. Its batch's state reached the broker in part: the
            # states' changelog, not the clock's (two topics, no transaction), so the restored state holds it
            # while the due index lacks its entry, and it was never swept again (bench chaos: a worker killed
            # mid-write; `OVERDUE` alerts missing, `LATE` ones instead). Index it again: an entry too many is
            # dropped when reached; a carrier's re-sent event costs two small writes.
            clock.schedule(id_, state.next_due)
        return out

    def _sweep(self, clock: PartitionClock, wm: datetime, source: Source) -> list[OutRecord]:
        out: list[OutRecord] = []

        def due_of(id_: str) -> datetime | None:
            state = self._states.get(id_.encode())
            return None if state is None else self._due(state)

        def step(id_: str) -> None:
            out.extend(swept(lambda: self._step(id_, clock, lambda s: self._advance(s, wm)),
                             lambda reason: self.dead_letter(*source, id_.encode(), None, reason), self.kind, wm))

        clock.sweep(wm, due_of, step)
        return out
