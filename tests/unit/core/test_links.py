"""Links as the unit state stores them and the unit report carries them (`streams.core.links`): the named type
reads and writes the same positional rows, so a state written before it decodes, and re-encodes, unchanged."""

from __future__ import annotations

from schemas import ShipmentRefs
from streams.core.links import Link, live, since, with_link
from streams.core.shipments.parts import UnitRide, parts_of
from streams.core.state import UnitState
from streams.core.tracker import apply_event
from tests.support.factories import POLICY, UNIT, event

BL = "BILL_OF_LADING:COSU1234567890"
ROW = ["stuffed-1", 1, 1709258400000000, "CNSHA", 3, 0]
# A container's state after one stuffing, as encoded by the engine before links had a named type (pinned bytes: a
# worker restarted on its RocksDB or changelog reads these).
STORED = (b'[3,["CONTAINER","CSQU3054383"],null,[["stuffed-1","carrier",6,2,0,"CNSHA",1709258400000000,'
          b'1709258400000000,0,"fdde48685dab30b7"]],[],0,null,{},0,"c721cfe16d2c47b0c47b6e2d",null,'
          b'{"BILL_OF_LADING:COSU1234567890":[["stuffed-1",1,1709258400000000,"CNSHA",3,0]]}]')  # fmt: skip


def stuffed(pieces: int = 3, retracted: bool = False):  # type: ignore[no-untyped-def]
    e = event("STUFFED", "CNSHA", "2024-03-01 02:00", event_id="stuffed-1")
    return e.model_copy(update={"shipment": ShipmentRefs(bill_of_lading="COSU1234567890", pieces=pieces),
                                "retracted": retracted})  # fmt: skip


def test_a_link_reads_and_writes_the_stored_row() -> None:
    link = Link.of(ROW)
    assert (link.event_id, link.stuffed, link.time, link.location, link.pieces, link.retracted) == tuple(ROW)
    assert link.row() == ROW and type(link.row()) is list


def test_a_stuffing_is_stored_as_before_and_an_old_state_still_decodes() -> None:
    outcome = apply_event(UnitState(), stuffed(), None, POLICY)
    assert outcome.linked == [BL]
    assert outcome.state.encode() == STORED
    old = UnitState.decode(STORED)
    assert old.links == {BL: [ROW]} and Link.of(old.links[BL][0]).pieces == 3
    assert old.encode() == STORED


def test_a_corrected_link_event_takes_its_earlier_version_s_place() -> None:
    state = apply_event(UnitState(), stuffed(), None, POLICY).state
    corrected = stuffed(pieces=5).model_copy(update={"received_time": stuffed().received_time.replace(hour=5)})
    after = apply_event(state, corrected, None, POLICY).state
    assert [Link.of(x).pieces for x in after.links[BL]] == [5]
    links = with_link({BL: [ROW], "BOOKING:B1": [ROW]}, ["BOOKING:B1"], Link("other", 0, 9, "NLRTM", None, 0))
    assert links == {BL: [ROW], "BOOKING:B1": [ROW, ["other", 0, 9, "NLRTM", None, 0]]}


def test_since_keeps_a_shipment_s_links_whole_while_any_is_recent_and_live_drops_withdrawn_ones() -> None:
    old, new = ["a", 1, 5, "CNSHA", None, 0], ["b", 0, 50, "NLRTM", None, 1]
    assert since({"X:1": [old, new], "X:2": [old]}, 10) == {"X:1": [old, new]}
    assert live([old, new]) == [Link.of(old)]


def test_the_shipment_job_pairs_reported_rows_into_parts() -> None:
    ride = UnitRide(UNIT, [["in", 1, 0, "CNSHA", 2, 0], ["gone", 0, 1, "CNSHA", None, 1],
                           ["out", 0, 3_600_000_000, "NLRTM", 2, 0]], False, {})  # fmt: skip
    (part,) = parts_of([ride], total=4)
    assert (part.pieces, part.loaded_at, part.unloaded_at) == (2, "CNSHA", "NLRTM")
