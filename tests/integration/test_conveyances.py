"""Conveyance events through a real worker on the real broker: a DCSA 3.0 transport-only message (a vessel arrival
at Hamburg, no container in it) published to its raw topic comes out on the conveyance topic, keyed by the vessel
and voyage; a transport event naming no conveyance, and a container reference failing its check digit, go to the
dead-letter topic with their reasons and the original bytes."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams.io.kafka import OutputReader, Publisher
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parents[1] / "unit" / "feeds" / "samples"


async def _records(bootstrap: str, topic: str, want: int, timeout_s: float = 30.0) -> list[tuple[bytes, dict]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    got: list[tuple[bytes, dict]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(got) < want and asyncio.get_running_loop().time() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                got += [(m.key, orjson.loads(m.value)) for m in msgs]
    finally:
        await consumer.stop()
    return got


async def test_dcsa_30_transport_only_message_reaches_the_conveyance_topic(bootstrap, settings, topics,
                                                                             reader: OutputReader):  # fmt: skip
    arrival = (SAMPLES / "dcsa-tnt-300-request-transport.json").read_bytes()
    bad = orjson.loads(arrival)
    event = bad["events"][0]
    event["eventID"] = "evt-bad-1"
    event["references"] = [{"type": "EQ", "value": "MSCU1234567"}]  # wrong check digit: dropped, event kept
    nameless = orjson.loads(orjson.dumps(event))
    nameless["eventID"] = "evt-nameless"
    del nameless["references"], nameless["transportDetails"]["transportCall"]["vessel"]
    mixed = orjson.dumps({"events": [event, nameless]})
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_raw(topics.raw("dcsa-tnt-3.0"), arrival)
        await pub.send_raw(topics.raw("dcsa-tnt-3.0"), mixed)
        await pub.flush()
        got = await _records(bootstrap, topics.name("conveyance"), want=2)
        await reader.wait_for(lambda r: len(r.of("dead_letter")) >= 2, timeout=30)
        await reader.settle()

    assert sorted(v["event_id"] for _, v in got) == ["dcsa:evt-bad-1", "dcsa:evt-trans-001-2026-01-20T12:30:00Z"]
    for key, value in got:
        assert key == b"VESSEL:IMO1234567:V001N" == value["conveyance"]["id"].encode()
        assert (value["record"], value["milestone"], value["classifier"]) == ("conveyance_event", "ARRIVED", "ACTUAL")
        assert (value["call"]["location"], value["call"]["sequence"]) == ("DEHAM", 3)
        assert value["event_time"] == "2026-01-20T12:30:00Z" and value["source"] == "dcsa"
    letters = reader.of("dead_letter")
    assert sorted(x["reason"].split(":")[1].strip() for x in letters) == ["TRANSPORT event evt-nameless names no "
                                                                         "conveyance corridor can key", "warning"]
    assert all(base64.urlsafe_b64decode(x["original"]) == mixed for x in letters)
    assert reader.of("timeline") == []  # no unit was named by a valid container number
