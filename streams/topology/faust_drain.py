"""A leaner hand-over of fetched records from Faust's consumer to its streams.

faust-streaming 0.15's `Consumer._drain_messages` hands every record over with
`wait_first(callback(message), suspend_flow.wait())`, which wraps both in tasks and waits on them: several
event-loop turns and two tasks per record, most of a pass-through agent's time (see the shared streaming
notes: consume-only went from 10,500 to 22,800 records/s without it). It also means a stream receives one
record per loop turn, so an agent never finds a batch waiting.

This version awaits the callback directly while flow is running, and keeps `wait_first` while it is suspended
(during a rebalance), as the original does. A record whose hand-over was under way when flow was suspended is
still delivered once flow resumes: Faust's streams drop records of an older consumer generation, so it is not
processed (the partition's new owner reads it again from the committed offset).

Changelog records of raw tables (all of corridor's) skip the conductor while flow runs: a table rebuild needs
only the record itself, and the conductor's per-record flow-control waits, producer-buffer check, decode
through the schema and `faust.Event` took about a third of a rebuild's main thread. They go straight onto the
table manager's changelog queue, with the conductor's back-pressure (a full queue pauses the partition's
fetching, a drained one resumes it).

Records of the tracking and shipment jobs' inputs (`route_direct`) skip the conductor in the same way while flow
runs, when one agent alone reads the topic as raw bytes: the event is the one the conductor would make (the
record's own key, value and headers, the message referenced once), put on the agent's channel queue with the same
back-pressure. In a worker whose job did nothing with its records, the conductor's per-record flow-control and
producer-buffer waits and its decode through the schema were about a third of the time from fetch to agent.
Those jobs write through the Kafka client, not Faust's producer buffer, so they need no wait for that buffer to
ebb; agents that `send_soon` (ingest) keep the conductor and its wait. Topics read by two agents (the clock
ticks, which both jobs read) go through the conductor too.

Everything else is Faust's code (BSD-3-Clause), unchanged: gaps for acks, commit-every, read offsets,
stop and error handling."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterable
from typing import Any, cast

from faust.transport import consumer as faust_consumer
from faust.types import TP

log = logging.getLogger(__name__)


class ChangelogEvent:
    """A changelog record as table recovery sees it. For a raw table the event's key and value are the
    record's own bytes, as Faust's raw decode gives them; recovery and the stores read only these."""

    __slots__ = ("acked", "app", "headers", "key", "message", "value")

    def __init__(self, app: Any, message: Any) -> None:
        self.app = app
        self.message = message
        self.key = message.key
        self.value = message.value
        self.headers: dict = {}
        self.acked = False


def _raw_changelogs(app: Any) -> frozenset[str]:
    """Changelog topics of tables that keep raw bytes (their records need no decoding) and that nothing but
    the table's recovery subscribes to."""
    tables = getattr(app, "tables", None)
    if tables is None:
        return frozenset()
    subscribers = app.topics._topic_name_index
    return frozenset(
        topic for topic, table in tables._changelogs.items()
        if table.key_serializer == "raw" and table.value_serializer == "raw" and len(subscribers.get(topic, ())) == 1
    )  # fmt: skip


def route_direct(app: Any, topics: Iterable[str]) -> None:
    """Hand `topics`' records straight to the agent that reads them (see the module docstring): for agents that
    write through the Kafka client and so need no wait for Faust's producer buffer."""
    app.corridor_direct_topics = frozenset(getattr(app, "corridor_direct_topics", ())) | frozenset(topics)


def _raw_inputs(app: Any) -> dict[str, Any]:
    """Topic -> the one channel that reads it, for the topics routed direct that a single channel reads as raw
    bytes (the records as they are)."""
    topics = getattr(app, "topics", None)
    direct = getattr(app, "corridor_direct_topics", frozenset())
    if topics is None or not direct:
        return {}
    out = {}
    for topic, channels in topics._topic_name_index.items():
        if topic not in direct or len(channels) != 1:
            continue
        (channel,) = channels
        schema = getattr(channel, "schema", None)
        if schema is not None and schema.key_serializer == "raw" and schema.value_serializer == "raw":
            out[topic] = channel
    return out


