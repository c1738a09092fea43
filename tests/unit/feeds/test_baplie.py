"""BAPLIE bay plans (streams/feeds/edifact/baplie.py): who is aboard which voyage, from where to where; the samples
were written for corridor following the SMDG BAPLIE 2.2 (D.95B) and 3.1 (D.13B) message implementation guides."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas import DeadLetter, decode
from schemas.conveyances import ConveyanceEvent
from schemas.topics import TopicNames
from streams.feeds.edifact.interchange import Edifact
from streams.feeds.registry import detect
from streams.feeds.registry import parse as parse_any
from streams.processing.conveyances import ConveyanceEngine
from streams.processing.ingest import Ingestor
from tests.unit.feeds.conftest import RECEIVED, load

TOPICS = TopicNames()
V2, V3 = "edifact-baplie-22-singapore.edi", "edifact-baplie-31-antwerp.edi"


def _aboard(result) -> dict[str, tuple[str | None, str | None]]:
    return {x.unit.id: (x.boards, x.leaves) for x in result.listings}


def test_smdg22_bay_plan_lists_each_container_from_its_port_of_loading_to_its_port_of_discharge() -> None:
    result = Edifact().parse(load(V2), RECEIVED)
    assert result.events == [] and result.errors == []  # a bay plan says who is aboard, not what a box did
    assert _aboard(result) == {
        "MSKU0308961": ("CNSHA", "NLRTM"),  # LOC+83 DEDUI is its place of delivery, not where the vessel leaves it
        "MAEU1234567": ("SGSIN", "DEHAM"),
        "MRKU9000129": ("CNSHA", "NLRTM"),
        "SEGU4455666": ("SGSIN", "NLRTM"),
    }
    (vessel,) = {x.conveyance for x in result.listings}
    assert vessel.id == "VESSEL:IMO9321483:2103N" and vessel.vessel_name == "EMMA MAERSK"
    # DTM+137 2601122300 (format 201) is local at LOC+5 Singapore (UTC+8).
    assert {x.as_of for x in result.listings} == {datetime(2026, 1, 12, 15, 0, tzinfo=UTC)}
    (warning,) = result.rejections
    assert warning.warning and warning.index == 0 and b"TGHU1643390" in (warning.fragment or b"")
    assert warning.reason == ("BAPLIE BP0007: cell 0030184: EQD+CN: container TGHU1643390 has a wrong check digit "
                              "(expected 6); that container is not listed")


def test_smdg22_vessel_times_at_the_port_of_the_plan_and_no_eta_from_dtm_132() -> None:
    calls = Edifact().parse(load(V2), RECEIVED).conveyances
    assert [(c.call.location, c.milestone.value, c.classifier.value, c.event_time) for c in calls] == [
        ("SGSIN", "ARRIVED", "ACTUAL", datetime(2026, 1, 11, 6, 30, tzinfo=UTC)),   # DTM+178
        ("SGSIN", "DEPARTED", "ACTUAL", datetime(2026, 1, 12, 14, 45, tzinfo=UTC)),  # DTM+136
    ]  # DTM+132 (an arrival, at LOC+61 or LOC+5 depending on the sender) gives nothing
    assert {c.source for c in calls} == {"edifact-baplie"}


def test_smdg31_bay_plan_each_eqd_group_carries_its_own_ports_and_a_bundle_shares_a_cell() -> None:
    result = Edifact().parse(load(V3), RECEIVED)
    assert result.rejections == []
    assert _aboard(result) == {
        "HLXU8765430": ("BEANR", "DEHAM"),  # LOC+83 CZPRG not used
        "GESU2100343": ("USNYC", "DEHAM"),
        "TCLU1000019": ("USNYC", "DEHAM"),  # two flats in cell 0460112
        "CMAU5123450": ("USNYC", "DEHAM"),
    }
    # 3.x names the vessel by IMO number with agency 11 (Lloyd's) and no code list: `9501332::11:NAME`.
    assert {x.conveyance.id for x in result.listings} == {"VESSEL:IMO9501332:014E47"}
    assert {x.as_of for x in result.listings} == {datetime(2026, 2, 10, 5, 30, tzinfo=UTC)}  # Antwerp, UTC+1
    assert [(c.milestone.value, c.classifier.value) for c in result.conveyances] == [
        ("ARRIVED", "ACTUAL"), ("DEPARTED", "ESTIMATED")]  # fmt: skip


def _plan(cells: str, header: str = "TDT+20+2103N+++MAE:172:20+++9321483:146:11:EMMA MAERSK'LOC+5+SGSIN:139:6'",
          dtm: str = "DTM+137:2601122300:201'") -> bytes:  # fmt: skip
    return f"UNH+7+BAPLIE:D:95B:UN:SMDG22'BGM++P7+9'{dtm}{header}{cells}UNT+20+7'".encode()


def _cell(slot: str, box: str, pol: str = "CNSHA", pod: str = "NLRTM") -> str:
    locs = (f"LOC+9+{pol}:139:6'" if pol else "") + (f"LOC+11+{pod}:139:6'" if pod else "")
    return f"LOC+147+{slot}::5'MEA+WT++KGM:20000'{locs}EQD+CN+{box}+45G1+++5'"


# --- one test per location qualifier (docs/feeds/edifact-locations.md) --------------------------------------------
def test_loc_9_is_where_the_box_boards_else_the_port_of_the_plan_loc_5() -> None:
    result = Edifact().parse(_plan(_cell("0010082", "MSKU0308961") + _cell("0010084", "MAEU1234567", pol="")),
                             RECEIVED)  # fmt: skip
    assert _aboard(result) == {"MSKU0308961": ("CNSHA", "NLRTM"), "MAEU1234567": ("SGSIN", "NLRTM")}
    nowhere = Edifact().parse(_plan(_cell("0010082", "MSKU0308961", pol=""), header="TDT+20+2103N+++MAE+++9321483"
                                    ":146'"), RECEIVED)  # fmt: skip
    assert nowhere.listings == []
    assert nowhere.errors[0].reason == ("BAPLIE 7 cell 0010082: MSKU0308961: no port of loading (LOC+9) and the "
                                        "plan names no port (LOC+5)")


def test_loc_11_is_where_the_box_leaves_the_vessel_and_without_it_that_is_not_known() -> None:
    result = Edifact().parse(_plan(_cell("0010082", "MSKU0308961", pod="")), RECEIVED)
    assert _aboard(result) == {"MSKU0308961": ("CNSHA", None)}  # it hears every arrival after it boarded


def test_loc_83_place_of_delivery_is_never_the_port_of_discharge() -> None:
    cell = "LOC+147+0010082::5'LOC+9+CNSHA:139:6'LOC+83+DEDUI:139:6'EQD+CN+MSKU0308961+45G1+++5'"
    assert _aboard(Edifact().parse(_plan(cell), RECEIVED)) == {"MSKU0308961": ("CNSHA", None)}


def test_loc_147_is_a_stowage_cell_not_a_place_and_an_eqds_own_locs_win_over_its_cells() -> None:
    # 3.x: LOCs after the EQD belong to it; 2.x: LOCs of the cell before the EQD apply to every box in the cell.
    cell = ("LOC+147+0460112::5'LOC+9+USNYC'LOC+11+DEHAM'EQD+CN+TCLU1000019+42P3+++5'LOC+11+NLRTM'"
            "EQD+CN+CMAU5123450+42P3+++5'")  # fmt: skip
    assert _aboard(Edifact().parse(_plan(cell), RECEIVED)) == {"TCLU1000019": ("USNYC", "NLRTM"),
                                                               "CMAU5123450": ("USNYC", "DEHAM")}  # fmt: skip


def test_loc_5_and_61_place_the_vessel_times_and_the_plan_time() -> None:
    header = "TDT+20+2103N+++MAE+++9321483:146'LOC+5+NLRTM'LOC+61+DEHAM'DTM+186:202601200700:203'"
    result = Edifact().parse(_plan(_cell("0010082", "MSKU0308961"), header=header), RECEIVED)
    (atd,) = result.conveyances
    assert (atd.call.location, atd.milestone.value, atd.event_time) == (
        "NLRTM", "DEPARTED", datetime(2026, 1, 20, 6, 0, tzinfo=UTC))  # local at Rotterdam, never at LOC+61
    assert result.listings[0].as_of == datetime(2026, 1, 12, 22, 0, tzinfo=UTC)  # DTM+137 at Rotterdam too


def test_containers_without_loc_147_are_read_eqd_by_eqd() -> None:
    cells = "EQD+CN+MSKU0308961+45G1+++5'LOC+9+CNSHA'LOC+11+NLRTM'EQD+CN+MAEU1234567+45G1+++5'LOC+11+DEHAM'"
    assert _aboard(Edifact().parse(_plan(cells), RECEIVED)) == {"MSKU0308961": ("CNSHA", "NLRTM"),
                                                                "MAEU1234567": ("SGSIN", "DEHAM")}  # fmt: skip


# --- bad input -------------------------------------------------------------------------------------------------------
def test_a_plan_naming_no_vessel_or_no_voyage_is_rejected_whole() -> None:
    for header, reason in [
        ("LOC+5+SGSIN:139:6'", "BAPLIE 7: names no vessel (no TDT+20): its containers cannot be put aboard a voyage"),
        ("TDT+20++++MAE+++9321483:146'LOC+5+SGSIN'", "BAPLIE 7: TDT+20 names no vessel voyage corridor can key: "
         "vessel IMO9321483 names no voyage (carrier voyage number, or service and universal voyage reference): "
         "its voyages cannot be told apart"),
        ("TDT+20+2103N+++MAE'LOC+5+SGSIN'", "BAPLIE 7: TDT+20 names no vessel voyage corridor can key: a vessel "
         "needs an IMO number, a call sign or a name"),
    ]:  # fmt: skip
        result = Edifact().parse(_plan(_cell("0010082", "MSKU0308961"), header=header), RECEIVED)
        assert result.listings == [] and [r.reason for r in result.rejections] == [reason]
        assert result.rejections[0].fragment.startswith(b"UNH+7+BAPLIE")
    # The voyage from RFF+VON when the TDT has no conveyance reference (some 2.x senders).
    header = "TDT+20++++MAE+++9321483:146'RFF+VON:2103N'LOC+5+SGSIN'"
    result = Edifact().parse(_plan(_cell("0010082", "MSKU0308961"), header=header), RECEIVED)
    assert result.listings[0].conveyance.id == "VESSEL:IMO9321483:2103N"


def test_a_box_listed_twice_with_two_ports_of_discharge_contradicts_the_manifest_and_the_rest_is_kept() -> None:
    cells = (_cell("0010082", "MSKU0308961") + _cell("0030082", "MSKU0308961", pod="DEHAM")
             + _cell("0050082", "MAEU1234567") + _cell("0070082", "MAEU1234567"))  # fmt: skip
    result = Edifact().parse(_plan(cells), RECEIVED)
    assert _aboard(result) == {"MAEU1234567": ("CNSHA", "NLRTM")}  # listed twice alike: listed once, with a warning
    (error,) = result.errors
    assert error.reason == ("BAPLIE 7: contradictory manifest: MSKU0308961 is listed in cells 0010082 and 0030082, "
                            "loaded at CNSHA and CNSHA, to be discharged at NLRTM and DEHAM; not listed")
    assert [r.reason for r in result.rejections if r.warning] == [
        "BAPLIE 7: MAEU1234567 is listed in cells 0050082 and 0070082; listed once"]


def test_an_unknown_port_drops_that_box_and_a_non_container_is_noted() -> None:
    cells = (_cell("0010082", "MSKU0308961", pod="XXZZZ") + _cell("0030082", "MAEU1234567")
             + "LOC+147+0050082::5'LOC+9+CNSHA'EQD+BB+PROJECT CARGO 1'")  # fmt: skip
    result = Edifact().parse(_plan(cells), RECEIVED)
    assert _aboard(result) == {"MAEU1234567": ("CNSHA", "NLRTM")}
    assert [r.reason for r in result.errors] == [
        "BAPLIE 7 cell 0010082: MSKU0308961: LOC+11: location XXZZZ is not a UN/LOCODE we know (XX is not a "
        "country code)"]
    assert [r.reason for r in result.rejections if r.warning] == [
        "BAPLIE 7: cell 0050082: EQD+BB PROJECT CARGO 1 is not a container; corridor tracks containers"]


def test_an_unreadable_plan_time_falls_back_to_the_time_received_with_a_warning() -> None:
    result = Edifact().parse(_plan(_cell("0010082", "MSKU0308961"), dtm="DTM+137:2601AA:201'"), RECEIVED)
    assert result.listings[0].as_of == RECEIVED
    assert result.rejections[0].warning and "DTM+137" in result.rejections[0].reason


@pytest.mark.parametrize("data", [
    b"UNH+1+BAPLIE:D:95B:UN'",
    b"UNH+1+BAPLIE:D:95B:UN'BGM++1+9'TDT+20+2103N+++MAE+++9321483:146'LOC+5+SGSIN'UNT+4+1'",
    b"UNA:+.? 'UNH+1+BAPLIE:D:95B:UN'TDT+20+V1?'LOC+147+0010082::5'EQD+CN+MSKU0308961'UNT+5+1",
    b"UNH+1+BAPLIE:D:95B:UN'TDT+20+2103N+++MAE+++9321483:146:11:X:Y:Z:W'LOC+147'EQD'EQD+CN'LOC+9'UNT",
    "UNH+1+BAPLIE:D:95B:UN'TDT+20+2103N+++MAE+++9321483:146'LOC+5+SGSIN'LOC+147+1'EQD+CN+MSKU0308961"
    "'LOC+9+ÅÄÖ'UNT+5+1'".encode("latin-1"),
])  # fmt: skip
def test_malformed_plans_are_rejected_never_raised(data: bytes) -> None:
    assert detect(data).name == "edifact"
    result = parse_any(data, None, RECEIVED)
    assert result.errors and all(r.fragment for r in result.errors)


# --- into the pipeline: ingest writes LISTED boardings, the conveyance job fans out to who leaves where -----------
def test_ingest_writes_each_listed_box_to_the_boardings_topic_keyed_by_ride_and_the_warning_to_dead_letters() -> None:
    data = load(V2)
    out = Ingestor(TOPICS).process_raw(TOPICS.raw("edifact"), 0, 5, b"k", data, RECEIVED.timestamp())
    assert [o.topic for o in out] == [TOPICS.name("conveyance")] * 2 + [TOPICS.name("boarding")] * 4 + [
        TOPICS.name("dead_letter")]  # fmt: skip
    boardings = [orjson.loads(o.value) for o in out if o.topic == TOPICS.name("boarding")]
    assert {o.key for o in out if o.topic == TOPICS.name("boarding")} == {b"VOYAGE:2103N"}
    assert boardings[0] == {"record": "boarding", "ride": "VOYAGE:2103N", "basis": "LISTED",
                            "unit": {"kind": "CONTAINER", "id": "MSKU0308961"}, "boards": "CNSHA", "leaves": "NLRTM",
                            "via": [], "as_of": "2026-01-12T15:00:00Z"}  # fmt: skip
    letter = decode(out[-1].value, DeadLetter)
    assert letter.reason.startswith("edifact: warning: BAPLIE BP0007: cell 0030184") and letter.original == data

    rides = ConveyanceEngine({}, TOPICS, 4)
    for o in out:
        if o.topic == TOPICS.name("boarding"):
            assert rides.process(o.topic, 0, None, o.key, o.value) == []  # nothing reported on the ride yet
    ata = ConveyanceEvent.model_validate({
        "event_id": "eta-rtm", "source": "dcsa", "mode": "SEA", "milestone": "ARRIVED", "classifier": "ESTIMATED",
        "conveyance": {"kind": "VESSEL", "vessel_imo": "9321483", "voyage": "2103N"}, "call": {"location": "NLRTM"},
        "event_time": "2026-01-26T18:00:00Z", "received_time": "2026-01-13T00:00:00Z"})  # fmt: skip
    (rekeyed,) = rides.process(TOPICS.name("conveyance"), 0, None, ata.conveyance.id.encode(),
                               ata.model_dump_json().encode())  # fmt: skip
    fanned = rides.process(TOPICS.name("boarding"), 0, None, rekeyed.key, rekeyed.value)
    hear = sorted(u for o in fanned for _, u in orjson.loads(o.value)["units"])
    assert hear == ["MRKU9000129", "MSKU0308961", "SEGU4455666"]  # MAEU1234567 leaves at Hamburg
    # The plan's own actual departure from Singapore: heard by the boxes loaded there, as their departure.
    atd = next(o for o in out if o.topic == TOPICS.name("conveyance") and b"DEPARTED" in o.value)
    (rekeyed,) = rides.process(atd.topic, 0, None, atd.key, atd.value)
    fanned = rides.process(TOPICS.name("boarding"), 0, None, rekeyed.key, rekeyed.value)
    assert sorted(u for o in fanned for _, u in orjson.loads(o.value)["units"]) == ["MAEU1234567", "SEGU4455666"]


def test_corridor_parse_prints_the_vessel_events_and_the_boardings_and_exits_0_on_warnings() -> None:
    from typer.testing import CliRunner

    from streams.cli import app
    from tests.unit.feeds.conftest import SAMPLES

    result = CliRunner().invoke(app, ["parse", str(SAMPLES / V2), "--received", "2026-01-12T16:00:00+00:00"])
    assert result.exit_code == 0, result.output
    printed = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [p["record"] for p in printed] == ["conveyance_event"] * 2 + ["boarding"] * 4
    assert {(p["ride"], p["basis"]) for p in printed[2:]} == {("VOYAGE:2103N", "LISTED")}
    assert "warning [0] BAPLIE BP0007: cell 0030184: EQD+CN: container TGHU1643390" in result.stderr
    nameless = load(V2).replace(b"TDT+20+2103N+++MAE:172:20+++9321483:146:11:EMMA MAERSK'", b"")
    result = CliRunner().invoke(app, ["parse", "-", "--received", "2026-01-12T16:00:00+00:00"], input=nameless)
    assert result.exit_code == 1 and result.stdout == ""
    assert "rejected [0] BAPLIE BP0007: names no vessel (no TDT+20)" in result.stderr
