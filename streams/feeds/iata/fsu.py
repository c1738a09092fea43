"""IATA Cargo-IMP FSU (Freight Status Update) and FSA messages -> canonical TrackingEvents.

A message, bare or inside a Type B telex envelope (priority and addresses line, `.SENDER DDHHMM` origin line,
then the text, ended by `=`/`NNNN` or the next message), CRLF or LF:

    QD SIN05XH
    .HDQFMQR 200739
    FSU/14
    157-53806270HKGNLU/P2K505.0T10
    DEP/QR8403/20JUN/HKGDOH/P2K505.0/A1039/E1540
    OCI/HK/ISS/RA/28490
    /HK//SS/SPX

Line 1 `FSU/<version>` (any version; `FSA/` accepted, same layout). Line 2 the air waybill: airline prefix, 8-digit
serial whose last digit is the first seven mod 7, optional origin+destination, optional `/T|P pieces K|L weight
[T total pieces]`. Then one status line per status, `/`-led continuation lines belonging to the line above, and
information lines (OCI, ULD, OSI, ...) that carry no status. The compact one-line form that documents print
(`FSU/14 020-12345675FRAJFK/T1K100 RCS/16OCT1317/FRA/LCAG`) is accepted too.

Status line fields, lenient about optional ones: `[carrier+flight]/DDMMM[HHMM][-day change]/airport(s)/
[discrepancy code]/[T|P pieces [K|L weight]]/[time of departure]/[time of arrival]/...`, where a time is
`A|E|S` (actual, estimated, scheduled) + HHMM [+ `-` day change: P previous, N next, S second, T third day].

Statuses map to milestones through the shared table (streams.feeds.iata.rules.STATUS_RULES). An `E` time on the
status's own time makes the event ESTIMATED (a DEP with `E1540` is an estimated departure); BKD never reports an
actual. Flight time fields also give events of their own: a departure time -> DEPARTED at the
departure airport, an arrival time -> ARRIVED at the arrival airport, classified by the time's letter (A actual,
E estimated, S scheduled = PLANNED), e.g. `DEP/.../FRAJFK/T1K100/A1317/E2030` gives DEPARTED ACTUAL at FRA and
ARRIVED ESTIMATED at JFK; FIW/AWR lines with an `A` arrival time give ARRIVED ACTUAL even though their own code
has no milestone.

Times follow the Cargo-IMP conventions (streams.feeds.iata.cargo_imp): no year, the one nearest reception; local at
the airport; an unknown airport is rejected, never read as UTC. An ACTUAL event more than a day after reception is
rejected as in the future.

A status about part of the shipment (quantity `P`, or fewer pieces than the AWB line's total) puts its pieces in
ShipmentRefs.pieces on every event of the line (`partial_pieces`, shared with XFSU).

Each event's id is a hash of source, AWB, status code, milestone, classifier, location, time and flight, so a
re-sent message gives the same ids. A bad AWB line rejects the whole message; a bad status line rejects only
itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from schemas import Milestone
from streams.feeds.airports import Airport, airport
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.iata.cargo_imp import DAY_CHANGE, CargoImpFormat, parse_hhmm, resolve_date
from streams.feeds.iata.events import EventDraft, emit
from streams.feeds.iata.places import to_utc
from streams.feeds.iata.refs import awb_problem, partial_pieces
from streams.feeds.iata.rules import (
    STATUS_RULES,
    StatusRule,
    flight_time_classifier,
    status_classifier,
    unmapped_reason,
)

_HEADER = re.compile(r"^(FSU|FSA)/(\d{1,3})(?:\s+(?P<rest>.*))?$")
_AWB_LINE = re.compile(r"^(\d{3})-(\d{8})([A-Z]{3})?([A-Z]{3})?(?:/(.*))?$")
_CODE = re.compile(r"^([A-Z]{3})(?:/|$)")
_FLIGHT = re.compile(r"^([A-Z][A-Z0-9]|[0-9][A-Z])(\d{1,5}[A-Z]?)?$")
_DATE = re.compile(r"^(\d{1,2})([A-Z]{3})(\d{4})?(?:-([A-Z]))?$")
_AIRPORTS = re.compile(r"^([A-Z]{3})([A-Z]{3})?$")
_QUANTITY = re.compile(r"^([TP])(\d{1,5})(?:([KL])(\d{1,7}(?:\.\d{1,3})?))?(?:T(\d{1,5}))?$")
_TIME = re.compile(r"^([AES])(\d{4})(?:-([A-Z]))?$")
_DISCREPANCY = re.compile(r"^[A-Z]{4}$")
INFO_LINES = frozenset({"OCI", "ULD", "OSI", "SPH", "REF", "SRI", "COR"})
FLIGHT_STATUSES = frozenset({"BKD", "MAN", "DEP", "PRE", "ARR", "RCF", "AWR", "FIW", "FOW"})
LEG_STATUSES = frozenset({"BKD", "MAN", "DEP", "PRE"})  # carry departure and arrival airport
TRANSFER_STATUSES = frozenset({"RCT", "TFD", "TRM"})  # their carrier is the other party, not the one carrying
DATE_STATUSES = frozenset(STATUS_RULES) - {"TRM"}  # every status with a date field


@dataclass(slots=True)
class FlightTime:
    kind: str  # A / E / S
    hhmm: str
    day_change: str | None


@dataclass(slots=True)
class StatusLine:
    code: str
    text: str
    index: int  # 0-based line number in the input
    carrier: str | None = None
    flight: str | None = None
    day: int | None = None
    month: str | None = None
    hhmm: str | None = None
    day_change: str | None = None
    airports: list[str] = field(default_factory=list)
    discrepancy: str | None = None
    partial: bool = False
    pieces: int | None = None
    departure_time: FlightTime | None = None
    arrival_time: FlightTime | None = None

    @property
    def label(self) -> str:
        return self.text if len(self.text) <= 80 else self.text[:77] + "..."


def _read_fields(line: StatusLine) -> str | None:
    """Fill `line` from its fields; None, or the problem when a required field is malformed."""
    fields = [f.strip() for f in line.text.split("/")[1:]]
    i = 0

    def peek() -> str | None:
        return fields[i] if i < len(fields) else None

    token = peek()
    if token == "" and i + 1 < len(fields) and _DATE.match(fields[i + 1]):
        i += 1  # empty carrier/flight field: "BKD//16OCT/FRAJFK"
    elif token and (m := _FLIGHT.match(token)):
        carrier, number = m.groups()
        line.carrier, line.flight = carrier, (carrier + number) if number else None
        i += 1
    token = peek()
    if token and (m := _DATE.match(token)):
        day, month, hhmm, dci = m.groups()
        line.day, line.month, line.hhmm, line.day_change = int(day), month, hhmm, dci
        i += 1
    elif line.code in DATE_STATUSES and STATUS_RULES[line.code].milestone is not None:
        after = "carrier/flight" if line.carrier else "status code"
        return f"expected a date DDMMM[HHMM] after the {after}, got {token!r}" if token else "no date (DDMMM)"
    token = peek()
    if token and (m := _AIRPORTS.match(token)):
        line.airports = [a for a in m.groups() if a]
        i += 1
    elif STATUS_RULES.get(line.code, StatusRule(None, "")).milestone is not None:
        return f"expected an airport code after the date, got {token!r}" if token else "no airport"
    token = peek()
    if line.code == "DIS" and token and _DISCREPANCY.match(token):
        line.discrepancy = token
        i += 1
    token = peek()
    if token and (m := _QUANTITY.match(token)):
        line.partial, line.pieces = m.group(1) == "P", int(m.group(2))
        i += 1
    if line.code in FLIGHT_STATUSES:
        for slot in ("departure_time", "arrival_time"):
            token = peek()
            if token is None:
                break
            if token == "":
                i += 1
                continue
            m = _TIME.match(token)
            if not m:
                break
            setattr(line, slot, FlightTime(*m.groups()))
            i += 1
    return None



class _LineError(Exception):
    """A problem with one status line; its text is the rejection reason (after the line)."""


def _place(code: str | None) -> Airport:
    if code is None:
        raise _LineError("no airport")
    found = airport(code)
    if found is None:
        raise _LineError(f"unknown airport {code}")
    return found


def _local(base: date, at: dtime | None, day_change: str | None, zone: ZoneInfo) -> datetime:
    if day_change is not None:
        if day_change not in DAY_CHANGE:
            raise _LineError(f"day change indicator {day_change} is not supported (P, N, S or T)")
        base = base + timedelta(days=DAY_CHANGE[day_change])
    moment = to_utc(datetime.combine(base, at or dtime(0, 0)), zone)
    if moment is None:
        raise _LineError(f"{base.isoformat()} is out of range")
    return moment


def _flight_time(ft: FlightTime | None) -> dtime | None:
    if ft is None:
        return None
    found = parse_hhmm(ft.hhmm)
    if isinstance(found, str):
        raise _LineError(found)
    return found


def _drafts(line: StatusLine, received: datetime) -> tuple[list[EventDraft], list[str]]:
    """The events one status line gives (the status's own, then the flight times it carries), and the problems
    of flight times that could not become events (the status's own event is kept)."""
    rule = STATUS_RULES.get(line.code) or StatusRule(None, "unknown status")
    if line.day is None or line.month is None:
        raise _LineError("no date (DDMMM)")
    leg = line.code in LEG_STATUSES or len(line.airports) == 2
    departure = line.airports[0] if leg and line.airports else None
    arrival = (line.airports[1] if len(line.airports) == 2 else None) if leg else (line.airports or [None])[0]
    where = {"departure": departure, "arrival": arrival, "status": (line.airports or [None])[0]}[rule.at]
    home = _place(where or departure or arrival)
    day = resolve_date(line.day, line.month, received.astimezone(home.zone).date())
    if isinstance(day, str):
        raise _LineError(day)
    own = parse_hhmm(line.hhmm)
    if isinstance(own, str):
        raise _LineError(own)
    if line.code in TRANSFER_STATUSES:
        line.carrier = line.flight = None
    # The date after the flight identifies the flight (its scheduled departure date), whatever the status.
    flight_day = day if line.flight else None

    drafts: list[EventDraft] = []
    used_departure = used_arrival = False
    if rule.milestone is not None:
        place = _place(where)
        kind: str | None = None
        at = own
        day_change = line.day_change
        if line.code in ("BKD", "DEP") and line.departure_time is not None:
            at, kind = _flight_time(line.departure_time), line.departure_time.kind
            day_change, used_departure = line.departure_time.day_change, True
        elif line.code == "ARR" and line.arrival_time is not None:
            at, kind = _flight_time(line.arrival_time), line.arrival_time.kind
            day_change, used_arrival = line.arrival_time.day_change, True
        moment = _local(day, at, day_change, place.zone)
        timed_flight = flight_day if line.code in ("BKD", "DEP", "ARR") and at is not None else None
        drafts.append(EventDraft(rule.milestone, status_classifier(rule, kind), place.locode, moment, line.flight,
                                 line.carrier, timed_flight))  # fmt: skip

    problems: list[str] = []
    departed_at: datetime | None = None
    try:
        if line.departure_time is not None and departure is not None:
            place = _place(departure)
            departed_at = _local(day, _flight_time(line.departure_time), line.departure_time.day_change, place.zone)
            if not used_departure:
                classifier = flight_time_classifier(rule, line.departure_time.kind)
                drafts.append(EventDraft(Milestone.DEPARTED, classifier, place.locode, departed_at, line.flight,
                                         line.carrier, flight_day))  # fmt: skip
    except _LineError as exc:
        problems.append(f"departure time: {exc}")
    try:
        if line.arrival_time is not None and not used_arrival:
            if arrival is None:
                raise _LineError(f"{line.arrival_time.hhmm} given without an arrival airport")
            place = _place(arrival)
            at = _flight_time(line.arrival_time)
            arrived_at = _local(day, at, line.arrival_time.day_change, place.zone)
            if departed_at is not None and line.arrival_time.day_change is None and arrived_at < departed_at:
                arrived_at = _local(day + timedelta(days=1), at, None, place.zone)  # overnight flight, no indicator
            classifier = flight_time_classifier(rule, line.arrival_time.kind)
            drafts.append(EventDraft(Milestone.ARRIVED, classifier, place.locode, arrived_at, line.flight,
                                     line.carrier, flight_day))  # fmt: skip
    except _LineError as exc:
        problems.append(f"arrival time: {exc}")
    return drafts, problems


def _total_pieces(quantity: str | None) -> int | None:
    """The shipment's total pieces from the AWB line's quantity (`T10K1000`, or `P2K505.0T10`), when given."""
    m = _QUANTITY.match((quantity or "").split("/")[0].strip())
    if not m:
        return None
    if m.group(1) == "T":
        return int(m.group(2))
    return int(m.group(5)) if m.group(5) else None


class CargoImpFsu(CargoImpFormat):
    """IATA Cargo-IMP FSU/FSA status messages (Type B envelope optional)."""

    name = "iata-fsu"
    description = "IATA Cargo-IMP FSU/FSA air cargo status update (bare or in a Type B envelope)"
    header = _HEADER
    no_message = "no FSU/<version> or FSA/<version> line: not a Cargo-IMP status message"

    def sniff(self, data: bytes) -> bool:
        head = data[:4096]
        return bool(re.search(rb"(?m)^\s*(?:FSU|FSA)/\d{1,3}\b", head))

    def _message(
        self,
        header_line: int,
        body: list[tuple[int, str]],
        received: datetime,
        source: str,
        result: ParseResult,
        seen: set[str],
    ) -> None:
        whole = "\n".join(line for _, line in body).encode()
        if not body:
            result.rejections.append(Rejection("FSU message without an air waybill line", whole, header_line))
            return
        awb_number, awb_text = body[0]
        m = _AWB_LINE.match(awb_text)
        if not m:
            reason = f"expected the air waybill line (e.g. 020-12345675FRAJFK/T1K100), got {awb_text[:40]!r}"
            result.rejections.append(Rejection(reason, whole, awb_number))
            return
        awb, problem = awb_problem(f"{m.group(1)}-{m.group(2)}")
        if awb is None:
            result.rejections.append(Rejection(problem or "bad AWB", whole, awb_number))
            return
        total = _total_pieces(m.group(5))

        groups: list[tuple[int, str]] = []
        for number, line in body[1:]:
            if line.startswith("/") and groups:
                groups[-1] = (groups[-1][0], groups[-1][1] + line)
            else:
                groups.append((number, line))
        for number, line in groups:
            fragment = line.encode()
            code_match = _CODE.match(line)
            if not code_match:
                result.rejections.append(Rejection(f"{line[:80]}: not a status line (XXX/...)", fragment, number))
                continue
            code = code_match.group(1)
            if code in INFO_LINES:
                continue
            status = StatusLine(code=code, text=line, index=number)
            rule = STATUS_RULES.get(code)
            mapped = rule is not None and rule.milestone is not None
            problem = _read_fields(status)
            if problem:
                result.rejections.append(Rejection(f"{status.label}: {problem}", fragment, number))
                continue
            if not mapped and not (code in FLIGHT_STATUSES and (status.departure_time or status.arrival_time)):
                result.rejections.append(Rejection(unmapped_reason(status.label, code), fragment, number))
                continue
            try:
                drafts, problems = _drafts(status, received)
            except _LineError as exc:
                result.rejections.append(Rejection(f"{status.label}: {exc}", fragment, number))
                continue
            result.rejections.extend(Rejection(f"{status.label}: {p}", fragment, number) for p in problems)
            if not mapped and not drafts:
                result.rejections.append(Rejection(unmapped_reason(status.label, code), fragment, number))
                continue
            emit(
                drafts,
                awb=awb,
                status=code,
                source=source,
                received=received,
                label=status.label,
                fragment=fragment,
                index=number,
                result=result,
                seen=seen,
                pieces=partial_pieces("P" if status.partial else "T", status.pieces, total),
            )
