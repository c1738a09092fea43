"""UN/EDIFACT container messages -> canonical TrackingEvents: IFTSTA (status), CODECO (gate in/out), COARRI
(discharge/load). Segments are read with pydifact; the message type comes from each UNH, so one format ("edifact")
takes whole interchanges, even ones mixing message types. `source` defaults to "edifact-<type>" per message.

What is read (and why):
- IFTSTA: each STS starts a status; its container is the EQD+CN / RFF+EQ of that status (else of the message
  header), its time DTM+334, its place LOC+175 (else the first LOC before the status's TDT), its mode and means of
  transport the status's TDT. STS codes: the X12-315 style codes carriers use in IFTSTA (I, OA, AE, UV, VD, VA, AL,
  UR, RL, AR, P, D, CT...) and the DCSA four-letter codes; see STATUS_CODES.
- CODECO: BGM 34 gate-in report -> GATE_IN, 36 gate-out report -> GATE_OUT; per EQD group: DTM+7 (or 203),
  LOC+165 (else 9, 11), mode from the group's inland TDT (default road).
- COARRI: BGM 44 discharge report -> DISCHARGED, 46 loading report -> LOADED; DTM+203 (or 7), LOC+165, then the port
  where the move happened: the port of discharge (LOC+11) of a discharge report, the port of loading (LOC+9) of a
  loading report, each looked for in the container's group and then in the vessel's (header) group. A discharge is
  never placed at LOC+9 (that is where the container was loaded, an earlier port), nor a load at LOC+11. Mode SEA.
- Conveyance events (vessel, train): a TDT group's LOC/DTM pairs, DTM+132 (arrival, estimated), 133 (departure,
  estimated), 178 (arrival, actual), 186 (departure, actual), each at the LOC before it, or, in the COARRI/CODECO
  vessel group, at the port of the report when no LOC precedes it; and IFTSTA VA/VD statuses (vessel arrival or
  departure, at LOC+175). The vessel is the TDT's conveyance reference (voyage) and C222 id (code list 146/11: IMO
  number, 103: call sign) or name; a train is the TDT's reference and carrier with the date of its first departure
  in the group. A TDT that cannot name its conveyance keeps its unit events; its call times are dropped with a
  warning. docs/feeds/edifact-locations.md says what each qualifier is taken to mean.
- EDIFACT times have no zone (formats 102/203/204): they are local at the event's place and converted with its IANA
  zone; a place without a known zone is rejected, never read as UTC. Formats 205/303/304 carry their own zone.
- Oddities tolerated: CRLF/LF/no line breaks, wrapped lines, UNA or not, a LOC value with a terminal suffix whose
  first five characters are a UN/LOCODE in our table (IDJKT45 -> IDJKT), Latin-1 bytes.
- Ids: no EDIFACT element identifies an event, so the id hashes unit, milestone, place and time: the same move
  reported twice (a resent message) gets the same id.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.exceptions import ValidationError as EdifactValidationError
from pydifact.parser import Parser
from pydifact.segments import Segment

from schemas import ConveyanceEvent, TrackingEvent
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceKind, ConveyanceMilestone, imo_check_digit_ok
from schemas.events import DCSA_CODES, Classifier, Milestone, ShipmentRefs, TransportRef
from schemas.refs import Mode, TrackedUnit
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.ids import IdError, container, event_id
from streams.feeds.locations import LocationError, check_locode, is_known_locode, locode_zone
from streams.feeds.timeparse import TimeError, dtm_to_utc

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
_BGM = {
    "CODECO": {"34": Milestone.GATE_IN, "36": Milestone.GATE_OUT},
    "COARRI": {"44": Milestone.DISCHARGED, "46": Milestone.LOADED},
}
_MODES = {"1": Mode.SEA, "2": Mode.RAIL, "3": Mode.ROAD, "4": Mode.AIR, "8": Mode.BARGE}
_TIME_QUALIFIERS = {"IFTSTA": ("334",), "CODECO": ("7", "203", "334"), "COARRI": ("203", "7", "334")}
# Where the move happened, by report and milestone, each qualifier looked for in the container group then the header.
_PLACES = {
    ("COARRI", Milestone.DISCHARGED): ("165", "11"),  # terminal, else port of discharge; never 9 (port of loading)
    ("COARRI", Milestone.LOADED): ("165", "9"),  # terminal, else port of loading; never 11 (port of discharge)
    ("CODECO", Milestone.GATE_IN): ("165", "9", "11"),
    ("CODECO", Milestone.GATE_OUT): ("165", "11", "9"),
}
# Conveyance times in a TDT group (UN/EDIFACT 2005 date/time qualifiers).
_CALL_TIMES = {
    "132": (ConveyanceMilestone.ARRIVED, Classifier.ESTIMATED),
    "133": (ConveyanceMilestone.DEPARTED, Classifier.ESTIMATED),
    "178": (ConveyanceMilestone.ARRIVED, Classifier.ACTUAL),
    "186": (ConveyanceMilestone.DEPARTED, Classifier.ACTUAL),
}
_VESSEL_STATUSES = {"VA": ConveyanceMilestone.ARRIVED, "VD": ConveyanceMilestone.DEPARTED}


class _Reject(Exception):
    pass


# What pydifact raises on malformed input (its ValidationError is not a ValueError).
_SYNTAX_ERRORS = (EDISyntaxError, EdifactValidationError, ValueError, IndexError, KeyError, TypeError)


def _el(seg: Segment, i: int, j: int = 0) -> str:
    """Component j of element i, '' when absent (pydifact gives str for simple and list for composite elements)."""
    els = seg.elements
    if i >= len(els):
        return ""
    value = els[i]
    if isinstance(value, list):
        return value[j].strip() if j < len(value) and isinstance(value[j], str) else ""
    return value.strip() if j == 0 and isinstance(value, str) else ""


@dataclass
class _Message:
    kind: str
    reference: str
    segments: list[Segment]
    text: str


class Edifact:
    name = "edifact"
    description = "UN/EDIFACT IFTSTA, CODECO and COARRI interchanges (message type read from each UNH)"

    def sniff(self, data: bytes) -> bool:
        head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
        return head[:3] in (b"UNA", b"UNB") or (head[:3] == b"UNH" and head[3:4] in (b"+", b"|", b"*"))

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        result = ParseResult()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")  # UNOA/UNOC interchanges are Latin-1
        text = text.lstrip("\ufeff \t\r\n")
        try:
            messages = list(_messages(text))
        except _Reject as exc:
            result.rejections.append(Rejection(str(exc), data[:500]))
            return result
        if not messages:
            result.rejections.append(Rejection("EDIFACT: no message (UNH ... UNT) in the interchange", data[:500]))
        for index, msg in enumerate(messages):
            frag = msg.text.encode("utf-8", "replace")[:4000]
            src = source or f"edifact-{msg.kind.lower()}"
            try:
                if msg.kind == "!":
                    raise _Reject(f"EDIFACT syntax error in the message starting {msg.reference!r}")
                if msg.kind == "IFTSTA":
                    events = list(_iftsta(msg, received, src, result, index, frag))
                elif msg.kind in _BGM:
                    events = list(_container_report(msg, received, src, result, index, frag))
                else:
                    kind = msg.kind or "?"
                    raise _Reject(f"UNH {msg.reference}: message type {kind} is not IFTSTA, CODECO or COARRI")
                result.events.extend(events)
            except _Reject as exc:
                result.rejections.append(Rejection(str(exc), frag, index))
            except (ValidationError, ValueError, TypeError, IndexError, AttributeError) as exc:
                reason = f"UNH {msg.reference}: {type(exc).__name__}: {exc}"[:400]
                result.rejections.append(Rejection(reason, frag, index))
        return result


def _characters(text: str) -> tuple[Characters, str]:
    if text.startswith("UNA"):
        chars = Characters.from_str(text[:9])
        return chars, text
    return Characters(), text


def _strip_breaks(text: str, chars: Characters) -> str:
    if chars.segment_terminator in "\r\n":
        return text  # a newline is the terminator itself: keep it
    # line-per-segment, indented and wrapped lines alike
    return "".join(line.strip(" \t") for line in text.splitlines())


def _tokenize(text: str, chars: Characters) -> list[Segment]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydifact warns about missing directory files for every service segment
        return list(Parser().parse(text, characters=chars))


def _messages(text: str) -> Iterator[_Message]:
    """UNH..UNT messages. A syntax error spoils only the message it sits in: the interchange is re-split at UNH."""
    try:
        chars, text = _characters(text)
    except _SYNTAX_ERRORS:  # pydifact raises its own ValidationError for a short UNA
        raise _Reject("UNA: service string advice is malformed (6 characters after UNA expected)") from None
    text = _strip_breaks(text, chars)
    try:
        segments = _tokenize(text, chars)
        chunks = [(segments, text)]
    except _SYNTAX_ERRORS:
        marker = f"{chars.segment_terminator}UNH{chars.data_separator}"
        parts = text.split(marker)
        chunks = []
        for i, part in enumerate(parts):
            body = part if i == 0 else f"UNH{chars.data_separator}{part}"
            try:
                chunks.append((_tokenize(body, chars), body))
            except _SYNTAX_ERRORS:
                yield _Message("!", body[:40], [], body)  # reported as unreadable, the others go on
    for segs, _text in chunks:
        current: list[Segment] | None = None
        for seg in segs:
            if seg.tag == "UNH":
                current = [seg]
            elif current is not None:
                current.append(seg)
                if seg.tag == "UNT":
                    yield _Message(_el(current[0], 1).upper(), _el(current[0], 0), current, _render(current, chars))
                    current = None
        if current:  # no UNT: still worth reading
            yield _Message(_el(current[0], 1).upper(), _el(current[0], 0), current, _render(current, chars))


def _render(segments: Sequence[Segment], chars: Characters) -> str:
    out = []
    for seg in segments:
        els = [chars.component_separator.join(e) if isinstance(e, list) else str(e) for e in seg.elements]
        out.append(chars.data_separator.join([seg.tag, *els]) + chars.segment_terminator)
    return "".join(out)


# --- shared pieces ---------------------------------------------------------------------------------------------
def _location(seg: Segment) -> str:
    raw = _el(seg, 1)
    if len(raw) > 5 and is_known_locode(raw[:5]):
        raw = raw[:5]  # terminal suffix, e.g. IDJKT45
    try:
        return check_locode(raw)
    except LocationError as exc:
        raise _Reject(f"LOC+{_el(seg, 0)}: {exc}") from None


def _pick_location(segments: Sequence[Segment], qualifiers: Sequence[str],
                   fallback: Sequence[Segment] = ()) -> str | None:  # fmt: skip
    """The first qualifier found wins; for each, `segments` (the container's group) before `fallback` (header)."""
    for q in qualifiers:
        for where in (segments, fallback):
            for seg in where:
                if seg.tag == "LOC" and _el(seg, 0) == q and _el(seg, 1):
                    return _location(seg)
    return None


def _time(segments: Sequence[Segment], qualifiers: Sequence[str], locode: str) -> datetime:
    for q in qualifiers:
        for seg in segments:
            if seg.tag == "DTM" and _el(seg, 0) == q:
                value, fmt = _el(seg, 0, 1), _el(seg, 0, 2) or "203"
                try:
                    return dtm_to_utc(value, fmt, locode)
                except TimeError as exc:
                    raise _Reject(f"DTM+{q} {exc}") from None
    raise _Reject(f"no event time (DTM+{' / DTM+'.join(qualifiers)})")


def _units(segments: Sequence[Segment]) -> list[TrackedUnit]:
    found: list[tuple[str, str]] = []
    for seg in segments:
        if seg.tag == "EQD" and _el(seg, 0) in ("CN", "") and _el(seg, 1):
            found.append(("EQD+CN", _el(seg, 1)))
        elif seg.tag == "RFF" and _el(seg, 0) == "EQ" and _el(seg, 0, 1):
            found.append(("RFF+EQ", _el(seg, 0, 1)))
    units: dict[str, TrackedUnit] = {}
    for where, number in found:
        try:
            unit = container(number)
        except IdError as exc:
            raise _Reject(f"{where}: {exc}") from None
        units.setdefault(unit.id, unit)
    return list(units.values())


def _transport(tdt: Segment | None, mode: Mode) -> TransportRef:
    if tdt is None:
        return TransportRef()
    ref, carrier = _el(tdt, 1) or None, _el(tdt, 4) or None
    ident, code_list, name = _el(tdt, 7), _el(tdt, 7, 1), _el(tdt, 7, 3) or None
    if mode in (Mode.SEA, Mode.BARGE):
        imo = ident if code_list in ("146", "11") and len(ident) == 7 and ident.isdigit() else None
        return TransportRef(carrier=carrier, vessel_imo=imo, vessel_name=name, voyage=ref)
    if mode is Mode.RAIL:
        return TransportRef(carrier=carrier, train=ref)
    if mode is Mode.ROAD:
        return TransportRef(carrier=carrier, truck=(ident or ref or None) and (ident or ref)[:15])
    return TransportRef(carrier=carrier)


def _shipment(segments: Sequence[Segment]) -> ShipmentRefs:
    refs = {_el(s, 0): _el(s, 0, 1) for s in reversed(segments) if s.tag == "RFF" and _el(s, 0, 1)}
    return ShipmentRefs(booking=refs.get("BN"), bill_of_lading=refs.get("BM"))


def _event(src: str, unit: TrackedUnit, mode: Mode, milestone: Milestone, location: str, when: datetime,
           received: datetime, transport: TransportRef, shipment: ShipmentRefs) -> TrackingEvent:  # fmt: skip
    eid = event_id(src, unit.id, milestone.value, location, when.strftime("%Y%m%dT%H%M%SZ"))
    return TrackingEvent(
        event_id=eid, source=src, unit=unit, mode=mode, milestone=milestone, classifier=Classifier.ACTUAL,
        location=location, event_time=when, received_time=received, transport=transport, shipment=shipment,
    )  # fmt: skip


def _groups(segments: Sequence[Segment], starts: str, stops: Sequence[str]) -> Iterator[list[Segment]]:
    current: list[Segment] | None = None
    for seg in segments:
        if seg.tag == starts:
            if current:
                yield current
            current = [seg]
        elif seg.tag in stops:
            if current:
                yield current
            current = None
        elif current is not None:
            current.append(seg)
    if current:
        yield current


# --- conveyances -----------------------------------------------------------------------------------------------
def _conveyance(tdt: Segment, mode: Mode, departure: datetime | None) -> Conveyance:
    """The conveyance a TDT names, or ValidationError saying what is missing. `departure`: a train's first departure
    (UTC) in its group, whose local date is the train's departure date."""
    ref, carrier = _el(tdt, 1) or None, _el(tdt, 4) or None
    ident, code_list, name = _el(tdt, 7), _el(tdt, 7, 1), _el(tdt, 7, 3) or None
    if mode is Mode.RAIL:
        return Conveyance(kind=ConveyanceKind.TRAIN, carrier=carrier, number=ref,
                          departure_date=departure.date() if departure else None)  # fmt: skip
    if mode is Mode.ROAD:
        return Conveyance(kind=ConveyanceKind.TRUCK, plate=ident or None, trip=ref)
    imo = ident if code_list in ("146", "11") and imo_check_digit_ok(ident) else None
    call_sign = ident if code_list == "103" and ident else None
    return Conveyance(kind=ConveyanceKind.VESSEL, carrier=carrier, vessel_imo=imo, call_sign=call_sign,
                      vessel_name=name, voyage=ref)  # fmt: skip


def _tdt_group(segments: Sequence[Segment], at: int) -> list[Segment]:
    """The TDT at `at` and the LOC/DTM/RFF segments that belong to it."""
    group = [segments[at]]
    for seg in segments[at + 1:]:
        if seg.tag not in ("LOC", "DTM", "RFF"):
            break
        group.append(seg)
    return group


def _tdt_calls(group: Sequence[Segment], mode: Mode, default_place: str | None, src: str, received: datetime,
               problems: list[str]) -> list[ConveyanceEvent]:  # fmt: skip
    """Conveyance events from one TDT group's LOC/DTM pairs (_CALL_TIMES). Anything unreadable becomes a problem."""
    times: list[tuple[ConveyanceMilestone, Classifier, str, datetime]] = []
    place = default_place
    for seg in group[1:]:
        if seg.tag == "LOC" and _el(seg, 1):
            try:
                place = _location(seg)
            except _Reject as exc:
                place = None
                problems.append(str(exc))
        elif seg.tag == "DTM" and _el(seg, 0) in _CALL_TIMES:
            q = _el(seg, 0)
            if place is None:
                problems.append(f"DTM+{q} in the TDT group has no place (no LOC before it, no port for the report)")
                continue
            try:
                when = dtm_to_utc(_el(seg, 0, 1), _el(seg, 0, 2) or "203", place)
            except TimeError as exc:
                problems.append(f"DTM+{q} {exc}")
                continue
            times.append((*_CALL_TIMES[q], place, when))
    if not times:
        return []
    departures = [(when, place) for milestone, _, place, when in times if milestone is ConveyanceMilestone.DEPARTED]
    first_departure = None
    if departures:  # a train's departure date is its local date at the place it first departs from
        when, place = min(departures)
        zone = locode_zone(place)
        first_departure = when.astimezone(zone) if zone else None
    try:
        conveyance = _conveyance(group[0], mode, first_departure)
    except ValidationError as exc:
        problems.append(f"TDT {_el(group[0], 1) or '(no reference)'}: call times not kept: {_why(exc)}")
        return []
    return [_conveyance_event(src, conveyance, mode, milestone, classifier, place, when, received)
            for milestone, classifier, place, when in times]


def _conveyance_event(src: str, conveyance: Conveyance, mode: Mode, milestone: ConveyanceMilestone,
                      classifier: Classifier, place: str, when: datetime,
                      received: datetime) -> ConveyanceEvent:  # fmt: skip
    eid = event_id(src, conveyance.id, milestone.value, classifier.value, place, when.strftime("%Y%m%dT%H%M%SZ"))
    return ConveyanceEvent(event_id=eid, source=src, conveyance=conveyance, mode=mode,
                           call=ConveyanceCall(location=place), milestone=milestone, classifier=classifier,
                           event_time=when, received_time=received)  # fmt: skip


def _why(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def _warn(result: ParseResult, label: str, problems: list[str], index: int, frag: bytes) -> None:
    for p in dict.fromkeys(problems):
        result.rejections.append(Rejection(f"{label}: {p}", frag, index, warning=True))


# --- IFTSTA ----------------------------------------------------------------------------------------------------
def _iftsta(msg: _Message, received: datetime, src: str, result: ParseResult, index: int,
            frag: bytes) -> Iterator[TrackingEvent]:  # fmt: skip
    rejections = result.rejections
    body = msg.segments
    first = next((i for i, s in enumerate(body) if s.tag in ("CNI", "STS")), len(body))
    header = body[:first]
    statuses = list(_groups(body[first:], "STS", ("CNI", "UNT", "CNT")))
    if not statuses:
        raise _Reject(f"UNH {msg.reference} IFTSTA: no STS status segment")
    for group in statuses:
        label = f"IFTSTA {msg.reference} STS {_el(group[0], 1) or '?'}"
        try:
            yield from _status(group, header, received, src)
            problems: list[str] = []
            for c in _status_conveyances(group, received, src, problems):
                result.add_conveyance(c)
            _warn(result, label, problems, index, frag)
        except _Reject as exc:
            rejections.append(Rejection(f"IFTSTA {msg.reference} STS {_el(group[0], 1) or '?'}: {exc}", frag, index))
        except (ValidationError, ValueError) as exc:
            rejections.append(Rejection(f"IFTSTA {msg.reference}: {exc}"[:400], frag, index))


def _status(group: list[Segment], header: Sequence[Segment], received: datetime, src: str) -> Iterator[TrackingEvent]:
    sts = group[0]
    code = _el(sts, 1).upper()
    if code not in STATUS_CODES:
        raise _Reject(f"status code {code or '(empty)'!r} has no canonical milestone (known: "
                      f"{', '.join(sorted(c for c in STATUS_CODES if len(c) < 4))} and the DCSA codes)")  # fmt: skip
    milestone, default_mode = STATUS_CODES[code]
    tdt_at = next((i for i, s in enumerate(group) if s.tag == "TDT"), len(group))
    tdt = group[tdt_at] if tdt_at < len(group) else None
    location = _pick_location(group[:tdt_at], ("175",))  # the TDT's own LOCs are the leg's ports, not the status's
    if location is None:
        raise _Reject("no place (LOC+175, activity location) for the status")
    units = _units(group) or _units(header)
    if not units:
        raise _Reject("no container (EQD+CN or RFF+EQ) in the status or the message header")
    when = _time(group, _TIME_QUALIFIERS["IFTSTA"], location)
    mode = _MODES.get(_el(tdt, 2), default_mode) if tdt is not None else default_mode
    transport, shipment = _transport(tdt, mode), _shipment([*header, *group])
    for unit in units:
        yield _event(src, unit, mode, milestone, location, when, received, transport, shipment)


def _status_conveyances(group: list[Segment], received: datetime, src: str,
                        problems: list[str]) -> list[ConveyanceEvent]:  # fmt: skip
    """A status's conveyance events: its TDT groups' call times, and a VA/VD status itself (the vessel arrived at or
    departed from the status's LOC+175 at its DTM+334)."""
    code = _el(group[0], 1).upper()
    default_mode = STATUS_CODES.get(code, (None, Mode.SEA))[1]
    out: list[ConveyanceEvent] = []
    tdts = [i for i, s in enumerate(group) if s.tag == "TDT"]
    for at in tdts:
        mode = _MODES.get(_el(group[at], 2), default_mode)
        out += _tdt_calls(_tdt_group(group, at), mode, None, src, received, problems)
    if code in _VESSEL_STATUSES and tdts:
        tdt = group[tdts[0]]
        mode = _MODES.get(_el(tdt, 2), Mode.SEA)
        place = _pick_location(group[:tdts[0]], ("175",))
        if mode in (Mode.SEA, Mode.BARGE) and place:
            when = _time(group[:tdts[0]], _TIME_QUALIFIERS["IFTSTA"], place)
            try:
                conveyance = _conveyance(tdt, mode, None)
            except ValidationError as exc:
                problems.append(f"vessel {code} status not kept as a vessel event: {_why(exc)}")
            else:
                out.append(_conveyance_event(src, conveyance, mode, _VESSEL_STATUSES[code], Classifier.ACTUAL, place,
                                             when, received))  # fmt: skip
    return out


# --- CODECO / COARRI -------------------------------------------------------------------------------------------
def _container_report(msg: _Message, received: datetime, src: str, result: ParseResult, index: int,
                      frag: bytes) -> Iterator[TrackingEvent]:  # fmt: skip
    rejections = result.rejections
    body = msg.segments
    bgm = next((s for s in body if s.tag == "BGM"), None)
    doc = _el(bgm, 0) if bgm is not None else ""
    milestone = _BGM[msg.kind].get(doc)
    if milestone is None:
        wanted = " / ".join(f"{k} ({m.value})" for k, m in _BGM[msg.kind].items())
        raise _Reject(f"{msg.kind} {msg.reference}: BGM document code {doc or '(none)'!r} is not {wanted}")
    first = next((i for i, s in enumerate(body) if s.tag == "EQD"), len(body))
    header = body[:first]
    groups = list(_groups(body[first:], "EQD", ("CNT", "UNT")))
    if not groups:
        raise _Reject(f"{msg.kind} {msg.reference}: no container (EQD segment)")
    vessel = next((s for s in header if s.tag == "TDT"), None)
    places = _PLACES[(msg.kind, milestone)]
    located: set[str] = set()
    for group in groups:
        try:
            units = _units(group[:1])
            if not units:
                raise _Reject(f"EQD {_el(group[0], 0)}: not a container (EQD+CN expected)")
            location = _pick_location(group, places, header)
            if location is None:
                raise _Reject(_no_place(msg.kind, milestone, places, [*group, *header]))
            when = _time(group, _TIME_QUALIFIERS[msg.kind], location)
            if msg.kind == "COARRI":
                mode, tdt = Mode.SEA, vessel
            else:
                tdt = next((s for s in group if s.tag == "TDT"), None)
                mode = _MODES.get(_el(tdt, 2), Mode.ROAD) if tdt is not None else Mode.ROAD
            transport = _transport(tdt, mode)
            if msg.kind == "CODECO" and vessel is not None and transport.vessel_name is None:
                sea = _transport(vessel, Mode.SEA)  # the vessel the box is delivered for is worth keeping
                transport = transport.model_copy(update={"vessel_imo": sea.vessel_imo, "vessel_name": sea.vessel_name,
                                                         "voyage": sea.voyage})  # fmt: skip
            yield _event(src, units[0], mode, milestone, location, when, received, transport,
                         _shipment([*header, *group]))  # fmt: skip
            located.add(location)
        except _Reject as exc:
            rejections.append(Rejection(f"{msg.kind} {msg.reference}: {exc}", frag, index))
        except (ValidationError, ValueError) as exc:
            rejections.append(Rejection(f"{msg.kind} {msg.reference}: {exc}"[:400], frag, index))
    if vessel is not None:
        # The vessel's call: its group's times, at its own LOCs, else at the port of the report (the header's LOC
        # for this report, else the one port every container event of the message was placed at).
        try:
            port = _pick_location(header, places) or (next(iter(located)) if len(located) == 1 else None)
        except _Reject:
            port = None
        problems: list[str] = []
        at = header.index(vessel)
        for c in _tdt_calls(_tdt_group(header, at), Mode.SEA, port, src, received, problems):
            result.add_conveyance(c)
        _warn(result, f"{msg.kind} {msg.reference}", problems, index, frag)


def _no_place(kind: str, milestone: Milestone, places: Sequence[str], segments: Sequence[Segment]) -> str:
    wanted = " / LOC+".join(places)
    ignored = sorted({_el(s, 0) for s in segments if s.tag == "LOC" and _el(s, 0) in ("9", "11")} - set(places))
    if kind == "COARRI" and ignored:
        meaning = "port of loading" if ignored == ["9"] else "port of discharge"
        return (f"no place for the {milestone.value.lower()} container (LOC+{wanted}); LOC+{ignored[0]} is its "
                f"{meaning}, not where it was {milestone.value.lower()}")
    return f"no place (LOC+{wanted})"
