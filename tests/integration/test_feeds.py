"""Carrier messages through the worker's ingest stage on the real broker: published samples become
canonical events (and timelines); every kind of bad input lands in the dead-letter topic with its reason and
the original bytes; truck pings turn into geofence arrivals and departures across messages."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams.io.kafka import OutputReader, Publisher
from streams.topology.faust_drain import _raw_inputs
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parents[1] / "unit" / "feeds" / "samples"
IATA = Path(__file__).parents[1] / "unit" / "feeds" / "iata" / "samples"

GOOD = [
    ("dcsa-tnt-2.2", SAMPLES / "dcsa-tnt-220-response.json"),  # dcsaorg/Conformance-Gateway
    ("rail-events", SAMPLES / "rail-x8017.csv"),
    ("iata-fsu", IATA / "good_practice_fsu_example_2a.txt"),  # digital-cargo/good-practice-shipment-tracking
]
BAD = [  # (format, message, words the reason must contain)
    ("dcsa-tnt-3.0", b"{this is not json", "JSON"),
    ("edifact", (SAMPLES / "edifact-iftsta-rail.edi").read_bytes(), "check digit"),
    ("iata-fsu", b"FSU/14\n020-12345675FRAJFK/T1K100\nDEP/LH400/31FEB/FRAJFK/T1K100\n", "31FEB"),
    ("iata-fsu", b"FSU/14\n020-12345670FRAJFK/T1K100\nARR/LH400/16OCT/FRAJFK\n", "check digit"),
    ("iata-xfsu", b"<rsm:StatusMessage><unclosed>", "XML"),
    ("rail-events", b"train_number;container_number;station_locode;event;event_time\nX1;TGHU1643396;XXABC;DEPARTED;"
                    b"2024-05-01T10:30\n", "XXABC"),
    ("road-pings", b'{"pings": [{"vehicle": "T1", "container": "TGHU1643396", "latitude": 95.0, "longitude": 6.7, '
                   b'"time": "2024-05-18T07:40:00+02:00"}]}', "latitude"),
    ("epcis-2.0", b"", ""),
]


async def _events(bootstrap: str, topic: str, want: int, timeout_ms: int = 20000) -> list[dict]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    got: list[dict] = []
    try:
        import asyncio

        deadline = asyncio.get_running_loop().time() + timeout_ms / 1000
        while len(got) < want and asyncio.get_running_loop().time() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                got += [orjson.loads(m.value) for m in msgs]
    finally:
        await consumer.stop()
    return got


async def test_samples_become_events_and_bad_input_becomes_dead_letters(bootstrap, settings, topics,
                                                                          reader: OutputReader):
    async with running(settings, bootstrap) as topology, Publisher(bootstrap, topics, PARTITIONS) as pub:
        for fmt, path in GOOD:
            await pub.send_raw(topics.raw(fmt), path.read_bytes())
        for fmt, message, _ in BAD:
            await pub.send_raw(topics.raw(fmt), message)
        await pub.flush()
        await reader.wait_for(lambda r: len(r.of("dead_letter")) >= len(BAD) + 3, timeout=30)
        events = await _events(bootstrap, topics.name("event"), want=20)
        await reader.wait_for(lambda r: len(r.of("timeline")) >= 5, timeout=30)
        await reader.settle()
        # The jobs' inputs go straight to their agents; the carrier formats keep Faust's conductor (the ingest
        # agent sends through Faust's producer buffer, whose back-pressure the conductor applies), and so do the
        # clock ticks, which two agents read.
        direct = set(_raw_inputs(topology.app))
        assert direct == {topics.name(r) for r in ("plan", "event", "shipment_plan", "shipment_feed",
                                                    "conveyance", "boarding", "conveyance_feed")}, direct  # fmt: skip

    sources = {e["source"] for e in events}
    assert {"dcsa", "rail", "iata-fsu"} <= sources, sources
    assert any(e["unit"]["id"] == "APZU4812090" and e["location"] == "FRPAR" for e in events)  # DCSA sample
    assert any(e["unit"]["id"] == "020-12345675" and e["milestone"] == "DEPARTED" for e in events)  # FSU sample
    letters = reader.of("dead_letter")
    for fmt, message, words in BAD:
        mine = [x for x in letters if x["source_topic"] == topics.raw(fmt)
                and base64.urlsafe_b64decode(x["original"]) == message]
        assert mine, f"no dead letter for the bad {fmt} message"
        assert all(words in x["reason"] for x in mine), [x["reason"] for x in mine]
    # The DCSA sample's SHIPMENT events are rejected one by one (with their fragment); its equipment events pass.
    dcsa = [x for x in letters if x["source_topic"] == topics.raw("dcsa-tnt-2.2")]
    assert dcsa and all(x["fragment"] and x["index"] is not None for x in dcsa)
    assert {t["unit"]["id"] for t in reader.of("timeline")} >= {"APZU4812090", "020-12345675"}


async def test_truck_pings_across_messages_give_geofence_events(bootstrap, settings, topics, reader):
    pings = orjson.loads((SAMPLES / "road-pings-duisburg.json").read_bytes())["pings"]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        for p in pings:  # one ping per message: the state must live in the worker between messages
            # keyed by vehicle, so a vehicle's messages stay in order (docs/feeds: road pings)
            await pub.send_raw(topics.raw("road-pings"), orjson.dumps({"pings": [p]}), p["vehicle"].encode())
        await pub.flush()
        events = await _events(bootstrap, topics.name("event"), want=2)
    assert [(e["milestone"], e["location"], e["unit"]["id"]) for e in events] == [
        ("ARRIVED", "DEDUI", "TGHU1643396"), ("DEPARTED", "DEDUI", "TGHU1643396")]
    assert reader.of("dead_letter") == []
