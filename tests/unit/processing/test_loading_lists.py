"""Loading lists through the whole conveyance join (`replay`: unit job, conveyance job, fan-out): a flight manifest's
units hear the flight's arrival at their own point of unloading only."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas import dumps
from schemas.conveyances import ConveyanceEvent
from schemas.topics import TopicNames
from streams.feeds.iata.ffm import CargoImpFfm
from streams.processing.replay import replay
from tests.support.factories import POLICY
from tests.unit.feeds.iata.test_ffm import TWO_LEGS

TOPICS = TopicNames()
RECEIVED = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _flight(n: int, place: str, milestone: str, at: str) -> bytes:
    return ConveyanceEvent.model_validate({
        "event_id": f"cv7301-{n}", "source": "iata-fsu", "mode": "AIR", "milestone": milestone,
        "classifier": "ACTUAL", "conveyance": {"kind": "FLIGHT", "number": "CV7301", "departure_date": "2026-12-04"},
        "call": {"location": place}, "event_time": at, "received_time": f"2026-12-04T13:0{n}:00Z",
    }).model_dump_json().encode()  # fmt: skip


def test_two_leg_flight_a_unit_leaving_at_the_first_stop_does_not_hear_the_second_arrival() -> None:
    manifest = CargoImpFfm().parse(TWO_LEGS.encode(), RECEIVED)
    lines = [dumps(e) for e in manifest.events] + [
        _flight(1, "HKHKG", "DEPARTED", "2026-12-03T18:00:00Z"),
        _flight(2, "BELGG", "ARRIVED", "2026-12-04T05:00:00Z"),
        _flight(3, "BELGG", "DEPARTED", "2026-12-04T07:00:00Z"),
        _flight(4, "ESMAD", "ARRIVED", "2026-12-04T09:30:00Z"),
    ]
    out = replay(lines, TOPICS, POLICY, 4).outputs
    assert [o.value for o in out if o.topic == TOPICS.name("dead_letter")] == []
    heard: dict[str, set[str]] = {}
    for o in out:
        if o.topic == TOPICS.name("timeline"):
            t = orjson.loads(o.value)
            heard[t["unit"]["id"]] = {e["event_id"].split("@")[1] for e in t["events"] if "@" in e["event_id"]}
    ride = "conv:FLIGHT:CV7301:2026-12-04"
    assert all(ride in e["event_id"] for o in out if o.topic == TOPICS.name("timeline")
               for e in orjson.loads(o.value)["events"] if "@" in e["event_id"])  # fmt: skip
    for unit in ("160-12345675", "PMC12345CV"):  # the bulk air waybill and the ULD unloaded at Liege
        assert heard[unit] == {"HKHKG:DEPARTED:ACTUAL", "BELGG:ARRIVED:ACTUAL"}
    assert heard["PMC54321CV"] == {"HKHKG:DEPARTED:ACTUAL", "ESMAD:ARRIVED:ACTUAL"}  # unloaded at Madrid


def test_a_bay_plan_replayed_as_corridor_parse_prints_it_puts_each_box_on_its_voyage_to_its_port() -> None:
    from streams.feeds.edifact.interchange import Edifact
    from streams.processing.ingest import boarding_of
    from tests.unit.feeds.conftest import load

    plan = Edifact().parse(load("edifact-baplie-22-singapore.edi"), datetime(2026, 1, 12, 16, 0, tzinfo=UTC))
    eta = ConveyanceEvent.model_validate({
        "event_id": "eta-rtm", "source": "dcsa", "mode": "SEA", "milestone": "ARRIVED", "classifier": "ESTIMATED",
        "conveyance": {"kind": "VESSEL", "vessel_imo": "9321483", "voyage": "2103N"}, "call": {"location": "NLRTM"},
        "event_time": "2026-01-26T18:00:00Z", "received_time": "2026-01-13T00:00:00Z"})  # fmt: skip
    lines = [boarding_of(x).model_dump_json().encode() for x in plan.listings]
    lines += [dumps(c) for c in plan.conveyances] + [dumps(eta)]
    out = replay(lines, TOPICS, POLICY, 4).outputs
    assert [o.value for o in out if o.topic == TOPICS.name("dead_letter")] == []
    heard: dict[str, set[str]] = {}
    for o in out:
        if o.topic == TOPICS.name("timeline"):
            t = orjson.loads(o.value)
            heard[t["unit"]["id"]] = {e["event_id"].split("@")[1] for e in t["events"]}
    assert heard == {
        "MSKU0308961": {"NLRTM:ARRIVED:ESTIMATED"},  # loaded at Shanghai: not Singapore's departure
        "MRKU9000129": {"NLRTM:ARRIVED:ESTIMATED"},
        "SEGU4455666": {"SGSIN:DEPARTED:ACTUAL", "NLRTM:ARRIVED:ESTIMATED"},
        "MAEU1234567": {"SGSIN:DEPARTED:ACTUAL"},  # leaves at Hamburg: not the Rotterdam estimate
    }
    # The unit job's own boardings are derived from what is replayed: a line naming one is refused.
    booked = orjson.loads(lines[0]) | {"basis": "BOOKED"}
    (letter,) = replay([orjson.dumps(booked)], TOPICS, POLICY, 4).outputs
    assert "a boarding replayed must be LISTED (a loading list's), not BOOKED" in orjson.loads(letter.value)["reason"]
