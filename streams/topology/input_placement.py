"""Where each input partition starts reading after a seek, and that it starts there.

After every seek Faust asks the broker for the group's committed offsets and seeks each partition to the one it
found. Tansu has been seen to answer that fetch without a partition just after a rebalance, and Faust then leaves the
client wherever it was: a position past the committed offset skips records no agent handled, and later
acknowledgements are committed over them (the data-loss issue, docs/design/restarts.md). So, patched into Faust's
consumer by `install()`:
- after Faust's seek, every input partition is put at its committed offset (asked again where the fetch came back
  without it), else at the log start, and its start is logged (`perform_seek`, `_place`);
- the first record read after a seek is checked against where reading should go on (`check_start`, called by the
  lean hand-over in `faust_drain`);
- every seek is a placement (`seek`, `placement_of`) that the batcher's sequence check follows;
- after a rebuild, inputs are sought back to what the jobs' state holds the effects of (`rewind_to_state`)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from faust.transport import consumer as faust_consumer
from faust.types import TP

log = logging.getLogger(__name__)


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


async def check_start(consumer: Any, tp: Any, topic: str, offset: int, committed: int | None,
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
    if tries > GAP_TRIES:
        log.warning("%s: offsets %d to %d hold no records (compacted, or transaction markers): read %d times from %d, "
                    "the next record was %d each time; starting at %d", where, committed, offset - 1, GAP_TRIES,
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
GAP_TRIES = 3

_original_perform_seek = faust_consumer.Consumer.perform_seek


async def perform_seek(self: Any) -> None:
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


async def seek(self: Any, partition: Any, offset: int) -> None:
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
    """Patch Faust's consumer: placement after each seek, and every seek noted (idempotent)."""
    faust_consumer.Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
    faust_consumer.Consumer.seek = seek  # type: ignore[method-assign]
