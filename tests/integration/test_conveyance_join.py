"""The conveyance join on the real embedded broker with a real worker (ingest, unit job, conveyance job, RocksDB):
carriers' conveyance events reach every unit aboard, in its timeline and its ETA; and replay of what ingest wrote
gives what the worker gave.

- a vessel: DCSA 3.0 equipment events name it and its voyage; its estimated arrival at Rotterdam then moves three
  times; a unit discharged at Singapore before hears none of it;
- a block train of 41 wagons, reported once by train number at Alashankou, Dostyk and Malaszewicze;
- a flight: an FFM lists what it carries, then Cargo-IMP status messages report its departure and arrival."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from schemas import dumps
from schemas.topics import TopicNames
from streams.core.policy import DEFAULT_POLICY
from streams.io.kafka import OutputReader, Publisher
from streams.processing.replay import replay
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.conveyance_story import (
    RAIL_STOPS,
    TRAIN,
    containers,
    d,
    dcsa_equipment,
    dcsa_transport,
    iso,
    message,
    rail_plan,
    sea_plan,
)

pytestmark = pytest.mark.integration
VESSEL_ETA = "conv:VESSEL:IMO9321483:2103N@NLRTM:ARRIVED:ESTIMATED"


async def _topic(bootstrap: str, topic: str) -> list[bytes]:
    """Every record of `topic` so far."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    got: list[bytes] = []
    try:
        empty = 0
        while empty < 3:
            batch = await consumer.getmany(timeout_ms=300)
            empty = 0 if batch else empty + 1
            got += [m.value for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()
    return got


def _latest(records: list[dict]) -> dict[str, dict]:
    return {r["unit"]["id"]: r for r in records}


def _etas(records: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in records:
        out.setdefault(r["unit"]["id"], []).append(r["predicted_arrival"])
    return out


async def _live_equals_replay(bootstrap: str, topics: TopicNames, reader: OutputReader, plans: list) -> None:
    """Replay of the plans and of what ingest wrote (canonical unit and conveyance events) gives each unit the
    timeline and the last ETA the worker gave it."""
    lines = [dumps(p) for p in plans]
    lines += await _topic(bootstrap, topics.name("event"))
    lines += await _topic(bootstrap, topics.name("conveyance"))
    out = replay(lines, topics, DEFAULT_POLICY, PARTITIONS).outputs
    replayed = [orjson.loads(o.value) for o in out if o.topic == topics.name("timeline")]
    etas = [orjson.loads(o.value) for o in out if o.topic == topics.name("eta")]
    assert [orjson.loads(o.value)["reason"] for o in out if o.topic == topics.name("dead_letter")] == []

    def comparable(t: dict) -> dict:
        return {k: v for k, v in t.items() if k != "as_of"}  # the watermark of the last output, not the timeline

    live = _latest(reader.of("timeline"))
    assert {u: comparable(t) for u, t in _latest(replayed).items()} == {u: comparable(t) for u, t in live.items()}
    assert {u: v[-1] for u, v in _etas(etas).items()} == {u: v[-1] for u, v in _etas(reader.of("eta")).items()}


async def _until(reader: OutputReader, ok: Callable[[OutputReader], bool], timeout: float = 60) -> None:
    await reader.wait_for(ok, timeout=timeout)


async def test_vessel_estimates_reach_every_unit_aboard(bootstrap, settings, topics, reader: OutputReader):
    to_rtm, to_sin = containers("MSKU", 6), containers("TGHU", 1)[0]
    plans = [sea_plan(u, "NLRTM") for u in to_rtm] + [sea_plan(to_sin, "SGSIN")]
    raw = topics.raw("dcsa-tnt-3.0")
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all(plans)
        loads = [dcsa_equipment(u, "LOAD", "CNSHA", d(1, h / 10)) for h, u in enumerate([*to_rtm, to_sin])]
        await pub.send_raw(raw, message(*loads))
        await pub.send_raw(raw, message(dcsa_equipment(to_sin, "DISC", "SGSIN", d(10))))
        await pub.send_raw(raw, message(dcsa_transport("atd", "DEPA", "ACT", "CNSHA", d(1, 6), d(1, 7))))
        await pub.flush()
        everyone = [*to_rtm, to_sin]
        await _until(reader, lambda r: all(any(e["event_id"].endswith("CNSHA:DEPARTED:ACTUAL")
                                               for e in _latest(r.of("timeline")).get(u, {}).get("events", []))
                                           for u in everyone))  # fmt: skip
        for n, hours in enumerate((30, 54, 78)):  # the estimated arrival at Rotterdam moves three times
            when = d(30, hours)
            await pub.send_raw(raw, message(dcsa_transport(f"eta{n}", "ARRI", "EST", "NLRTM", when, d(11 + n))))
            await pub.flush()
            await _until(reader, lambda r, w=iso(when): all(_etas(r.of("eta")).get(u, [None])[-1] == w
                                                            for u in to_rtm))  # fmt: skip
        await reader.settle()

    etas, latest = _etas(reader.of("eta")), _latest(reader.of("timeline"))
    for unit in to_rtm:
        assert etas[unit][-3:] == [iso(d(30, 30)), iso(d(30, 54)), iso(d(30, 78))]  # once per change
        events = {e["event_id"]: e for e in latest[unit]["events"]}
        assert events[VESSEL_ETA]["event_time"] == iso(d(30, 78)) and events[VESSEL_ETA]["source"] == "dcsa"
        rtm = next(m for m in latest[unit]["milestones"] if m["location"] == "NLRTM")
        assert (rtm["estimated"], rtm["predicted"]) == (iso(d(30, 78)), iso(d(30, 78)))
    assert not any("NLRTM" in e["event_id"] for e in latest[to_sin]["events"])  # discharged at Singapore before
    assert all(t["predicted_arrival"] is None or t["predicted_arrival"] < iso(d(20))
               for t in reader.of("eta") if t["unit"]["id"] == to_sin)  # fmt: skip
    assert reader.of("dead_letter") == []
    await _live_equals_replay(bootstrap, topics, reader, plans)


def _rail_row(**fields: object) -> dict:
    return {"trainNumber": TRAIN, **fields}


async def test_block_train_reported_by_train_number_reaches_its_41_wagons(bootstrap, settings, topics, reader):
    units = containers("CSQU", 41)
    plans = [rail_plan(u) for u in units]
    train = {"operator": "YXO", "train_date": "2026-03-03"}  # departs Chongqing on 3 March, local time
    loaded = [_rail_row(wagonNumber=None, containerNumber=u, station="CNCKG", event="LOADED",
                        eventTime=iso(d(1, 1)), eventId=f"load-{u}") for u in units]  # fmt: skip
    borders = [("CNAKL", "BORDER_DEPARTED", d(6, 9)), ("KZDOS", "BORDER_ARRIVED", d(8, 10)),
               ("PLMAL", "ARRIVED", d(16, 20))]  # fmt: skip
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all(plans)
        await pub.send_raw(topics.raw("rail-events"), orjson.dumps({"events": [
            {k: v for k, v in r.items() if v is not None} for r in loaded]}))  # fmt: skip
        await pub.flush()
        await _until(reader, lambda r: len(_latest(r.of("timeline"))) == 41 and all(
            t["status"] != "PLANNED" for t in _latest(r.of("timeline")).values()))  # fmt: skip
        for place, word, when in borders:  # each reported once, by train number, with no container
            row = _rail_row(**train, station=place, event=word, eventTime=iso(when), eventId=f"{TRAIN}-{place}")
            await pub.send_raw(topics.raw("rail-events"), orjson.dumps({"events": [row]}))
            await pub.flush()
            await _until(reader, lambda r, p=place: all(
                any(e["event_id"].startswith(f"conv:TRAIN:YXO:X8017:2026-03-03@{p}") for e in t["events"])
                for t in _latest(r.of("timeline")).values()), timeout=90)  # fmt: skip
        await reader.settle()

    latest = _latest(reader.of("timeline"))
    assert sorted(latest) == sorted(units)
    for unit in units:
        by_place = {m["key"]: m for m in latest[unit]["milestones"]}
        assert by_place["DEP:CNAKL:1"]["actual"] == iso(d(6, 9))
        assert by_place["ARR:KZDOS:1"]["actual"] == iso(d(8, 10))
        assert by_place["ARR:PLMAL:1"]["actual"] == iso(d(16, 20))
        assert latest[unit]["location"] == "PLMAL"
    assert {len(v) >= 3 for v in _etas(reader.of("eta")).values()} == {True}  # each border moved its ETA
    assert RAIL_STOPS[0] == "CNCKG" and reader.of("dead_letter") == []
    await _live_equals_replay(bootstrap, topics, reader, plans)


# Cargo-IMP dates have no year: the flight is three days before today, so it is in the past whenever this runs.
FLIGHT_DAY = (datetime.now(UTC) - timedelta(days=3)).date()
DDMMM = FLIGHT_DAY.strftime("%d%b").upper()
FFM = f"""FFM/8
1/CV1234/{DDMMM}/LUX
DXB
172-00122474CDGDXB/T4K800MC4.8/CLOTHING
ULD/AKE01063CV
172-00123012HAMAUH/S2K50MC0.2T3/BOOKS
172-00123060STRDXB/T5K200MC1.2/MACHINE PARTS
ULD/AKE01070CV
172-00123071STRDXB/T80K300MC0.7/WATCHES
LAST
""".encode()
FSU = f"""FSU/14
172-00122474CDGDXB/T4K800
DEP/CV1234/{DDMMM}/LUXDXB/T4K800/A1517/E2330
ARR/CV1234/{DDMMM}/DXB/T4K800//A2310
""".encode()


async def test_flight_manifest_then_departure_and_arrival(bootstrap, settings, topics, reader):
    listed = ["172-00122474", "AKE01063CV", "AKE01070CV"]  # the bulk air waybill and the two ULDs
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_raw(topics.raw("iata-ffm"), FFM)
        await pub.flush()
        await _until(reader, lambda r: set(listed) <= set(_latest(r.of("timeline"))))
        await pub.send_raw(topics.raw("iata-fsu"), FSU)
        await pub.flush()
        await _until(reader, lambda r: all(
            any(e["event_id"] == f"conv:FLIGHT:CV1234:{FLIGHT_DAY}@AEDXB:ARRIVED:ACTUAL" for e in t["events"])
            for u, t in _latest(r.of("timeline")).items() if u in listed), timeout=60)  # fmt: skip
        await reader.settle()

    latest = _latest(reader.of("timeline"))
    for unit in listed:
        shown = {e["event_id"]: e for e in latest[unit]["events"]}
        departed = shown[f"conv:FLIGHT:CV1234:{FLIGHT_DAY}@LULUX:DEPARTED:ACTUAL"]
        assert (departed["milestone"], departed["location"], departed["source"]) == ("DEPARTED", "LULUX", "iata-fsu")
        assert departed["event_time"][:10] == str(FLIGHT_DAY)  # 15:17 in Luxembourg, 19:10 in Dubai: UTC
        assert shown[f"conv:FLIGHT:CV1234:{FLIGHT_DAY}@AEDXB:ARRIVED:ACTUAL"]["event_time"] == f"{FLIGHT_DAY}T19:10:00Z"
        assert latest[unit]["status"] == "AT_STOP" and latest[unit]["location"] == "AEDXB"
    assert reader.of("dead_letter") == []
    await _live_equals_replay(bootstrap, topics, reader, [])
