"""The engine encodes some outputs without pydantic (plain data through orjson). These tests hold those bytes
to what the pydantic models write for the same records, over generated records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import Classifier, Leg, Milestone, Mode, Plan, TrackedUnit, TrackingEvent, UnitKind, decode, dumps
from schemas.topics import TopicNames
from streams.core.timeline import derive
from streams.processing.engine import Engine
from tests.support.factories import POLICY, UNIT, corridor_plan, event

LOCODES = ["CNSHA", "NLRTM", "DEDUI", "DEHAM", "GBFXT", "US2AB"]
UNITS = [UNIT, TrackedUnit(kind=UnitKind.ULD, id="AKE12345CX"), TrackedUnit(kind=UnitKind.AWB, id="020-12345675"),
         TrackedUnit(kind=UnitKind.TRAILER, id="HH-AB 1234")]  # fmt: skip
START = datetime(2024, 3, 1, tzinfo=UTC)

texts = st.text(min_size=1, max_size=12)  # any code point but surrogates (inputs cannot hold those)
instants = st.integers(0, 90 * 86_400 * 1_000_000).map(lambda us: START + timedelta(microseconds=us))
whole_minutes = st.integers(0, 90 * 24 * 60).map(lambda m: START + timedelta(minutes=m))


@st.composite
def plans(draw: st.DrawFn, unit: TrackedUnit) -> Plan:
    stops = draw(st.lists(st.sampled_from(LOCODES), min_size=2, max_size=5).filter(
        lambda s: all(a != b for a, b in pairwise(s))))  # fmt: skip
    at = draw(st.one_of(instants, whole_minutes))
    legs = []
    for origin, destination in pairwise(stops):
        departure = at + timedelta(seconds=draw(st.integers(0, 3 * 86_400)))
        at = departure + timedelta(seconds=draw(st.integers(1, 20 * 86_400)))
        legs.append(Leg(mode=draw(st.sampled_from(Mode)), carrier=draw(texts), origin=origin,
                        destination=destination, planned_departure=departure, planned_arrival=at))  # fmt: skip
    promised = draw(st.none() | st.integers(0, 86_400).map(lambda s: at + timedelta(seconds=s)))
    return Plan(unit=unit, revision=draw(st.integers(1, 2**40)), issued_time=START, lane=draw(st.none() | texts),
                legs=legs, promised_delivery=promised)  # fmt: skip


@st.composite
def events(draw: st.DrawFn, unit: TrackedUnit) -> list[TrackingEvent]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        at = draw(st.one_of(instants, whole_minutes))
        out.append(TrackingEvent(
            event_id=draw(texts) + f"#{i}", source=draw(st.sampled_from(["carrier", "terminal"]) | texts), unit=unit,
            mode=draw(st.sampled_from(Mode)), milestone=draw(st.sampled_from(Milestone)),
            classifier=draw(st.sampled_from(Classifier)), location=draw(st.sampled_from(LOCODES)), event_time=at,
            received_time=at + timedelta(seconds=draw(st.integers(-86_400, 86_400))),
        ))  # fmt: skip
    return out


@settings(max_examples=300)
@given(data=st.data())
def test_the_timeline_encodes_as_the_model_does(data: st.DataObject) -> None:
    unit = data.draw(st.sampled_from(UNITS), label="unit")
    plan = data.draw(st.none() | plans(unit), label="plan")
    history = data.draw(events(unit), label="events")
    watermark = data.draw(st.none() | instants, label="watermark")
    view = derive(unit, plan, history, watermark, POLICY)
    assert view.timeline_json == dumps(view.timeline)


def test_a_location_the_timeline_model_refuses_fails_as_it_did() -> None:
    # The input check lets a trailing newline through; the output model does not, and the engine dead-letters.
    raw = dumps(event("GATE_IN", "NLRTM", "2024-03-01 10:00")).replace(b'"NLRTM"', b'"NLRTM\\n"')
    odd = decode(raw, TrackingEvent)
    assert odd.location == "NLRTM\n"
    view = derive(UNIT, corridor_plan(), [odd], None, POLICY)
    with pytest.raises(ValidationError) as fast:
        _ = view.timeline_json
    with pytest.raises(ValidationError) as model:
        dumps(derive(UNIT, corridor_plan(), [odd], None, POLICY).timeline)
    assert repr(fast.value) == repr(model.value)


def test_the_engine_dead_letters_such_an_event_and_keeps_the_state_it_had() -> None:
    topics = TopicNames()
    units: dict[bytes, bytes] = {}
    engine = Engine(units, {}, topics, POLICY)
    key = UNIT.id.encode()
    engine.process(topics.name("plan"), 0, 0, key, dumps(corridor_plan()))
    before = dict(units)
    raw = dumps(event("GATE_IN", "NLRTM", "2024-03-01 10:00")).replace(b'"NLRTM"', b'"NLRTM\\n"')
    (out,) = engine.process(topics.name("event"), 0, 1, key, raw)
    assert out.topic == topics.name("dead_letter")
    assert b"processing failed: 2 validation errors for Timeline" in out.value
    assert units == before