def _pressure_callbacks(consumer: Any, message: Any, cache: dict) -> tuple[Any, Any]:
    # One pair per partition, as the conductor keeps: the queue tells callbacks apart by identity. The partition
    # is Faust's TP, as the conductor passes it: the consumer refuses the client's own TopicPartition (the one
    # its records come with).
    key = (message.topic, message.partition)
    pair = cache.get(key)
    if pair is None:
        app = consumer.app
        tp = TP(*key)

        def high() -> None:
            app.sensors.on_topic_buffer_full(tp)
            consumer.on_buffer_full(tp)

        def drop() -> None:
            consumer.on_buffer_drop(tp)

        pair = cache[key] = (high, drop)
    return pair


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - exercised by every worker
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    suspended = self.suspend_flow.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = faust_consumer.CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for

    app = self.app
    flow_active = app.flow_control.is_active
    pressure: dict = {}

    guard = getattr(app, "corridor_ack_guard", None)
    guarded = guard.readers if guard is not None else {}
    gapless = getattr(app, "corridor_gapless_topics", frozenset())
    start_check: dict = {}  # tp -> the read offset this loop last set (another value: a seek happened)
    verified: dict = {}  # tp -> (offset reading should go on from, the offset read instead, times seen)

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = cast(Any, getmany(timeout=1.0))
            await self.sleep(0)
            raw_changelogs = _raw_changelogs(app)  # tables register after the consumer starts
            raw_inputs = _raw_inputs(app)
            if not self.should_stop:
                sought_back: set = set()
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if tp in sought_back:
                        continue  # the rest of a fetch that started past the committed offset
                    # The first record of an input since a seek (an assignment's seek to the committed offset):
                    if message.topic in guarded:
                        last = start_check.get(tp, _UNSET)
                        if r_offset != last:  # the first record since a seek
                            expected = r_offset
                        elif message.topic in gapless and r_offset is not None and offset > r_offset + 1:
                            # Offsets skipped in a topic that never has gaps (no compaction, no transactions):
                            # a fetch from before a seek, or a position moved under the loop. Read again from
                            # the next offset rather than skip what lies between.
                            expected = r_offset + 1
                        else:
                            expected = _UNSET
                        if expected is not _UNSET and not await _check_start(self, tp, message.topic, offset,
                                                                              expected, verified):  # fmt: skip
                            start_check.pop(tp, None)
                            sought_back.add(tp)
                            continue
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if r_offset is not None and gap > 0 and r_offset != start_check.get(tp, _UNSET):
                            # The first record since a seek to `r_offset` (the next offset to read) is past it:
                            # the offsets between hold no records. Faust's gap starts one later and leaves
                            # `r_offset` neither acknowledged nor a gap, so its commits stopped there.
                            if acks_enabled_for(message.topic):
                                self._gap[tp].addi(r_offset, offset)
                        elif gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if message.topic in raw_changelogs and not suspended() and flow_active():
                            queue = app.tables.changelog_queue
                            event = ChangelogEvent(app, message)
                            if queue.full():
                                await queue.put(event)
                            else:
                                high, drop = _pressure_callbacks(self, message, pressure)
                                queue.put_nowait_enhanced(event, on_pressure_high=high, on_pressure_drop=drop)
                        elif message.topic in raw_inputs and not suspended() and flow_active():
                            channel = raw_inputs[message.topic]
                            message.incref(1)  # one reader, as the conductor counts them
                            event = app.create_event(message.key, message.value, message.headers, message)
                            queue = channel.queue
                            if queue.full():
                                app.sensors.on_topic_buffer_full(TP(message.topic, message.partition))
                                await channel.put(event)
                            else:
                                high, drop = _pressure_callbacks(self, message, pressure)
                                queue.put_nowait_enhanced(event, on_pressure_high=high, on_pressure_drop=drop)
                        elif suspended():
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        else:
                            await callback(message)
                        if get_read_offset(tp) != r_offset:
                            # Sought while this hand-over waited (a rebalance's seek to the committed offset):
                            # the rest of this fetch is stale. Faust set the read offset to this record's
                            # anyway, and the records re-fetched from the seek, all below it, were then
                            # dropped here unread: never processed in that generation, their offsets a gap
                            # that commits stopped at (bench chaos: a group that never caught up).
                            sought_back.add(tp)
                            continue
                        set_read_offset(tp, offset)
                        start_check[tp] = offset
                unset_flag(flag_consumer_fetching)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


