"""Which record a job takes next across its co-partitioned inputs (streams/processing/input_order.py): the
lowest timestamp, waiting while another topic of the same partition number may still bring an earlier one."""

from __future__ import annotations

import random

from streams.processing.input_order import BEHIND_WAIT, InputMerge

TOPICS = ("plans", "events", "clock")


class Consumer:
    """Stands in for Faust's consumer: per (topic, partition), the high-water mark from the last fetch."""

    def __init__(self, highwater: dict[tuple[str, int], int] | None = None) -> None:
        self.highwater = highwater or {}

    def caught_up(self, topic: str, partition: int, next_offset: int | None) -> bool | None:
        end = self.highwater.get((topic, partition))
        return None if end is None else (next_offset or 0) >= end


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def merge(consumer: Consumer, **kwargs: object) -> InputMerge[str]:
    return InputMerge(TOPICS, consumer.caught_up, **kwargs)  # type: ignore[arg-type]


def test_a_record_goes_at_once_when_the_other_topics_are_caught_up() -> None:
    m = merge(Consumer({("plans", 0): 0, ("events", 0): 1, ("clock", 0): 0}))
    assert m.add("events", 0, 0, 10.0, "e0") == ["e0"]
    assert m.held == 0


def test_an_event_waits_for_a_plan_that_is_known_to_be_coming_and_earlier() -> None:
    consumer = Consumer({("plans", 0): 1, ("events", 0): 2, ("clock", 0): 0})
    m = merge(consumer)
    assert m.add("events", 0, 0, 20.0, "e0") == []  # plans has a record not read yet
    assert m.add("events", 0, 1, 30.0, "e1") == []
    assert m.add("plans", 0, 0, 10.0, "p0") == ["p0", "e0", "e1"]  # the plan first: it is stamped earlier
    assert m.held == 0


def test_a_later_plan_goes_after_the_events_stamped_before_it() -> None:
    consumer = Consumer({("plans", 0): 1, ("events", 0): 2, ("clock", 0): 0})
    m = merge(consumer)
    assert m.add("events", 0, 0, 20.0, "e0") == []
    assert m.add("events", 0, 1, 40.0, "e1") == []
    # e1 (40) must wait: plans is caught up now, but its head (30) is earlier; e0 (20) could go already.
    assert m.add("plans", 0, 0, 30.0, "p0") == ["e0", "p0", "e1"]


def test_the_topics_order_breaks_ties() -> None:
    consumer = Consumer({("plans", 0): 1, ("events", 0): 1, ("clock", 0): 1})
    m = merge(consumer)
    assert m.add("clock", 0, 0, 5.0, "c0") == []
    assert m.add("events", 0, 0, 5.0, "e0") == []
    assert m.add("plans", 0, 0, 5.0, "p0") == ["p0", "e0", "c0"]


def test_partitions_are_ordered_independently() -> None:
    consumer = Consumer({("plans", 0): 1, ("events", 0): 1, ("plans", 1): 0, ("events", 1): 1, ("clock", 0): 0,
                         ("clock", 1): 0})  # fmt: skip
    m = merge(consumer)
    assert m.add("events", 0, 0, 20.0, "e0@0") == []  # partition 0's plan is still to come
    assert m.add("events", 1, 0, 30.0, "e0@1") == ["e0@1"]  # partition 1 has no plan waiting
    assert m.add("plans", 0, 0, 10.0, "p0@0") == ["p0@0", "e0@0"]


def test_an_unknown_high_water_mark_means_wait_and_news_releases_through_ready() -> None:
    consumer = Consumer({("events", 0): 1})  # plans and clock not fetched yet
    clock = Clock()
    m = merge(consumer, clock=clock)
    assert m.add("events", 0, 0, 20.0, "e0") == []
    assert m.ready() == []
    consumer.highwater.update({("plans", 0): 0, ("clock", 0): 0})  # a fetch came back: nothing there
    assert m.ready() == ["e0"]
    assert m.forced == 0


