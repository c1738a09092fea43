"""What the EDIFACT messages share, read from segments: a place (LOC, a UN/LOCODE), a time (DTM, local at that
place), the containers (EQD+CN, RFF+EQ), the means of transport (TDT), the shipment's references (RFF+BN/BM), and
the canonical event they make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError
from pydifact.segments import Segment

from schemas import TrackingEvent
from schemas.events import Classifier, Milestone, ShipmentRefs, TransportRef
from schemas.refs import Mode, TrackedUnit
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.edifact.segments import Reject, element
from streams.feeds.ids import IdError, container, event_id
from streams.feeds.locations import LocationError, check_locode, is_known_locode
from streams.feeds.timeparse import TimeError, dtm_to_utc

MODES = {"1": Mode.SEA, "2": Mode.RAIL, "3": Mode.ROAD, "4": Mode.AIR, "8": Mode.BARGE}
TIME_QUALIFIERS = {"IFTSTA": ("334",), "CODECO": ("7", "203", "334"), "COARRI": ("203", "7", "334")}


def locode_of(seg: Segment) -> str:
    raw = element(seg, 1)
    if len(raw) > 5 and is_known_locode(raw[:5]):
        raw = raw[:5]  # terminal suffix, e.g. IDJKT45
    try:
        return check_locode(raw)
    except LocationError as exc:
        raise Reject(f"LOC+{element(seg, 0)}: {exc}") from None


def pick_location(segments: Sequence[Segment], qualifiers: Sequence[str],
                   fallback: Sequence[Segment] = ()) -> str | None:  # fmt: skip
    """The first qualifier found wins; for each, `segments` (the container's group) before `fallback` (header)."""
    for q in qualifiers:
        for where in (segments, fallback):
            for seg in where:
                if seg.tag == "LOC" and element(seg, 0) == q and element(seg, 1):
                    return locode_of(seg)
    return None


def event_time(segments: Sequence[Segment], qualifiers: Sequence[str], locode: str) -> datetime:
    for q in qualifiers:
        for seg in segments:
            if seg.tag == "DTM" and element(seg, 0) == q:
                value, fmt = element(seg, 0, 1), element(seg, 0, 2) or "203"
                try:
                    return dtm_to_utc(value, fmt, locode)
                except TimeError as exc:
                    raise Reject(f"DTM+{q} {exc}") from None
    raise Reject(f"no event time (DTM+{' / DTM+'.join(qualifiers)})")


def units_in(segments: Sequence[Segment]) -> list[TrackedUnit]:
    found: list[tuple[str, str]] = []
    for seg in segments:
        if seg.tag == "EQD" and element(seg, 0) in ("CN", "") and element(seg, 1):
            found.append(("EQD+CN", element(seg, 1)))
        elif seg.tag == "RFF" and element(seg, 0) == "EQ" and element(seg, 0, 1):
            found.append(("RFF+EQ", element(seg, 0, 1)))
    units: dict[str, TrackedUnit] = {}
    for where, number in found:
        try:
            unit = container(number)
        except IdError as exc:
            raise Reject(f"{where}: {exc}") from None
        units.setdefault(unit.id, unit)
    return list(units.values())


def transport_of(tdt: Segment | None, mode: Mode) -> TransportRef:
    if tdt is None:
        return TransportRef()
    ref, carrier = element(tdt, 1) or None, element(tdt, 4) or None
    ident, code_list, name = element(tdt, 7), element(tdt, 7, 1), element(tdt, 7, 3) or None
    if mode in (Mode.SEA, Mode.BARGE):
        lloyds = code_list in ("146", "11") or element(tdt, 7, 2) == "11"  # SMDG 2.x 146:11, 3.x ::11 (Lloyd's)
        imo = ident if lloyds and len(ident) == 7 and ident.isdigit() else None
        return TransportRef(carrier=carrier, vessel_imo=imo, vessel_name=name, voyage=ref)
    if mode is Mode.RAIL:
        return TransportRef(carrier=carrier, train=ref)
    if mode is Mode.ROAD:
        return TransportRef(carrier=carrier, truck=(ident or ref or None) and (ident or ref)[:15])
    return TransportRef(carrier=carrier)


def shipment_refs(segments: Sequence[Segment]) -> ShipmentRefs:
    refs = {element(s, 0): element(s, 0, 1) for s in reversed(segments) if s.tag == "RFF" and element(s, 0, 1)}
    return ShipmentRefs(booking=refs.get("BN"), bill_of_lading=refs.get("BM"))


def tracking_event(src: str, unit: TrackedUnit, mode: Mode, milestone: Milestone, location: str, when: datetime,
           received: datetime, transport: TransportRef, shipment: ShipmentRefs) -> TrackingEvent:  # fmt: skip
    eid = event_id(src, unit.id, milestone.value, location, when.strftime("%Y%m%dT%H%M%SZ"))
    return TrackingEvent(
        event_id=eid, source=src, unit=unit, mode=mode, milestone=milestone, classifier=Classifier.ACTUAL,
        location=location, event_time=when, received_time=received, transport=transport, shipment=shipment,
    )  # fmt: skip



def first_error(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def add_warnings(result: ParseResult, label: str, problems: list[str], index: int, frag: bytes) -> None:
    for p in dict.fromkeys(problems):
        result.rejections.append(Rejection(f"{label}: {p}", frag, index, warning=True))
