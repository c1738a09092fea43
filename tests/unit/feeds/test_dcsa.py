"""DCSA Track & Trace 2.2 / 3.0. Samples: dcsaorg/Conformance-Gateway tnt/src/main/resources/standards/tnt/messages/
(tnt-220-response.json, tnt-300-response.json, tnt-300-request-equipment.json, tnt-300-request-transport.json)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas.conveyances import ConveyanceKind, ConveyanceMilestone
from schemas.events import Classifier, Milestone
from schemas.refs import Mode
from streams.feeds.dcsa import DcsaTnt22, DcsaTnt30
from tests.unit.feeds.conftest import RECEIVED, load


def test_dcsa_22_published_response() -> None:
    result = DcsaTnt22().parse(load("dcsa-tnt-220-response.json"), RECEIVED)
    assert [e.event_id for e in result.events] == [
        "dcsa:3cecb101-7a1a-43a4-9d62-e88a131651e2", "dcsa:3cecb101-7a1a-43a4-9d62-e88a131651e4",
        "dcsa:3cecb101-7a1a-43a4-9d62-e88a131651e5", "dcsa:3cecb101-7a1a-43a4-9d62-e88a131651e7",
    ]  # fmt: skip
    arrival, load_est = result.events[0], result.events[1]
    # TRANSPORT ARRI names its container through references[EQ]
    assert arrival.unit.id == "APZU4812090"
    assert (arrival.milestone, arrival.classifier, arrival.mode) == (Milestone.ARRIVED, Classifier.ACTUAL, Mode.SEA)
    assert arrival.location == "FRPAR"
    assert arrival.event_time == datetime(2021, 1, 9, 13, 12, 56, tzinfo=UTC)
    assert arrival.received_time == RECEIVED
    assert arrival.transport.vessel_imo == "9321483"
    assert arrival.transport.vessel_name == "King of the Seas"
    assert arrival.transport.carrier == "MAEU"
    assert arrival.transport.voyage == "2103N"  # import voyage for an arrival
    assert arrival.shipment.booking == "ABC123123123"
    assert arrival.shipment.bill_of_lading == "reserved-HHL123"
    assert arrival.source == "dcsa" and arrival.retracted is False
    assert (load_est.milestone, load_est.classifier) == (Milestone.LOADED, Classifier.ESTIMATED)
    assert load_est.event_time == datetime(2019, 11, 11, 23, 11, tzinfo=UTC)  # +08:30 offset
    assert load_est.transport.voyage == "2103S"  # export voyage for a load
    # SHIPMENT events are document statuses: rejected with the reason, positions kept
    assert [(r.index, r.reason) for r in result.rejections] == [
        (i, f"SHIPMENT event 3cecb101-7a1a-43a4-9d62-e88a131651e{n} reports a document status (booking, shipping "
            "instruction, B/L), not a movement of a unit: not tracked")
        for i, n in ((1, 3), (4, 6), (6, 8))
    ]  # fmt: skip


def test_dcsa_30_published_response_rejects_placeholders_and_sensor_events() -> None:
    result = DcsaTnt30().parse(load("dcsa-tnt-300-response.json"), RECEIVED)
    assert result.events == []
    # The vessel departure from Southampton survives its placeholder container and its IMO's bad check digit.
    (departed,) = result.conveyances
    assert (departed.conveyance.id, departed.call.location) == ("VESSEL:CS-WXYZ:V002E", "GBSOU")
    assert [r.reason for r in result.rejections if r.warning] == [
        "TRANSPORT event evt-resp-trans-001: equipment reference dropped, the event kept: "
        "'EQUIPMENT_REFERENCE_PLACEHOLDER' is not an ISO 6346 container number "
        "(3-letter owner code, U/J/Z/R, 6-digit serial, check digit)",
        "TRANSPORT event evt-resp-trans-001: vessel IMO number 7654321 fails its check digit; the vessel is "
        "identified by its call sign or name instead",
    ]
    assert [r.reason for r in result.errors] == [
        "SHIPMENT event evt-resp-ship-001 reports a document status (booking, shipping instruction, B/L), "
        "not a movement of a unit: not tracked",
        "event evt-resp-equip-001: 'EQUIPMENT_REFERENCE_PLACEHOLDER' is not an ISO 6346 container number "
        "(3-letter owner code, U/J/Z/R, 6-digit serial, check digit)",
        "IOT event evt-resp-iot-001 is a sensor reading, not a milestone: not tracked",
        "REEFER event evt-resp-reefer-001 is a reefer measurement, not a milestone: not tracked",
    ]


def test_dcsa_30_response_with_placeholders_filled_as_the_conformance_gateway_does() -> None:
    data = load("dcsa-tnt-300-response.json").replace(b"EQUIPMENT_REFERENCE_PLACEHOLDER", b"MSKU0308961")
    events = DcsaTnt30().parse(data, RECEIVED).events
    departed, gated_in = events
    assert departed.event_id == "dcsa:evt-resp-trans-001"
    assert (departed.milestone, departed.location, departed.unit.id) == (Milestone.DEPARTED, "GBSOU", "MSKU0308961")
    assert departed.event_time == datetime(2025, 1, 25, 0, 45, tzinfo=UTC)
    assert departed.transport.vessel_imo == "7654321"
    assert departed.transport.vessel_name == "Example Vessel Beta"
    assert departed.transport.voyage == "V002E"
    assert (gated_in.milestone, gated_in.location, gated_in.mode) == (Milestone.GATE_IN, "FRPAR", Mode.SEA)


def test_dcsa_30_equipment_request_word_vocabulary() -> None:
    (event,) = DcsaTnt30().parse(load("dcsa-tnt-300-request-equipment.json"), RECEIVED).events
    assert event.event_id == "dcsa:evt-equip-001-2026-01-20T14:15:00Z"
    assert (event.unit.id, event.milestone, event.classifier) == ("APZU4812090", Milestone.LOADED, Classifier.ACTUAL)
    assert (event.location, event.event_time) == ("NLRTM", datetime(2026, 1, 20, 14, 15, tzinfo=UTC))
    assert event.shipment.booking == "CARRIER_BOOKING_REFERENCE_PLACEHOLDER"


def test_dcsa_30_transport_event_without_equipment_is_a_vessel_arrival() -> None:
    result = DcsaTnt30().parse(load("dcsa-tnt-300-request-transport.json"), RECEIVED)
    assert (result.events, result.rejections) == ([], [])
    (arrival,) = result.conveyances
    assert arrival.event_id == "dcsa:evt-trans-001-2026-01-20T12:30:00Z"
    assert arrival.key == arrival.conveyance.id == "VESSEL:IMO1234567:V001N"  # import voyage for an arrival
    assert (arrival.conveyance.vessel_name, arrival.conveyance.call_sign) == ("EXAMPLE VESSEL ALPHA", "ABCD")
    assert (arrival.conveyance.service, arrival.conveyance.kind) == ("SVC001", ConveyanceKind.VESSEL)
    assert (arrival.call.location, arrival.call.sequence) == ("DEHAM", 3)
    assert (arrival.milestone, arrival.classifier) == (ConveyanceMilestone.ARRIVED, Classifier.ACTUAL)
    assert (arrival.event_time, arrival.received_time) == (datetime(2026, 1, 20, 12, 30, tzinfo=UTC), RECEIVED)
    assert arrival.mode is Mode.SEA and arrival.retracted is False


def test_dcsa_22_transport_only_event_with_delay_reason() -> None:
    result = DcsaTnt22().parse(load("dcsa-tnt-220-transport-event.json"), RECEIVED)
    assert (result.events, result.rejections) == ([], [])
    (arrival,) = result.conveyances
    assert arrival.conveyance.id == "VESSEL:IMO9321483:2103S"  # the only voyage given (carrierVoyageNumber)
    assert (arrival.call.location, arrival.call.facility) == ("USNYC", "ADT")
    assert (arrival.delay_reason, arrival.remark) == ("WEA", "Bad weather")
    assert arrival.event_time == datetime(2019, 11, 11, 23, 11, tzinfo=UTC)


def test_dcsa_22_transport_event_with_container_gives_both_and_departure_uses_export_voyage() -> None:
    events = orjson.loads(load("dcsa-tnt-220-response.json"))
    departure = {**events[0], "eventID": "d-1", "transportEventTypeCode": "DEPA", "eventClassifierCode": "EST"}
    result = DcsaTnt22().parse(orjson.dumps([events[0], departure]), RECEIVED)
    assert [(e.unit.id, e.milestone) for e in result.events] == [
        ("APZU4812090", Milestone.ARRIVED), ("APZU4812090", Milestone.DEPARTED)]  # fmt: skip
    assert [(c.conveyance.id, c.milestone, c.classifier) for c in result.conveyances] == [
        ("VESSEL:IMO9321483:2103N", ConveyanceMilestone.ARRIVED, Classifier.ACTUAL),
        ("VESSEL:IMO9321483:2103S", ConveyanceMilestone.DEPARTED, Classifier.ESTIMATED),
    ]
    assert result.conveyances[0].delay_reason == "WEA" and result.conveyances[0].call.sequence == 2


def test_dcsa_omitted_call_concerns_both_voyages_and_planned_classifier() -> None:
    event = orjson.loads(load("dcsa-tnt-220-response.json"))[0]
    event.update(transportEventTypeCode="OMIT", eventClassifierCode="PLN", references=[])
    result = DcsaTnt22().parse(orjson.dumps(event), RECEIVED)
    assert (result.events, result.rejections) == ([], [])
    assert [(c.event_id, c.conveyance.voyage, c.milestone, c.classifier) for c in result.conveyances] == [
        ("dcsa:3cecb101-7a1a-43a4-9d62-e88a131651e2:2103N", "2103N", ConveyanceMilestone.OMITTED, Classifier.PLANNED),
        ("dcsa:3cecb101-7a1a-43a4-9d62-e88a131651e2:2103S", "2103S", ConveyanceMilestone.OMITTED, Classifier.PLANNED),
    ]
    event.update(transportEventTypeCode="CANCELLED")
    (cancelled, _) = DcsaTnt22().parse(orjson.dumps(event), RECEIVED).conveyances
    assert cancelled.milestone is ConveyanceMilestone.CANCELLED


def test_dcsa_transport_event_naming_no_conveyance_is_rejected() -> None:
    event = orjson.loads(load("dcsa-tnt-300-request-transport.json"))["events"][0]
    call = event["transportDetails"]["transportCall"]
    del call["vessel"]
    result = DcsaTnt30().parse(orjson.dumps(event), RECEIVED)
    assert result.conveyances == [] and result.events == []
    assert [r.reason for r in result.errors] == [
        "TRANSPORT event evt-trans-001-2026-01-20T12:30:00Z names no conveyance corridor can key: a vessel needs "
        "an IMO number, a call sign or a name"]  # fmt: skip
    call["vessel"] = {"vesselName": "Example Vessel Alpha"}
    del call["importVoyageNumber"], call["exportVoyageNumber"]
    (reason,) = [r.reason for r in DcsaTnt30().parse(orjson.dumps(event), RECEIVED).errors]
    assert reason.endswith("vessel NAME-EXAMPLE VESSEL ALPHA names no voyage (carrier voyage number, or service and "
                           "universal voyage reference): its voyages cannot be told apart")  # fmt: skip


def test_dcsa_transport_event_keeps_good_containers_and_warns_about_bad_ones() -> None:
    event = orjson.loads(load("dcsa-tnt-220-response.json"))[0]
    event["references"] = [{"referenceType": "EQ", "referenceValue": "APZU4812090"},
                           {"referenceType": "EQ", "referenceValue": "MSCU1234567"}]  # fmt: skip
    result = DcsaTnt22().parse(orjson.dumps([event]), RECEIVED)
    assert [e.unit.id for e in result.events] == ["APZU4812090"]
    assert [c.conveyance.id for c in result.conveyances] == ["VESSEL:IMO9321483:2103N"]
    (warning,) = result.rejections
    assert warning.warning and warning.index == 0 and result.errors == []
    assert warning.reason == ("TRANSPORT event 3cecb101-7a1a-43a4-9d62-e88a131651e2: equipment reference dropped, the "
                              "event kept: container MSCU1234567 has a wrong check digit (expected 6)")  # fmt: skip


def _v3(**over: object) -> dict:
    event = {
        "eventID": "e-1", "eventDateTime": "2024-05-01T10:00:00+02:00", "isRetracted": False,
        "eventClassification": {"eventType": "TRANSPORT", "eventClassifier": "EST", "transportEventType": "ARRI"},
        "eventLocation": {"UNLocationCode": "DEDUI"},
        "equipmentDetails": {"equipmentReference": "TGHU1643396"},
        "transportDetails": {"transportCall": {"modeOfTransport": "RAIL", "railTransport": {
            "trainNumber": "X8017", "operatorCode": "YXO", "departureDate": "2024-04-20"}}},
    }  # fmt: skip
    event.update(over)
    return event


def test_dcsa_30_rail_retraction_and_single_object() -> None:
    result = DcsaTnt30().parse(orjson.dumps(_v3(isRetracted=True)), RECEIVED, source="carrier-x")
    (event,), (train,) = result.events, result.conveyances
    assert (train.conveyance.id, train.retracted) == ("TRAIN:YXO:X8017:2024-04-20", True)
    assert train.event_id == "carrier-x:e-1"
    assert event.retracted is True
    assert (event.mode, event.transport.train, event.classifier) == (Mode.RAIL, "X8017", Classifier.ESTIMATED)
    assert event.event_id == "carrier-x:e-1" and event.source == "carrier-x"
    assert event.event_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_dcsa_good_events_kept_next_to_bad_ones() -> None:
    bad_digit = _v3(eventID="e-2", equipmentDetails={"equipmentReference": "MSCU1234567"})
    bad_place = _v3(eventID="e-3", eventLocation={"UNLocationCode": "XXABC"})
    bad_time = _v3(eventID="e-4", eventDateTime="2024-13-45T10:00:00Z")
    local_unknown = _v3(eventID="e-5", eventDateTime="2024-05-01T10:00:00", eventLocation={"UNLocationCode": "USXXX"})
    body = orjson.dumps({"events": [_v3(), bad_digit, bad_place, bad_time, local_unknown]})
    result = DcsaTnt30().parse(body, RECEIVED)
    assert [e.event_id for e in result.events] == ["dcsa:e-1"]
    assert [c.event_id for c in result.conveyances] == ["dcsa:e-1", "dcsa:e-2"]  # e-2's train kept, its box not
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, "TRANSPORT event e-2: equipment reference dropped, the event kept: container MSCU1234567 has a wrong "
            "check digit (expected 6)"),
        (2, "event e-3: location XXABC is not a UN/LOCODE we know (XX is not a country code)"),
        (3, "event e-4 eventDateTime 2024-13-45T10:00:00Z: not an ISO 8601 date-time"),
        (4, "no time zone known for USXXX: local time 2024-05-01T10:00:00 cannot be placed in UTC"),
    ]
    assert result.rejections[1].fragment is not None and b"XXABC" in result.rejections[1].fragment


def test_dcsa_local_time_without_offset_uses_the_place_zone() -> None:
    (event,) = DcsaTnt30().parse(orjson.dumps(_v3(eventDateTime="2024-05-01T10:00:00")), RECEIVED).events
    assert event.event_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # Duisburg, CEST


def test_dcsa_same_message_twice_gives_same_events_and_transport_fan_out_ids() -> None:
    two = _v3(equipmentDetails=None, references=None)
    two["references"] = [{"referenceType": "EQ", "referenceValue": "TGHU1643396"},
                         {"referenceType": "EQ", "referenceValue": "CSQU3054383"}]  # fmt: skip
    data = orjson.dumps([two])
    first, second = DcsaTnt22().parse(data, RECEIVED), DcsaTnt30().parse(data, RECEIVED)
    assert first.events == [] and second.events == DcsaTnt30().parse(data, RECEIVED).events
    assert [e.event_id for e in second.events] == ["dcsa:e-1:TGHU1643396", "dcsa:e-1:CSQU3054383"]


def test_dcsa_not_json() -> None:
    result = DcsaTnt22().parse(b"\xff\xfe{", RECEIVED)
    assert result.events == [] and result.rejections[0].reason == "dcsa-tnt-2.2: not JSON (or not UTF-8)"


def test_dcsa_stuffing_and_stripping_carry_booking_and_transport_document() -> None:
    # Derived from the published samples: the 2.2 LOAD equipment event as STUF, the 3.0 LOADED one as STRIPPED.
    events = orjson.loads(load("dcsa-tnt-220-response.json"))
    equipment = next(e for e in events if e["eventType"] == "EQUIPMENT")
    equipment.update(equipmentEventTypeCode="STUF", documentReferences=[
        {"documentReferenceType": "BKG", "documentReferenceValue": "ABC123123123"},
        {"documentReferenceType": "TRD", "documentReferenceValue": "HHL71800000"},
    ])  # fmt: skip
    (stuffed,) = DcsaTnt22().parse(orjson.dumps(equipment), RECEIVED).events
    assert (stuffed.unit.id, stuffed.milestone) == ("APZU4812090", Milestone.STUFFED)
    assert (stuffed.shipment.booking, stuffed.shipment.bill_of_lading) == ("ABC123123123", "HHL71800000")
    data = load("dcsa-tnt-300-request-equipment.json").replace(b'"LOADED"', b'"STRIPPED"')
    (stripped,) = DcsaTnt30().parse(data, RECEIVED).events
    assert stripped.milestone == Milestone.STRIPPED
    assert (stripped.shipment.booking, stripped.shipment.bill_of_lading) == (
        "CARRIER_BOOKING_REFERENCE_PLACEHOLDER", "TRANSPORT_DOCUMENT_REFERENCE_PLACEHOLDER"
    )
