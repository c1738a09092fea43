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
import logging
from collections.abc import Iterable
from typing import Any, cast

from faust.transport import consumer as faust_consumer
from faust.types import TP

from streams.topology import input_placement
from streams.topology.input_placement import check_start

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
                        if expected is not _UNSET and not await check_start(self, tp, message.topic, offset,
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


def gapless(app: Any, topics: Iterable[str]) -> None:
    """Inputs whose offsets have no gaps (delete retention, no transactions): a record past the next offset is
    read again from that offset, not taken (the guarded loop in `_drain_messages`)."""
    app.corridor_gapless_topics = frozenset(getattr(app, "corridor_gapless_topics", ())) | frozenset(topics)


def install() -> None:
    """Use the lean hand-over in every Faust consumer of this process (idempotent)."""
    faust_consumer.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]
    input_placement.install()

