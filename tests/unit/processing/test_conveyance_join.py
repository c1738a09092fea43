"""The conveyance join (streams/core/conveyance.py, streams/processing/conveyances.py, unit_conveyance.py): who hears
which call, catch-up and withdrawal, the fan-out records, bad input, and the whole join through `replay`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
from stdnum import iso6346

from schemas import Leg, Plan, TrackedUnit, TrackingEvent, TransportRef, UnitKind
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceEvent
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.core.conveyance import Boarding, Ride, hears, news_id
from streams.core.manifest import Basis, Passage
from streams.core.policy import DEFAULT_POLICY
from streams.processing.conveyances import ConveyanceEngine, bucket_of, feed_key, feed_records
from streams.processing.engine import Engine
from streams.processing.replay import replay
from tests.support.factories import POLICY

T0 = datetime(2026, 3, 2, tzinfo=UTC)
A, B, C = "TGHU1643396", "CSQU3054383", "MSKU0308961"  # valid ISO 6346 numbers
VESSEL = Conveyance(kind="VESSEL", vessel_imo="9321483", voyage="V001N")
RIDE = "VOYAGE:V001N"
TOPICS = TopicNames()


def d(days: float, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def call(n: str, place: str, milestone: str, classifier: str, at: datetime, received: datetime,
         **extra: object) -> ConveyanceEvent:  # fmt: skip
    return ConveyanceEvent(event_id=n, source="dcsa", conveyance=extra.pop("conveyance", VESSEL),
                           mode=extra.pop("mode", "SEA"),
                           call=ConveyanceCall(location=place), milestone=milestone, classifier=classifier,
                           event_time=at, received_time=received, **extra)  # fmt: skip


def plan(unit: str, dest: str, *, voyage: str = "V001N", revision: int = 1, issued: datetime = T0) -> Plan:
    arrive = d(30) if dest == "NLRTM" else d(10)
    return Plan(unit=TrackedUnit.container(unit), revision=revision, issued_time=issued, legs=[
        Leg(mode="SEA", carrier="MSC", origin="CNSHA", destination=dest, planned_departure=d(1),
            planned_arrival=arrive, reference=voyage)])  # fmt: skip


def unit_event(unit: str, milestone: str, place: str, at: datetime, voyage: str = "V001N") -> TrackingEvent:
    return TrackingEvent(event_id=f"{milestone}-{unit}", source="dcsa", unit=TrackedUnit.container(unit), mode="SEA",
                         milestone=milestone, classifier="ACTUAL", location=place, event_time=at,
                         received_time=at + timedelta(hours=1), transport=TransportRef(voyage=voyage))  # fmt: skip


def booked(unit: str, boards: str, leaves: str | None, basis: Basis = Basis.BOOKED, **kw: object) -> Passage:
    return Passage(unit, boards, leaves, basis, T0, **kw)  # type: ignore[arg-type]


# --- who hears what ------------------------------------------------------------------------------------------------
def test_a_unit_hears_its_own_calls_and_actuals_only_once_loaded() -> None:
    eta_rtm = call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30), d(5))
    ata_rtm = call("a1", "NLRTM", "ARRIVED", "ACTUAL", d(30), d(30))
    atd_sha = call("a0", "CNSHA", "DEPARTED", "ACTUAL", d(1), d(1))
    eta_sin = call("e2", "SGSIN", "ARRIVED", "ESTIMATED", d(10), d(5))
    to_rtm = booked(A, "CNSHA", "NLRTM")
    assert hears(to_rtm, eta_rtm) and not hears(to_rtm, eta_sin)
    assert not hears(to_rtm, ata_rtm) and not hears(to_rtm, atd_sha)  # only booked: it may have been rolled
    loaded = booked(A, "CNSHA", "NLRTM", Basis.REPORTED)
    assert hears(loaded, ata_rtm) and hears(loaded, atd_sha)
    assert not hears(loaded, call("x", "CNSHA", "ARRIVED", "ACTUAL", d(0), d(0)))  # its boarding port's arrival
    assert not hears(booked(A, "CNSHA", "SGSIN", Basis.REPORTED, off_at=d(12)), eta_rtm)  # discharged
    assert hears(booked(A, "CNSHA", "SGSIN", Basis.REPORTED, off_at=d(12)), atd_sha)  # its own call, before
    assert hears(booked(A, "CNSHA", None, Basis.REPORTED), eta_sin)  # where it leaves unknown: any arrival
    train = Conveyance(kind="TRAIN", carrier="YXO", number="X8017", departure_date=T0.date())
    border = call("b", "KZDOS", "DEPARTED", "ACTUAL", d(7), d(7), conveyance=train, mode="RAIL")
    assert hears(booked(A, "CNCKG", "DEDUI", Basis.REPORTED, via=("KZDOS",)), border)
    assert not hears(booked(A, "CNCKG", "DEDUI", Basis.REPORTED), border)


def test_ride_keeps_the_latest_report_of_each_call_and_withdraws_an_omitted_one() -> None:
    ride = Ride.new(RIDE)
    ride.on_boarding(Boarding(ride=RIDE, basis="BOOKED", unit=TrackedUnit.container(A), boards="CNSHA",
                              leaves="NLRTM", as_of=T0))  # fmt: skip
    first = ride.on_conveyance(call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30, 5), d(5)))
    (news,) = first[0].events
    assert [u.id for u in first[0].units] == [A]
    assert news.event_id == news_id(call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30), d(5)))
    assert news.event_id == "conv:VESSEL:IMO9321483:V001N@NLRTM:ARRIVED:ESTIMATED"
    assert (news.transport.vessel_imo, news.transport.voyage, news.milestone) == ("9321483", "V001N", "ARRIVED")
    assert ride.on_conveyance(call("e0", "NLRTM", "ARRIVED", "ESTIMATED", d(31), d(4))) == []  # older news
    assert ride.on_conveyance(call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30, 5), d(5))) == []  # the same again
    omitted = ride.on_conveyance(call("o", "NLRTM", "OMITTED", "ACTUAL", d(29), d(6)))
    (gone,) = omitted[0].events
    assert gone.retracted and gone.event_id == news.event_id and gone.received_time == d(6)
    assert not any(k[0] == "NLRTM" and k[2] == "ESTIMATED" for k in ride.calls)


def test_a_unit_boarding_late_catches_up_and_one_replanned_off_has_its_news_withdrawn() -> None:
    ride = Ride.new(RIDE)
    ride.on_conveyance(call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30, 5), d(5)))
    ride.on_conveyance(call("a0", "CNSHA", "DEPARTED", "ACTUAL", d(1), d(1)))
    unit = TrackedUnit.container(B)
    caught, problem = ride.on_boarding(Boarding(ride=RIDE, basis="BOOKED", unit=unit, boards="CNSHA",
                                                leaves="NLRTM", as_of=d(6)))  # fmt: skip
    assert problem is None
    assert [e.classifier for e in caught[0].events] == ["ESTIMATED"]  # booked: no actual departure
    loaded, _ = ride.on_boarding(Boarding(ride=RIDE, basis="REPORTED", unit=unit, as_of=d(1),
                                          event=unit_event(B, "LOADED", "CNSHA", d(1))))  # fmt: skip
    assert [(e.milestone, e.classifier) for e in loaded[0].events] == [("DEPARTED", "ACTUAL")]
    # A booked-only unit re-planned off: what it heard is withdrawn.
    other = TrackedUnit.container(C)
    ride.on_boarding(Boarding(ride=RIDE, basis="BOOKED", unit=other, boards="CNSHA", leaves="NLRTM", as_of=d(6)))
    off, _ = ride.on_boarding(Boarding(ride=RIDE, basis="UNBOOKED", unit=other, as_of=d(7)))
    assert [(e.event_id.split("@")[1], e.retracted) for e in off[0].events] == [("NLRTM:ARRIVED:ESTIMATED", True)]
    # A loaded unit stays aboard whatever its plan says.
    assert ride.on_boarding(Boarding(ride=RIDE, basis="UNBOOKED", unit=unit, as_of=d(8))) == ([], None)


def test_fan_out_records_land_on_the_partition_of_the_units_they_list() -> None:
    for p in range(6):
        assert partition_for(feed_key(RIDE, p, 6), 6) == p
    ride = Ride.new(RIDE)
    units = [f"MSKU{n:06d}{iso6346.calc_check_digit(f'MSKU{n:06d}')}" for n in range(200)]
    ride.kinds.update(dict.fromkeys(units, UnitKind.CONTAINER))
    ride.manifest.passages.update({u: booked(u, "CNSHA", "NLRTM") for u in units})
    deliveries = ride.on_conveyance(call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30), d(5)))
    records = feed_records(TOPICS.name("conveyance_feed"), RIDE, deliveries, 4)
    assert len(records) == 4  # one per unit partition, not one per unit
    listed = []
    for r in records:
        body = orjson.loads(r.value)
        assert {partition_for(u.encode(), 4) for _, u in body["units"]} == {partition_for(r.key, 4)}
        assert len(body["events"]) == 1 and "unit" not in body["events"][0]
        listed += [u for _, u in body["units"]]
    assert sorted(listed) == units


# --- bad input -------------------------------------------------------------------------------------------------------
def _reason(out: list) -> str:
    (letter,) = out
    assert letter.topic == TOPICS.name("dead_letter")
    return orjson.loads(letter.value)["reason"]


def test_bad_input_is_a_dead_letter_with_its_bytes() -> None:
    engine = ConveyanceEngine({}, TOPICS, 4)
    nameless = orjson.loads(call("n", "NLRTM", "ARRIVED", "ACTUAL", d(1), d(1)).model_dump_json())
    nameless["conveyance"] = {"kind": "VESSEL", "voyage": "V001N"}
    raw = orjson.dumps(nameless)
    out = engine.process(TOPICS.name("conveyance"), 0, 7, b"VESSEL:?", raw)
    assert "a vessel needs an IMO number, a call sign or a name" in _reason(out)
    assert base64.urlsafe_b64decode(orjson.loads(out[0].value)["original"]) == raw
    assert "not JSON" in _reason(engine.process(TOPICS.name("boarding"), 0, 8, RIDE.encode(), b"{oops"))
    assert "is not the ride" in _reason(engine.process(TOPICS.name("boarding"), 0, 9, b"VOYAGE:OTHER", Boarding(
        ride=RIDE, basis="BOOKED", unit=TrackedUnit.container(A), as_of=T0).model_dump_json().encode()))
    # A manifest contradicting itself: one unit loaded onto and discharged from the ride at one place and instant.
    for milestone in ("LOADED", "DISCHARGED"):
        b = Boarding(ride=RIDE, basis="REPORTED", unit=TrackedUnit.container(A), as_of=d(1),
                     event=unit_event(A, milestone, "CNSHA", d(1)))  # fmt: skip
        out = engine.process(TOPICS.name("boarding"), 0, 10, RIDE.encode(), b.model_dump_json().encode())
    assert _reason(out).startswith("contradictory manifest: TGHU1643396 is reported both loaded onto and discharged")
    # The unit job's side: a fan-out record it cannot read, or routed for another partition count.
    units = Engine({}, {}, TOPICS, DEFAULT_POLICY)
    feed = TOPICS.name("conveyance_feed")
    assert "expected a conveyance_fanout" in _reason(units.process(feed, 0, 1, b"k", b'{"record": "x"}'))
    p = partition_for(A.encode(), 4)
    wrong = orjson.dumps({"record": "conveyance_fanout", "ride": RIDE, "partitions": 4, "events": [],
                          "units": [["CONTAINER", A]]})  # fmt: skip
    assert "lists units of other partitions" in _reason(units.process(feed, (p + 1) % 4, 2, b"k", wrong))


def test_the_rides_table_is_read_back_as_it_was_written() -> None:
    store: dict[bytes, bytes] = {}
    engine = ConveyanceEngine(store, TOPICS, 4)
    for n, unit in enumerate((A, B, C)):
        b = Boarding(ride=RIDE, basis="BOOKED", unit=TrackedUnit.container(unit), boards="CNSHA",
                     leaves=("NLRTM", "NLRTM", "SGSIN")[n], as_of=T0)  # fmt: skip
        engine.process(TOPICS.name("boarding"), 1, n, RIDE.encode(), b.model_dump_json().encode())
    ev = call("e1", "NLRTM", "ARRIVED", "ESTIMATED", d(30), d(5))
    engine.process(TOPICS.name("boarding"), 1, 9, RIDE.encode(), ev.model_dump_json().encode())
    again = ConveyanceEngine(store, TOPICS, 4)._ride(RIDE)
    assert again.manifest.passages == engine._ride(RIDE).manifest.passages and len(again.manifest.passages) == 3
    assert again.calls == engine._ride(RIDE).calls
    # Written behind (the worker): a bucket is encoded once, when the batch is flushed.
    behind: dict[bytes, bytes] = {}
    worker = ConveyanceEngine(behind, TOPICS, 4, write_behind=True)
    for n, unit in enumerate((A, B, C)):
        b = Boarding(ride=RIDE, basis="BOOKED", unit=TrackedUnit.container(unit), boards="CNSHA", leaves="NLRTM",
                     as_of=T0)  # fmt: skip
        worker.process(TOPICS.name("boarding"), 1, n, RIDE.encode(), b.model_dump_json().encode())
    assert behind == {}
    assert worker.flush() == len({bucket_of(u) for u in (A, B, C)})
    assert len(ConveyanceEngine(behind, TOPICS, 4)._ride(RIDE).manifest.passages) == 3


# --- the whole join, through replay ----------------------------------------------------------------------------------
def _story() -> list[object]:
    records: list[object] = []
    for unit, dest in ((A, "NLRTM"), (B, "NLRTM"), (C, "SGSIN")):
        records += [plan(unit, dest), unit_event(unit, "LOADED", "CNSHA", d(1))]
    records.append(unit_event(C, "DISCHARGED", "SGSIN", d(10)))
    records.append(call("atd", "CNSHA", "DEPARTED", "ACTUAL", d(1, 5), d(1, 6)))
    records += [call(f"eta{i}", "NLRTM", "ARRIVED", "ESTIMATED", d(30, h), d(11 + i))
                for i, h in enumerate((24, 48, 12))]
    return records



def test_rides_are_kept_decoded_once_and_their_bytes_only_until_the_flush() -> None:
    """The soak's growth (docs/soak.md): every ride's encoded buckets (and the keys of its absent ones) stayed in the
    store's cache after they were written, beside the ride kept decoded, up to 64 keys a ride for 2,000 rides."""
    behind: dict[bytes, bytes] = {}
    worker = ConveyanceEngine(behind, TOPICS, 4, write_behind=True, cached_rides=3)
    for r in range(6):  # more rides than are kept loaded
        ride = f"VOYAGE:V00{r}N"
        for n, unit in enumerate((A, B, C)):
            b = Boarding(ride=ride, basis="BOOKED", unit=TrackedUnit.container(unit), boards="CNSHA",
                         leaves="NLRTM", as_of=T0 + timedelta(hours=n))  # fmt: skip
            worker.process(TOPICS.name("boarding"), 1, n, ride.encode(), b.model_dump_json().encode())
        worker.flush()
        assert len(worker._store._cache) == 0 and not worker._store._absent  # written, nothing kept but the rides
        assert len(worker._loaded) <= 3
    assert len(behind) == 6 * len({bucket_of(u) for u in (A, B, C)})
    again = worker._ride("VOYAGE:V000N")  # evicted: read back from the store
    assert sorted(again.manifest.passages) == sorted((A, B, C))