_UNSET = object()


async def _committed(consumer: Any, tp: Any, tries: int = 3) -> int | None:
    """The group's committed offset for `tp`, asked again: Tansu has been seen to answer a fetch of committed
    offsets without the partition just after a rebalance, where a second fetch finds it."""
    client = consumer._thread._ensure_consumer()
    for n in range(tries):
        offset = await consumer._thread.call_thread(client.committed, tp)
        if offset is not None:
            return offset
        if n + 1 < tries:
            await asyncio.sleep(0.2)
    return None


async def _check_start(consumer: Any, tp: Any, topic: str, offset: int, committed: int | None,
                       verified: dict) -> bool:  # fmt: skip
    """Whether reading may start at `offset` after a seek to `committed`; logs the start next to the committed
    offset. A start past it would skip records nobody handled (the data-loss issue): it is an error, and the
    consumer is sought back. Unless the partition really holds nothing in between (compaction, transaction
    markers), which a second read from the committed offset shows. Where the seek found no committed offset the
    group's is asked again; if there is none, the log start is where reading begins (corridor's consumers reset
    to the earliest offset), and what was handled already comes again as duplicates."""
    where = f"input {topic}[{tp.partition}]"
    if committed is None:
        earliest = (await consumer.earliest_offsets(tp)).get(tp) or 0
        committed = earliest if offset <= earliest else await _committed(consumer, tp)
        if committed is None:
            committed = earliest
            if (verified.get(tp) or ())[:2] != (committed, offset):
                log.error("%s: the group has no committed offset for it, yet the consumer started at offset %d, "
                          "past the log start %d", where, offset, committed)  # fmt: skip
        elif committed != earliest:
            consumer._committed_offset[tp] = committed
    if offset <= committed:
        return True  # the seek's check logged the start
    seen = verified.get(tp)
    tries = seen[2] + 1 if seen is not None and seen[:2] == (committed, offset) else 1
    if tries > _GAP_TRIES:
        log.warning("%s: offsets %d to %d hold no records (compacted, or transaction markers): read %d times from %d, "
                    "the next record was %d each time; starting at %d", where, committed, offset - 1, _GAP_TRIES,
                    committed, offset, offset)  # fmt: skip
        return True
    verified[tp] = (committed, offset, tries)
    log.error("%s: the next record read is at offset %d, past offset %d where reading should go on (the committed "
              "offset after a seek, else the record after the last one read): refusing to skip %d records; seeking "
              "back to %d", where, offset, committed, offset - committed, committed)  # fmt: skip
    await consumer.seek(tp, committed)
    return False


# How many reads from one offset must show the same next record before the offsets between are taken for empty:
# a fetch from before a seek was seen to hand the same stale record over twice in a row (bench chaos).
_GAP_TRIES = 3

_original_perform_seek = faust_consumer.Consumer.perform_seek


async def _perform_seek(self: Any) -> None:
    """Faust's seek to the committed offsets, then every input partition's position checked against them."""
    await _original_perform_seek(self)
    guard = getattr(self.app, "corridor_ack_guard", None)
    if guard is None:
        return
    inputs = sorted(tp for tp in self.assignment() if tp.topic in guard.readers)
    unknown = [tp for tp in inputs if self._committed_offset.get(tp) is None]
    earliest = await self.earliest_offsets(*unknown) if unknown else {}  # one request for all of them
    for tp in inputs:
        try:
            await _place(self, tp, earliest.get(tp) or 0)
        except Exception as exc:  # a rebalance took the partition meanwhile: the next assignment checks again
            log.info("input %s[%d]: start not checked (%r)", tp.topic, tp.partition, exc)


