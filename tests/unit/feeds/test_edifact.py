"""UN/EDIFACT IFTSTA / CODECO / COARRI. Samples (see samples/README.md): apimeister/edifact-types
src/d00b/test_iftsta.rs, orhantoy/edifunct README.md, smart-data-models/dataModel.MarineTransport
EdiCodeco/examples/example.json, rifqyar/nbs_lama html/modules/monitoring/edifact/ajax/create_codeco_oocl.php and
create_coarri.php."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.conveyances import ConveyanceKind, ConveyanceMilestone
from schemas.events import Classifier, Milestone
from schemas.refs import Mode
from streams.feeds.edifact.interchange import Edifact
from tests.unit.feeds.conftest import RECEIVED, load


def test_codeco_manila_gate_in() -> None:
    result = Edifact().parse(load("edifact-codeco-manila.edi"), RECEIVED)
    assert result.rejections == []
    (event,) = result.events
    assert event.source == "edifact-codeco"
    assert event.event_id == "edifact-codeco:TGHU1643396:GATE_IN:PHMNL:20110402T045900Z"
    assert (event.unit.id, event.milestone, event.classifier) == ("TGHU1643396", Milestone.GATE_IN, Classifier.ACTUAL)
    assert event.location == "PHMNL"  # LOC+165 (terminal MICT), not the port of discharge HKHKG
    assert event.event_time == datetime(2011, 4, 2, 4, 59, tzinfo=UTC)  # DTM+7 12:59 Manila (UTC+8)
    assert event.mode == Mode.ROAD  # delivered by truck (TDT+1 mode 3)
    assert (event.transport.truck, event.transport.carrier) == ("CXL590", "T-ORQTR")
    assert (event.transport.vessel_name, event.transport.voyage) == ("MAGNAVIA", "055N")
    assert event.shipment.booking == "3048413690"


def test_codeco_huelva_container_with_invalid_category_is_rejected() -> None:
    result = Edifact().parse(load("edifact-codeco-huelva.edi"), RECEIVED)
    assert result.events == []
    assert [r.reason for r in result.rejections] == [
        "CODECO 92218: EQD+CN: 'TESI1120274' is not an ISO 6346 container number "
        "(3-letter owner code, U/J/Z/R, 6-digit serial, check digit)"
    ]


def test_codeco_huelva_with_a_valid_container() -> None:
    data = load("edifact-codeco-huelva.edi").replace(b"TESI1120274", b"TESU1120271")  # category U, its check digit
    (event,) = Edifact().parse(data, RECEIVED).events
    assert (event.location, event.milestone) == ("ESHUV", Milestone.GATE_IN)
    assert event.event_time == datetime(2023, 8, 11, 12, 47, tzinfo=UTC)  # 14:47 CEST
    assert (event.transport.vessel_imo, event.transport.vessel_name) == ("1111111", "CHRISTIAN")
    assert event.transport.truck == "993NGR"
    assert event.shipment.booking == "FUE110823"


def test_coarri_jakarta_discharge_names_only_its_port_of_loading_and_is_rejected() -> None:
    # The published discharge report gives the container's LOC+9 (operational port of loading, SMDG COARRI 1.2) and
    # no port of discharge: corridor does not place a discharge at the port the box was loaded at.
    result = Edifact().parse(load("edifact-coarri-jakarta.edi"), RECEIVED)
    assert result.events == [] and result.conveyances == []
    assert [r.reason for r in result.rejections] == [
        "COARRI 1: no place for the discharged container (LOC+165 / LOC+11); LOC+9 is its port of loading, not where "
        "it was discharged"]  # fmt: skip


def test_coarri_jakarta_as_a_loading_report_is_placed_at_its_port_of_loading() -> None:
    data = load("edifact-coarri-jakarta.edi").replace(b"BGM+44+", b"BGM+46+")  # the same message as a loading report
    (event,) = Edifact().parse(data, RECEIVED).events
    assert event.source == "edifact-coarri"
    assert (event.unit.id, event.milestone, event.mode) == ("MSKU0308961", Milestone.LOADED, Mode.SEA)
    assert event.location == "IDJKT"  # LOC+9+IDJKT45: terminal 45 at Jakarta
    assert event.event_time == datetime(2010, 10, 12, 10, 8, tzinfo=UTC)  # DTM+203 17:08 WIB
    assert (event.transport.carrier, event.transport.voyage) == ("MAEU", "1020")


def test_iftsta_rail_sample_has_a_wrong_check_digit() -> None:
    result = Edifact().parse(load("edifact-iftsta-rail.edi"), RECEIVED)
    assert result.events == []
    assert [(r.index, r.reason) for r in result.rejections] == [
        (0, "IFTSTA 2805567 STS P: RFF+EQ: container TRHU4561222 has a wrong check digit (expected 5)")
    ]


def test_iftsta_rail_sample_with_the_check_digit_corrected() -> None:
    data = load("edifact-iftsta-rail.edi").replace(b"TRHU4561222", b"TRHU4561225")
    (event,) = Edifact().parse(data, RECEIVED).events
    assert event.source == "edifact-iftsta"
    assert (event.unit.id, event.milestone, event.mode) == ("TRHU4561225", Milestone.DEPARTED, Mode.RAIL)
    assert event.location == "USSYR"  # LOC+175, not the leg's LOC+9/11/29/7
    assert event.event_time == datetime(2022, 11, 19, 12, 10, tzinfo=UTC)  # 07:10 EST
    assert event.transport.carrier == "ABCD"
    assert (event.shipment.booking, event.shipment.bill_of_lading) == ("24O4023815", "ABCD224O4023815X")


def test_iftsta_consignment_status_with_a_private_code_is_rejected() -> None:
    result = Edifact().parse(load("edifact-iftsta-consignment.edi"), RECEIVED)
    assert result.events == []
    assert result.rejections[0].reason.startswith("IFTSTA 45689 STS Z1: status code 'Z1' has no canonical milestone")


def _interchange(*messages: str, una: bool = False, sep: str = "") -> bytes:
    head = "UNA:+.? '" if una else ""
    body = sep.join(["UNB+UNOC:3+SENDER+RECEIVER+240501:1200+77'", *messages, f"UNZ+{len(messages)}+77'"])
    return (head + sep + body).encode()


def _status(ref: str, code: str, box: str, when: str, place: str = "DEDUI") -> str:
    return (f"UNH+{ref}+IFTSTA:D:00B:UN'BGM+23+{ref}+9'CNI+1'STS+1+{code}'DTM+334:{when}:203'LOC+175+{place}'"
            f"EQD+CN+{box}'UNT+7+{ref}'")  # fmt: skip


def test_one_interchange_many_messages_good_kept_bad_explained() -> None:
    data = _interchange(
        _status("1", "AL", "TGHU1643396", "202405011200", "CNCKG"),
        _status("2", "VD", "MSCU1234567", "202405011200"),
        _status("3", "AR", "CSQU3054383", "202413451200"),
        _status("4", "UV", "APZU4812090", "202405011200", "XXABC"),
        _status("5", "UR", "MSKU0308961", "202405011200", "USXXX"),
        _status("6", "I", "TRHU4307252", "202405011200"),
    )
    result = Edifact().parse(data, RECEIVED)
    assert [(e.unit.id, e.milestone, e.mode, e.event_time) for e in result.events] == [
        ("TGHU1643396", Milestone.LOADED, Mode.RAIL, datetime(2024, 5, 1, 4, 0, tzinfo=UTC)),
        ("TRHU4307252", Milestone.GATE_IN, Mode.ROAD, datetime(2024, 5, 1, 10, 0, tzinfo=UTC)),
    ]
    assert [(r.index, r.reason) for r in result.rejections] == [
        (1, "IFTSTA 2 STS VD: EQD+CN: container MSCU1234567 has a wrong check digit (expected 6)"),
        (2, "IFTSTA 3 STS AR: DTM+334 202413451200: not a date"),
        (3, "IFTSTA 4 STS UV: LOC+175: location XXABC is not a UN/LOCODE we know (XX is not a country code)"),
        (4, "IFTSTA 5 STS UR: DTM+334 no time zone known for USXXX: local time 2024-05-01T12:00:00 cannot be placed "
            "in UTC"),
    ]  # fmt: skip


def test_line_endings_and_una_variants_give_identical_events() -> None:
    messages = [_status("1", "AL", "TGHU1643396", "202405011200", "CNCKG"), _status("2", "OA", "CSQU3054383",
                                                                                    "202405011300")]  # fmt: skip
    baseline = Edifact().parse(_interchange(*messages), RECEIVED).events
    assert len(baseline) == 2
    for una in (False, True):
        for sep in ("", "\n", "\r\n", "\r\n\r\n"):
            data = _interchange(*[m.replace("'", "'" + sep) for m in messages], una=una, sep=sep)
            assert Edifact().parse(data, RECEIVED).events == baseline, (una, sep)
    manila = load("edifact-codeco-manila.edi")
    crlf = manila.replace(b"\n", b"\r\n")
    one_line = b"".join(line.strip() for line in manila.splitlines())
    expected = Edifact().parse(manila, RECEIVED).events
    assert Edifact().parse(crlf, RECEIVED).events == expected
    assert Edifact().parse(one_line, RECEIVED).events == expected


def test_custom_una_separators_and_release_character() -> None:
    text = ("UNA^|.# !UNB|UNOC^3|S|R|240501^1200|9!UNH|1|CODECO^D^95B^UN!BGM|36||9!EQD|CN|TGHU1643396!"
            "DTM|7^202405011200^203!LOC|165|NLRTM^139^6^ECT#!DELTA!UNT|5|1!UNZ|1|9!")  # fmt: skip
    (event,) = Edifact().parse(text.encode(), RECEIVED).events
    assert (event.milestone, event.location) == (Milestone.GATE_OUT, "NLRTM")


def test_same_interchange_twice_same_ids_and_resend_dedupes() -> None:
    data = _interchange(_status("1", "AL", "TGHU1643396", "202405011200", "CNCKG"))
    resent = _interchange(_status("99", "AL", "TGHU1643396", "202405011200", "CNCKG"))
    first = Edifact().parse(data, RECEIVED).events
    assert first == Edifact().parse(data, RECEIVED).events
    assert [e.event_id for e in first] == [e.event_id for e in Edifact().parse(resent, RECEIVED).events]


def test_unsupported_message_type_and_garbage() -> None:
    result = Edifact().parse(b"UNH+1+COPRAR:D:95B:UN'BGM+X'UNT+2+1'", RECEIVED)
    assert result.rejections[0].reason == "UNH 1: message type COPRAR is not IFTSTA, CODECO, COARRI or BAPLIE"
    assert Edifact().parse(b"UNB+UNOC:3'", RECEIVED).rejections[0].reason.startswith("EDIFACT")
    codeco = b"UNH+1+CODECO:D:95B:UN'BGM+99++9'EQD+CN+TGHU1643396'UNT+3+1'"
    assert Edifact().parse(codeco, RECEIVED).rejections[0].reason == (
        "CODECO 1: BGM document code '99' is not 34 (GATE_IN) / 36 (GATE_OUT)"
    )


# --- location qualifiers, one test each (docs/feeds/edifact-locations.md) -----------------------------------------
def _coarri(bgm: str, header_locs: str, group_locs: str, vessel_times: str = "") -> bytes:
    return (f"UNH+1+COARRI:D:95B:UN:ITG13'BGM+{bgm}+R1+9'TDT+20+0AB3NE1+1++CMA:172:20+++9839179:146::CMA CGM JACQUES "
            f"SAADE'{vessel_times}{header_locs}NAD+CF+CMA:160:20'EQD+CN+MSKU0308961+45G1:102:5+++5'DTM+203:"
            f"202405011000:203'{group_locs}CNT+16:1'UNT+9+1'").encode()  # fmt: skip


def test_coarri_discharge_uses_the_port_of_discharge_in_the_vessel_group_not_the_containers_port_of_loading() -> None:
    # The case filed in the issue: LOC+9 (Shanghai, where it was loaded) in the container's group, LOC+11 Rotterdam
    # in the header. The discharge is at Rotterdam, and its local time is Rotterdam's (CEST), not Shanghai's.
    (event,) = Edifact().parse(_coarri("44", "LOC+11+NLRTM:139:6'", "LOC+9+CNSHA:139:6'"), RECEIVED).events
    assert (event.milestone, event.location) == (Milestone.DISCHARGED, "NLRTM")
    assert event.event_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def test_coarri_discharge_loc_11_in_the_container_group() -> None:
    data = _coarri("44", "", "LOC+9+CNSHA:139:6'LOC+11+DEHAM:139:6'LOC+147+0140682::5'")
    (event,) = Edifact().parse(data, RECEIVED).events
    assert event.location == "DEHAM"  # LOC+147 is a stowage cell (bay/row/tier), never a place


def test_coarri_loc_165_terminal_wins_over_the_ports() -> None:
    data = _coarri("44", "", "LOC+165+NLRTM:139:6+ECTDELTA:TER:ZZZ'LOC+11+DEHAM:139:6'")
    assert Edifact().parse(data, RECEIVED).events[0].location == "NLRTM"


def test_coarri_loading_report_uses_loc_9_and_never_loc_11() -> None:
    (event,) = Edifact().parse(_coarri("46", "", "LOC+9+CNSHA:139:6'LOC+11+NLRTM:139:6'"), RECEIVED).events
    assert (event.milestone, event.location) == (Milestone.LOADED, "CNSHA")
    assert event.event_time == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    result = Edifact().parse(_coarri("46", "", "LOC+11+NLRTM:139:6'"), RECEIVED)
    assert [r.reason for r in result.rejections] == [
        "COARRI 1: no place for the loaded container (LOC+165 / LOC+9); LOC+11 is its port of discharge, not where "
        "it was loaded"]  # fmt: skip


def test_codeco_gate_in_without_terminal_uses_port_of_loading_and_gate_out_port_of_discharge() -> None:
    manila = load("edifact-codeco-manila.edi").replace(b"LOC+165+PHMNL:139:6:MICT+MICT'", b"")
    assert Edifact().parse(manila, RECEIVED).events[0].location == "PHMNL"  # gate-in (34): LOC+9
    gate_out = manila.replace(b"BGM+34", b"BGM+36")
    assert Edifact().parse(gate_out, RECEIVED).events[0].location == "HKHKG"  # gate-out (36): LOC+11


def test_iftsta_status_place_is_loc_175_only() -> None:
    status = ("UNH+1+IFTSTA:D:00B:UN'BGM+23+1+9'CNI+1'STS+1+AE'DTM+334:202405011200:203'LOC+9+CNSHA:139:6'"
              "EQD+CN+TGHU1643396'UNT+7+1'")  # fmt: skip
    result = Edifact().parse(_interchange(status), RECEIVED)
    assert result.events == []
    assert [r.reason for r in result.rejections] == [
        "IFTSTA 1 STS AE: no place (LOC+175, activity location) for the status"]  # fmt: skip


def test_iftsta_tdt_group_gives_vessel_departure_and_estimated_arrival() -> None:
    status = ("UNH+1+IFTSTA:D:00B:UN'BGM+23+1+9'CNI+1'STS+1+AE'DTM+334:202405011200:203'LOC+175+CNSHA:139:6'"
              "TDT+20+0AB3NE1+1++CMA:172:20+++9839179:146::CMA CGM JACQUES SAADE'LOC+9+CNSHA:139:6'"
              "DTM+186:202405021800:203'LOC+11+NLRTM:139:6'DTM+132:202406080600:203'EQD+CN+TGHU1643396'UNT+12+1'")
    result = Edifact().parse(_interchange(status), RECEIVED)
    assert result.rejections == [] and len(result.events) == 1
    departed, eta = result.conveyances
    assert departed.conveyance.id == eta.conveyance.id == "VESSEL:IMO9839179:0AB3NE1"
    assert departed.conveyance.vessel_name == "CMA CGM JACQUES SAADE" and departed.conveyance.carrier == "CMA"
    assert (departed.milestone, departed.classifier, departed.call.location) == (
        ConveyanceMilestone.DEPARTED, Classifier.ACTUAL, "CNSHA")
    assert departed.event_time == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)  # 18:00 Shanghai
    assert (eta.milestone, eta.classifier, eta.call.location) == (
        ConveyanceMilestone.ARRIVED, Classifier.ESTIMATED, "NLRTM")
    assert eta.event_time == datetime(2024, 6, 8, 4, 0, tzinfo=UTC)  # 06:00 Rotterdam (CEST)
    again = Edifact().parse(_interchange(status), RECEIVED).conveyances
    assert [c.event_id for c in again] == [c.event_id for c in result.conveyances]


def test_iftsta_vessel_arrival_status_is_a_vessel_event_and_call_sign_identifies_the_vessel() -> None:
    status = ("UNH+1+IFTSTA:D:00B:UN'BGM+23+1+9'CNI+1'STS+1+VA'DTM+334:202406080915:203'LOC+175+NLRTM:139:6'"
              "TDT+20+0AB3NE1+1++CMA:172:20+++FMIA:103::CMA CGM JACQUES SAADE'EQD+CN+TGHU1643396'UNT+9+1'")
    result = Edifact().parse(_interchange(status), RECEIVED)
    (unit,), (vessel,) = result.events, result.conveyances
    assert unit.milestone is Milestone.ARRIVED
    assert vessel.conveyance.id == "VESSEL:CS-FMIA:0AB3NE1"
    assert (vessel.milestone, vessel.classifier, vessel.call.location) == (
        ConveyanceMilestone.ARRIVED, Classifier.ACTUAL, "NLRTM")
    assert vessel.event_time == datetime(2024, 6, 8, 7, 15, tzinfo=UTC)


def test_iftsta_rail_tdt_with_operator_and_first_departure_names_the_train() -> None:
    status = ("UNH+1+IFTSTA:D:00B:UN'BGM+23+1+9'CNI+1'STS+1+RL'DTM+334:202405011030:203'LOC+175+CNCKG:139:6'"
              "TDT+1+X8017+2++YXO:172:ZZZ'LOC+5+CNCKG:139:6'DTM+186:202405011030:203'LOC+8+DEDUI:139:6'"
              "DTM+132:202405171800:203'EQD+CN+TGHU1643396'UNT+12+1'")
    result = Edifact().parse(_interchange(status), RECEIVED)
    assert result.rejections == []
    assert [(c.conveyance.id, c.conveyance.kind, c.milestone, c.call.location) for c in result.conveyances] == [
        ("TRAIN:YXO:X8017:2024-05-01", ConveyanceKind.TRAIN, ConveyanceMilestone.DEPARTED, "CNCKG"),
        ("TRAIN:YXO:X8017:2024-05-01", ConveyanceKind.TRAIN, ConveyanceMilestone.ARRIVED, "DEDUI"),
    ]


def test_iftsta_tdt_without_a_conveyance_reference_warns_and_keeps_the_unit_event() -> None:
    data = load("edifact-iftsta-rail.edi").replace(b"TRHU4561222", b"TRHU4561225")
    result = Edifact().parse(data, RECEIVED)
    assert len(result.events) == 1 and result.conveyances == [] and result.errors == []
    assert [r.reason for r in result.rejections] == [
        "IFTSTA 2805567 STS P: DTM+132 no time zone known for USWOQ: local time 2022-11-21T07:00:00 cannot be placed "
        "in UTC",
        "IFTSTA 2805567 STS P: TDT (no reference): call times not kept: a train needs its operator, number and "
        "departure date: no train number",
    ]


def test_coarri_vessel_group_times_without_loc_are_at_the_port_of_the_report() -> None:
    data = _coarri("44", "", "LOC+11+NLRTM:139:6'", vessel_times="DTM+178:202405010600:203'DTM+133:202405022200:203'")
    result = Edifact().parse(data, RECEIVED)
    assert result.rejections == []
    assert [(c.milestone, c.classifier, c.call.location, c.event_time) for c in result.conveyances] == [
        (ConveyanceMilestone.ARRIVED, Classifier.ACTUAL, "NLRTM", datetime(2024, 5, 1, 4, 0, tzinfo=UTC)),
        (ConveyanceMilestone.DEPARTED, Classifier.ESTIMATED, "NLRTM", datetime(2024, 5, 2, 20, 0, tzinfo=UTC)),
    ]
    assert result.conveyances[0].conveyance.id == "VESSEL:IMO9839179:0AB3NE1"


def test_event_time_qualifiers_in_their_order_local_at_the_place() -> None:
    # COARRI: DTM+203 (execution) before DTM+7 (effective); CODECO: DTM+7 before 203. Both local at the event's place.
    def coarri(times: str) -> bytes:
        return _coarri("44", "LOC+11+NLRTM:139:6'", "").replace(b"DTM+203:202405011000:203'", times.encode())

    both = coarri("DTM+7:202405011200:203'DTM+203:202405011000:203'")
    assert Edifact().parse(both, RECEIVED).events[0].event_time == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    only_7 = coarri("DTM+7:202405011200:203'")
    assert Edifact().parse(only_7, RECEIVED).events[0].event_time == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    none = Edifact().parse(coarri("DTM+137:202405011200:203'"), RECEIVED)
    assert [r.reason for r in none.rejections] == ["COARRI 1: no event time (DTM+203 / DTM+7 / DTM+334)"]
    manila = load("edifact-codeco-manila.edi")
    (gate_in,) = Edifact().parse(manila.replace(b"DTM+7:", b"DTM+203:"), RECEIVED).events
    assert gate_in.event_time == datetime(2011, 4, 2, 4, 59, tzinfo=UTC)  # DTM+203 when no DTM+7: 12:59 Manila


def test_tdt_20_names_the_vessel_by_imo_with_code_list_146_or_lloyds_agency_11_else_call_sign() -> None:
    for c222, imo in [("9839179:146::CMA CGM JACQUES SAADE", "9839179"), ("9839179::11:CMA CGM JACQUES SAADE",
                      "9839179"), ("FMIA:103::CMA CGM JACQUES SAADE", None)]:  # fmt: skip
        data = _coarri("44", "LOC+11+NLRTM:139:6'", "").replace(b"9839179:146::CMA CGM JACQUES SAADE", c222.encode())
        (event,) = Edifact().parse(data, RECEIVED).events
        assert (event.transport.vessel_imo, event.transport.vessel_name, event.transport.voyage) == (
            imo, "CMA CGM JACQUES SAADE", "0AB3NE1")
