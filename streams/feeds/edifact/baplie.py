"""BAPLIE (bay plan / stowage plan occupied locations, SMDG 2.x on D.95B and 3.x on D.13B): which containers are
aboard which vessel voyage, and where each boards and leaves it. A bay plan says who is aboard, not that anything
happened to a container, so it gives no unit events: one `Listing` per container (a LISTED boarding for the
conveyance job), and the vessel's call times at the port of the plan.

Layout read (both versions): a header with BGM, DTM+137 (document time), the vessel group `TDT+20` (conveyance
reference = carrier voyage, else RFF+VON; C222 id with code list 146/11 = IMO number, 103 = call sign; name) with
LOC+5 (the port the plan is made at, the vessel's place of departure) and LOC+61 (next port of call), then one
group per occupied stowage cell starting at LOC+147. In 2.x the cell's LOC+9 / LOC+11 / LOC+83 come before its
EQD; in 3.x each EQD group carries its own LOCs after the EQD: an EQD's own LOCs win over its cell's. A plan whose
containers come without LOC+147 (some senders) is read EQD by EQD.

- boards: LOC+9, the port of loading (an earlier port for a box loaded before this call), else the plan's LOC+5;
- leaves: LOC+11, the port of discharge: where this vessel puts the box ashore. LOC+83 (place of delivery, the
  box's final destination) is further than the vessel goes, and is not where the box leaves it: not used.
- as of: DTM+137 (local at LOC+5), else the time received.

Per container, dropped with a reason, the rest kept: a number failing ISO 6346 (a warning, as for a bad
reference inside a vessel event), an unreadable LOC, no port of loading at all, a box listed twice with two ports
of discharge (`contradictory manifest:`); an EQD that is not a container (EQD+BB break bulk...) is noted as a
warning. A plan naming no vessel or voyage, or listing no cell, rejects the message.

Vessel calls (header, at LOC+5): DTM+178 actual arrival, DTM+136 (or 186) actual departure, DTM+133 estimated
departure. DTM+132 is left out: SMDG defines it as the estimated arrival at the next port (LOC+61), but senders
also use it for the arrival at the port of the plan, and a wrong ETA is worse than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from pydifact.segments import Segment

from schemas.conveyances import Conveyance, ConveyanceMilestone
from schemas.events import Classifier
from schemas.refs import Mode, TrackedUnit
from streams.feeds.base import Listing, ParseResult, Rejection
from streams.feeds.edifact.conveyances import conveyance_event, conveyance_of
from streams.feeds.edifact.reading import add_warnings, first_error, locode_of
from streams.feeds.edifact.segments import Message, Reject, element
from streams.feeds.ids import IdError, container
from streams.feeds.timeparse import TimeError, dtm_to_utc

# Vessel call times at the port of the plan (LOC+5).
CALL_TIMES = {
    "178": (ConveyanceMilestone.ARRIVED, Classifier.ACTUAL),
    "136": (ConveyanceMilestone.DEPARTED, Classifier.ACTUAL),
    "186": (ConveyanceMilestone.DEPARTED, Classifier.ACTUAL),
    "133": (ConveyanceMilestone.DEPARTED, Classifier.ESTIMATED),
}


def _is_cell(seg: Segment) -> bool:
    return seg.tag == "LOC" and element(seg, 0) == "147"


def _loc(segments: Sequence[Segment], qualifier: str) -> Segment | None:
    return next((s for s in segments if s.tag == "LOC" and element(s, 0) == qualifier and element(s, 1)), None)


def _groups(body: Sequence[Segment]) -> list[tuple[list[Segment], list[list[Segment]]]]:
    """(cell segments before its first EQD, [each EQD with the segments after it]) per stowage cell; without any
    LOC+147, one group per EQD."""
    start = _is_cell if any(_is_cell(s) for s in body) else (lambda s: s.tag == "EQD")
    groups: list[tuple[list[Segment], list[list[Segment]]]] = []
    for seg in body:
        if seg.tag in ("CNT", "UNT"):
            break
        if start(seg):
            groups.append(([], []))
        if not groups:
            continue
        cell, equipment = groups[-1]
        if seg.tag == "EQD":
            equipment.append([seg])
        elif equipment:
            equipment[-1].append(seg)
        else:
            cell.append(seg)
    return groups


def baplie_listings(msg: Message, received: datetime, src: str, result: ParseResult, index: int,
                    frag: bytes) -> None:  # fmt: skip
    label = f"BAPLIE {msg.reference}"
    body = msg.segments
    first = next((i for i, s in enumerate(body) if _is_cell(s) or s.tag == "EQD"), len(body))
    header, groups = body[:first], _groups(body[first:])
    tdt = next((s for s in header if s.tag == "TDT"), None)
    if tdt is None:
        raise Reject(f"{label}: names no vessel (no TDT+20): its containers cannot be put aboard a voyage")
    voyage = next((element(s, 0, 1) for s in header if s.tag == "RFF" and element(s, 0) == "VON"), "") or None
    try:
        vessel = conveyance_of(tdt, Mode.SEA, None, voyage)
    except ValidationError as exc:
        raise Reject(f"{label}: TDT+20 names no vessel voyage corridor can key: {first_error(exc)}") from None
    problems: list[str] = []
    port = _port(header, "5", problems)
    as_of = _document_time(header, port, received, problems)
    if not groups:
        raise Reject(f"{label}: lists no stowage cell (LOC+147) or container (EQD)")
    listed: dict[str, tuple[TrackedUnit, str | None, str | None, str]] = {}
    contradicted: set[str] = set()
    for cell, equipment in groups:
        slot = element(cell[0], 1) if cell and _is_cell(cell[0]) else "?"
        if not equipment:
            continue  # a cell reported without a box (3.x may report empty or blocked cells)
        for group in equipment:
            eqd = group[0]
            where = f"{label} cell {slot}"
            if element(eqd, 0) not in ("CN", ""):
                problems.append(f"cell {slot}: EQD+{element(eqd, 0)} {element(eqd, 1)} is not a container; "
                                "corridor tracks containers")  # fmt: skip
                continue
            try:
                unit = container(element(eqd, 1))
            except IdError as exc:
                problems.append(f"cell {slot}: EQD+CN: {exc}; that container is not listed")
                continue
            try:
                boards = _pick(group, cell, "9") or port
                leaves = _pick(group, cell, "11")
            except Reject as exc:
                result.rejections.append(Rejection(f"{where}: {unit.id}: {exc}", frag, index))
                continue
            if boards is None:
                result.rejections.append(Rejection(f"{where}: {unit.id}: no port of loading (LOC+9) and the plan "
                                                   "names no port (LOC+5)", frag, index))  # fmt: skip
                continue
            seen = listed.get(unit.id)
            if seen is not None and (seen[1], seen[2]) != (boards, leaves):
                contradicted.add(unit.id)
                result.rejections.append(Rejection(
                    f"{label}: contradictory manifest: {unit.id} is listed in cells {seen[3]} and {slot}, loaded at "
                    f"{seen[1]} and {boards}, to be discharged at {seen[2]} and {leaves}; not listed", frag, index))
                continue
            if seen is not None:
                problems.append(f"{unit.id} is listed in cells {seen[3]} and {slot}; listed once")
                continue
            listed[unit.id] = (unit, boards, leaves, slot)
    for unit_id, (unit, boards, leaves, _) in listed.items():
        if unit_id not in contradicted:
            result.listings.append(Listing(vessel, unit, boards, leaves, as_of))
    if port is not None:
        _calls(header, vessel, port, src, received, result, problems)
    add_warnings(result, label, problems, index, frag)


def _port(header: Sequence[Segment], qualifier: str, problems: list[str]) -> str | None:
    seg = _loc(header, qualifier)
    if seg is None:
        return None
    try:
        return locode_of(seg)
    except Reject as exc:
        problems.append(str(exc))
        return None


def _pick(group: Sequence[Segment], cell: Sequence[Segment], qualifier: str) -> str | None:
    """The EQD group's own LOC (3.x), else its cell's (2.x)."""
    seg = _loc(group, qualifier) or _loc(cell, qualifier)
    return locode_of(seg) if seg is not None else None


def _document_time(header: Sequence[Segment], port: str | None, received: datetime, problems: list[str]) -> datetime:
    dtm = next((s for s in header if s.tag == "DTM" and element(s, 0) == "137"), None)
    if dtm is None:
        return received
    fmt = element(dtm, 0, 2) or "203"
    try:
        if port is None and fmt not in ("205", "303", "304"):
            raise TimeError("has no zone and the plan names no port (LOC+5) to read it in")
        return dtm_to_utc(element(dtm, 0, 1), fmt, port or "")
    except TimeError as exc:
        problems.append(f"DTM+137 {exc}: the plan is taken as of the time it was received")
        return received


def _calls(header: Sequence[Segment], vessel: Conveyance, port: str, src: str, received: datetime,
           result: ParseResult, problems: list[str]) -> None:  # fmt: skip
    for seg in header:
        if seg.tag != "DTM" or element(seg, 0) not in CALL_TIMES:
            continue
        q = element(seg, 0)
        try:
            when = dtm_to_utc(element(seg, 0, 1), element(seg, 0, 2) or "203", port)
        except TimeError as exc:
            problems.append(f"DTM+{q} {exc}")
            continue
        milestone, classifier = CALL_TIMES[q]
        result.add_conveyance(conveyance_event(src, vessel, Mode.SEA, milestone, classifier, port, when, received))
