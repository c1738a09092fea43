"""The incremental engine against its specification, the full derivation.

`Engine(incremental=False)` re-derives a unit whole on every record (`streams.core.timeline.derive`, every
milestone checked for alerts): that is the specification. The incremental engine keeps a unit's derived view
between records and updates it change by change. On random plans (and re-plans), histories, corrections,
retractions, duplicates, clock ticks, arrival orders and batch boundaries, both must write the same bytes: every
output record, in order, and every stored key (unit states and the clock's index) at every flush, with timelines
coalesced per batch or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Classifier, ClockTick, Leg, Milestone, Mode, Plan, TrackedUnit, TrackingEvent, dumps
from schemas.topics import TopicNames
from streams.core.incremental import Derivation
from streams.core.policy import TrackingPolicy
from streams.core.state import UnitState
from streams.core.timeline import derive
from streams.core.tracker import advance, apply_event, apply_plan
from streams.processing.engine import Engine

TOPICS = TopicNames()
POLICY = TrackingPolicy()
# A unit at its cap of events forgets those more than 5 days older than its newest, or refuses the new one.
CAPPED = TrackingPolicy(max_events=8, history=timedelta(days=5))
UNITS = [TrackedUnit.container("CSQU3054383"), TrackedUnit.container("MSKU1234565")]
PLACES = ["CNSHA", "NLRTM", "DEDUI", "DEHAM", "GBFXT", "SGSIN"]
START = datetime(2024, 3, 1, tzinfo=UTC)
EVIDENCE = [Milestone.DEPARTED, Milestone.ARRIVED, Milestone.DISCHARGED, Milestone.DELIVERED]
NOISE = [Milestone.GATE_IN, Milestone.LOADED, Milestone.CUSTOMS_HOLD, Milestone.CUSTOMS_RELEASED]
hours = st.integers(min_value=0, max_value=24 * 20)


@st.composite
def plans(draw: st.DrawFn, unit: TrackedUnit, revision: int) -> Plan:
    """1 to 4 legs over a few places (so a route may call at a place twice), times in order."""
    route = [draw(st.sampled_from(PLACES))]
    for _ in range(draw(st.integers(1, 4))):
        route.append(draw(st.sampled_from([p for p in PLACES if p != route[-1]])))
    at = START + timedelta(hours=draw(st.integers(0, 72)))
    legs = []
    for origin, destination in pairwise(route):
        dep = at + timedelta(hours=draw(st.integers(0, 72)))
        at = dep + timedelta(hours=draw(st.integers(1, 24 * 10)))
        legs.append(Leg(mode=draw(st.sampled_from(list(Mode))), carrier="C", origin=origin, destination=destination,
                        planned_departure=dep, planned_arrival=at))  # fmt: skip
    promised = at + timedelta(hours=draw(st.integers(0, 48))) if draw(st.booleans()) else None
    return Plan(unit=unit, revision=revision, issued_time=START - timedelta(days=10 - revision), legs=legs,
                promised_delivery=promised, lane=draw(st.sampled_from([None, "LANE"])))  # fmt: skip


@st.composite
def histories(draw: st.DrawFn, unit: TrackedUnit, plan: Plan) -> list[TrackingEvent]:
    """Reports at the plan's places (evidence of its milestones or not), estimates, noise, then duplicates,
    corrections (same id, received later, other time or place), retractions and other sources' reports of the
    same happening (grouped in the timeline) of some of them."""
    places = [leg.origin for leg in plan.legs] + [plan.legs[-1].destination]
    events: list[TrackingEvent] = []
    for n in range(draw(st.integers(0, 14))):
        at = START + timedelta(hours=draw(hours), minutes=draw(st.sampled_from([0, 7, 30])))
        classifier = draw(st.sampled_from([Classifier.ACTUAL, Classifier.ACTUAL, Classifier.ESTIMATED,
                                           Classifier.PLANNED]))  # fmt: skip
        received = at + timedelta(hours=draw(st.integers(0, 30))) if classifier is Classifier.ACTUAL \
            else at - timedelta(hours=draw(st.integers(1, 300)))  # fmt: skip
        events.append(TrackingEvent(
            event_id=f"{unit.id}-e{n}", source=draw(st.sampled_from(["carrier", "terminal"])), unit=unit,
            mode=draw(st.sampled_from(list(Mode))), milestone=draw(st.sampled_from(EVIDENCE + NOISE)),
            classifier=classifier, location=draw(st.sampled_from([*places, *places, "BEANR", "ZACPT"])), event_time=at,
            received_time=received,
        ))  # fmt: skip
    extra: list[TrackingEvent] = []
    for e in events:
        change = draw(st.sampled_from(["none", "none", "duplicate", "correct", "retract", "echo"]))
        later = e.received_time + timedelta(hours=draw(st.integers(1, 48)))
        if change == "duplicate":
            extra.append(e)
        elif change == "correct":
            extra.append(e.model_copy(update={
                "received_time": later, "event_time": e.event_time + timedelta(hours=draw(st.integers(-30, 30))),
                "location": draw(st.sampled_from([*places, "ZACPT"])),
            }))  # fmt: skip
        elif change == "retract":
            extra.append(e.model_copy(update={"received_time": later, "retracted": True}))
        elif change == "echo":  # another source's report of the same happening, minutes apart
            extra.append(e.model_copy(update={
                "event_id": f"{e.event_id}-echo", "source": "terminal" if e.source == "carrier" else "carrier",
                "event_time": e.event_time + timedelta(minutes=draw(st.integers(-50, 50))), "received_time": later,
            }))  # fmt: skip
    return events + extra


@st.composite
def feeds(draw: st.DrawFn) -> list[tuple[str, bytes | None, bytes]]:
    """Every unit's plan (and perhaps a re-plan), history and some clock ticks, in a random order."""
    records: list[tuple[str, bytes | None, bytes]] = []
    for unit in UNITS[: draw(st.integers(1, len(UNITS)))]:
        plan = draw(plans(unit, 1))
        key = unit.id.encode()
        records.append((TOPICS.name("plan"), key, dumps(plan)))
        if draw(st.booleans()):
            records.append((TOPICS.name("plan"), key, dumps(draw(plans(unit, draw(st.sampled_from([1, 2])))))))
        records += [(TOPICS.name("event"), key, dumps(e)) for e in draw(histories(unit, plan))]
    for _ in range(draw(st.integers(0, 4))):
        at = START + timedelta(hours=draw(st.integers(0, 24 * 30)))
        records.append((TOPICS.name("clock"), None, dumps(ClockTick(time=at))))
    return draw(st.permutations(records))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(feed=feeds(), flushes=st.lists(st.booleans(), min_size=64, max_size=64), coalesce=st.booleans(),
       policy=st.sampled_from([POLICY, CAPPED]), min_samples=st.sampled_from([1, 2, 8]))
