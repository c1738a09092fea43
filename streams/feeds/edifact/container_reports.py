"""CODECO (gate-in/gate-out report) and COARRI (discharge/loading report): one event per container (EQD group),
placed where the move happened, and the vessel's call from the header's TDT group."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from pydantic import ValidationError
from pydifact.segments import Segment

from schemas import TrackingEvent
from schemas.events import Milestone
from schemas.refs import Mode
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.edifact.conveyances import tdt_calls, tdt_group
from streams.feeds.edifact.reading import (
    MODES,
    TIME_QUALIFIERS,
    add_warnings,
    event_time,
    pick_location,
    shipment_refs,
    tracking_event,
    transport_of,
    units_in,
)
from streams.feeds.edifact.segments import Message, Reject, element, segment_groups

BGM_MILESTONES = {
    "CODECO": {"34": Milestone.GATE_IN, "36": Milestone.GATE_OUT},
    "COARRI": {"44": Milestone.DISCHARGED, "46": Milestone.LOADED},
}
# Where the move happened, by report and milestone, each qualifier looked for in the container group then the header.
PLACES = {
    ("COARRI", Milestone.DISCHARGED): ("165", "11"),  # terminal, else port of discharge; never 9 (port of loading)
    ("COARRI", Milestone.LOADED): ("165", "9"),  # terminal, else port of loading; never 11 (port of discharge)
    ("CODECO", Milestone.GATE_IN): ("165", "9", "11"),
    ("CODECO", Milestone.GATE_OUT): ("165", "11", "9"),
}


def container_report_events(msg: Message, received: datetime, src: str, result: ParseResult, index: int,
                      frag: bytes) -> Iterator[TrackingEvent]:  # fmt: skip
    rejections = result.rejections
    body = msg.segments
    bgm = next((s for s in body if s.tag == "BGM"), None)
    doc = element(bgm, 0) if bgm is not None else ""
    milestone = BGM_MILESTONES[msg.kind].get(doc)
    if milestone is None:
        wanted = " / ".join(f"{k} ({m.value})" for k, m in BGM_MILESTONES[msg.kind].items())
        raise Reject(f"{msg.kind} {msg.reference}: BGM document code {doc or '(none)'!r} is not {wanted}")
    first = next((i for i, s in enumerate(body) if s.tag == "EQD"), len(body))
    header = body[:first]
    groups = list(segment_groups(body[first:], "EQD", ("CNT", "UNT")))
    if not groups:
        raise Reject(f"{msg.kind} {msg.reference}: no container (EQD segment)")
    vessel = next((s for s in header if s.tag == "TDT"), None)
    places = PLACES[(msg.kind, milestone)]
    located: set[str] = set()
    for group in groups:
        try:
            units = units_in(group[:1])
            if not units:
                raise Reject(f"EQD {element(group[0], 0)}: not a container (EQD+CN expected)")
            location = pick_location(group, places, header)
            if location is None:
                raise Reject(_no_place(msg.kind, milestone, places, [*group, *header]))
            when = event_time(group, TIME_QUALIFIERS[msg.kind], location)
            if msg.kind == "COARRI":
                mode, tdt = Mode.SEA, vessel
            else:
                tdt = next((s for s in group if s.tag == "TDT"), None)
                mode = MODES.get(element(tdt, 2), Mode.ROAD) if tdt is not None else Mode.ROAD
            transport = transport_of(tdt, mode)
            if msg.kind == "CODECO" and vessel is not None and transport.vessel_name is None:
                sea = transport_of(vessel, Mode.SEA)  # the vessel the box is delivered for is worth keeping
                transport = transport.model_copy(update={"vessel_imo": sea.vessel_imo, "vessel_name": sea.vessel_name,
                                                         "voyage": sea.voyage})  # fmt: skip
            yield tracking_event(src, units[0], mode, milestone, location, when, received, transport,
                         shipment_refs([*header, *group]))  # fmt: skip
            located.add(location)
        except Reject as exc:
            rejections.append(Rejection(f"{msg.kind} {msg.reference}: {exc}", frag, index))
        except (ValidationError, ValueError) as exc:
            rejections.append(Rejection(f"{msg.kind} {msg.reference}: {exc}"[:400], frag, index))
    if vessel is not None:
        # The vessel's call: its group's times, at its own LOCs, else at the port of the report (the header's LOC
        # for this report, else the one port every container event of the message was placed at).
        try:
            port = pick_location(header, places) or (next(iter(located)) if len(located) == 1 else None)
        except Reject:
            port = None
        problems: list[str] = []
        at = header.index(vessel)
        for c in tdt_calls(tdt_group(header, at), Mode.SEA, port, src, received, problems):
            result.add_conveyance(c)
        add_warnings(result, f"{msg.kind} {msg.reference}", problems, index, frag)


def _no_place(kind: str, milestone: Milestone, places: Sequence[str], segments: Sequence[Segment]) -> str:
    wanted = " / LOC+".join(places)
    ignored = sorted({element(s, 0) for s in segments if s.tag == "LOC" and element(s, 0) in ("9", "11")} - set(places))
    if kind == "COARRI" and ignored:
        meaning = "port of loading" if ignored == ["9"] else "port of discharge"
        return (f"no place for the {milestone.value.lower()} container (LOC+{wanted}); LOC+{ignored[0]} is its "
                f"{meaning}, not where it was {milestone.value.lower()}")
    return f"no place (LOC+{wanted})"
