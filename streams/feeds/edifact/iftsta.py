"""IFTSTA (international multimodal status report): one event per STS status and container, and the vessel or
train calls its TDT groups carry."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pydantic import ValidationError
from pydifact.segments import Segment

from schemas import ConveyanceEvent, TrackingEvent
from schemas.conveyances import ConveyanceMilestone
from schemas.events import DCSA_CODES, Classifier, Milestone
from schemas.refs import Mode
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.edifact.conveyances import conveyance_event, conveyance_of, tdt_calls, tdt_group
from streams.feeds.edifact.reading import (
    MODES,
    TIME_QUALIFIERS,
    add_warnings,
    event_time,
    first_error,
    pick_location,
    shipment_refs,
    tracking_event,
    transport_of,
    units_in,
)
from streams.feeds.edifact.segments import Message, Reject, element, segment_groups

# IFTSTA STS status event codes -> (milestone, mode when the status has no TDT).
STATUS_CODES: dict[str, tuple[Milestone, Mode]] = {
    "I": (Milestone.GATE_IN, Mode.ROAD),  # in-gate
    "OA": (Milestone.GATE_OUT, Mode.ROAD),  # out-gate
    "RD": (Milestone.GATE_IN, Mode.ROAD),  # empty container returned
    "EE": (Milestone.GATE_OUT, Mode.ROAD),  # empty equipment dispatched
    "AE": (Milestone.LOADED, Mode.SEA),  # loaded on vessel
    "UV": (Milestone.DISCHARGED, Mode.SEA),  # unloaded from vessel
    "VD": (Milestone.DEPARTED, Mode.SEA),  # vessel departure
    "VA": (Milestone.ARRIVED, Mode.SEA),  # vessel arrival
    "AL": (Milestone.LOADED, Mode.RAIL),  # loaded on rail
    "UR": (Milestone.DISCHARGED, Mode.RAIL),  # unloaded from rail
    "RL": (Milestone.DEPARTED, Mode.RAIL),  # rail departure
    "AR": (Milestone.ARRIVED, Mode.RAIL),  # rail arrival
    "P": (Milestone.DEPARTED, Mode.RAIL),  # departed from an in-transit location
    "D": (Milestone.DELIVERED, Mode.ROAD),  # delivered
    "CT": (Milestone.CUSTOMS_RELEASED, Mode.SEA),  # customs released
}
STATUS_CODES.update({code: (m, Mode.SEA) for code, m in DCSA_CODES.items()})
VESSEL_STATUSES = {"VA": ConveyanceMilestone.ARRIVED, "VD": ConveyanceMilestone.DEPARTED}


def iftsta_events(msg: Message, received: datetime, src: str, result: ParseResult, index: int,
            frag: bytes) -> Iterator[TrackingEvent]:  # fmt: skip
    rejections = result.rejections
    body = msg.segments
    first = next((i for i, s in enumerate(body) if s.tag in ("CNI", "STS")), len(body))
    header = body[:first]
    statuses = list(segment_groups(body[first:], "STS", ("CNI", "UNT", "CNT")))
    if not statuses:
        raise Reject(f"UNH {msg.reference} IFTSTA: no STS status segment")
    for group in statuses:
        label = f"IFTSTA {msg.reference} STS {element(group[0], 1) or '?'}"
        try:
            yield from _status(group, header, received, src)
            problems: list[str] = []
            for c in _status_conveyances(group, received, src, problems):
                result.add_conveyance(c)
            add_warnings(result, label, problems, index, frag)
        except Reject as exc:
            rejections.append(Rejection(f"{label}: {exc}", frag, index))
        except (ValidationError, ValueError) as exc:
            rejections.append(Rejection(f"IFTSTA {msg.reference}: {exc}"[:400], frag, index))


def _status(group: list[Segment], header: Sequence[Segment], received: datetime, src: str) -> Iterator[TrackingEvent]:
    sts = group[0]
    code = element(sts, 1).upper()
    if code not in STATUS_CODES:
        raise Reject(f"status code {code or '(empty)'!r} has no canonical milestone (known: "
                      f"{', '.join(sorted(c for c in STATUS_CODES if len(c) < 4))} and the DCSA codes)")  # fmt: skip
    milestone, default_mode = STATUS_CODES[code]
    tdt_at = next((i for i, s in enumerate(group) if s.tag == "TDT"), len(group))
    tdt = group[tdt_at] if tdt_at < len(group) else None
    location = pick_location(group[:tdt_at], ("175",))  # the TDT's own LOCs are the leg's ports, not the status's
    if location is None:
        raise Reject("no place (LOC+175, activity location) for the status")
    units = units_in(group) or units_in(header)
    if not units:
        raise Reject("no container (EQD+CN or RFF+EQ) in the status or the message header")
    when = event_time(group, TIME_QUALIFIERS["IFTSTA"], location)
    mode = MODES.get(element(tdt, 2), default_mode) if tdt is not None else default_mode
    transport, shipment = transport_of(tdt, mode), shipment_refs([*header, *group])
    for unit in units:
        yield tracking_event(src, unit, mode, milestone, location, when, received, transport, shipment)


def _status_conveyances(group: list[Segment], received: datetime, src: str,
                        problems: list[str]) -> list[ConveyanceEvent]:  # fmt: skip
    """A status's conveyance events: its TDT groups' call times, and a VA/VD status itself (the vessel arrived at or
    departed from the status's LOC+175 at its DTM+334)."""
    code = element(group[0], 1).upper()
    default_mode = STATUS_CODES.get(code, (None, Mode.SEA))[1]
    out: list[ConveyanceEvent] = []
    tdts = [i for i, s in enumerate(group) if s.tag == "TDT"]
    for at in tdts:
        mode = MODES.get(element(group[at], 2), default_mode)
        out += tdt_calls(tdt_group(group, at), mode, None, src, received, problems)
    if code in VESSEL_STATUSES and tdts:
        tdt = group[tdts[0]]
        mode = MODES.get(element(tdt, 2), Mode.SEA)
        place = pick_location(group[:tdts[0]], ("175",))
        if mode in (Mode.SEA, Mode.BARGE) and place:
            when = event_time(group[:tdts[0]], TIME_QUALIFIERS["IFTSTA"], place)
            try:
                conveyance = conveyance_of(tdt, mode, None)
            except ValidationError as exc:
                problems.append(f"vessel {code} status not kept as a vessel event: {first_error(exc)}")
            else:
                out.append(conveyance_event(src, conveyance, mode, VESSEL_STATUSES[code], Classifier.ACTUAL, place,
                                             when, received))  # fmt: skip
    return out
