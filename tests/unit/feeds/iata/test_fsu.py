"""Cargo-IMP FSU/FSA (streams/feeds/iata/fsu.py): published samples, then the edge cases.

Sources of the samples: tests/unit/feeds/iata/samples/README.md (repository, path and commit of each)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.feeds.iata.fsu import CargoImpFsu
from tests.unit.feeds.iata import brief, sample

FSU = CargoImpFsu()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def reasons(result) -> list[str]:
    return [r.reason for r in result.rejections]


# --- published samples ------------------------------------------------------------------------------------------


def test_awbix_enveloped_fiw_gives_the_actual_arrival_it_carries() -> None:
    # shofiq5/awbix awbix/edx/.claude/ARC/fsu sample.txt: Type B envelope, partial AWB, FIW with S0720/A1008,
    # OCI with continuation lines, ULD. FIW has no milestone; its actual arrival time (A1008 at DOH) does.
    result = FSU.parse(sample("awbix_fsu_sample.txt"), at("2024-06-22T12:00:00"))
    assert [brief(e) for e in result.events] == [
        ("157-53806270", "ARRIVED", "ACTUAL", "QADOH", "2024-06-20T07:08:00+00:00", "QR8403", "QR"),
    ]
    assert result.rejections == []
    event = result.events[0]
    assert event.shipment.air_waybill == "157-53806270"
    assert event.mode.value == "AIR" and event.source == "iata-fsu"
    assert event.received_time == at("2024-06-22T12:00:00")


def test_awbix_booking_gives_planned_departure_and_arrival() -> None:
    # shofiq5/awbix awbix/edx/.claude/ARC/sample fsu2.txt: BKD/QR8985/21JUN/ICNDOH/P3K524.00/S0310/S0650/MC4.761
    result = FSU.parse(sample("awbix_sample_fsu2.txt"), at("2024-06-20T08:00:00"))
    assert [brief(e) for e in result.events] == [
        ("157-66792751", "DEPARTED", "PLANNED", "KRSEL", "2024-06-20T18:10:00+00:00", "QR8985", "QR"),
        ("157-66792751", "ARRIVED", "PLANNED", "QADOH", "2024-06-21T03:50:00+00:00", "QR8985", "QR"),
    ]
    assert result.rejections == []


def test_awbix_fsa_delivery() -> None:
    # shofiq5/awbix awbix/edx/handlers/fsu/test_fsu_parser.py SAMPLE_FSA: DLV/24MAY1223/LHR/T60K1428/DART AIR ...
    result = FSU.parse(sample("awbix_test_fsa_dlv.txt"), at("2024-05-24T15:00:00"))
    assert [brief(e) for e in result.events] == [
        ("157-41266466", "DELIVERED", "ACTUAL", "GBLON", "2024-05-24T11:23:00+00:00", None, None),
    ]


def test_awbix_awb_line_without_origin_and_destination() -> None:
    # shofiq5/awbix awbix/edx/handlers/fsu/test_fsu_parser.py SAMPLE_FSU_NO_OD: 157-53806270/P2K505.0T10
    result = FSU.parse(sample("awbix_test_fsu_no_od.txt"), at("2024-06-21T00:00:00"))
    assert [brief(e) for e in result.events] == [
        ("157-53806270", "GATE_IN", "ACTUAL", "HKHKG", "2024-06-20T02:39:00+00:00", None, None),
    ]


def test_awbix_malformed_booking_is_rejected_with_the_field_at_fault() -> None:
    # shofiq5/awbix awbix/edx/handlers/fsu/test_fsu_parser.py SAMPLE_FSU_BKD: BKD/QR/0843/20JUN/HKG/NLU
    result = FSU.parse(sample("awbix_test_fsu_bkd.txt"), at("2024-06-21T00:00:00"))
    assert result.events == []
    assert reasons(result) == [
        "BKD/QR/0843/20JUN/HKG/NLU: expected a date DDMMM[HHMM] after the carrier/flight, got '0843'"
    ]
    assert result.rejections[0].fragment == b"BKD/QR/0843/20JUN/HKG/NLU"
    assert result.rejections[0].index == 2


def test_good_practice_example_2a_five_messages() -> None:
    # digital-cargo/good-practice-shipment-tracking README.md, Example 2a (compact one-line form, five messages)
    result = FSU.parse(sample("good_practice_fsu_example_2a.txt"), at("2023-10-17T08:00:00"))
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "PLANNED", "DEFRA", "2023-10-16T11:17:00+00:00", None, None),  # BKD
        ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-10-16T11:17:00+00:00", None, None),  # FOH
        ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-10-16T11:17:00+00:00", None, None),  # RCS
        ("020-12345675", "LOADED", "ACTUAL", "DEFRA", "2023-10-15T22:00:00+00:00", "LH400", "LH"),  # MAN, no time
        ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-10-15T22:00:00+00:00", "LH400", "LH"),  # DEP
    ]
    assert len({e.event_id for e in result.events}) == 5  # FOH and RCS are different facts
    assert result.rejections == []


# --- edge cases -------------------------------------------------------------------------------------------------

MESSAGE = (
    "FSU/14\n"
    "020-12345675FRAJFK/T1K100\n"
    "RCS/16OCT1317/FRA/T1K100\n"
    "DEP/LH400/16OCT/FRAJFK/T1K100/A1517/E1830\n"
    "ARR/LH400/16OCT/JFK/T1K100//A1820\n"
)
RECEIVED = at("2023-10-17T12:00:00")
EXPECTED = [
    ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-10-16T11:17:00+00:00", None, None),
    ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-10-16T13:17:00+00:00", "LH400", "LH"),
    ("020-12345675", "ARRIVED", "ESTIMATED", "USNYC", "2023-10-16T22:30:00+00:00", "LH400", "LH"),
    ("020-12345675", "ARRIVED", "ACTUAL", "USNYC", "2023-10-16T22:20:00+00:00", "LH400", "LH"),
]


def test_message_gives_each_status_with_local_times_in_utc() -> None:
    result = FSU.parse(MESSAGE.encode(), RECEIVED)
    assert [brief(e) for e in result.events] == EXPECTED
    assert result.rejections == []


def test_envelope_and_crlf_do_not_change_the_events() -> None:
    bare = FSU.parse(MESSAGE.encode(), RECEIVED)
    enveloped = "QK FRAFMLH\r\n.JFKFMLH 161820\r\n" + MESSAGE.replace("\n", "\r\n") + "=\r\nNNNN\r\n"
    wrapped = FSU.parse(("\x01" + enveloped + "\x03").encode(), RECEIVED)
    assert [e.event_id for e in wrapped.events] == [e.event_id for e in bare.events]
    assert wrapped.rejections == []


def test_resent_message_gives_the_same_ids_and_source_changes_them() -> None:
    first = FSU.parse(MESSAGE.encode(), RECEIVED)
    again = FSU.parse(MESSAGE.encode(), at("2023-10-17T13:00:00"))
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    other = FSU.parse(MESSAGE.encode(), RECEIVED, source="lh-cargo")
    assert {e.source for e in other.events} == {"lh-cargo"}
    assert not {e.event_id for e in other.events} & {e.event_id for e in first.events}


def test_wrong_check_digit_rejects_the_message() -> None:
    result = FSU.parse(MESSAGE.replace("020-12345675", "020-12345670").encode(), RECEIVED)
    assert result.events == []
    assert reasons(result) == ["AWB 020-12345670: check digit should be 5"]
    assert result.rejections[0].index == 1


def test_missing_awb_line() -> None:
    result = FSU.parse(b"FSU/14\nRCS/16OCT1317/FRA/T1K100\n", RECEIVED)
    assert reasons(result) == [
        "expected the air waybill line (e.g. 020-12345675FRAJFK/T1K100), got 'RCS/16OCT1317/FRA/T1K100'"
    ]


def test_good_lines_survive_bad_ones() -> None:
    text = MESSAGE + (
        "RCS/16OCT1317/XXX\n"
        "DEP/LH400/31FEB/FRAJFK/T1K100/A1317\n"
        "RCF/LH400/16OCT2560/JFK/T1K100\n"
        "NFD/17OCT0900/JFK/T1K100/ACME\n"
        "TRM/AA/JFK/T1K100\n"
        "ZZZ/16OCT/FRA\n"
        "THIS IS NOT A STATUS\n"
    )
    result = FSU.parse(text.encode(), RECEIVED)
    assert [brief(e) for e in result.events] == EXPECTED
    assert reasons(result) == [
        "RCS/16OCT1317/XXX: unknown airport XXX",
        "DEP/LH400/31FEB/FRAJFK/T1K100/A1317: 31FEB is not a date",
        "RCF/LH400/16OCT2560/JFK/T1K100: 2560 is not a time (HHMM)",
        "NFD/17OCT0900/JFK/T1K100/ACME: status NFD (consignee notified of arrival) has no canonical milestone; "
        "not tracked",
        "TRM/AA/JFK/T1K100: status TRM (to be transferred to another carrier) has no canonical milestone; "
        "not tracked",
        "ZZZ/16OCT/FRA: unknown status code ZZZ",
        "THIS IS NOT A STATUS: not a status line (XXX/...)",
    ]
    assert [r.index for r in result.rejections] == [5, 6, 7, 8, 9, 10, 11]
    assert result.rejections[0].fragment == b"RCS/16OCT1317/XXX"


def test_year_rollover_past_date_is_last_year() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nRCS/30DEC1200/FRA/T1K100\n"
    result = FSU.parse(text.encode(), at("2025-01-02T09:00:00"))
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2024-12-30T11:00:00+00:00", None, None),
    ]


def test_year_rollover_booking_is_next_year_and_actual_in_future_is_rejected() -> None:
    text = (
        "FSU/14\n020-12345675FRAJFK/T1K100\n"
        "BKD/LH400/02JAN/FRAJFK/T1K100/S1000/S1300\n"
        "DEP/LH400/02JAN/FRAJFK/T1K100/A1000\n"
    )
    result = FSU.parse(text.encode(), at("2024-12-30T09:00:00"))
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "PLANNED", "DEFRA", "2025-01-02T09:00:00+00:00", "LH400", "LH"),
        ("020-12345675", "ARRIVED", "PLANNED", "USNYC", "2025-01-02T18:00:00+00:00", "LH400", "LH"),
    ]
    assert reasons(result) == [
        "DEP/LH400/02JAN/FRAJFK/T1K100/A1000: actual DEP time 2025-01-02T09:00:00+00:00 is after the message "
        "was received (2024-12-30T09:00:00+00:00)"
    ]


def test_date_without_a_nearby_year_is_rejected() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nRCS/29FEB1200/FRA/T1K100\n"
    result = FSU.parse(text.encode(), at("2025-03-01T00:00:00"))
    assert reasons(result) == [
        "RCS/29FEB1200/FRA/T1K100: 29FEB: no such date within six months of reception (2025-03-01)"
    ]
    leap = FSU.parse(text.encode(), at("2024-03-01T00:00:00"))
    assert [e.event_time.isoformat() for e in leap.events] == ["2024-02-29T11:00:00+00:00"]


def test_partial_pieces_still_give_the_status() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T10K1000\nDEP/LH400/16OCT/FRAJFK/P2K505.0T10/A1317\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-10-16T11:17:00+00:00", "LH400", "LH"),
    ]


def test_continuation_line_carries_the_arrival_time() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nDEP/LH400/16OCT/FRAJFK/T1K100/A1317\n/E1620\n/MC0.5\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "ACTUAL", "DEFRA", "2023-10-16T11:17:00+00:00", "LH400", "LH"),
        ("020-12345675", "ARRIVED", "ESTIMATED", "USNYC", "2023-10-16T20:20:00+00:00", "LH400", "LH"),
    ]
    assert result.rejections[0:] == []


def test_received_from_flight_with_the_flight_arrival_time() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nRCF/LH400/16OCT1900/JFK/T1K100//A1820\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DISCHARGED", "ACTUAL", "USNYC", "2023-10-16T23:00:00+00:00", "LH400", "LH"),
        ("020-12345675", "ARRIVED", "ACTUAL", "USNYC", "2023-10-16T22:20:00+00:00", "LH400", "LH"),
    ]


def test_transfers_do_not_name_the_other_carrier_as_transport() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nTFD/AA/17OCT0930/JFK/T1K100/123456\nRCT/LH/16OCT1000/FRA/T1K100\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "GATE_OUT", "ACTUAL", "USNYC", "2023-10-17T13:30:00+00:00", None, None),
        ("020-12345675", "GATE_IN", "ACTUAL", "DEFRA", "2023-10-16T08:00:00+00:00", None, None),
    ]


def test_estimated_departure_is_estimated() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nDEP/LH400/16OCT/FRAJFK/T1K100/E1545\n"
    result = FSU.parse(text.encode(), at("2023-10-16T10:00:00"))
    assert [brief(e) for e in result.events] == [
        ("020-12345675", "DEPARTED", "ESTIMATED", "DEFRA", "2023-10-16T13:45:00+00:00", "LH400", "LH"),
    ]


@pytest.mark.parametrize(
    ("arrival", "expected"),
    [
        ("E0130-N", "2023-10-17T05:30:00+00:00"),  # next day, explicit
        ("E0130", "2023-10-17T05:30:00+00:00"),  # before the departure: overnight flight
        ("E1930-P", "2023-10-15T23:30:00+00:00"),  # previous day, as the sender says
    ],
)
def test_day_change_of_the_arrival_time(arrival: str, expected: str) -> None:
    text = f"FSU/14\n020-12345675FRAJFK/T1K100\nDEP/LH400/16OCT/FRAJFK/T1K100/A2300/{arrival}\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [e.event_time.isoformat() for e in result.events] == ["2023-10-16T21:00:00+00:00", expected]


def test_unsupported_day_change_rejects_only_that_time() -> None:
    text = "FSU/14\n020-12345675FRAJFK/T1K100\nDEP/LH400/16OCT/FRAJFK/T1K100/A1317/E1620-K\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [e.milestone.value for e in result.events] == ["DEPARTED"]
    assert reasons(result) == [
        "DEP/LH400/16OCT/FRAJFK/T1K100/A1317/E1620-K: arrival time: day change indicator K is not supported "
        "(P, N, S or T)"
    ]


def test_several_messages_in_one_payload_and_fsa() -> None:
    text = MESSAGE + "\nFSA/14\n160-08716945HKGORD/T2K10\nRCS/16OCT0800/HKG/T2K10\n"
    result = FSU.parse(text.encode(), at("2023-10-17T12:00:00"))
    assert [brief(e) for e in result.events] == [
        *EXPECTED,
        ("160-08716945", "GATE_IN", "ACTUAL", "HKHKG", "2023-10-16T00:00:00+00:00", None, None),
    ]
    assert result.rejections == []


def test_not_fsu_and_empty_input() -> None:
    assert reasons(FSU.parse(b"", RECEIVED)) == [
        "no FSU/<version> or FSA/<version> line: not a Cargo-IMP status message"
    ]
    assert reasons(FSU.parse(b"FSU/14\n", RECEIVED)) == ["FSU message without an air waybill line"]


def test_naive_received_is_taken_as_utc() -> None:
    result = FSU.parse(MESSAGE.encode(), datetime(2023, 10, 17, 12))
    assert [brief(e) for e in result.events] == EXPECTED
    assert result.events[0].received_time == RECEIVED


def test_sniff() -> None:
    assert FSU.sniff(sample("awbix_fsu_sample.txt"))
    assert FSU.sniff(sample("good_practice_fsu_example_2a.txt"))
    assert FSU.sniff(sample("awbix_test_fsa_dlv.txt"))
    assert not FSU.sniff(sample("good_practice_xFSU-12-DEP.xml"))
    assert not FSU.sniff(b'{"eventCode": "DEP"}')


def test_part_shipment_pieces_land_in_shipment_refs() -> None:
    # P on the status line, or fewer pieces than the AWB line's total: a part of the shipment, pieces recorded on
    # every event of the line; the whole shipment (T, or as many pieces as the total) leaves pieces empty.
    text = "FSU/14\n020-12345675FRAJFK/T10K1000\nDEP/LH400/16OCT/FRAJFK/P2K505.0T10/A1317/E2030\n"
    result = FSU.parse(text.encode(), RECEIVED)
    assert [(e.milestone.value, e.shipment.air_waybill, e.shipment.pieces) for e in result.events] == [
        ("DEPARTED", "020-12345675", 2), ("ARRIVED", "020-12345675", 2),
    ]  # fmt: skip
    fewer = FSU.parse(text.replace("P2K505.0T10", "T4K400").encode(), RECEIVED)
    assert [e.shipment.pieces for e in fewer.events] == [4, 4]
    whole = FSU.parse(text.replace("P2K505.0T10", "T10K1000").encode(), RECEIVED)
    assert [e.shipment.pieces for e in whole.events] == [None, None]
    assert [e.event_id for e in whole.events] == [e.event_id for e in result.events]  # ids do not change
    partial_awb = FSU.parse(b"FSU/14\n157-53806270HKGNLU/P2K505.0T10\nRCS/20JUN1039/HKG/P2K505.0\n",
                            at("2024-06-20T12:00:00"))  # fmt: skip
    assert [e.shipment.pieces for e in partial_awb.events] == [2]
    no_quantity = FSU.parse(b"FSU/14\n020-12345675FRAJFK/T10K1000\nRCS/16OCT1317/FRA\n", RECEIVED)
    assert [e.shipment.pieces for e in no_quantity.events] == [None]


# --- flight events (schemas/conveyances.py) ----------------------------------------------------------------------


def test_dep_with_flight_times_gives_the_flights_departure_and_estimated_arrival() -> None:
    message = b"FSU/14\n157-53806270HKGDOH/P2K505.0T10\nDEP/QR8403/20JUN/HKGDOH/P2K505.0/A1039/E1540\n"
    result = FSU.parse(message, at("2024-06-21T00:00"))
    assert result.rejections == []
    departed, arriving = result.conveyances
    assert departed.conveyance.id == arriving.conveyance.id == "FLIGHT:QR8403:2024-06-20"
    assert (departed.conveyance.carrier, departed.mode.value) == ("QR", "AIR")
    assert (departed.milestone.value, departed.classifier.value, departed.call.location, departed.event_time) == (
        "DEPARTED", "ACTUAL", "HKHKG", at("2024-06-20T02:39"))  # 10:39 Hong Kong
    assert (arriving.milestone.value, arriving.classifier.value, arriving.call.location, arriving.event_time) == (
        "ARRIVED", "ESTIMATED", "QADOH", at("2024-06-20T12:40"))  # 15:40 Doha


def test_the_same_flight_reported_for_two_air_waybills_is_one_flight_event() -> None:
    message = (b"FSU/14\n157-53806270HKGDOH/T2K505.0\nDEP/QR8403/20JUN/HKGDOH/T2K505.0/A1039\n"
               b"FSU/14\n020-12345675HKGDOH/T1K100\nDEP/QR8403/20JUN/HKGDOH/T1K100/A1039\n")  # fmt: skip
    result = FSU.parse(message, at("2024-06-21T00:00"))
    assert len(result.events) == 2 and len(result.conveyances) == 1


def test_flight_status_without_a_time_and_non_flight_statuses_give_no_flight_event() -> None:
    result = FSU.parse(sample("good_practice_fsu_example_2a.txt"), at("2023-10-17T00:00"))
    assert any(e.milestone.value == "DEPARTED" for e in result.events)  # DEP/LH400/16OCT: a date, no time
    assert result.conveyances == []


# --- location per status (docs/feeds/edifact-locations.md, Cargo-IMP section) -----------------------------------


@pytest.mark.parametrize(("line", "locode"), [
    ("BKD/LH400/16OCT1317/FRAJFK", "DEFRA"),  # booked: the departure airport of the pair
    ("MAN/LH400/16OCT1317/FRAJFK", "DEFRA"),  # manifested: departure airport
    ("PRE/LH400/16OCT1317/FRAJFK", "DEFRA"),  # prepared for loading: departure airport
    ("DEP/LH400/16OCT1317/FRAJFK", "DEFRA"),  # departed: departure airport
    ("ARR/LH400/16OCT1805/JFK", "USNYC"),  # arrived: the one airport is the arrival airport
    ("ARR/LH400/16OCT1805/FRAJFK", "USNYC"),  # arrived, with the pair: its arrival airport, never the departure
    ("RCF/LH400/16OCT1905/JFK", "USNYC"),  # received from the flight: arrival airport
    ("RCS/16OCT0930/FRA", "DEFRA"),  # received from shipper: the status airport
    ("DLV/17OCT1000/JFK", "USNYC"),  # delivered: the status airport
])  # fmt: skip
def test_each_status_is_placed_at_its_airport(line: str, locode: str) -> None:
    result = FSU.parse(f"FSU/14\n020-12345675FRAJFK/T1K100\n{line}\n".encode(), at("2023-10-18T00:00"))
    assert result.rejections == [] and result.events[0].location == locode