def _position(consumer: Any, tp: Any) -> int | None:
    """The client's position for `tp` if it has one now. Not `position()`, which waits until the client has
    resolved one: with flow stopped that waited out its timeout for each of some sixty input partitions, and the
    worker never finished its start (seen in bench chaos). A position not yet resolved comes from the committed
    offset or the reset, and the first record read is checked anyway."""
    with contextlib.suppress(Exception):
        state = consumer._thread._ensure_consumer()._subscription.assignment.state_value(tp)
        if state is not None and state.has_valid_position:
            return state.position
    return None


async def _place(consumer: Any, tp: Any, earliest: int) -> None:
    """Put an input partition where its committed offset says, and log it. Faust seeks only to a committed
    offset it found: where the fetch of committed offsets came back without the partition (Tansu, just after a
    rebalance), it left the client wherever it was, and a position past the committed offset skips records no
    agent handled; later acknowledgements are committed over them (the data-loss issue). A partition that is
    positioned past its last record receives nothing, so the check on the first record read cannot see it."""
    committed = consumer._committed_offset.get(tp)
    position = _position(consumer, tp)
    if committed is None:
        # Asked again only when the client is past the log start: a partition never committed starts there.
        if position is not None and position > earliest:
            committed = await _committed(consumer, tp)
            if committed is not None:
                consumer._committed_offset[tp] = committed
    else:
        earliest = committed
    start = committed if committed is not None else earliest
    where = f"input {tp.topic}[{tp.partition}]"
    told = "committed" if committed is not None else "no committed offset: the log start"
    if position is None or position == start:
        logged = consumer.__dict__.setdefault("corridor_starts", {})
        if logged.get(tp) != start:  # Faust seeks again on every fetch while flow is stopped
            logged[tp] = start
            log.info("%s starts at offset %d (%s)", where, start, told)
        if position == start:
            _placed(consumer, tp, start)  # no seek needed: placed all the same
        if position is None:
            # Not left to the client's reset: Faust seeks only to a committed offset above 0, and a partition
            # the client resolves by itself was seen to start at its end on the embedded broker (bench chaos:
            # 23 plans of one partition never read, in every life of the worker).
            await consumer.seek(tp, start)
        return
    (log.error if position > start else log.warning)(
        "%s: the consumer was at offset %s, the group's start is %d (%s): seeking to %d", where, position, start,
        told, start)  # fmt: skip
    await consumer.seek(tp, start)


_original_seek = faust_consumer.Consumer.seek
_placements = itertools.count(1)


def _placed(consumer: Any, tp: Any, offset: int) -> None:
    consumer.__dict__.setdefault("corridor_placed", {})[(tp.topic, tp.partition)] = (next(_placements), offset)


async def _seek(self: Any, partition: Any, offset: int) -> None:
    """Faust's seek, and the partition's placement (`placement_of`) noted."""
    await _original_seek(self, partition, offset)
    _placed(self, partition, offset)


def placement_of(consumer: Any) -> Any:
    """`placed(topic, partition)`: where the latest seek since the partition was assigned put it, as
    (placement number, next offset), or None when it has not been placed since the last revocation. Every seek
    is one (Faust's to the committed offsets, the start check's, the rewind to the state's); a job reads a
    partition in offset order from its latest placement, and a record that does not follow it was fetched from
    somewhere else (the batcher's sequence check)."""

    def placed(topic: str, partition: int) -> tuple[int, int] | None:
        return consumer.__dict__.get("corridor_placed", {}).get((topic, partition))

    return placed


def forget_placements(consumer: Any) -> None:
    """The partitions were revoked: none is placed until the next assignment's seek."""
    consumer.__dict__.get("corridor_placed", {}).clear()