def test_a_batch_touching_more_rides_than_the_bound_leaves_no_more_loaded_after_its_flush() -> None:
    """The soak found 559 rides kept against a bound of 200: a load makes room only among rides without changes
    waiting, so a batch of ten rides with a bound of three kept all ten, and the count stayed there."""
    worker = ConveyanceEngine({}, TOPICS, 4, write_behind=True, cached_rides=3)
    for batch in range(5):
        for r in range(10):
            ride = f"VOYAGE:V{batch}{r:02d}N"
            b = Boarding(ride=ride, basis="BOOKED", unit=TrackedUnit.container(A), boards="CNSHA", leaves="NLRTM",
                         as_of=T0 + timedelta(hours=batch))  # fmt: skip
            worker.process(TOPICS.name("boarding"), 1, r, ride.encode(), b.model_dump_json().encode())
        assert len(worker._loaded) == 10  # all of this batch's, with changes waiting (older ones made room)
        worker.flush()
        assert len(worker._loaded) <= 3 and set(worker._members) == set(worker._loaded)
    again = worker._ride("VOYAGE:V000N")  # trimmed: read back from the store
    assert A in again.manifest.passages


def test_vessel_estimates_reach_every_unit_aboard_and_not_one_discharged_before() -> None:
    # Every move of 30 min or more published (the default also asks for 3% of the time left: the 5 h late
    # departure of a two-week voyage would not be news).
    out = replay([r.model_dump_json() for r in _story()], TOPICS, POLICY, 4).outputs  # type: ignore[attr-defined]
    etas: dict[str, list[str]] = {}
    last: dict[str, dict] = {}
    for o in out:
        if o.topic == TOPICS.name("eta"):
            etas.setdefault(o.key.decode(), []).append(orjson.loads(o.value)["predicted_arrival"])
        elif o.topic == TOPICS.name("timeline"):
            last[o.key.decode()] = orjson.loads(o.value)
        assert o.topic != TOPICS.name("dead_letter"), o.value
    for unit in (A, B):  # the departure 5 h late, then the three estimates, each once
        assert etas[unit] == ["2026-04-01T00:00:00Z", "2026-04-01T05:00:00Z", "2026-04-02T00:00:00Z",
                              "2026-04-03T00:00:00Z", "2026-04-01T12:00:00Z"]  # fmt: skip
        shown = {e["event_id"]: e for e in last[unit]["events"]}
        arrival = shown["conv:VESSEL:IMO9321483:V001N@NLRTM:ARRIVED:ESTIMATED"]
        assert (arrival["event_time"], arrival["source"]) == ("2026-04-01T12:00:00Z", "dcsa")
        assert "conv:VESSEL:IMO9321483:V001N@CNSHA:DEPARTED:ACTUAL" in shown
        final = next(m for m in last[unit]["milestones"] if m["location"] == "NLRTM")
        assert final["estimated"] == "2026-04-01T12:00:00Z"
    assert not any("NLRTM" in e["event_id"] for e in last[C]["events"])  # discharged at Singapore before
    assert etas[C] == ["2026-03-12T00:00:00Z", "2026-03-12T05:00:00Z", "2026-03-12T00:00:00Z"]


def test_replay_gives_the_same_outputs_whatever_the_order_of_conveyance_and_unit_records() -> None:
    story = _story()
    # The estimates first, the plans and loadings after: catch-up gives each unit the latest state of its calls.
    early = [r.model_copy(update={"received_time": d(0, i)}) for i, r in enumerate(story)
             if isinstance(r, ConveyanceEvent) and r.classifier == "ESTIMATED"]  # fmt: skip
    late = [r for r in story if not (isinstance(r, ConveyanceEvent) and r.classifier == "ESTIMATED")]

    def final_timelines(records: list) -> dict[str, list]:
        out = replay([r.model_dump_json() for r in records], TOPICS, DEFAULT_POLICY, 4).outputs
        last = {o.key: orjson.loads(o.value) for o in out if o.topic == TOPICS.name("timeline")}
        return {k.decode(): [m["estimated"] for m in v["milestones"]] for k, v in last.items()}

    assert final_timelines(early + late)[A] == [None, "2026-04-01T12:00:00Z"]
    assert final_timelines(early + late) == final_timelines(list(reversed(early)) + late)
