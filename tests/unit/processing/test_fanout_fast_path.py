"""The unit job's fan-out path (`unit_conveyance.apply_feed`) against what it stands for.

A fan-out record carries a conveyance's news once for thousands of units; the unit job applies the template itself
to each unit (`apply_event(..., unit=unit)`, no copy of the event), with the `EventRecord` of the unit's copy made
from the template's bytes with the unit spliced in (not by encoding the copy). On random plans, histories,
vessels' news (estimates moving back and forth, actuals, corrections, retractions) and batch boundaries, the
fan-out path must store and write exactly what each unit's own copy of the event, with a record made from it
(`EventRecord.of`, as the fan-out did before), does, and what the full derivation (`incremental=False`, the
specification) does."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Classifier, Milestone, TrackedUnit, TrackingEvent, TransportRef, dumps
from schemas.topics import TopicNames
from streams.core.conveyance import Delivery
from streams.core.records import EventRecord
from streams.processing.conveyances import feed_records
from streams.processing.engine import Engine
from streams.processing.unit_conveyance import _News
from tests.unit.core.test_incremental import POLICY, START, histories, plans

TOPICS = TopicNames()
UNITS = [TrackedUnit.container(n) for n in ("CSQU3054383", "MSKU1234565", "TGHU1643396", "MSKU0308961")]
PLACES = ["CNSHA", "NLRTM", "DEDUI", "DEHAM", "GBFXT", "SGSIN"]
VOYAGES = [TransportRef(vessel_imo="9321483", voyage="2103N"),
           TransportRef(vessel_imo="9321483", vessel_name="MAERSK KOWLOON", voyage="2103N")]  # fmt: skip


@st.composite
def news(draw: st.DrawFn, n: int) -> TrackingEvent:
    """A conveyance's news as the conveyance job makes it: one id per call, milestone and classifier, so a newer
    estimate of a call is a new version of one event."""
    place = draw(st.sampled_from(PLACES))
    milestone = draw(st.sampled_from([Milestone.ARRIVED, Milestone.DEPARTED]))
    classifier = draw(st.sampled_from([Classifier.ESTIMATED, Classifier.ESTIMATED, Classifier.ACTUAL,
                                       Classifier.PLANNED]))  # fmt: skip
    at = START + timedelta(hours=draw(st.integers(0, 24 * 40)))
    return TrackingEvent(
        event_id=f"conv:VESSEL:IMO9321483:2103N@{place}:{milestone.value}:{classifier.value}", source="carrier",
        unit=UNITS[0], mode="SEA", milestone=milestone, classifier=classifier, location=place, event_time=at,
        received_time=START + timedelta(hours=n, minutes=draw(st.integers(0, 59))),
        transport=draw(st.sampled_from(VOYAGES)), retracted=draw(st.booleans()) and draw(st.booleans()),
    )  # fmt: skip


@st.composite
def feeds(draw: st.DrawFn) -> list[tuple[str, bytes | None, bytes]]:
    """Each unit's plan and own history, then the vessel's news for a random subset of them, interleaved."""
    units = UNITS[: draw(st.integers(1, len(UNITS)))]
    records: list[tuple[str, bytes | None, bytes]] = []
    for unit in units:
        plan = draw(plans(unit, 1))
        records.append((TOPICS.name("plan"), unit.id.encode(), dumps(plan)))
        records += [(TOPICS.name("event"), unit.id.encode(), dumps(e)) for e in draw(histories(unit, plan))[:6]]
    for n in range(draw(st.integers(1, 8))):
        hearing = draw(st.lists(st.sampled_from(units), min_size=1, unique=True))
        events = tuple(draw(st.lists(news(n), min_size=1, max_size=2)))
        events = tuple(e.model_copy(update={"unit": hearing[0]}) for e in events)
        for rec in feed_records(TOPICS.name("conveyance_feed"), "VOYAGE:2103N", [Delivery(tuple(hearing), events)], 1):
            records.append((rec.topic, rec.key, rec.value))
    return records


def naive(self: _News, unit: TrackedUnit) -> tuple[TrackingEvent, EventRecord]:
    """Each unit's copy and its record as the fan-out made them before the splice: `EventRecord.of` the copy (the
    copy is then what is applied)."""
    ev = self.template.model_copy(update={"unit": unit})
    return ev, EventRecord.of(ev)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(feed=feeds(), flushes=st.lists(st.booleans(), min_size=16, max_size=16))
def test_the_fan_out_path_stores_and_writes_what_plain_events_and_the_full_derivation_do(feed, flushes) -> None:
    stores = {name: ({}, {}) for name in ("fanout", "spec", "plain")}
    engines = {name: Engine(*stores[name], TOPICS, POLICY, write_behind=True, incremental=name != "spec",
                            learning=False) for name in stores}  # fmt: skip
    for i, (topic, key, value) in enumerate(feed):
        out = {name: eng.process(topic, 0, i, key, value) for name, eng in engines.items() if name != "plain"}
        assert out["fanout"] == out["spec"], f"record {i}"
        spliced = _News.of
        _News.of = naive  # type: ignore[method-assign]
        try:
            plain = engines["plain"].process(topic, 0, i, key, value)
        finally:
            _News.of = spliced  # type: ignore[method-assign]
        assert plain == out["fanout"], f"record {i}"
        if flushes[i % len(flushes)]:
            for eng in engines.values():
                eng.flush()
            assert stores["fanout"] == stores["spec"] == stores["plain"], f"stores after record {i}"
    for eng in engines.values():
        eng.flush()
    assert stores["fanout"] == stores["spec"] == stores["plain"]


@settings(max_examples=200, deadline=None)
@given(template=news(0), unit=st.sampled_from(UNITS), name=st.sampled_from([None, 'MAERSK "UNIT":{"KIND"']))
def test_a_units_record_spliced_from_the_template_is_the_record_of_its_copy(template, unit, name) -> None:
    if name is not None:  # a vessel name that looks like JSON inside the event's bytes
        template = template.model_copy(update={"transport": TransportRef(vessel_imo="9321483", vessel_name=name)})
    ev, rec = _News(template).of(unit)
    copy = template.model_copy(update={"unit": unit})
    assert ev is template  # applied with `unit=unit`: no copy is made
    assert rec == EventRecord.of(copy)


def test_a_unit_in_the_templates_strings_does_not_mislead_the_splice() -> None:
    """JSON escapes the quotes of a string, so only the event's own `unit` member matches (else: encoded per unit)."""
    template = TrackingEvent(event_id="x", source='"unit":{"kind":"CONTAINER","id":"CSQU3054383"}', unit=UNITS[0],
                             mode="SEA", milestone="ARRIVED", classifier="ESTIMATED", location="NLRTM",
                             event_time=START, received_time=START)  # fmt: skip
    item = _News(template)
    assert item._head is not None and item._head.endswith(b'}","unit":')
    assert item.of(UNITS[1])[1] == EventRecord.of(template.model_copy(update={"unit": UNITS[1]}))