def test_a_high_water_mark_heard_before_the_record_arrived_is_not_taken_for_caught_up() -> None:
    """The backlog case of `bench chaos`: the events' last fetch (heard at 100) said 376 was the end; the ticks
    came with a later fetch (heard at 200), after event 376 had been appended. Against the old mark the events
    look caught up, and the tick went before event 376, stamped earlier. It must wait for a mark heard at 200 or
    later, which shows the event, and then go after it."""
    consumer = Consumer({("plans", 3): 0, ("events", 3): 376, ("clock", 3): 209})
    heard = {("plans", 3): 200.0, ("events", 3): 100.0, ("clock", 3): 200.0}
    clock = Clock()
    m: InputMerge[str] = InputMerge(TOPICS, consumer.caught_up, clock=clock,
                                    heard=lambda topic, partition: heard.get((topic, partition)))  # fmt: skip
    m._next[("events", 3)] = 376  # what the events' backlog left: all of it read
    assert m.add("clock", 3, 208, 50.0, "tick208") == []  # events 376 (stamped 40) is in the log by now
    assert m.ready() == []
    heard.update({("plans", 3): 210.0, ("events", 3): 210.0, ("clock", 3): 210.0})
    consumer.highwater[("events", 3)] = 377  # the next fetch (of every partition with nothing buffered) shows it
    assert m.ready() == []  # known behind now
    assert m.add("events", 3, 376, 40.0, "event376") == ["event376", "tick208"]
    assert m.forced == 0


def test_a_mark_heard_with_the_record_or_later_lets_it_go_at_once() -> None:
    """Fetched together (one response: the same time), or the other topic heard since: no wait."""
    consumer = Consumer({("plans", 0): 0, ("events", 0): 0, ("clock", 0): 1})
    heard = {("plans", 0): 300.0, ("events", 0): 300.0, ("clock", 0): 300.0}
    m: InputMerge[str] = InputMerge(TOPICS, consumer.caught_up,
                                    heard=lambda topic, partition: heard.get((topic, partition)))  # fmt: skip
    assert m.add("clock", 0, 0, 50.0, "tick0") == ["tick0"]
    heard[("clock", 0)] = 400.0
    consumer.highwater[("clock", 0)] = 2
    assert m.add("clock", 0, 1, 60.0, "tick1") == []  # the others were last heard before it came
    heard[("plans", 0)] = heard[("events", 0)] = 401.0
    assert m.ready() == ["tick1"]


def test_the_committed_position_counts_when_nothing_was_read() -> None:
    """`caught_up` gets None for a partition with nothing read since the reset: the consumer answers from its
    committed offset. Reading a record moves the position the merge reports."""
    seen: list[tuple[str, int, int | None]] = []

    def caught_up(topic: str, partition: int, next_offset: int | None) -> bool:
        seen.append((topic, partition, next_offset))
        return True

    m: InputMerge[str] = InputMerge(TOPICS, caught_up)
    assert m.add("events", 2, 41, 1.0, "e41") == ["e41"]
    assert ("plans", 2, None) in seen
    seen.clear()
    m.add("plans", 2, 7, 2.0, "p7")
    assert ("events", 2, 42) in seen
    m.clear()
    seen.clear()
    m.add("plans", 2, 8, 3.0, "p8")
    assert ("events", 2, None) in seen  # forgotten with the assignment


def test_waiting_is_bounded_by_max_idle() -> None:
    consumer = Consumer({("events", 0): 3, ("clock", 0): 0})  # plans: never answers
    clock = Clock()
    m = merge(consumer, clock=clock, max_idle=0.5)
    m.add("events", 0, 0, 30.0, "e0")
    m.add("events", 0, 1, 20.0, "e1")  # one topic's records go in offset order, whatever their timestamps
    clock.now = 0.4
    assert m.ready() == []
    clock.now = 0.5
    assert m.ready() == ["e0", "e1"]
    assert m.forced == 2 and m.held == 0


def test_idle_means_nothing_arrived_and_nothing_waits_to_be_handed_over() -> None:
    """A partition making no progress is not idle while records keep arriving: the one it waits for is often
    queued behind others. Nor while the consumer has records waiting to be handed over."""
    consumer = Consumer({("events", 0): 3, ("clock", 0): 0, ("events", 1): 9, ("clock", 1): 0,
                         ("plans", 1): 0})  # fmt: skip
    clock = Clock()
    m = merge(consumer, clock=clock, max_idle=0.5)
    m.add("events", 0, 0, 20.0, "e0")  # waits for plans[0], whose high-water mark is not known
    for n in range(8):  # partition 1 keeps the stream busy
        clock.now += 0.2
        assert m.add("events", 1, n, 30.0 + n, f"f{n}") == [f"f{n}"]
        assert m.ready() == []
    clock.now += 0.6
    assert m.ready(more_waiting=True) == []
    assert m.ready() == ["e0"] and m.forced == 1


def test_a_topic_known_to_hold_more_is_waited_for_much_longer() -> None:
    """Its records exist and come with the next fetches (Kafka Streams waits for a partition with lag too);
    only if they never come does the job go on, after fifteen times the idle wait."""
    consumer = Consumer({("plans", 0): 1, ("events", 0): 3, ("clock", 0): 0})
    clock = Clock()
    m = merge(consumer, clock=clock, max_idle=0.5)
    m.add("events", 0, 0, 20.0, "e0")
    clock.now = 7.0
    assert m.ready() == [] and m.forced == 0
    assert m.add("plans", 0, 0, 25.0, "p0") == ["e0"]  # p0 waits in turn: events has two more
    clock.now = 7.0 + 0.5 * BEHIND_WAIT
    assert m.ready() == ["p0"] and m.forced == 1