def test_the_incremental_engine_writes_what_the_full_derivation_writes(feed, flushes, coalesce, policy,
                                                                       min_samples) -> None:
    """Learning included: with `min_samples` 1 or 2, what one unit's completed legs teach moves the other's ETA
    (and its own) within the feed, and the cached views must notice."""
    stores = {inc: ({}, {}) for inc in (True, False)}
    engines = {inc: Engine(*stores[inc], TOPICS, policy, write_behind=True, incremental=inc, coalesce=coalesce,
                           min_samples=min_samples)
               for inc in (True, False)}  # fmt: skip
    written: dict[bool, list] = {True: [], False: []}
    for i, (topic, key, value) in enumerate(feed):
        out = {inc: eng.process(topic, 0, i, key, value) for inc, eng in engines.items()}
        assert out[True] == out[False], f"record {i}"
        for inc in engines:
            written[inc].append(out[inc])
        if flushes[i % len(flushes)]:
            for eng in engines.values():
                eng.flush()
            assert stores[True] == stores[False], f"stores after record {i}"
    for eng in engines.values():
        eng.flush()
    assert stores[True] == stores[False]
    assert written[True] == written[False]  # what each batch wrote, timelines coalesced or not


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_core_steps_give_the_full_derivations_outcomes(data: st.DataObject) -> None:
    """The same at the core's level, including the timeline models (read back from the assembled bytes)."""
    unit = UNITS[0]
    plan = data.draw(plans(unit, 1), label="plan")
    events = data.draw(histories(unit, plan), label="events")
    steps: list = data.draw(st.permutations([plan, *events]), label="order")
    ticks = data.draw(st.lists(st.integers(0, 24 * 30), max_size=4), label="ticks")
    steps += [START + timedelta(hours=h) for h in ticks]
    states = {True: UnitState(), False: UnitState()}
    wm: datetime | None = None
    for step in steps:
        outcomes = {}
        for inc, state in states.items():
            if isinstance(step, Plan):
                outcomes[inc] = apply_plan(state, step, wm, POLICY, incremental=inc)
            elif isinstance(step, TrackingEvent):
                outcomes[inc] = apply_event(state, step, wm, POLICY, incremental=inc)
            elif state.unit is not None:
                outcomes[inc] = advance(state, step, POLICY, incremental=inc)
        if isinstance(step, datetime):
            wm = step if wm is None or step > wm else wm
        elif isinstance(step, TrackingEvent) and step.classifier is Classifier.ACTUAL:
            c = min(step.event_time, step.received_time)
            wm = c if wm is None or c > wm else wm
        if not outcomes:
            continue
        a, b = outcomes[True], outcomes[False]
        assert a.outputs == b.outputs
        assert [dumps(o) for o in a.outputs] == [dumps(o) for o in b.outputs]
        assert (a.changed, a.linked, a.timeline) == (b.changed, b.linked, b.timeline)
        assert a.state.encode() == b.state.encode()
        if a.view is not None and b.view is not None:
            assert (a.view.evidence, a.view.predicted, a.view.furthest) == (b.view.evidence, b.view.predicted,
                                                                             b.view.furthest)  # fmt: skip
            assert a.view.timeline_json == b.view.timeline_json
        states = {True: a.state, False: b.state}


def test_a_derivation_rebuilt_from_the_state_gives_the_same_view() -> None:
    """A state read back from the store has no derivation: the one built for it is the full derivation."""
    plan = Plan(unit=UNITS[0], issued_time=START, legs=[
        Leg(mode=Mode.SEA, carrier="C", origin="CNSHA", destination="NLRTM", planned_departure=START,
            planned_arrival=START + timedelta(days=30))])  # fmt: skip
    state = apply_plan(UnitState(), plan, None, POLICY).state
    dep = TrackingEvent(event_id="e1", source="s", unit=UNITS[0], mode=Mode.SEA, milestone=Milestone.DEPARTED,
                        classifier=Classifier.ACTUAL, location="CNSHA", event_time=START + timedelta(hours=20),
                        received_time=START + timedelta(hours=21))  # fmt: skip
    state = apply_event(state, dep, dep.event_time, POLICY).state
    again = UnitState.decode(state.encode())
    assert again._derived is None
    fresh = Derivation(again.unit, again.plan, again.events, POLICY)
    view, late = fresh.view(dep.event_time)
    spec = derive(again.unit, again.plan, list(again.events.values()), dep.event_time, POLICY)
    assert late is None  # a fresh derivation checks every milestone
    assert view.timeline_json == spec.timeline_json
    assert view.timeline == spec.timeline
