"""Timestamp synchronisation of co-partitioned inputs: which record a job takes next.

A job reads several topics (plans, events, clock ticks) that share partition numbers. Kafka orders records
within one partition of one topic, not across topics, and a consumer returns the partitions' records in
whatever order its fetches come back. When a backlog of plans and events was worked off at once, some events
were therefore applied before their unit's plan, and two runs over the same topics gave different alerts.

So, as Kafka Streams does it (KIP-353, KIP-695): the records of one partition number are held per topic, and
the next one released is the head with the lowest record timestamp (ties: the topics' order, so a plan goes
before an event stamped the same millisecond). A topic with nothing held may still bring an earlier record:
the merge waits for it while it is known to have more (its next offset is below its high-water mark, or its
high-water mark is not known yet), and goes on without it once it is caught up. The outputs then depend on the
topics' contents, not on fetch timing.

Waiting for a topic whose high-water mark is not known yet is bounded, as Kafka Streams' `max.task.idle.ms`
bounds it: once nothing has arrived for `max_idle` seconds while nothing is waiting to be handed over (the
records waited for may not be coming: a partition is stuck, or fetching is blocked), the held records are
released in timestamp order anyway, and `forced` counts them. A topic known to hold more is waited for
fifteen times as long (Kafka Streams waits for it without a bound, KIP-695): its records exist and come with
the next fetches; only a job they are not handed to waits that long. With `max_held` records held on one
partition number, the held records are released anyway. When the consumer stops handing records over (a
rebalance), the worker takes what is held back unprocessed (`take_held`): the partitions' next owner reads it
again in its order. Idle time is not time since a partition's last release: in a backlog, the
record waited for is often already on its way, queued behind thousands of others, and releasing early broke
the order (seen: 8,000 units gave 18,204 alerts, not 18,262).
A zero `max_idle` turns the synchronisation off: records go in arrival order.

A high-water mark is only as fresh as the fetch that brought it, and a consumer does not fetch a partition
while it still holds records of it: a topic that looked caught up against an old mark may have had an earlier
record appended since. So, given `heard` (when the consumer last heard a partition's high-water mark), a
record goes on the strength of another topic being caught up only if that topic's mark was heard no earlier
than the record's own partition was when the record was added (the fetch that brought it, or a later one):
whatever was appended before the record was then in the log. Seen in `bench chaos`: a worker working off a
backlog of events and ticks took ticks appended after the events' last fetch, against that fetch's mark, and
applied a unit's last three events after a tick 19 hours later than the first of them.

Pure logic, no Faust: `caught_up(topic, partition, next_offset)` is the consumer's answer."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

# A topic known to hold more is waited for this many times `max_idle` (30 s by default) before the held records
# go anyway: its records exist, so a wait that long means they are not being handed to this job (one its stream
# skipped after a rebalance is read again only at the next one), and going on beats a job stalled for good.
BEHIND_WAIT = 15

# (topic, partition, next offset to read or None if none read since the last reset) -> nothing more to read?
# True: caught up; False: known to hold more (its next offset is below the high-water mark); None: not known yet.
CaughtUp = Callable[[str, int, "int | None"], "bool | None"]
# (topic, partition) -> when the consumer last heard its high-water mark (any increasing clock; None: never).
Heard = Callable[[str, int], "float | None"]


class InputMerge(Generic[T]):
    def __init__(
        self,
        topics: Sequence[str],
        caught_up: CaughtUp,
        *,
        max_idle: float = 2.0,
        max_held: int = 20_000,  # per partition number: about 30 MB of waiting records
        clock: Callable[[], float] = time.monotonic,
        heard: Heard | None = None,
    ) -> None:
        """`topics`: the job's inputs, in the order that breaks timestamp ties; `heard`: see the module's
        docstring (None: every mark is taken as fresh)."""
        self.topics = tuple(topics)
        self._rank = {t: n for n, t in enumerate(self.topics)}
        self.caught_up = caught_up
        self.heard = heard
        self.max_idle = max_idle
        self.max_held = max_held
        self.clock = clock
        # partition -> one queue per topic (by rank) of (timestamp, offset, when its partition's mark was heard, item)
        self._queues: dict[int, list[deque[tuple[float, int, float, T]]]] = {}
        self._held: dict[int, int] = {}  # partition -> records held
        self._last_add = 0.0  # when the latest record arrived
        self._next: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset, from what was added
        self.forced_idle = 0  # records released out of the wait's order: nothing came for max_idle
        self.forced_full = 0  # the same: too many held
        self.waiting_on: dict[int, str] = {}  # partition -> the topic it last waited on (diagnostics)
        # partition -> (timestamp, topic, offset) of the latest-stamped record released since the last `clear`
        self._latest: dict[int, tuple[float, str, int]] = {}
        self.disordered = 0  # records released after a record of another topic stamped later (diagnostics)
        self.last_disorder = ""  # the latest of them, said in words

    @property
    def forced(self) -> int:
        return self.forced_idle + self.forced_full

    @property
    def held(self) -> int:
        return sum(self._held.values())

    def add(self, topic: str, partition: int, offset: int, timestamp: float | None, item: T) -> list[T]:
        """Hold a record; return what can go now, in order (possibly nothing, possibly more than this one)."""
        self._next[(topic, partition)] = offset + 1
        if self.max_idle <= 0:
            return [item]
        queues = self._queues.get(partition)
        if queues is None:
            queues = self._queues[partition] = [deque() for _ in self.topics]
        heard = self.heard(topic, partition) if self.heard is not None else None
        queues[self._rank[topic]].append((timestamp or 0.0, offset, heard or 0.0, item))
        self._last_add = self.clock()
        self._held[partition] = self._held.get(partition, 0) + 1
        out = self._release(partition, force=False)
        if self._held[partition] > self.max_held:
            n = len(out)
            out += self._release(partition, force=True, limit=self._held[partition] - self.max_held)
            self.forced_full += len(out) - n
        return out

    def ready(self, more_waiting: bool = False, stopped: bool = False) -> list[T]:
        """What can go now that the consumer may know more (a high-water mark came in), or because nothing
        arrived for `max_idle` and nothing is `more_waiting` to be handed over, or because the consumer has
        `stopped` handing records over (a rebalance: what is held must be done before it can go on); for a
        timer."""
        out: list[T] = []
        quiet = self.clock() - self._last_add
        idle = stopped or (not more_waiting and quiet >= self.max_idle)
        stalled = stopped or (not more_waiting and quiet >= self.max_idle * BEHIND_WAIT)
        for partition in [p for p, n in self._held.items() if n]:
            out += self._release(partition, force=False)
            if self._held[partition] and idle and (stalled or not self._known_behind(partition)):
                forced = self._release(partition, force=True)
                self.forced_idle += len(forced)
                out += forced
        return out

    def _known_behind(self, partition: int) -> bool:
        """Whether a topic with nothing held on `partition` is known to hold more: its records exist and come with
        the next fetches, so they are waited for `BEHIND_WAIT` times longer (Kafka Streams waits for a
        partition with lag without a bound, KIP-695). Going on without them decided against the wrong clock: a
        worker slowed by a loaded machine waited 2 s for its clock ticks, released three records, and 30 units'
        timelines differed from replay (bench chaos)."""
        queues = self._queues[partition]
        return any(not queue and self.caught_up(topic, partition, self._next.get((topic, partition))) is False
                   for topic, queue in zip(self.topics, queues, strict=True))  # fmt: skip

    def take_held(self) -> list[T]:
        """Take everything held, unprocessed (a rebalance: what waited for an earlier record is read again by
        the partition's next owner, from the committed offset, in its order; taken now out of order it decided
        against a clock the other topics had not reached: bench chaos, ticks weeks ahead of a unit's events)."""
        out = [item for queues in self._queues.values() for queue in queues for _, _, _, item in queue]
        self._queues.clear()
        self._held.clear()
        return out

    def take_from(self, topic: str, partition: int, offset: int) -> list[T]:
        """Take the held records of `topic`'s `partition` from `offset` on, unprocessed (the partition was sought
        back to `offset`: they come again, in order)."""
        queues = self._queues.get(partition)
        if not queues:
            return []
        queue = queues[self._rank[topic]]
        kept = [entry for entry in queue if entry[1] < offset]
        taken = [entry[3] for entry in queue if entry[1] >= offset]
        if taken:
            queue.clear()
            queue.extend(kept)
            self._held[partition] -= len(taken)
            self._next[(topic, partition)] = offset
        return taken

    def clear(self) -> None:
        """Forget everything (the partitions were revoked): held records were not processed or acknowledged."""
        self._queues.clear()
        self._held.clear()
        self._next.clear()
        self.waiting_on.clear()
        self._latest.clear()

    def _release(self, partition: int, *, force: bool, limit: int | None = None) -> list[T]:
        queues = self._queues[partition]
        out: list[T] = []
        # rank of an empty topic -> the freshness up to which it was found caught up in this call: records it
        # brings meanwhile are handed over later, after this call, and the consumer's answer costs a few
        # microseconds (it was asked about five times per record when asked per candidate).
        known: dict[int, float] = {}
        while limit is None or len(out) < limit:
            best = None
            for rank, queue in enumerate(queues):
                if queue and (best is None or queue[0][0] < queues[best][0][0]):  # ties: the lower rank, seen first
                    best = rank
            if best is None:
                break
            if not force:
                bar = queues[best][0][2]
                waiting = next((rank for rank, queue in enumerate(queues)
                                if not queue and known.get(rank, -1.0) < bar
                                and not self._caught_up_since(rank, partition, bar, known)), None)  # fmt: skip
                if waiting is not None:  # it may still bring an earlier record
                    self.waiting_on[partition] = self.topics[waiting]
                    break
            stamp, offset, _, item = queues[best].popleft()
            latest = self._latest.get(partition)
            topic = self.topics[best]
            if latest is None or stamp >= latest[0]:
                self._latest[partition] = (stamp, topic, offset)
            elif latest[1] != topic:  # forced, or a wait that ended wrongly: say so, the clock decided ahead
                self.disordered += 1
                self.last_disorder = (f"{topic}[{partition}]@{offset} (stamped {stamp:.0f}) after "
                                      f"{latest[1]}[{partition}]@{latest[2]} (stamped {latest[0]:.0f})")  # fmt: skip
            out.append(item)
        if out:
            self._held[partition] -= len(out)
        return out

    def _caught_up_since(self, rank: int, partition: int, bar: float, known: dict[int, float]) -> bool:
        """Whether topic `rank` of `partition` has nothing more, by a high-water mark heard at `bar` or later."""
        topic = self.topics[rank]
        if self.heard is not None:
            heard = self.heard(topic, partition)  # before the mark: the mark read next is at least this fresh
            if heard is None or heard < bar:
                return False  # not known yet: the next fetch of it tells
        else:
            heard = bar
        if self.caught_up(topic, partition, self._next.get((topic, partition))) is not True:
            return False
        known[rank] = heard
        return True