def test_too_many_held_are_released_in_timestamp_order() -> None:
    consumer = Consumer({("events", 0): 10, ("clock", 0): 0})  # plans: never answers
    m = merge(consumer, max_held=3)
    out = [x for n in range(5) for x in m.add("events", 0, n, float(n), f"e{n}")]
    assert out == ["e0", "e1"] and m.held == 3 and m.forced == 2


def test_zero_idle_means_arrival_order() -> None:
    m = merge(Consumer(), max_idle=0)
    assert m.add("events", 0, 0, 20.0, "e0") == ["e0"]
    assert m.add("plans", 0, 0, 10.0, "p0") == ["p0"]


def test_the_merged_order_is_the_same_whatever_the_fetch_order() -> None:
    """Three topics of one partition, each in its own offset order, handed over in random interleavings (as
    fetches return them). With the consumer's high-water marks known, every interleaving gives one order: by
    timestamp, ties by topic."""
    rng = random.Random(3)
    logs = {t: sorted(rng.randrange(0, 50) for _ in range(rng.randrange(5, 30))) for t in TOPICS}
    highwater = {(t, 0): len(records) for t, records in logs.items()}
    want = [f"{t}{n}" for _, _, t, n in sorted((ts, TOPICS.index(t), t, n) for t, records in logs.items()
                                               for n, ts in enumerate(records))]  # fmt: skip
    for _ in range(200):
        m = merge(Consumer(highwater))
        cursors = dict.fromkeys(TOPICS, 0)
        got: list[str] = []
        while any(cursors[t] < len(logs[t]) for t in TOPICS):
            t = rng.choice([t for t in TOPICS if cursors[t] < len(logs[t])])
            for _ in range(rng.randrange(1, 6)):  # a fetch returns a few records of one partition
                if cursors[t] < len(logs[t]):
                    n = cursors[t]
                    got += m.add(t, 0, n, float(logs[t][n]), f"{t}{n}")
                    cursors[t] += 1
        assert got == want and m.forced == 0


def test_what_is_held_can_be_taken_back_unprocessed() -> None:
    """A rebalance: the worker lets go of what waits, for the next owner to read again in its order."""
    consumer = Consumer({("events", 0): 2, ("clock", 0): 0})  # plans: never answers
    m = merge(consumer, max_idle=60.0)
    m.add("events", 0, 0, 20.0, "e0")
    m.add("events", 0, 1, 21.0, "e1")
    assert m.take_held() == ["e0", "e1"] and m.held == 0 and m.ready() == [] and m.forced == 0


def test_a_stopped_consumer_releases_at_once() -> None:
    """A rebalance stops the flow and Faust waits for what the agent holds: waiting on would hold it up."""
    consumer = Consumer({("events", 0): 1, ("clock", 0): 0})  # plans: never answers
    m = merge(consumer, max_idle=60.0)
    m.add("events", 0, 0, 20.0, "e0")
    assert m.ready() == []
    assert m.ready(stopped=True) == ["e0"] and m.forced_idle == 1


def test_a_record_taken_after_a_later_stamped_one_of_another_topic_is_counted_and_named() -> None:
    """Forced out of order (here: nothing heard of the plans for `max_idle`), the merge says which record went
    after which: the worker logs it, so a clock that decided ahead of an event can be traced (bench chaos)."""
    now, known = [0.0], [None]
    merge: InputMerge[str] = InputMerge(["plans", "events"], lambda t, p, n: known[0], max_idle=2.0,
                                        clock=lambda: now[0])  # fmt: skip
    assert merge.add("events", 0, 7, 200.0, "event") == []  # the plans' mark is not known: it waits
    now[0] = 3.0
    assert merge.ready() == ["event"]  # forced after 2 s
    assert merge.disordered == 0
    known[0] = True
    assert merge.add("plans", 0, 3, 100.0, "plan") == ["plan"]  # stamped before the event it went after
    assert merge.disordered == 1
    assert merge.last_disorder == "plans[0]@3 (stamped 100) after events[0]@7 (stamped 200)"
    assert merge.add("plans", 0, 4, 150.0, "plan 2") == ["plan 2"]  # still behind the event
    assert merge.disordered == 2
    merge.clear()  # a new generation reads from the committed offsets: what came before does not count
    assert merge.add("plans", 0, 3, 100.0, "plan") == ["plan"] and merge.disordered == 2
