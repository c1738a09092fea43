"""Shipments on the real broker: the unit job forwards unit timelines to the shipment job, which follows the
cargo across units. A split air waybill (two ULDs on two flights, one truck on) and a consolidation at
Chongqing; the outputs must match what replay computes for the same records."""

from __future__ import annotations

import pytest

from schemas import dumps
from streams.core.history_order import canonical_order
from streams.core.policy import DEFAULT_POLICY
from streams.io.kafka import OutputReader, Publisher
from streams.processing.replay import replay
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.support.shipment_flows import AWB, consolidation, split_awb

pytestmark = pytest.mark.integration

SHIPMENT_TOPICS = ("shipment_timeline", "shipment_alert", "shipment_eta")


def _expected(records: list, reader: OutputReader) -> dict[str, list[dict]]:
    from schemas import loads

    out: dict[str, list[dict]] = {}
    for o in replay([dumps(r) for r in records], reader.topics, DEFAULT_POLICY, PARTITIONS).outputs:
        out.setdefault(o.topic, []).append(loads(o.value))
    return out


async def _publish_in_steps(pub: Publisher, reader: OutputReader, records: list) -> dict[str, list[dict]]:
    """One record at a time, each once the outputs of the ones before are out: plans, events and ticks travel
    on different topics, and only this makes their order the replay's."""
    want: dict[str, list[dict]] = {}
    for i in range(len(records)):
        want = _expected(records[: i + 1], reader)
        await pub.send(records[i])
        await pub.flush()
        await reader.wait_for(lambda rd, want=want: all(len(rd.records[t]) >= len(v) for t, v in want.items()))
    return want


def _alerts(alerts: list[dict]) -> list[tuple]:
    return sorted((a["kind"], a["severity"], a["leg_index"], (a["unit"] or {}).get("id")) for a in alerts)


async def test_split_air_waybill_is_one_shipment_with_two_parts(bootstrap, settings, topics, reader):
    records = canonical_order(split_awb())
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        want = await _publish_in_steps(pub, reader, records)
        await reader.wait_for(lambda r: any(t["status"] == "DELIVERED" for t in r.of("shipment_timeline")))
        await reader.settle()

    assert reader.of("dead_letter") == []
    timelines = reader.of("shipment_timeline")
    final = {k: v for k, v in timelines[-1].items() if k != "as_of"}
    assert final == {k: v for k, v in want[topics.name("shipment_timeline")][-1].items() if k != "as_of"}
    assert _alerts(reader.of("shipment_alert")) == _alerts(want[topics.name("shipment_alert")])
    assert reader.of("shipment_eta")[-1] == want[topics.name("shipment_eta")][-1]

    # What that says: one shipment, keyed by its air waybill, in two ULDs on two flights, then one truck.
    assert final["shipment"] == {"kind": "AIR_WAYBILL", "id": AWB} and final["status"] == "DELIVERED"
    assert [(p["unit"]["id"], p["pieces"], p["leg_index"]) for p in final["parts"]] == [
        ("AKE10001RU", 6, 0), ("AKE10002RU", 4, 0), ("LGG-MAD 7", 10, 1),
    ]
    air = final["legs"][0]
    assert (air["pieces_arrived"], air["actual_arrival"]) == (10, "2026-03-05T13:00:00Z")  # with the last part
    assert final["delivered_at"] == "2026-03-07T02:00:00Z" and final["minutes_late"] == 43 * 60
    kinds = _alerts(reader.of("shipment_alert"))
    assert ("OVERDUE", "MAJOR", 0, None) in kinds  # 4 pieces left behind at Hong Kong
    assert ("LATE", "CRITICAL", 0, "AKE10002RU") in kinds  # the late part, named
    assert any(k[0] == "DWELL" for k in kinds)  # the first part waited at Liège for the second
    last_eta = reader.of("shipment_eta")[-1]
    assert last_eta["reason"] == "delivered at ESMAD" and last_eta["cause_unit"]["id"] == "AKE10002RU"
    # Every message on the shipment topics is keyed by the shipment.
    assert all(k == AWB.encode() for k in reader.keys(topics.name("shipment_timeline")))


async def test_consolidation_at_chongqing_missed_train_and_customs_hold(bootstrap, settings, topics, reader):
    records = canonical_order(consolidation(train_hours=190, hold_hours=60))
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        want = await _publish_in_steps(pub, reader, records)
        await reader.wait_for(lambda r: sum(t["status"] == "DELIVERED" for t in r.of("shipment_timeline")) >= 1)
        await reader.settle()

    assert reader.of("dead_letter") == []
    mine = [t for t in reader.of("shipment_timeline") if t["shipment"]["id"] == "BK-ASX-1"]
    expected = [t for t in want[topics.name("shipment_timeline")] if t["shipment"]["id"] == "BK-ASX-1"]
    final = {k: v for k, v in mine[-1].items() if k != "as_of"}
    assert final == {k: v for k, v in expected[-1].items() if k != "as_of"}
    assert _alerts(reader.of("shipment_alert")) == _alerts(want[topics.name("shipment_alert")])

    # Stripped from the ASEAN container at Chongqing, consolidated into the CR Express container with local
    # cargo, stripped at Duisburg and trucked to Düsseldorf.
    assert [(p["unit"]["id"], p["loaded_location"], p["unloaded_location"]) for p in final["parts"]] == [
        ("FCIU1234560", "VNHAN", "CNCKG"), ("TGHU1234567", "CNCKG", "DEDUI"), ("DU-CX 101", "DEDUI", "DEDUS"),
    ]
    local = [t for t in reader.of("shipment_timeline") if t["shipment"]["id"] == "BK-CKG-2"][-1]
    assert [p["unit"]["id"] for p in local["parts"]] == ["TGHU1234567"]
    assert local["legs"][0]["pieces_arrived"] == 30 and local["location"] == "DEDUI"
    assert [h["location"] for h in final["hubs"]] == ["CNCKG", "DEDUI"]
    asx = [a for a in reader.of("shipment_alert") if a["shipment"]["id"] == "BK-ASX-1"]
    assert {(a["kind"], a["location"]) for a in asx} >= {("DWELL", "CNCKG"), ("CUSTOMS_HOLD", "DEDUI"),
                                                         ("LATE", "DEDUS")}  # fmt: skip
    late = max((a for a in asx if a["kind"] == "LATE"), key=lambda a: a["minutes"])
    assert (late["leg_index"], late["unit"]["id"]) == (1, "TGHU1234567")  # the missed train, named
    eta = [e for e in reader.of("shipment_eta") if e["shipment"]["id"] == "BK-ASX-1"][-1]
    assert eta["reason"] == "delivered at DEDUS" and eta["predicted_delivery"] == final["delivered_at"]
