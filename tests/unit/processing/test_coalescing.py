"""A unit's timeline once per batch, the latest; alerts, ETA updates and dead letters never coalesced."""

from __future__ import annotations

from schemas import TrackedUnit
from schemas.topics import TopicNames
from streams.processing.engine import Engine, OutRecord
from tests.support.factories import CONTAINER, POLICY, corridor_plan, event, raw, tick

TOPICS = TopicNames()
PLANS, EVENTS, CLOCK = TOPICS.name("plan"), TOPICS.name("event"), TOPICS.name("clock")
TIMELINE = TOPICS.name("timeline")
KEY = CONTAINER.encode()
OTHER = TrackedUnit.container("MSKU1234565")

INPUTS: list[tuple[str, bytes | None, bytes]] = [
    (PLANS, KEY, raw(corridor_plan())),
    (PLANS, OTHER.id.encode(), raw(corridor_plan(unit=OTHER))),
    (EVENTS, KEY, raw(event("DEPARTED", "CNSHA", "2024-03-01 10:00"))),
    (EVENTS, OTHER.id.encode(), raw(event("DEPARTED", "CNSHA", "2024-03-02 10:00", unit=OTHER))),
    (EVENTS, KEY, raw(event("ARRIVED", "NLRTM", "2024-04-02 10:00"))),  # two days late: an alert
    (EVENTS, KEY, raw(event("ARRIVED", "NLRTM", "2024-04-02 10:00"))),  # re-delivered: nothing
    (EVENTS, KEY, b"not json"),
    (CLOCK, None, raw(tick("2024-04-06 00:00"))),  # both units overdue: alerts, ETAs (and timelines)
    (EVENTS, KEY, raw(event("DEPARTED", "NLRTM", "2024-04-06 02:00"))),
]


def run(eng: Engine, batches: list[int]) -> list[list[OutRecord]]:
    """The inputs in batches of these sizes; the lists `process` returned, read after each batch's flush."""
    lists: list[list[OutRecord]] = []
    i = 0
    for size in batches:
        batch = [eng.process(topic, 0, i + j, key, value) for j, (topic, key, value) in enumerate(INPUTS[i:i + size])]
        eng.flush()
        lists += batch
        i += size
    return lists


def flat(lists: list[list[OutRecord]], timelines: bool) -> list[OutRecord]:
    return [o for out in lists for o in out if (o.topic == TIMELINE) == timelines]


def test_a_batch_writes_each_units_latest_timeline_and_every_other_output():
    each = run(Engine({}, {}, TOPICS, POLICY), [1] * len(INPUTS))
    batched_engine = Engine({}, {}, TOPICS, POLICY, write_behind=True, coalesce=True)
    batched = run(batched_engine, [len(INPUTS)])

    assert flat(batched, False) == flat(each, False)  # alerts, ETA updates, dead letters: all, in order
    every = flat(each, True)
    latest = {o.key: o for o in every}
    assert flat(batched, True) == sorted(latest.values(), key=lambda o: max(i for i, x in enumerate(every) if x is o))
    assert len(flat(batched, True)) == 2 < len(every)
    assert batched_engine.coalesced == len(every) - 2
    # each unit's timeline is written where its last change was made: the tick's list holds OTHER's
    assert [o.key for o in batched[7] if o.topic == TIMELINE] == [OTHER.id.encode()]


def test_batches_coalesce_within_themselves_only():
    each = run(Engine({}, {}, TOPICS, POLICY), [1] * len(INPUTS))
    batched = run(Engine({}, {}, TOPICS, POLICY, write_behind=True, coalesce=True), [3, 3, 3])
    assert flat(batched, False) == flat(each, False)
    timelines = flat(batched, True)
    # per batch of three, the latest of each unit it changed, where it was made (the late arrival's record also
    # sweeps OTHER, overdue by then)
    a, b = KEY, OTHER.id.encode()
    assert [o.key for o in timelines] == [b, a, a, b, b, a]
    assert {o.value for o in timelines} <= {o.value for o in flat(each, True)}
    assert timelines[-2:] == list({o.key: o for o in flat(each, True)}.values())[::-1]


def test_unless_asked_or_written_through_nothing_is_coalesced():
    each = run(Engine({}, {}, TOPICS, POLICY), [1] * len(INPUTS))
    assert run(Engine({}, {}, TOPICS, POLICY, write_behind=True), [len(INPUTS)]) == each
    assert run(Engine({}, {}, TOPICS, POLICY, coalesce=True), [len(INPUTS)]) == each
