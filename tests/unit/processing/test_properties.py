"""Properties of the core and the engine, over generated histories and generated garbage.

Order independence is asserted for what really is independent of arrival order: the final timeline (its
milestones, events and predicted arrival at the final watermark) and the event set. The alerts emitted on the
way are not: which of two similar delays is alerted depends on which is seen first (the alert floor)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schemas import (
    AlertKind,
    Classifier,
    DeadLetter,
    DelayAlert,
    EtaUpdate,
    Milestone,
    PlannedStopKind,
    Timeline,
    TrackingEvent,
    decode,
)
from schemas.topics import TopicNames
from streams.core.milestones import planned_milestones
from streams.core.tracker import UnitState, apply_event, apply_plan
from streams.processing.engine import Engine, OutRecord
from tests.support.factories import CONTAINER, POLICY, UNIT, corridor_plan, raw, tick

PLAN = corridor_plan()
MILESTONES = planned_milestones(PLAN)
EVIDENCE = {
    PlannedStopKind.DEPARTURE: [Milestone.DEPARTED],
    PlannedStopKind.ARRIVAL: [Milestone.ARRIVED, Milestone.DISCHARGED],
    PlannedStopKind.DELIVERY: [Milestone.DELIVERED],
}
NOISE = [Milestone.GATE_IN, Milestone.GATE_OUT, Milestone.LOADED, Milestone.CUSTOMS_RELEASED]


@st.composite
def histories(draw: st.DrawFn) -> list[TrackingEvent]:
    """A unit's event set against the reference plan: per milestone up to two actual reports (arrivals by
    ARRIVED and/or DISCHARGED, from either of two sources), up to two carrier estimates, and unmatched noise."""
    events: list[TrackingEvent] = []

    def add(milestone: Milestone, classifier: Classifier, location: str, mode, at: datetime, received: datetime):
        events.append(TrackingEvent(
            event_id=f"ev-{len(events)}", source=draw(st.sampled_from(["carrier", "terminal"])), unit=UNIT,
            mode=mode, milestone=milestone, classifier=classifier, location=location, event_time=at,
            received_time=received,
        ))

    minutes = st.integers(min_value=-12 * 60, max_value=6 * 24 * 60)
    for pm in MILESTONES:
        for milestone in draw(st.lists(st.sampled_from(EVIDENCE[pm.kind]), max_size=2)):
            at = pm.planned + timedelta(minutes=draw(minutes))
            add(milestone, Classifier.ACTUAL, pm.location, pm.mode, at,
                at + timedelta(minutes=draw(st.integers(0, 48 * 60))))
        for _ in range(draw(st.integers(0, 2))):
            at = pm.planned + timedelta(minutes=draw(minutes))
            received = pm.planned - timedelta(days=draw(st.integers(1, 20)), minutes=draw(st.integers(0, 59)))
            add(EVIDENCE[pm.kind][0], draw(st.sampled_from([Classifier.ESTIMATED, Classifier.PLANNED])),
                pm.location, pm.mode, at, received)
    for _ in range(draw(st.integers(0, 2))):
        pm = draw(st.sampled_from(MILESTONES))
        at = pm.planned + timedelta(minutes=draw(minutes))
        add(draw(st.sampled_from(NOISE)), Classifier.ACTUAL, pm.location, pm.mode, at, at)
    return events


def candidate(e: TrackingEvent) -> datetime | None:
    """What the engine would take as a watermark candidate from this event."""
    return min(e.event_time, e.received_time) if e.classifier is Classifier.ACTUAL else None


def replay(order: list[TrackingEvent]) -> tuple[UnitState, list, Timeline | None]:
    """Apply the plan then the events in this order, the watermark advancing as the engine would move it."""
    state = apply_plan(UnitState(), PLAN, None, POLICY).state
    wm: datetime | None = None
    outputs: list = []
    last: Timeline | None = None
    for e in order:
        c = candidate(e)
        if c is not None and (wm is None or c > wm):
            wm = c
        out = apply_event(state, e, wm, POLICY)
        state = out.state
        outputs += out.outputs
        last = next((o for o in out.outputs if isinstance(o, Timeline)), last)
    return state, outputs, last


@given(data=st.data())
def test_any_arrival_order_gives_the_same_final_timeline(data: st.DataObject) -> None:
    events = data.draw(histories(), label="events")
    order = data.draw(st.permutations(events), label="order")
    state_a, outputs_a, last_a = replay(events)
    state_b, outputs_b, last_b = replay(order)

    assert state_a.events == state_b.events
    if events:
        # the last event seen is always news, and is applied at the final watermark in either order
        assert last_a is not None and last_b is not None
        assert last_b.milestones == last_a.milestones
        assert [(m.actual, m.estimated) for m in last_b.milestones] == [
            (m.actual, m.estimated) for m in last_a.milestones
        ]
        assert last_b.predicted_arrival == last_a.predicted_arrival
        assert last_b == last_a
        assert state_b.timeline_digest == state_a.timeline_digest
    # alerts differ with the order, but never repeat and are always beyond tolerance
    for outputs in (outputs_a, outputs_b):
        ids = [o.alert_id for o in outputs if isinstance(o, DelayAlert)]
        assert len(ids) == len(set(ids))
        for alert in (o for o in outputs if isinstance(o, DelayAlert)):
            assert alert.minutes_late * 60 > POLICY.tolerance(alert.mode).total_seconds()
            if alert.kind is AlertKind.LATE:
                assert alert.actual is not None


@given(data=st.data())
def test_applying_any_event_twice_changes_nothing(data: st.DataObject) -> None:
    events = data.draw(histories().filter(bool), label="events")
    i = data.draw(st.integers(0, len(events) - 1), label="repeated")
    j = data.draw(st.integers(i + 1, len(events)), label="repeated at")
    state, outputs, _ = replay(events)
    twice, outputs_twice, _ = replay([*events[:j], events[i], *events[j:]])
    assert twice.events == state.events
    assert twice.alerted == state.alerted
    assert twice.alert_floor == state.alert_floor
    assert (twice.eta, twice.eta_stops, twice.eta_arrived) == (state.eta, state.eta_stops, state.eta_arrived)
    assert twice.timeline_digest == state.timeline_digest
    assert outputs_twice == outputs
    # and once everything is in, every re-delivery is a no-op
    wm = max((c for c in map(candidate, events) if c is not None), default=None)
    for e in events:
        again = apply_event(state, e, wm, POLICY)
        assert (again.outputs, again.changed, again.state is state) == ([], False, True)


# -- the engine never raises ----------------------------------------------------------------------------------

TOPICS = TopicNames()
INPUTS = TOPICS.inputs
MODELS = {TOPICS.name("timeline"): Timeline, TOPICS.name("alert"): DelayAlert, TOPICS.name("eta"): EtaUpdate,
          TOPICS.name("dead_letter"): DeadLetter}

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
# time-ish values, including the edges of the calendar (1-01-01 with a positive offset is before UTC's range)
times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=offsets).map(
    datetime.isoformat
) | st.sampled_from(["2024-03-01T00:00:00", "2024-02-30T00:00:00Z", "0001-01-01T00:00:00+01:00", "", "now"])
field_values = json_values | times | st.sampled_from(
    ["CSQU3054383", "CSQU3054384", "020-12345675", "AKE12345CX", "NLRTM", "nlrtm", "SEA", "ACTUAL", "DEPARTED"]
)


def encode(obj) -> bytes:
    """JSON as any producer may write it: the standard library also writes integers beyond 64 bits."""
    return json.dumps(obj, default=str).encode()


# The engine turns any exception into a dead letter saying "processing failed": without this check a "never
# raises" property would hold however the code failed.
CRASHES = ("processing failed", "internal error")


def check_outputs(out: list[OutRecord]) -> None:
    assert isinstance(out, list)
    for o in out:
        assert isinstance(o, OutRecord)
        record = decode(o.value, MODELS[o.topic])  # every output is a valid record of its topic
        if isinstance(record, DeadLetter):
            assert not any(c in record.reason for c in CRASHES), record.reason  # refused for a reason, not a crash


@given(topic=st.sampled_from(INPUTS), key=st.none() | st.binary(max_size=16), value=st.none() | st.binary())
def test_engine_never_raises_on_arbitrary_bytes(topic: str, key: bytes | None, value: bytes | None) -> None:
    out = Engine({}, {}, TOPICS, POLICY).process(topic, 0, 1, key, value)
    (letter,) = out
    assert letter.topic == TOPICS.name("dead_letter")
    dead = decode(letter.value, DeadLetter)
    assert (dead.original, dead.key, dead.source_topic) == (value or b"", key, topic)
    check_outputs(out)


@given(topic=st.sampled_from(INPUTS), obj=st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_engine_never_raises_on_arbitrary_json_objects(topic: str, obj: dict) -> None:
    out = Engine({}, {}, TOPICS, POLICY).process(topic, 0, 1, CONTAINER.encode(), encode(obj))
    check_outputs(out)


def _paths(obj, prefix=()):
    """Every path into a JSON object, to the leaves and to the containers."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _replace(obj, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[head] = _replace(obj[head], rest, value)
    return copy


