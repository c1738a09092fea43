"""Cargo-IMP FFM flight manifests (streams/feeds/iata/ffm.py): published samples, then the edge cases.

Sources of the samples: tests/unit/feeds/iata/samples/README.md. The `iata_cimp34_*` files are the message examples
of the IATA Cargo-IMP manual (34th edition) with their line reference numbers removed; their air waybill numbers
are illustrations, and many fail the mod-7 check digit (rejected, as a real one would be)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import Classifier, Milestone, Mode, UnitKind
from streams.feeds.iata.ffm import CargoImpFfm
from streams.feeds.iata.fsu import CargoImpFsu
from streams.feeds.registry import FORMATS, detect, parse
from tests.unit.feeds.iata import sample

FFM = CargoImpFfm()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(result) -> list[tuple]:
    """(unit kind, unit id, milestone, AWB, pieces) per event: what a manifest says went where."""
    return [
        (e.unit.kind.value, e.unit.id, e.milestone.value, e.shipment.air_waybill, e.shipment.pieces)
        for e in result.events
    ]


def reasons(result) -> list[tuple[int | None, str]]:
    return [(r.index, r.reason) for r in result.rejections]


# --- published samples ------------------------------------------------------------------------------------------


def test_nca_manifest_every_uld_and_its_consignments() -> None:
    # tyroneous9/CargoIMP-Compiler cpp/data/input_tests/ffm_test.txt: FFM/5 of KZ134 NRT-ORD 20JUN, part 5 (CONT),
    # ULD remarks (/W-2190.0 C-L with a trailing space), split codes D/S/P with total pieces, onward movement and
    # OSI lines, one AWB (933-22405784) split over four ULDs.
    received = at("2024-06-20T18:00:00")
    result = FFM.parse(sample("ffm/cargoimp_compiler_ffm_test.txt"), received)
    assert result.rejections == []
    assert rows(result) == [
        ("ULD", "PMC98669KZ", "STUFFED", "933-22405670", 2),
        ("ULD", "PMC98669KZ", "STUFFED", "933-22405784", 30),
        ("ULD", "PMC11135NH", "STUFFED", "205-33450222", 145),
        ("ULD", "PMC97715KZ", "STUFFED", "933-22405784", 5),
        ("ULD", "PMC96188KZ", "STUFFED", "933-34751150", 102),
        ("ULD", "PMC99101KZ", "STUFFED", "933-22405784", 41),
        ("ULD", "PMC98571KZ", "STUFFED", "933-34128172", 5),
        ("ULD", "PLA00155KZ", "STUFFED", "933-33472176", 6),
        ("ULD", "PLA00155KZ", "STUFFED", "933-33470242", 1),
        ("ULD", "PLA00155KZ", "STUFFED", "933-34128172", 2),
        ("ULD", "PMC96121KZ", "STUFFED", "933-34722973", 182),
        ("ULD", "PMC96121KZ", "STUFFED", "933-34722995", 16),
        ("ULD", "PMC98722KZ", "STUFFED", "933-33472353", 1),
        ("ULD", "PMC98722KZ", "STUFFED", "933-33472176", 10),
        ("ULD", "PMC98722KZ", "STUFFED", "933-27754591", 2),
        ("ULD", "PMC96166KZ", "STUFFED", "933-34123703", 8),
        ("ULD", "PMC99339KZ", "STUFFED", "933-34675163", 197),
    ]
    first = result.events[0]
    assert (first.mode, first.classifier, first.location) == (Mode.AIR, Classifier.ACTUAL, "JPTYO")  # NRT
    assert first.event_time == at("2024-06-19T15:00:00")  # 20JUN, no time: 00:00 in Tokyo
    assert (first.transport.flight, first.transport.carrier) == ("KZ134", "KZ")
    assert first.received_time == received and first.source == "iata-ffm"
    assert len({e.event_id for e in result.events}) == len(result.events)


def test_manual_bulk_only_gives_awb_loaded_events() -> None:
    # IATA Cargo-IMP manual 6.1: BR864 LGW-BRU, bulk only.
    result = FFM.parse(sample("ffm/iata_cimp34_6.1_bulk.txt"), at("2024-03-19T09:00:00"))
    assert rows(result) == [
        ("AWB", "121-42751741", "LOADED", "121-42751741", 5),
        ("AWB", "121-73023521", "LOADED", "121-73023521", 1),
    ]
    assert {(e.location, e.event_time) for e in result.events} == {("GBLON", at("2024-03-19T00:00:00"))}
    assert result.rejections == []


def test_manual_uld_only() -> None:
    # IATA Cargo-IMP manual 6.2: AF808 CDG-LHR, two AVE containers.
    result = FFM.parse(sample("ffm/iata_cimp34_6.2_uld.txt"), at("2024-03-20T09:00:00"))
    assert rows(result) == [
        ("ULD", "AVE1234AF", "STUFFED", "057-12345642", 150),
        ("ULD", "AVE1234AF", "STUFFED", "057-12345653", 20),
        ("ULD", "AVE4321AF", "STUFFED", "057-73045641", 250),
    ]
    assert result.events[0].location == "FRPAR" and result.events[0].event_time == at("2024-03-19T23:00:00")


def test_manual_bulk_and_uld_with_split_consignments() -> None:
    # IATA Cargo-IMP manual 6.3: bulk before the first ULD, loading indicator (-M), ULD remarks, an AWB divided
    # (D4 and D2 of T12) and one split (S1 and S12 of T13) over two ULDs, special handling on `/` lines.
    result = FFM.parse(sample("ffm/iata_cimp34_6.3_bulk_and_uld.txt"), at("2024-04-23T20:00:00"))
    assert result.rejections == []
    assert rows(result) == [
        ("AWB", "014-26488125", "LOADED", "014-26488125", 1),
        ("AWB", "012-23026485", "LOADED", "012-23026485", 7),
        ("AWB", "014-27469212", "LOADED", "014-27469212", 1),
        ("ULD", "DVA1234AC", "STUFFED", "014-27513894", 1),
        ("ULD", "DVA1234AC", "STUFFED", "014-27257053", 4),
        ("ULD", "DVA1234AC", "STUFFED", "014-23388503", 15),
        ("ULD", "DVA1234AC", "STUFFED", "014-24349426", 1),
        ("ULD", "DVA2345AC", "STUFFED", "014-28241150", 1),
        ("ULD", "DVA2345AC", "STUFFED", "014-23511810", 1),
        ("ULD", "DVA3456AC", "STUFFED", "014-23511810", 12),
        ("ULD", "DVA3456AC", "STUFFED", "014-23155440", 1),
        ("ULD", "DVA3456AC", "STUFFED", "125-22070521", 1),
        ("ULD", "DVA3456AC", "STUFFED", "014-27257053", 2),
    ]
    assert {e.location for e in result.events} == {"GBLON"}
    assert result.events[0].event_time == at("2024-04-22T23:00:00")  # 23APR 00:00 BST


def test_manual_nil_manifest_gives_nothing() -> None:
    result = FFM.parse(sample("ffm/iata_cimp34_6.4_nil.txt"), at("2024-03-18T09:00:00"))
    assert result.events == [] and result.rejections == []


def test_manual_multi_destination() -> None:
    # IATA Cargo-IMP manual 6.5: KL2084 HAM to AMS and RTM. Bulk before each unloading point's ULDs; one AWB listed
    # twice in the AMS bulk (T3 + T1 = 4 pieces); a P1G pallet (IATA type codes may hold a digit in second
    # place); COR and OSI lines carry no cargo.
    result = FFM.parse(sample("ffm/iata_cimp34_6.5_multi_destination.txt"), at("2024-03-18T09:00:00"))
    assert rows(result) == [
        ("AWB", "074-12345653", "LOADED", "074-12345653", 4),
        ("ULD", "P1G1234KL", "STUFFED", "074-12345664", 200),
        ("ULD", "P1G1234KL", "STUFFED", "074-12345653", 4),
        ("ULD", "P1G1234KL", "STUFFED", "074-12345686", 3),
        ("ULD", "AVM9243KL", "STUFFED", "074-12345690", 60),
        ("AWB", "074-35775331", "LOADED", "074-35775331", 1),
        ("ULD", "AVM9876KL", "STUFFED", "074-53153155", 100),
    ]
    assert reasons(result) == [
        (3, "074-12345632HAMAMS/T4K8MC0.16/VIDEO CASSETTES: AWB 074-12345632: check digit should be 1"),
        (4, "074-12345641HAMYYZ/T15K160MC0.27/WATCHES: AWB 074-12345641: check digit should be 2"),
        (20, "074-67534415HAMRTM/T10K50MC0.15/BOOKS: AWB 074-67534415: check digit should be 2"),
    ]


def test_manual_multi_destination_each_unit_leaves_at_the_point_of_unloading_it_is_listed_under() -> None:
    result = FFM.parse(sample("ffm/iata_cimp34_6.5_multi_destination.txt"), at("2024-03-18T09:00:00"))
    assert {e.unit.id: e.transport.unloading for e in result.events} == {
        "074-12345653": "NLAMS", "P1G1234KL": "NLAMS", "AVM9243KL": "NLAMS",  # the AMS section
        "074-35775331": "NLRTM", "AVM9876KL": "NLRTM",  # the RTM section
    }  # fmt: skip


TWO_LEGS = """FFM/8
1/CV7301/04DEC0130/HKG
LGG
160-12345675HKGLGG/T12K300MC1.1/GARMENTS
ULD/PMC12345CV
160-22334454HKGLGG/T40K900MC5.0/ELECTRONICS
MAD
ULD/PMC54321CV
160-33445565HKGMAD/T30K700MC4.1/TOYS
LAST
"""


def test_two_leg_flight_gives_each_unit_its_own_point_of_unloading() -> None:
    result = FFM.parse(TWO_LEGS.encode(), at("2026-12-04T12:00:00"))
    assert result.rejections == []
    assert [(e.unit.id, e.milestone.value, e.location, e.transport.flight, e.transport.unloading)
            for e in result.events] == [
        ("160-12345675", "LOADED", "HKHKG", "CV7301", "BELGG"),  # bulk, under LGG
        ("PMC12345CV", "STUFFED", "HKHKG", "CV7301", "BELGG"),
        ("PMC54321CV", "STUFFED", "HKHKG", "CV7301", "ESMAD"),
    ]  # fmt: skip


def test_a_uld_listed_under_two_points_of_unloading_or_an_unknown_one_keeps_none_with_a_warning() -> None:
    text = TWO_LEGS.replace("ULD/PMC54321CV", "ULD/PMC12345CV").replace("MAD\n", "MAD\n160-44556676HKGMAD/T1K9/DOCS\n")
    result = FFM.parse(text.encode(), at("2026-12-04T12:00:00"))
    assert {e.unit.id: e.transport.unloading for e in result.events} == {
        "160-12345675": "BELGG", "PMC12345CV": None, "160-44556676": "ESMAD"}  # fmt: skip
    (warning,) = result.rejections
    assert warning.warning and warning.index == 5 and warning.reason == (
        "FFM CV7301: contradictory manifest: ULD PMC12345CV is listed for unloading at BELGG and ESMAD; its events "
        "keep no point of unloading (it hears every arrival of the flight)")
    unknown = FFM.parse(TWO_LEGS.replace("\nMAD\n", "\nQQQ\n").encode(), at("2026-12-04T12:00:00"))
    assert [e.transport.unloading for e in unknown.events] == ["BELGG", "BELGG", None]
    assert [(r.warning, r.reason) for r in unknown.rejections] == [(True, (
        "QQQ: point of unloading: unknown airport QQQ; the consignments under it are kept without a point of "
        "unloading (they hear every arrival of the flight)"))]


def test_manual_manifest_in_two_parts_in_one_payload() -> None:
    # IATA Cargo-IMP manual 6.6: the first part ends with CONT, the second (sequence 2) with LAST.
    first = sample("ffm/iata_cimp34_6.6.1_first_part.txt")
    second = sample("ffm/iata_cimp34_6.6.2_second_part.txt")
    received = at("2024-04-17T12:00:00")
    both = FFM.parse(first + second, received)
    alone = FFM.parse(first, received)
    # The second part adds pallet P1G1234AF's consignments (IATA types may hold a digit in second place).
    assert rows(both)[: len(rows(alone))] == rows(alone) and len(alone.events) == 30
    assert rows(both)[len(rows(alone)):] == [
        ("ULD", "P1G1234AF", "STUFFED", "057-76215436", 2), ("ULD", "P1G1234AF", "STUFFED", "057-17342113", 3),
    ]
    assert reasons(both)[-1] == (
        len(first.splitlines()) + 5,  # lines are numbered within the payload
        "057-137542150RYSFO/T1K50MC0.23/DOCUMENTS: expected a consignment line NNN-NNNNNNNN[origin]destination/"
        "T|P|S|D pieces K|L weight.../goods",
    )
    assert len(both.rejections) == len(alone.rejections) + 1


def test_manual_en_route_loading_and_bad_lines() -> None:
    # IATA Cargo-IMP manual 6.7: CV1234 loaded at LUX, then more cargo at DXB. The DXB example has an AWB with a
    # space after the prefix and a ULD with a six-digit serial: both rejected, the rest kept.
    lux = FFM.parse(sample("ffm/iata_cimp34_6.7.1_loaded_at_lux.txt"), at("2024-04-01T12:00:00"))
    assert rows(lux) == [
        ("AWB", "172-00122474", "LOADED", "172-00122474", 4),
        ("AWB", "172-00123012", "LOADED", "172-00123012", 1),
        ("ULD", "AKE01063CV", "STUFFED", "172-00123012", 2),
        ("ULD", "AKE01063CV", "STUFFED", "172-00123060", 5),
        ("ULD", "AKE01063CV", "STUFFED", "172-00123023", 3),
        ("ULD", "AKE01070CV", "STUFFED", "172-00123071", 80),
        ("AWB", "172-00123034", "LOADED", "172-00123034", 10),
        ("ULD", "PMC12345CV", "STUFFED", "172-00123056", 5),
    ]
    assert {e.location for e in lux.events} == {"LULUX"}
    dxb = FFM.parse(sample("ffm/iata_cimp34_6.7.2_loaded_at_dxb.txt"), at("2024-04-01T12:00:00"))
    assert rows(dxb) == [("ULD", "PMC12378CV", "STUFFED", "172-52423954", 5)]
    assert dxb.events[0].location == "AEDXB" and dxb.events[0].event_time == at("2024-03-31T20:00:00")
    assert [i for i, _ in reasons(dxb)] == [3, 4, 5, 6]
    assert reasons(dxb)[0][1].startswith("172- 52423932AUHHKG/T8K250MC1/SPICES: expected a consignment line")
    assert "ULD PMC123465CV is not a ULD id corridor can track" in reasons(dxb)[1][1]


def test_registered_detected_and_not_taken_by_fsu() -> None:
    data = sample("ffm/iata_cimp34_6.2_uld.txt")
    assert FORMATS["iata-ffm"].description
    detected = detect(data)
    assert detected is not None and detected.name == "iata-ffm"
    assert parse(data, None, at("2024-03-20T09:00:00")) == parse(data, "iata-ffm", at("2024-03-20T09:00:00"))
    assert not CargoImpFsu().sniff(data) and not FFM.sniff(sample("awbix_fsu_sample.txt"))


# --- edge cases -------------------------------------------------------------------------------------------------

HEADER = "FFM/8\n1/CX289/15MAR0130/HKG/B-LJA\nFRA\n"


def test_the_issue_example_and_same_awb_twice_in_a_uld() -> None:
    text = HEADER + "ULD/AKE12345RU\n580-12345675HKGFRA/P4K40/GOODS\n580-12345675HKGFRA/P2K20/GOODS\nLAST\n"
    (event,) = FFM.parse(text.encode(), at("2025-03-14T20:00:00")).events
    assert (event.unit.kind, event.unit.id, event.milestone) == (UnitKind.ULD, "AKE12345RU", Milestone.STUFFED)
    assert (event.location, event.shipment.air_waybill, event.shipment.pieces) == ("HKHKG", "580-12345675", 6)
    assert event.event_time == at("2025-03-14T17:30:00")  # 15MAR 01:30 in Hong Kong
    assert (event.transport.flight, event.transport.carrier) == ("CX289", "CX")


def test_envelope_crlf_and_resend_give_the_same_ids() -> None:
    body = HEADER + "ULD/AKE12345RU\n580-12345675HKGFRA/T6K60/GOODS\nBULK\n020-12345675HKGFRA/T1K5/DOCS\nLAST\n"
    enveloped = ("QK FRAFFLH\r\n.HKGFFCX 150130\r\n" + body.replace("\n", "\r\n")).encode()
    received = at("2025-03-14T20:00:00")
    plain = FFM.parse(body.encode(), received)
    assert [(e.unit.id, e.milestone.value) for e in plain.events] == [
        ("AKE12345RU", "STUFFED"), ("020-12345675", "LOADED"),
    ]  # fmt: skip
    assert [e.event_id for e in FFM.parse(enveloped, received).events] == [e.event_id for e in plain.events]
    later = FFM.parse(body.encode(), at("2025-03-15T06:00:00"))
    assert [e.event_id for e in later.events] == [e.event_id for e in plain.events]


def test_uld_and_bulk_ids_differ_for_the_same_awb() -> None:
    text = HEADER + "580-12345675HKGFRA/S1K10/GOODS\nULD/AKE12345RU\n580-12345675HKGFRA/S5K50/GOODS\n"
    result = FFM.parse(text.encode(), at("2025-03-14T20:00:00"))
    assert rows(result) == [
        ("AWB", "580-12345675", "LOADED", "580-12345675", 1),
        ("ULD", "AKE12345RU", "STUFFED", "580-12345675", 5),
    ]
    assert len({e.event_id for e in result.events}) == 2


def test_year_nearest_reception_and_future_manifest() -> None:
    text = "FFM/8\n1/CX289/30DEC/HKG\nFRA\nULD/AKE12345RU\n580-12345675HKGFRA/T6K60/GOODS\nLAST\n"
    (event,) = FFM.parse(text.encode(), at("2025-01-02T00:00:00")).events
    assert event.event_time == at("2024-12-29T16:00:00")
    future = FFM.parse(text.replace("30DEC", "20JAN").encode(), at("2025-01-02T00:00:00"))
    assert future.events == []
    assert future.rejections[0].reason.startswith("FFM CX289 ULD AKE12345RU 580-12345675: actual FFM time")


def test_bad_header_lines_reject_the_message() -> None:
    received = at("2025-03-14T20:00:00")
    cases = {
        "FFM/8\nCX289/15MAR/HKG\nFRA\n": "expected the flight line (sequence/flight/date/airport of loading",
        "FFM/8\n1/CX289/15MAR/XQX\nFRA\n": "1/CX289/15MAR/XQX: unknown airport XQX",
        "FFM/8\n1/CX289/31FEB/HKG\nFRA\n": "1/CX289/31FEB/HKG: 31FEB is not a date",
        "FFM/8\n1/CX289/15MAR2560/HKG\nFRA\n": "1/CX289/15MAR2560/HKG: 2560 is not a time (HHMM)",
        "FFM/8\n": "FFM message without a flight line",
    }
    body = "ULD/AKE12345RU\n580-12345675HKGFRA/T6K60/X\n"
    for text, reason in cases.items():
        result = FFM.parse((text if text == "FFM/8\n" else text + body).encode(), received)
        assert result.events == [] and len(result.rejections) == 1, text
        assert result.rejections[0].reason.startswith(reason), result.rejections[0].reason
    (r,) = FFM.parse(b"QK FRAFFLH\n.HKGFFCX 150130\nhello\n", received).rejections
    assert r.reason == "no FFM/<version> line: not a Cargo-IMP flight manifest"


def test_bad_lines_reject_only_themselves() -> None:
    text = HEADER + (
        "ULD/AKE12345RU\n"
        "580-12345670HKGFRA/T6K60/GOODS\n"  # check digit
        "580-12345675HKGFRA/T0K0/GOODS\n"  # no pieces
        "580-1234567HKGFRA/T1K1/GOODS\n"  # seven-digit serial
        "XYZ/SOMETHING\n"  # unknown line
        "OSI/FRAGILE\nSSR/KEEP DRY\nOCI/HK/ISS/RA/12345\nDIM/K60/CMT100-100-100/6\n"
        "020-12345675HKGFRA/T2K20/GOODS\n"
        "LAST\n"
        "ignored after the end\n"
    )
    result = FFM.parse(text.encode(), at("2025-03-14T20:00:00"))
    assert rows(result) == [("ULD", "AKE12345RU", "STUFFED", "020-12345675", 2)]
    assert reasons(result) == [
        (4, "580-12345670HKGFRA/T6K60/GOODS: AWB 580-12345670: check digit should be 5"),
        (5, "580-12345675HKGFRA/T0K0/GOODS: T0: no pieces of 580-12345675 on this flight"),
        (6, "580-1234567HKGFRA/T1K1/GOODS: expected a consignment line NNN-NNNNNNNN[origin]destination/T|P|S|D "
            "pieces K|L weight.../goods"),
        (7, "XYZ/SOMETHING: not an FFM line (point of unloading, ULD/..., consignment NNN-NNNNNNNN..., or an "
            "information line such as OSI/)"),
    ]  # fmt: skip


def test_sniff() -> None:
    assert FFM.sniff(b"QK FRAFFLH\r\n.HKGFFCX 150130\r\nFFM/8\r\n1/CX289/15MAR/HKG\r\n")
    assert not FFM.sniff(b"FSU/14\n020-12345675FRAJFK/T1K100\n")
    assert not FFM.sniff(b"this is about FFM/8 in prose")