def seeker(consumer: Any) -> Any:
    """`seek(topic, partition, offset)`: seek an input partition back, in the background (a batcher's sequence
    check asks for it; it cannot wait for the consumer from inside its agent)."""
    tasks: set = set()

    async def seek_quietly(tp: Any, offset: int) -> None:
        try:
            earliest = (await consumer.earliest_offsets(tp)).get(tp)
            if earliest is not None and earliest > offset:
                log.error("input %s[%d]: offsets %d to %d were deleted (retention) before they were processed; "
                          "reading on from the log start %d", tp.topic, tp.partition, offset, earliest - 1,
                          earliest)  # fmt: skip
                offset = earliest
            await consumer.seek(tp, offset)
        except Exception as exc:  # taken by a rebalance meanwhile: the next assignment reads from the commit
            log.info("input %s[%d]: not sought back to %d (%r)", tp.topic, tp.partition, offset, exc)

    def seek(topic: str, partition: int, offset: int) -> None:
        task = asyncio.ensure_future(seek_quietly(TP(topic, partition), offset))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return seek


def gapless(app: Any, topics: Iterable[str]) -> None:
    """Inputs whose offsets have no gaps (delete retention, no transactions): a record past the next offset is
    read again from that offset, not taken (the guarded loop in `_drain_messages`)."""
    app.corridor_gapless_topics = frozenset(getattr(app, "corridor_gapless_topics", ())) | frozenset(topics)


def track_state(app: Any, position: Any) -> None:
    """`position(topic, partition)`: the next input offset whose effects a job's state does not hold, or None
    (`Batcher.state_position`); `rewind_to_state` reads it."""
    app.corridor_state_positions = [*getattr(app, "corridor_state_positions", ()), position]


async def rewind_to_state(consumer: Any) -> int:
    """After a rebuild, seek back each input partition whose committed offset is past what the jobs' state holds
    the effects of; returns how many records will be read again for that reason. The committed offset and the
    state are written in that order by one worker (state first, then the acknowledgement), yet two were seen to
    disagree after rebalances with two workers (bench chaos: a group that committed every input, and 9 inputs of
    two units missing from their timelines); whatever the cause (a changelog write that landed after the next
    owner's rebuild, a rebuild that stopped short), the records in between are read again, and what the state
    already holds comes again as duplicates."""
    readers = getattr(consumer.app, "corridor_state_positions", ())
    guard = getattr(consumer.app, "corridor_ack_guard", None)
    if not readers or guard is None:
        return 0
    again = 0
    for tp in sorted(tp for tp in consumer.assignment() if tp.topic in guard.readers):
        committed = consumer._committed_offset.get(tp)
        if committed is None:
            continue  # read from the log start
        try:
            known = [p for read in readers if (p := read(tp.topic, tp.partition)) is not None]
        except Exception as exc:  # a rebalance took the partition meanwhile: the next rebuild checks again
            log.info("input %s[%d]: state position not checked (%r)", tp.topic, tp.partition, exc)
            continue
        if not known or min(known) >= committed:
            continue
        state = min(known)
        log.warning("input %s[%d]: the group committed offset %d, but this worker's state holds the effects of its "
                    "records only up to offset %d: reading %d records again", tp.topic, tp.partition, committed,
                    state, committed - state)  # fmt: skip
        await consumer.seek(tp, state)
        # Faust's own committed offset follows: the input merge takes it for where a partition not read yet
        # since the seek stands (it would think such a partition caught up, and take the other topics' records
        # out of timestamp order), and acknowledgements from there on may be committed.
        consumer._committed_offset[tp] = state
        again += committed - state
    consumer.app.corridor_rewound = getattr(consumer.app, "corridor_rewound", 0) + again
    return again


def install() -> None:
    """Use the lean hand-over in every Faust consumer of this process (idempotent)."""
    faust_consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    faust_consumer.Consumer.perform_seek = _perform_seek  # type: ignore[method-assign]
    faust_consumer.Consumer.seek = _seek  # type: ignore[method-assign]