VALID = {
    TOPICS.name("plan"): orjson.loads(raw(PLAN)),
    TOPICS.name("event"): orjson.loads(raw(TrackingEvent(
        event_id="e1", source="carrier", unit=UNIT, mode="SEA", milestone="DEPARTED", classifier="ACTUAL",
        location="CNSHA", event_time="2024-03-01T10:00:00Z", received_time="2024-03-01T10:05:00Z"))),
    TOPICS.name("clock"): orjson.loads(raw(tick("2024-03-02 00:00"))),
}


@given(data=st.data(), topic=st.sampled_from(INPUTS))
def test_engine_never_raises_on_nearly_valid_records(data: st.DataObject, topic: str) -> None:
    """One field of a valid record replaced by an arbitrary value, on a fresh engine or (for plans and events)
    on one that already tracks the unit. A tick is only sent cold: on a warm engine the sweep walks every hour
    bucket up to the tick, so a year-9999 tick takes a long time (a bounded version follows)."""
    base = VALID[topic]
    path = data.draw(st.sampled_from(list(_paths(base))), label="path")
    record = _replace(base, path, data.draw(field_values, label="value"))
    engine = Engine({}, {}, TOPICS, POLICY)
    if topic != TOPICS.name("clock") and data.draw(st.booleans(), label="warm"):
        check_outputs(engine.process(TOPICS.name("plan"), 0, 0, CONTAINER.encode(), raw(PLAN)))
    key = None if topic == TOPICS.name("clock") else CONTAINER.encode()
    check_outputs(engine.process(topic, 0, 1, key, encode(record)))


@given(when=st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2030, 1, 1), timezones=offsets))
def test_ticks_at_any_plausible_time_are_processed(when: datetime) -> None:
    engine = Engine({}, {}, TOPICS, POLICY)
    engine.process(TOPICS.name("plan"), 0, 0, CONTAINER.encode(), raw(PLAN))
    out = engine.process(TOPICS.name("clock"), 0, 1, None, encode({"record": "clock", "time": when.isoformat()}))
    check_outputs(out)
    assert all(o.topic != TOPICS.name("dead_letter") for o in out)
