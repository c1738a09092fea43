"""ONE Record LogisticsEvents (streams/feeds/iata/one_record.py): published examples, combined as the good practice
serves them, and edge cases. Sources: tests/unit/feeds/iata/samples/README.md."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.feeds.iata.one_record import OneRecordLogisticsEvent
from tests.unit.feeds.iata import brief, sample

ONE = OneRecordLogisticsEvent()
RECEIVED = datetime(2023, 4, 2, tzinfo=UTC)
DEP_ID = "https://1r.example.com/logistics-object/abcd/logistics-events/xyz"
LATER = datetime(2024, 4, 9, tzinfo=UTC)


AWB = "020-12345675"


def load(name: str) -> dict:
    return orjson.loads(sample(name))


def reasons(result) -> list[str]:
    return [r.reason for r in result.rejections]


def graph(*names: str) -> bytes:
    """The published objects in one @graph, as a server returns a waybill with its events embedded."""
    return orjson.dumps({"@graph": [load(n) for n in names]})


def test_published_dep_alone_has_no_waybill() -> None:
    # digital-cargo/good-practice-shipment-tracking assets/logistics-event-DEP.json, as published
    result = ONE.parse(sample("good_practice_logistics-event-DEP.json"), RECEIVED)
    assert result.events == []
    assert reasons(result) == [
        f"ONE Record DEP {DEP_ID}: no air waybill: link the event to its Waybill (eventFor) or send the Waybill "
        "with it"
    ]


def test_published_dep_with_a_waybill_specific_uri() -> None:
    # the same event with eventFor added, naming the waybill-specific URI the good practice recommends
    event = load("good_practice_logistics-event-DEP.json")
    event["eventFor"] = {"@id": "https://1r.example.com/logistics-objects/awb-020-12345675"}
    result = ONE.parse(orjson.dumps(event), RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-04-01T10:38:01+00:00", None, None),
    ]
    assert result.events[0].source == "iata-one-record"


def test_published_objects_in_one_graph() -> None:
    data = graph(
        "good_practice_waybill.json",
        "good_practice_shipment.json",
        "good_practice_location-FRA.json",
        "good_practice_location-JFK.json",
        "good_practice_transport-movement-LH400.json",
        "good_practice_logistics-event-BKD.json",
        "good_practice_logistics-event-FOH.json",
        "good_practice_logistics-event-DEP.json",
        "good_practice_logistics-event-ARR.json",
    )
    result = ONE.parse(data, RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-04-01T06:42:01+00:00", None, None),
        ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-04-01T10:38:01+00:00", None, None),
        ("020-12345675", "ARRIVED", "ACTUAL", "USNYC", "2023-04-01T14:38:01+00:00", None, None),
    ]
    assert reasons(result) == [
        f"ONE Record BKD {DEP_ID}: a booking event carries no planned movement (its date is when the booking was "
        "made)"
    ]
    assert result.rejections[0].index == 0


def test_partial_event_is_the_same_departure() -> None:
    # assets/logistics-event-DEP-partial.json: partial, but naming no Piece: how many pieces is unknown
    full = ONE.parse(graph("good_practice_waybill.json", "good_practice_location-FRA.json",
                           "good_practice_logistics-event-DEP.json"), RECEIVED)
    partial = ONE.parse(graph("good_practice_waybill.json", "good_practice_location-FRA.json",
                              "good_practice_logistics-event-DEP-partial.json"), RECEIVED)
    assert [brief(e) for e in partial.events] == [brief(e) for e in full.events]
    assert [e.event_id for e in partial.events] == [e.event_id for e in full.events]
    assert [e.shipment.pieces for e in partial.events] == [None]


def test_link_to_a_location_the_document_lacks() -> None:
    event = load("good_practice_logistics-event-ARR.json")
    event["eventFor"] = {"@id": "https://1r.example.com/logistics-objects/awb-020-12345675"}
    result = ONE.parse(orjson.dumps(event), RECEIVED)
    assert reasons(result) == [
        f"ONE Record ARR {DEP_ID}: recordedAtLocation https://1r.example.com/logistics-objects/JFK is a link this "
        "document does not include; send the Location with it"
    ]


def test_iata_examples_without_location() -> None:
    # IATA-Cargo/ONE-Record API examples: no eventLocation, a Shipment link without waybill
    single = ONE.parse(sample("iata_2025-07_LogisticsEvent.json"), RECEIVED)
    assert reasons(single) == ["ONE Record DEP #0: no eventLocation"]
    collection = ONE.parse(sample("iata_2026-07_LogisticsEvents_filtered_list.json"), RECEIVED)
    assert reasons(collection) == [
        "ONE Record DEP https://1r.example.com/logistics-objects/1a8ded38-1804-467c-a369-81a411416b3c/"
        "logistics-events/afb4b8cf-288a-459c-97fd-ccd538ec527f: no eventLocation"
    ]
    listed = ONE.parse(sample("iata_working_draft_LogisticsEvents_list.json"), RECEIVED)
    assert [r.reason.rsplit(": ", 1)[-1] for r in listed.rejections] == ["no eventLocation", "no eventLocation"]
    assert [r.index for r in listed.rejections] == [0, 1]


CARRIER_STYLE = {
    "@context": {"cargo": "https://onerecord.iata.org/ns/cargo#"},
    "@type": "cargo:LogisticsEvent",
    "@id": "https://1r.example.com/logistics-objects/x/logistics-events/1",
    "cargo:eventCode": {"@type": "cargo:CodeListElement", "cargo:Code": "DEP", "cargo:codeDescription": "FSU"},
    "cargo:eventDate": "2024-04-08T20:50:00",
    "cargo:eventTimeType": "SCHEDULED",
    "cargo:eventLocation": {"@type": "cargo:Location", "cargo:locationCodes": [{"cargo:code": "HGH"}]},
    "cargo:eventFor": {
        "@type": "cargo:LogisticsObject",
        "cargo:waybill": {
            "@type": "cargo:Waybill", "cargo:waybillNumber": "921-10667893", "cargo:waybillPrefix": "921"
        },
    },
    "cargo:transportMovementReference": {"@type": "cargo:TransportMovement", "cargo:transportIdentifier": "O31698"},
}


def test_embedded_waybill_local_time_scheduled_and_flight() -> None:
    # built by us in the shape some carriers' servers send (cargo:Code, a plain SCHEDULED, a full waybill number)
    result = ONE.parse(orjson.dumps(CARRIER_STYLE), datetime(2024, 4, 1, tzinfo=UTC))
    assert [brief(e) for e in result.events] == [
        ("921-10667893", "DEPARTED", "PLANNED", "CNHGH", "2024-04-08T12:50:00+00:00", "O31698", "O3"),
    ]


def test_time_types_and_untyped_event() -> None:
    event = dict(CARRIER_STYLE)  # an ACTUAL must not be in the future: received after the event
    event["cargo:eventTimeType"] = {"@id": "https://onerecord.iata.org/ns/cargo#ESTIMATED"}
    assert ONE.parse(orjson.dumps(event), LATER).events[0].classifier.value == "ESTIMATED"
    del event["cargo:eventTimeType"]
    assert ONE.parse(orjson.dumps(event), LATER).events[0].classifier.value == "ACTUAL"
    event["cargo:eventTimeType"] = "MAYBE"
    assert reasons(ONE.parse(orjson.dumps(event), LATER)) == [
        "ONE Record DEP https://1r.example.com/logistics-objects/x/logistics-events/1: eventTimeType 'MAYBE' is not "
        "ACTUAL, ESTIMATED or PLANNED"
    ]
    untyped = {k: v for k, v in CARRIER_STYLE.items() if k != "@type"}
    assert len(ONE.parse(orjson.dumps([untyped]), LATER).events) == 1


def test_house_waybill_and_bad_check_digit() -> None:
    event = orjson.loads(orjson.dumps(CARRIER_STYLE))
    event["cargo:eventFor"]["cargo:waybill"]["cargo:waybillType"] = {"@id": "cargo:HOUSE"}
    assert reasons(ONE.parse(orjson.dumps(event), RECEIVED))[0].endswith(
        "waybill 921-10667893 is a house waybill, not an air waybill"
    )
    event["cargo:eventFor"]["cargo:waybill"] = {"cargo:waybillPrefix": "921", "cargo:waybillNumber": "10667890"}
    assert reasons(ONE.parse(orjson.dumps(event), RECEIVED))[0].endswith("AWB 921-10667890: check digit should be 3")


def test_unknown_airport_and_unmapped_code() -> None:
    event = orjson.loads(orjson.dumps(CARRIER_STYLE))
    event["cargo:eventLocation"]["cargo:locationCodes"] = [{"cargo:code": "XXX"}]
    assert reasons(ONE.parse(orjson.dumps(event), RECEIVED))[0].endswith("eventLocation: unknown airport XXX")
    event["cargo:eventCode"] = "NFD"
    assert reasons(ONE.parse(orjson.dumps(event), RECEIVED))[0].endswith(
        "status NFD (consignee notified of arrival) has no canonical milestone; not tracked"
    )


def test_not_json_and_no_events() -> None:
    assert reasons(ONE.parse(b"{nope", RECEIVED))[0].startswith("ONE Record: not JSON: ")
    assert reasons(ONE.parse(b"42", RECEIVED)) == ["ONE Record: expected a JSON-LD object or array"]
    assert reasons(ONE.parse(sample("good_practice_waybill.json"), RECEIVED)) == [
        "ONE Record: no LogisticsEvent in the document"
    ]


def test_sniff() -> None:
    assert ONE.sniff(sample("good_practice_logistics-event-DEP.json"))
    assert ONE.sniff(sample("iata_working_draft_LogisticsEvents_list.json"))
    assert not ONE.sniff(sample("awbix_fsu_sample.txt"))
    assert not ONE.sniff(b'{"eventType": "TRANSPORT"}')


def test_partial_event_for_pieces_counts_them() -> None:
    # The good practice's partial DEP, derived: eventFor names two Piece objects of the waybill's shipment.
    event = load("good_practice_logistics-event-DEP-partial.json")
    event["eventFor"] = [{"@id": "https://1r.example.com/logistics-objects/piece-1"},
                         {"@id": "https://1r.example.com/logistics-objects/piece-2"}]  # fmt: skip
    pieces = [{"@id": f"https://1r.example.com/logistics-objects/piece-{n}", "@type": "Piece"} for n in (1, 2)]
    document = {"@graph": [load("good_practice_waybill.json"), load("good_practice_location-FRA.json"), event, *pieces]}
    (found,) = ONE.parse(orjson.dumps(document), RECEIVED).events
    assert (found.milestone.value, found.shipment.air_waybill, found.shipment.pieces) == ("DEPARTED", AWB, 2)
    event["partialEventIndicator"] = {"@value": "false"}
    (whole,) = ONE.parse(orjson.dumps(document), RECEIVED).events
    assert whole.shipment.pieces is None and whole.event_id == found.event_id
