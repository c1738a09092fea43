"""Conveyance events (vessel, train, truck) from a TDT group: the conveyance a TDT names, and its calls (LOC/DTM
pairs: DTM+132/133 estimated arrival/departure, 178/186 actual)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from pydifact.segments import Segment

from schemas import ConveyanceEvent
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceKind, ConveyanceMilestone, imo_check_digit_ok
from schemas.events import Classifier
from schemas.refs import Mode
from streams.feeds.edifact.reading import first_error, locode_of
from streams.feeds.edifact.segments import Reject, element
from streams.feeds.ids import event_id
from streams.feeds.locations import locode_zone
from streams.feeds.timeparse import TimeError, dtm_to_utc

# Conveyance times in a TDT group (UN/EDIFACT 2005 date/time qualifiers).
CALL_TIMES = {
    "132": (ConveyanceMilestone.ARRIVED, Classifier.ESTIMATED),
    "133": (ConveyanceMilestone.DEPARTED, Classifier.ESTIMATED),
    "178": (ConveyanceMilestone.ARRIVED, Classifier.ACTUAL),
    "186": (ConveyanceMilestone.DEPARTED, Classifier.ACTUAL),
}


def conveyance_of(tdt: Segment, mode: Mode, departure: datetime | None, reference: str | None = None) -> Conveyance:
    """The conveyance a TDT names, or ValidationError saying what is missing. `departure`: a train's first departure
    (UTC) in its group, whose local date is the train's departure date; `reference`: the voyage when the TDT has no
    conveyance reference of its own (a BAPLIE's RFF+VON)."""
    ref, carrier = element(tdt, 1) or reference or None, element(tdt, 4) or None
    ident, code_list, name = element(tdt, 7), element(tdt, 7, 1), element(tdt, 7, 3) or None
    if mode is Mode.RAIL:
        return Conveyance(kind=ConveyanceKind.TRAIN, carrier=carrier, number=ref,
                          departure_date=departure.date() if departure else None)  # fmt: skip
    if mode is Mode.ROAD:
        return Conveyance(kind=ConveyanceKind.TRUCK, plate=ident or None, trip=ref)
    lloyds = code_list in ("146", "11") or element(tdt, 7, 2) == "11"  # SMDG 2.x 146:11, 3.x ::11 (Lloyd's)
    imo = ident if lloyds and imo_check_digit_ok(ident) else None
    call_sign = ident if code_list == "103" and ident else None
    return Conveyance(kind=ConveyanceKind.VESSEL, carrier=carrier, vessel_imo=imo, call_sign=call_sign,
                      vessel_name=name, voyage=ref)  # fmt: skip


def tdt_group(segments: Sequence[Segment], at: int) -> list[Segment]:
    """The TDT at `at` and the LOC/DTM/RFF segments that belong to it."""
    group = [segments[at]]
    for seg in segments[at + 1:]:
        if seg.tag not in ("LOC", "DTM", "RFF"):
            break
        group.append(seg)
    return group


def tdt_calls(group: Sequence[Segment], mode: Mode, default_place: str | None, src: str, received: datetime,
               problems: list[str]) -> list[ConveyanceEvent]:  # fmt: skip
    """Conveyance events from one TDT group's LOC/DTM pairs (CALL_TIMES). Anything unreadable becomes a problem."""
    times: list[tuple[ConveyanceMilestone, Classifier, str, datetime]] = []
    place = default_place
    for seg in group[1:]:
        if seg.tag == "LOC" and element(seg, 1):
            try:
                place = locode_of(seg)
            except Reject as exc:
                place = None
                problems.append(str(exc))
        elif seg.tag == "DTM" and element(seg, 0) in CALL_TIMES:
            q = element(seg, 0)
            if place is None:
                problems.append(f"DTM+{q} in the TDT group has no place (no LOC before it, no port for the report)")
                continue
            try:
                when = dtm_to_utc(element(seg, 0, 1), element(seg, 0, 2) or "203", place)
            except TimeError as exc:
                problems.append(f"DTM+{q} {exc}")
                continue
            times.append((*CALL_TIMES[q], place, when))
    if not times:
        return []
    departures = [(when, place) for milestone, _, place, when in times if milestone is ConveyanceMilestone.DEPARTED]
    first_departure = None
    if departures:  # a train's departure date is its local date at the place it first departs from
        when, place = min(departures)
        zone = locode_zone(place)
        first_departure = when.astimezone(zone) if zone else None
    try:
        conveyance = conveyance_of(group[0], mode, first_departure)
    except ValidationError as exc:
        problems.append(f"TDT {element(group[0], 1) or '(no reference)'}: call times not kept: {first_error(exc)}")
        return []
    return [conveyance_event(src, conveyance, mode, milestone, classifier, place, when, received)
            for milestone, classifier, place, when in times]


def conveyance_event(src: str, conveyance: Conveyance, mode: Mode, milestone: ConveyanceMilestone,
                      classifier: Classifier, place: str, when: datetime,
                      received: datetime) -> ConveyanceEvent:  # fmt: skip
    eid = event_id(src, conveyance.id, milestone.value, classifier.value, place, when.strftime("%Y%m%dT%H%M%SZ"))
    return ConveyanceEvent(event_id=eid, source=src, conveyance=conveyance, mode=mode,
                           call=ConveyanceCall(location=place), milestone=milestone, classifier=classifier,
                           event_time=when, received_time=received)  # fmt: skip
