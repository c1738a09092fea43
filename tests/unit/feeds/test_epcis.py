"""GS1 EPCIS 2.0. Published samples: gs1/EPCIS JSON/Example_9.6.1-ObjectEvent.jsonld and
JSON/Example_9.6.3-AggregationEvent.jsonld (trade items at GLN places); epcis-container-own.jsonld is ours."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas.events import Milestone
from schemas.refs import Mode
from streams.feeds.epcis import Epcis
from tests.unit.feeds.conftest import RECEIVED, load


def test_gs1_object_event_example_names_gln_places_we_cannot_place() -> None:
    result = Epcis().parse(load("epcis-objectevent-9.6.1.jsonld"), RECEIVED)
    assert result.events == []
    assert [r.reason for r in result.rejections] == [
        "event _:event1: readPoint urn:epc:id:sgln:0614141.07346.1234 is a GLN with no UN/LOCODE: add it to the "
        "adapter's sgln_locodes",
        "event _:event2: bizLocation urn:epc:id:sgln:0012345.11111.0 is a GLN with no UN/LOCODE: add it to the "
        "adapter's sgln_locodes",
    ]


def test_gs1_examples_with_gln_mapping_still_name_no_container() -> None:
    mapping = {"urn:epc:id:sgln:0614141.07346.1234": "USCHI", "urn:epc:id:sgln:0012345.11111.0": "USCHI",
               "urn:epc:id:sgln:0614141.00888.0": "DEHAM"}  # fmt: skip
    adapter = Epcis(sgln_locodes=mapping)
    objects = adapter.parse(load("epcis-objectevent-9.6.1.jsonld"), RECEIVED)
    aggregation = adapter.parse(load("epcis-aggregationevent-9.6.3.jsonld"), RECEIVED)
    assert [r.reason for r in objects.rejections] == [
        "event _:event1: no container (urn:epc:id:bic:) among the EPCs (sgtin): corridor tracks containers",
        "event _:event2: no container (urn:epc:id:bic:) among the EPCs (sgtin): corridor tracks containers",
    ]
    assert [r.reason for r in aggregation.rejections] == [
        "event _:event1: no container (urn:epc:id:bic:) among the EPCs (sgtin, sscc): corridor tracks containers"
    ]


def test_gs1_aggregation_example_with_a_container_as_parent() -> None:
    data = load("epcis-aggregationevent-9.6.3.jsonld").replace(
        b"urn:epc:id:sscc:0614141.1234567890", b"urn:epc:id:bic:CSQU3054383"
    )
    (event,) = Epcis(sgln_locodes={"urn:epc:id:sgln:0614141.00888.0": "DEHAM"}).parse(data, RECEIVED).events
    assert (event.unit.id, event.milestone, event.location) == ("CSQU3054383", Milestone.GATE_IN, "DEHAM")
    assert event.event_time == datetime(2013, 6, 8, 14, 58, 56, 591000, tzinfo=UTC)
    assert event.event_id.startswith("epcis:CSQU3054383:GATE_IN:DEHAM:")  # blank-node ids are not used


def test_own_container_document() -> None:
    result = Epcis().parse(load("epcis-container-own.jsonld"), RECEIVED)
    loading, = result.events
    assert loading.event_id == (
        "epcis:ni:///sha-256;4f2c0a3e5b1d9c7e8a6b4d2f0e1c3a5b7d9f1e3c5a7b9d1f3e5c7a9b1d3f5e7c?ver=CBV2.0"
    )
    assert (loading.unit.id, loading.milestone, loading.location) == ("CSQU3054383", Milestone.LOADED, "DEDUI")
    assert loading.event_time == datetime(2024, 5, 16, 7, 12, tzinfo=UTC)
    assert loading.mode == Mode.ROAD
    assert loading.shipment.bill_of_lading == "CQDUI8017"
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, "event (no id): readPoint urn:epc:id:sgln:4012345.00001.0 is a GLN with no UN/LOCODE: add it to the "
            "adapter's sgln_locodes"),
        (2, "event (no id): container MSCU1234567 has a wrong check digit (expected 6)"),
    ]  # fmt: skip


def test_time_without_offset_takes_event_time_zone_offset_and_gln_mapping() -> None:
    adapter = Epcis(sgln_locodes={"urn:epc:id:sgln:4012345.00001.0": "DEDUI"})
    departed = adapter.parse(load("epcis-container-own.jsonld"), RECEIVED).events[1]
    assert (departed.unit.id, departed.milestone) == ("TGHU1643396", Milestone.DEPARTED)
    assert departed.event_time == datetime(2024, 5, 17, 4, 30, tzinfo=UTC)  # 06:30 at +02:00


def test_single_event_vessel_and_error_declaration() -> None:
    event = {"type": "ObjectEvent", "eventID": "urn:uuid:1", "eventTime": "2024-05-01T10:00:00Z",
             "eventTimeZoneOffset": "+00:00", "action": "OBSERVE", "bizStep": "unloading",
             "epcList": ["urn:epc:id:bic:TGHU1643396", "urn:epc:id:imovn:9321483"],
             "bizLocation": {"id": "https://service.unece.org/trade/locode/NLRTM"},
             "errorDeclaration": {"declarationTime": "2024-05-02T00:00:00Z"}}  # fmt: skip
    (out,) = Epcis().parse(orjson.dumps(event), RECEIVED).events
    assert (out.mode, out.transport.vessel_imo, out.milestone) == (Mode.SEA, "9321483", Milestone.DISCHARGED)
    assert out.retracted is True and out.event_id == "epcis:urn:uuid:1" and out.location == "NLRTM"


def test_unknown_bizstep_and_other_event_types() -> None:
    base = {"type": "ObjectEvent", "eventTime": "2024-05-01T10:00:00Z", "epcList": ["urn:epc:id:bic:TGHU1643396"],
            "bizLocation": {"id": "urn:unece:locode:DEDUI"}}  # fmt: skip
    body = orjson.dumps([{**base, "bizStep": "commissioning"}, {**base, "type": "TransformationEvent"}])
    result = Epcis().parse(body, RECEIVED)
    assert result.rejections[0].reason.startswith("event (no id): bizStep commissioning has no canonical milestone")
    assert result.rejections[1].reason == (
        "event (no id): TransformationEvent is not an ObjectEvent or AggregationEvent: not tracked"
    )


def test_aggregation_packing_gives_shipment_and_pieces() -> None:
    # Derived from GS1 Example 9.6.3: a container as parent, packing (ADD, no bizStep -> STUFFED) two SGTIN items
    # plus 10 more by class (no uom) and 200.5 KGM (a weight: not pieces), under a bill of lading.
    raw = orjson.loads(load("epcis-aggregationevent-9.6.3.jsonld"))
    event = raw["epcisBody"]["eventList"][0]
    bol = {"type": "urn:epcglobal:cbv:btt:bol", "bizTransaction": "urn:epcglobal:cbv:bt:4012345000009:HLCUHAM1"}
    event.update(parentID="urn:epc:id:bic:CSQU3054383", action="ADD", bizLocation={"id": "urn:unece:locode:DEHAM"},
                 bizTransactionList=[bol])  # fmt: skip
    del event["bizStep"]
    (stuffed,) = Epcis().parse(orjson.dumps(raw), RECEIVED).events
    assert (stuffed.unit.id, stuffed.milestone) == ("CSQU3054383", Milestone.STUFFED)
    assert (stuffed.shipment.bill_of_lading, stuffed.shipment.pieces) == ("HLCUHAM1", 12)
    event.update(action="DELETE", childEPCs=[], childQuantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.1",
                                                                    "quantity": 200.5, "uom": "KGM"}])
    (stripped,) = Epcis().parse(orjson.dumps(raw), RECEIVED).events
    assert stripped.milestone == Milestone.STRIPPED
    assert (stripped.shipment.bill_of_lading, stripped.shipment.pieces) == ("HLCUHAM1", None)  # no counted child


def test_object_events_carry_no_pieces() -> None:
    result = Epcis(sgln_locodes={"urn:epc:id:sgln:4012345.00001.0": "DEDUI"}).parse(
        load("epcis-container-own.jsonld"), RECEIVED
    )
    assert [(e.milestone, e.shipment.pieces) for e in result.events][:2] == [
        (Milestone.LOADED, 1),  # AggregationEvent: one SSCC package into the container
        (Milestone.DEPARTED, None),
    ]
