"""Cargo-XML XFSU (streams/feeds/iata/xfsu.py): the published sample, a constructed one, edge cases.

Sources: tests/unit/feeds/iata/samples/README.md."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.feeds.iata.fsu import CargoImpFsu
from streams.feeds.iata.xfsu import CargoXmlXfsu
from tests.unit.feeds.iata import brief, sample

XFSU = CargoXmlXfsu()
RECEIVED = datetime(2023, 10, 16, 20, 30, tzinfo=UTC)
CONSTRUCTED = sample("corridor_xfsu_constructed.xml")


def reasons(result) -> list[str]:
    return [r.reason for r in result.rejections]


def test_good_practice_xfsu_dep() -> None:
    # digital-cargo/good-practice-shipment-tracking assets/xFSU-12-DEP.xml: DEP at NCE, 2023-10-16T16:15:00.000Z (A)
    result = XFSU.parse(sample("good_practice_xFSU-12-DEP.xml"), RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "ACTUAL", "FRNCE", "2023-10-16T16:15:00+00:00", None, None),
    ]
    assert result.rejections == []
    assert result.events[0].source == "iata-xfsu"
    assert result.events[0].shipment.air_waybill == "020-12345675"


def test_constructed_xfsu_with_flight_and_local_times() -> None:
    # corridor_xfsu_constructed.xml (built by us): RCS, DEP with Departure/ArrivalEvent, NFD
    result = XFSU.parse(CONSTRUCTED, RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-10-16T07:30:00+00:00", None, None),
        ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-10-16T11:17:00+00:00", "LH400", "LH"),
        ("020-12345675", "ARRIVED", "ESTIMATED", "USNYC", "2023-10-16T20:05:00+00:00", "LH400", "LH"),
    ]
    assert reasons(result) == [
        "XFSU AWB 020-12345675 NFD: status NFD (consignee notified of arrival) has no canonical milestone; "
        "not tracked"
    ]
    assert result.rejections[0].index == 2
    assert b"NFD" in (result.rejections[0].fragment or b"")


def test_same_fact_as_fsu_gets_the_same_id() -> None:
    fsu = CargoImpFsu().parse(
        b"FSU/14\n020-12345675FRAJFK/T1K100\nDEP/LH400/16OCT/FRAJFK/T1K100/A1317/E1605\n", RECEIVED, source="lh"
    )
    xfsu = XFSU.parse(CONSTRUCTED, RECEIVED, source="lh")
    assert [e.event_id for e in fsu.events] == [e.event_id for e in xfsu.events[1:]]


def test_wrong_check_digit() -> None:
    result = XFSU.parse(CONSTRUCTED.replace(b"020-12345675", b"020-12345670"), RECEIVED)
    assert result.events == []
    assert reasons(result) == ["XFSU MasterConsignment: AWB 020-12345670: check digit should be 5"]


def test_unknown_airport_keeps_the_other_statuses() -> None:
    data = CONSTRUCTED.replace(b"<ram:ID>FRA</ram:ID><ram:TypeCode>Airport", b"<ram:ID>XXX</ram:ID><ram:TypeCode>X")
    result = XFSU.parse(data, RECEIVED)
    assert [e.milestone.value for e in result.events] == ["DEPARTED", "ARRIVED"]
    assert reasons(result)[0] == "XFSU AWB 020-12345675 RCS: unknown airport XXX"


def test_un_locode_location_with_local_time() -> None:
    data = CONSTRUCTED.replace(b"<ram:ID>FRA</ram:ID><ram:TypeCode>Airport", b"<ram:ID>DEFRA</ram:ID><ram:TypeCode>X")
    result = XFSU.parse(data, RECEIVED)
    assert brief(result.events[0]) == (
        "020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-10-16T07:30:00+00:00", None, None
    )


def test_bad_date_time_is_rejected() -> None:
    data = CONSTRUCTED.replace(b"2023-10-16T09:30:00", b"16OCT0930")
    result = XFSU.parse(data, RECEIVED)
    assert reasons(result)[0] == "XFSU AWB 020-12345675 RCS: '16OCT0930' is not an ISO 8601 date-time"


def test_not_xml_entities_and_other_roots() -> None:
    assert reasons(XFSU.parse(b"<StatusMessage><unclosed>", RECEIVED))[0].startswith("XFSU: not well-formed XML: ")
    bomb = b'<!DOCTYPE s [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><StatusMessage>&b;</StatusMessage>'
    assert reasons(XFSU.parse(bomb, RECEIVED)) == ["XFSU: refused XML construct (EntitiesForbidden)"]
    assert reasons(XFSU.parse(b"<Waybill/>", RECEIVED)) == ["XFSU: no StatusMessage element (root is Waybill)"]
    unknown_encoding = b'<?xml version="1.0" encoding="U-TF-8"?><StatusMessage/>'  # found by the mutation test
    assert reasons(XFSU.parse(unknown_encoding, RECEIVED))[0].startswith("XFSU: not well-formed XML: ")
    assert reasons(XFSU.parse(b"<StatusMessage/>", RECEIVED)) == ["XFSU: StatusMessage without MasterConsignment"]


def test_sniff() -> None:
    assert XFSU.sniff(sample("good_practice_xFSU-12-DEP.xml"))
    assert XFSU.sniff(CONSTRUCTED)
    assert not XFSU.sniff(sample("awbix_fsu_sample.txt"))
    assert not XFSU.sniff(b"<Waybill/>")


def test_part_shipment_pieces_land_in_shipment_refs() -> None:
    # Derived from the good practice xFSU-12-DEP (MasterConsignment T 10 pieces): the status concerns 4 of them.
    data = sample("good_practice_xFSU-12-DEP.xml")
    whole = XFSU.parse(data, RECEIVED)
    assert [e.shipment.pieces for e in whole.events] == [None]
    head, tail = data.split(b"<ns3:ReportedStatus>", 1)
    part = tail.replace(b"<ns3:PieceQuantity>10<", b"<ns3:PieceQuantity>4<", 1)
    for split, pieces in ((b"P", 4), (b"T", 4)):  # P, or fewer pieces than the shipment's 10
        changed = part.replace(b"<ns3:TransportSplitDescription>T<", b"<ns3:TransportSplitDescription>" + split + b"<")
        (event,) = XFSU.parse(head + b"<ns3:ReportedStatus>" + changed, RECEIVED).events
        assert (event.shipment.air_waybill, event.shipment.pieces) == ("020-12345675", pieces)
        assert event.event_id == whole.events[0].event_id


def test_constructed_xfsu_gives_the_flights_departure_and_estimated_arrival() -> None:
    result = XFSU.parse(sample("corridor_xfsu_constructed.xml"), datetime(2023, 10, 17, tzinfo=UTC))
    departed, arriving = result.conveyances
    assert departed.conveyance.id == arriving.conveyance.id == "FLIGHT:LH400:2023-10-16"
    assert (departed.milestone.value, departed.classifier.value, departed.call.location) == ("DEPARTED", "ACTUAL",
                                                                                            "DEFRA")  # fmt: skip
    assert departed.event_time == datetime(2023, 10, 16, 11, 17, tzinfo=UTC)  # 13:17 Frankfurt (CEST)
    assert (arriving.milestone.value, arriving.classifier.value, arriving.call.location) == ("ARRIVED", "ESTIMATED",
                                                                                            "USNYC")  # fmt: skip
