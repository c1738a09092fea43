"""Records too big for the broker, on the real worker: refused to the dead-letter topic, and the worker goes on.

A record over the producer's limit fails its batch, which stops the worker (`test_write_failures.py`); one
whose size comes from the input stopped it again at the same input after every restart. With a small
`max_record_bytes` (12,000), one unit's history outgrows it: the worker must refuse exactly the events an engine
with the same limit refuses, keep the same state, write every record near the limit (the producer's own limit
is set just above it), and go on with the other unit and with a feed message too big to carry whole."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from schemas import dumps
from streams.core.policy import DEFAULT_POLICY
from streams.core.shipments.state import ShipmentState
from streams.io.kafka import Publisher
from streams.processing.replay import replay
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, d, event, expected, journey, plan
from tests.support.shipment_flows import AWB, split_awb

pytestmark = pytest.mark.integration

LIMIT = 12_000
SAMPLE = Path(__file__).parents[1] / "unit" / "feeds" / "samples" / "dcsa-tnt-300-request-equipment.json"


def _per_unit(records: list[dict], unit: str) -> list[dict]:
    return [r for r in records if r["unit"]["id"] == unit]


async def test_records_too_big_for_a_record_are_refused_and_the_worker_goes_on(bootstrap, settings, topics, reader):
    settings = settings.model_copy(update={"max_record_bytes": LIMIT})
    wordy = "s" * 60  # the longest sources the schema allows make the biggest histories
    history = [event(n, "DEPARTED" if n % 2 else "ARRIVED", "CNCKG", d(1, n), source=f"{wordy}{n:04d}")
               for n in range(40)]  # fmt: skip
    records = [plan(), plan(OTHER), *history, *journey(OTHER)[:2]]
    states: dict[bytes, bytes] = {}
    want = expected(records, topics, PARTITIONS, states, max_record_bytes=LIMIT)
    refused = [base64.b64decode(x["original"]) for x in want[topics.name("dead_letter")]]
    assert 10 < len(refused) < len(history)  # the unit outgrows the limit part of the way through
    feed = SAMPLE.read_bytes().replace(b"CARRIER_BOOKING_REFERENCE_PLACEHOLDER", b"B" * 20_000)

    async with running(settings, bootstrap) as topology, Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all(records[:2])  # the plans first: plans and events are on two topics, with no order between
        await reader.wait_for(lambda r: len(r.of("timeline")) == 2)
        await pub.send_all(records[2:])
        await pub.send_raw(topics.raw("dcsa-tnt-3.0"), feed, b"APZU4812090")
        await pub.flush()
        others = len(_per_unit(want[topics.name("timeline")], OTHER.id))
        await reader.wait_for(lambda r: len(r.of("dead_letter")) == len(refused) + 1
                              and len(_per_unit(r.of("timeline"), OTHER.id)) == others, timeout=60)  # fmt: skip
        await reader.settle()
        assert all(b.failure is None for b in topology.batchers.values()) and topology.app.crash_reason is None
        table = topology.app.tables["units"]
        stored = {key: table.get(key) for key in states}

    letters = reader.of("dead_letter")
    mine = [x for x in letters if x["source_topic"] == topics.name("event")]
    assert [base64.b64decode(x["original"]) for x in mine] == refused
    assert all(f"over the {LIMIT:,} a record may hold: refused, the unit is unchanged" in x["reason"] for x in mine)
    (cut,) = [x for x in letters if x["source_topic"] == topics.raw("dcsa-tnt-3.0")]
    assert cut["reason"].startswith("the canonical event dcsa:evt-equip-001") and cut["original_size"] == len(feed)
    assert feed.startswith(base64.b64decode(cut["original"]))
    for role in ("timeline", "alert", "eta"):
        for unit in (UNIT.id, OTHER.id):
            assert _per_unit(reader.of(role), unit) == _per_unit(want.get(topics.name(role), []), unit), (role, unit)
    # The biggest timeline the worker wrote came close to the limit (through the real producer, whose own limit
    # counts a record's overhead too).
    assert LIMIT - 500 < max(len(orjson.dumps(t)) + len(UNIT.id) for t in reader.of("timeline")) <= LIMIT
    assert stored == states


async def test_a_shipment_outgrowing_a_record_at_the_default_limit_is_refused_not_a_crash_loop(
    bootstrap, settings, topics, reader
):
    """At the default limit (1,000,000 bytes): a shipment keeps each unit's latest timeline as reported, so
    two reports of about 600 KB make a state no record can hold. Before, that state stopped the worker at the
    write, and the restarted worker stopped at the same report again."""
    whole = replay([dumps(r) for r in split_awb()], topics, DEFAULT_POLICY, PARTITIONS)
    feed = topics.name("shipment_feed")
    reports = [o for o in whole.outputs if o.topic == feed and o.key == AWB.encode()]
    first = reports[0]
    second = next(o for o in reports if orjson.loads(o.value)["timeline"]["unit"] != orjson.loads(first.value)[
        "timeline"]["unit"])  # another unit: the state then holds two padded timelines
    padded = []
    for o in (first, second):
        report = orjson.loads(o.value)
        report["timeline"]["remarks"] = "r" * 600_000  # the shipment's view does not read it; its state keeps it
        padded.append(orjson.dumps(report))

    async with running(settings, bootstrap) as topology, Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_raw(feed, padded[0], first.key)
        await pub.flush()
        await reader.wait_for(lambda r: len(r.of("shipment_timeline")) == 1)
        await pub.send_raw(feed, padded[1], second.key)
        await pub.flush()
        await reader.wait_for(lambda r: len(r.of("dead_letter")) == 1)
        await reader.settle()
        assert topology.batchers["ship"].failure is None and topology.app.crash_reason is None
        (letter,) = reader.of("dead_letter")
        assert letter["source_topic"] == feed and base64.b64decode(letter["original"]) == padded[1]
        assert f"{AWB}'s state would be 1,2" in letter["reason"] and "over the 1,000,000" in letter["reason"]
        stored = ShipmentState.decode(topology.app.tables["shipments"].get(AWB.encode()))
        assert list(stored.rides) == [orjson.loads(first.value)["timeline"]["unit"]["id"]]
        # The worker goes on: the second unit's report as the unit job really sends it is taken.
        await pub.send_raw(feed, second.value, second.key)
        await pub.flush()
        await reader.wait_for(lambda r: len(r.of("shipment_timeline")) == 2)
        assert topology.app.crash_reason is None
