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

Status -> canonical milestone (shared with the XFSU and ONE Record adapters, `STATUS_RULES`):

| code | meaning (IATA)                                          | milestone         | where            | classifier |
| ---- | ------------------------------------------------------- | ----------------- | ---------------- | ---------- |
| BKD  | booked on a flight                                      | DEPARTED          | departure airport| PLANNED    |
| FOH  | on hand, pending ready-for-carriage                     | GATE_IN           | status airport   | ACTUAL     |
| RCS  | received from shipper, ready for carriage               | GATE_IN           | status airport   | ACTUAL     |
| RCT  | received from another carrier                           | GATE_IN           | status airport   | ACTUAL     |
| DPU  | picked up at the shipper's door                         | PICKED_UP         | status airport   | ACTUAL     |
| PRE  | prepared (built up) for loading on a flight             | STUFFED           | departure airport| ACTUAL     |
| MAN  | manifested on a flight                                  | LOADED            | departure airport| ACTUAL     |
| DEP  | departed on a flight                                    | DEPARTED          | departure airport| ACTUAL     |
| TFD  | transferred to another carrier                          | GATE_OUT          | status airport   | ACTUAL     |
| ARR  | arrived on a flight                                     | ARRIVED           | arrival airport  | ACTUAL     |
| RCF  | received from a flight (in the warehouse)               | DISCHARGED        | arrival airport  | ACTUAL     |
| TGC  | transferred to customs/government control               | CUSTOMS_HOLD      | status airport   | ACTUAL     |
| CCD  | cleared by customs                                      | CUSTOMS_RELEASED  | status airport   | ACTUAL     |
| DLV  | delivered to the consignee or agent                     | DELIVERED         | status airport   | ACTUAL     |
| DDL  | delivered to the consignee's door                       | DELIVERED         | status airport   | ACTUAL     |
| NFD, AWD, AWR, TRM, DIS, CRC, DOC, FIW, FOW and unknown codes: no canonical milestone -> a Rejection       |

An `E` time on the status's own time makes the event ESTIMATED (a DEP with `E1540` is an estimated departure);
BKD never reports an actual. Flight time fields also give events of their own: a departure time -> DEPARTED at the
departure airport, an arrival time -> ARRIVED at the arrival airport, classified by the time's letter (A actual,
E estimated, S scheduled = PLANNED), e.g. `DEP/.../FRAJFK/T1K100/A1317/E2030` gives DEPARTED ACTUAL at FRA and
ARRIVED ESTIMATED at JFK; FIW/AWR lines with an `A` arrival time give ARRIVED ACTUAL even though their own code
has no milestone.

Times: dates carry no year and times are local at the airport. The year is the one that puts the date nearest to
the reception day (the airport's local date of `received`; ties go to the past), so a 30DEC status received on
2 January is last year's and a 02JAN booking received on 30 December is next year's; a date with no such day
within six months (31FEB, 29FEB outside leap years) is rejected. A status with a date and no time is placed at
00:00 local. Local times become UTC with the airport's IANA zone (streams.feeds.airports); an unknown airport is
rejected, never read as UTC. An ACTUAL event more than a day after reception is rejected as in the future.

A status about part of the shipment (quantity `P`, or fewer pieces than the AWB line's total) puts its pieces in
ShipmentRefs.pieces on every event of the line (`partial_pieces`, shared with XFSU).

Each event's id is a hash of source, AWB, status code, milestone, classifier, location, time and flight, so a
re-sent message gives the same ids. A bad AWB line rejects the whole message; a bad status line rejects only
itself.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from schemas import Classifier, Milestone, Mode, ShipmentRefs, TrackedUnit, TrackingEvent, TransportRef, UnitKind
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceEvent, ConveyanceKind, ConveyanceMilestone
from streams.feeds import ids
from streams.feeds.airports import Airport, airport, zone_for_locode
from streams.feeds.base import ParseResult, Rejection

# --------------------------------------------------------------------------------------------------------------
# Shared by the IATA adapters (iata_fsu, iata_xfsu, one_record): status rules, AWB check, event construction.


@dataclass(frozen=True, slots=True)
class StatusRule:
    milestone: Milestone | None
    meaning: str
    at: Literal["status", "departure", "arrival"] = "status"
    planned: bool = False  # BKD: a booking reports a plan, never an actual


STATUS_RULES: dict[str, StatusRule] = {
    "BKD": StatusRule(Milestone.DEPARTED, "booked on a flight", "departure", planned=True),
    "FOH": StatusRule(Milestone.GATE_IN, "freight on hand, pending ready-for-carriage"),
    "RCS": StatusRule(Milestone.GATE_IN, "received from shipper, ready for carriage"),
    "RCT": StatusRule(Milestone.GATE_IN, "received from another carrier"),
    "DPU": StatusRule(Milestone.PICKED_UP, "picked up at the shipper's door"),
    "PRE": StatusRule(Milestone.STUFFED, "prepared for loading on a flight", "departure"),
    "MAN": StatusRule(Milestone.LOADED, "manifested on a flight", "departure"),
    "DEP": StatusRule(Milestone.DEPARTED, "departed on a flight", "departure"),
    "TFD": StatusRule(Milestone.GATE_OUT, "transferred to another carrier"),
    "ARR": StatusRule(Milestone.ARRIVED, "arrived on a flight", "arrival"),
    "RCF": StatusRule(Milestone.DISCHARGED, "received from a flight", "arrival"),
    "TGC": StatusRule(Milestone.CUSTOMS_HOLD, "transferred to customs/government control"),
    "CCD": StatusRule(Milestone.CUSTOMS_RELEASED, "cleared by customs"),
    "DLV": StatusRule(Milestone.DELIVERED, "delivered to the consignee or agent"),
    "DDL": StatusRule(Milestone.DELIVERED, "delivered to the consignee's door"),
    # Statuses with no canonical milestone (reported as rejections so nobody wonders where they went).
    "NFD": StatusRule(None, "consignee notified of arrival", "arrival"),
    "AWD": StatusRule(None, "arrival documents delivered to the consignee", "arrival"),
    "AWR": StatusRule(None, "arrival documents received from a flight", "arrival"),
    "TRM": StatusRule(None, "to be transferred to another carrier"),
    "DIS": StatusRule(None, "discrepancy"),
    "CRC": StatusRule(None, "reported to customs"),
    "DOC": StatusRule(None, "documents received by the handling party"),
    "FIW": StatusRule(None, "freight into warehouse", "arrival"),
    "FOW": StatusRule(None, "freight out of warehouse"),
}

TIME_TYPES: dict[str, Classifier] = {"A": Classifier.ACTUAL, "E": Classifier.ESTIMATED, "S": Classifier.PLANNED}
FUTURE_TOLERANCE = timedelta(days=1)  # an ACTUAL event later than reception by more than this is a feed error
_AWB = re.compile(r"^(\d{3})-?(\d{8})$")


def status_classifier(rule: StatusRule, time_type: str | None) -> Classifier:
    """Classifier of the status's own event: E makes it an estimate; BKD is a plan; everything else happened."""
    if time_type == "E":
        return Classifier.ESTIMATED
    return Classifier.PLANNED if rule.planned else Classifier.ACTUAL


def flight_time_classifier(rule: StatusRule, time_type: str | None) -> Classifier:
    """Classifier of a departure/arrival time carried by a status line (A/E/S), never ACTUAL in a booking."""
    found = TIME_TYPES.get(time_type or "", Classifier.ACTUAL)
    return Classifier.PLANNED if rule.planned and found is Classifier.ACTUAL else found


def awb_problem(text: str) -> tuple[str | None, str | None]:
    """(normalised AWB "NNN-NNNNNNNN", None) or (None, actionable problem)."""
    m = _AWB.match(text.strip())
    if not m:
        return None, f"{text.strip()[:40]!r} is not an air waybill number (NNN-NNNNNNNN)"
    prefix, serial = m.groups()
    expected = int(serial[:7]) % 7
    if expected != int(serial[7]):
        return None, f"AWB {prefix}-{serial}: check digit should be {expected}"
    return f"{prefix}-{serial}", None


def split_flight(flight: str | None) -> tuple[str | None, str | None]:
    """("LH", "LH400") from "LH400"; (carrier, None) from a bare carrier code; (None, None) otherwise."""
    if not flight:
        return None, None
    m = re.match(r"^([A-Z][A-Z0-9]|[0-9][A-Z])\s*(\d{1,5}[A-Z]?)?$", flight.strip().upper())
    if not m:
        return None, flight.strip()[:16] or None
    carrier, number = m.groups()
    return carrier, (carrier + number) if number else None


def to_utc(local: datetime, zone: ZoneInfo) -> datetime | None:
    """A naive local time at a place -> aware UTC (None when out of range). Ambiguous DST times take the first."""
    try:
        return local.replace(tzinfo=zone).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def event_id(source: str, awb: str, status: str, draft: EventDraft, unit: TrackedUnit | None = None) -> str:
    """Deterministic: the same fact re-sent (or sent again as XFSU by the same source) gets the same id. An event
    about another unit than the AWB itself (an FFM's ULD) has that unit in its key too."""
    parts = [source, awb, status, draft.milestone.value, draft.classifier.value, draft.locode, draft.at.isoformat(),
             draft.flight or ""]  # fmt: skip
    if unit is not None:
        parts.append(f"{unit.kind.value}:{unit.id}")
    return "iata-" + hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def partial_pieces(split: str | None, pieces: int | None, total: int | None) -> int | None:
    """The pieces a status concerns when it concerns part of the shipment: shipment description code P, or fewer
    pieces than the shipment's total; None for the whole shipment or when unknown (ShipmentRefs.pieces)."""
    if pieces is None or pieces < 1:
        return None
    if (split or "").upper() == "P" or (total is not None and pieces < total):
        return pieces
    return None


@dataclass(frozen=True, slots=True)
class EventDraft:
    milestone: Milestone
    classifier: Classifier
    locode: str
    at: datetime  # aware, UTC
    flight: str | None = None
    carrier: str | None = None
    # Set when the draft is a time of the flight itself (a DEP/ARR/BKD status time or a flight time field): the
    # flight's date, which with its number identifies it. The draft then also gives a flight ConveyanceEvent.
    flight_date: date | None = None


def flight_event(draft: EventDraft, source: str, received: datetime) -> ConveyanceEvent | None:
    """The flight's own event for a draft that times the flight (see EventDraft.flight_date), else None."""
    milestone = _FLIGHT_MILESTONES.get(draft.milestone)
    if milestone is None or not draft.flight or draft.flight_date is None:
        return None
    flight = Conveyance(kind=ConveyanceKind.FLIGHT, carrier=draft.carrier, number=draft.flight,
                        departure_date=draft.flight_date)  # fmt: skip
    eid = ids.event_id(source, flight.id, milestone.value, draft.classifier.value, draft.locode,
                       draft.at.strftime("%Y%m%dT%H%MZ"))  # fmt: skip
    return ConveyanceEvent(event_id=eid, source=source, conveyance=flight, mode=Mode.AIR,
                           call=ConveyanceCall(location=draft.locode), milestone=milestone,
                           classifier=draft.classifier, event_time=draft.at, received_time=received)  # fmt: skip


_FLIGHT_MILESTONES = {Milestone.DEPARTED: ConveyanceMilestone.DEPARTED, Milestone.ARRIVED: ConveyanceMilestone.ARRIVED}


def emit(
    drafts: Iterable[EventDraft],
    *,
    awb: str,
    status: str,
    source: str,
    received: datetime,
    label: str,
    fragment: bytes | Callable[[], bytes] | None,
    index: int | None,
    result: ParseResult,
    seen: set[str],
    pieces: int | None = None,
    unit: TrackedUnit | None = None,
) -> None:
    """Turn drafts into TrackingEvents (dropping repeats within the message), or rejections saying why not.
    `fragment` may be a callable, called only when something is rejected (serialising XML is not free).
    `pieces` goes to ShipmentRefs.pieces; `unit` (default: the AWB itself) is the unit the events are about."""

    def piece() -> bytes | None:
        return fragment() if callable(fragment) else fragment

    for draft in drafts:
        if draft.classifier is Classifier.ACTUAL and draft.at > received + FUTURE_TOLERANCE:
            result.rejections.append(
                Rejection(
                    f"{label}: actual {status} time {draft.at.isoformat()} is after the message was received "
                    f"({received.isoformat()})",
                    piece(),
                    index,
                )
            )
            continue
        try:
            conveyance = flight_event(draft, source, received)
        except ValidationError as exc:  # e.g. a flight number the schema refuses: the AWB's event is still kept
            result.rejections.append(Rejection(f"{label}: flight not kept as a flight event: {exc.errors()[0]['msg']}",
                                               piece(), index, warning=True))  # fmt: skip
            conveyance = None
        if conveyance is not None:
            result.add_conveyance(conveyance)
        try:
            event = TrackingEvent(
                event_id=event_id(source, awb, status, draft, unit),
                source=source,
                unit=unit or TrackedUnit(kind=UnitKind.AWB, id=awb),
                mode=Mode.AIR,
                milestone=draft.milestone,
                classifier=draft.classifier,
                location=draft.locode,
                event_time=draft.at,
                received_time=received,
                transport=TransportRef(carrier=draft.carrier, flight=draft.flight),
                shipment=ShipmentRefs(air_waybill=awb, pieces=pieces),
            )
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            result.rejections.append(Rejection(f"{label}: {detail}", piece(), index))
            continue
        if event.event_id not in seen:
            seen.add(event.event_id)
            result.events.append(event)


def utc_received(received: datetime) -> datetime:
    """`received` as aware UTC (a naive value is taken as UTC, as the contract says it is)."""
    if received.tzinfo is None:
        return received.replace(tzinfo=UTC)
    return received.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Place:
    locode: str
    zone: ZoneInfo | None  # None: only times with an explicit offset can be placed
    label: str  # as the message named it


_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")


def resolve_place(code: str | None) -> Place | str:
    """An IATA airport code or a UN/LOCODE -> Place, or the problem text."""
    if not code or not code.strip():
        return "no location"
    compact = code.strip().upper().replace(" ", "")
    if len(compact) == 3:
        found = airport(compact)
        return Place(found.locode, found.zone, compact) if found else f"unknown airport {compact}"
    if _LOCODE.match(compact):
        return Place(compact, zone_for_locode(compact), compact)
    return f"location {code.strip()[:20]!r} is neither an IATA airport code nor a UN/LOCODE"


def instant(text: str | None, place: Place) -> datetime | str:
    """An ISO 8601 date-time -> aware UTC; one without offset is local time at `place`. Or the problem text."""
    if not text or not text.strip():
        return "no date-time"
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return f"{raw[:40]!r} is not an ISO 8601 date-time"
    if moment.tzinfo is not None:
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            return f"{raw[:40]!r} is out of range"
    if place.zone is None:
        return f"local time {raw[:40]} at {place.label}, whose time zone is unknown"
    found = to_utc(moment, place.zone)
    return found if found is not None else f"{raw[:40]!r} is out of range"


def unmapped_reason(label: str, code: str) -> str:
    rule = STATUS_RULES.get(code)
    if rule is None:
        return f"{label}: unknown status code {code}"
    return f"{label}: status {code} ({rule.meaning}) has no canonical milestone; not tracked"


# --------------------------------------------------------------------------------------------------------------
# Cargo-IMP FSU

_HEADER = re.compile(r"^(FSU|FSA)/(\d{1,3})(?:\s+(?P<rest>.*))?$")
_AWB_LINE = re.compile(r"^(\d{3})-(\d{8})([A-Z]{3})?([A-Z]{3})?(?:/(.*))?$")
_COMPACT_SPLIT = re.compile(r"\s+(?=\d{3}-\d{8}|[A-Z]{3}/)")
_CODE = re.compile(r"^([A-Z]{3})(?:/|$)")
_FLIGHT = re.compile(r"^([A-Z][A-Z0-9]|[0-9][A-Z])(\d{1,5}[A-Z]?)?$")
_DATE = re.compile(r"^(\d{1,2})([A-Z]{3})(\d{4})?(?:-([A-Z]))?$")
_AIRPORTS = re.compile(r"^([A-Z]{3})([A-Z]{3})?$")
_QUANTITY = re.compile(r"^([TP])(\d{1,5})(?:([KL])(\d{1,7}(?:\.\d{1,3})?))?(?:T(\d{1,5}))?$")
_TIME = re.compile(r"^([AES])(\d{4})(?:-([A-Z]))?$")
_DISCREPANCY = re.compile(r"^[A-Z]{4}$")
_END = re.compile(r"^(=.*|NNNN)$")
INFO_LINES = frozenset({"OCI", "ULD", "OSI", "SPH", "REF", "SRI", "COR"})
FLIGHT_STATUSES = frozenset({"BKD", "MAN", "DEP", "PRE", "ARR", "RCF", "AWR", "FIW", "FOW"})
LEG_STATUSES = frozenset({"BKD", "MAN", "DEP", "PRE"})  # carry departure and arrival airport
TRANSFER_STATUSES = frozenset({"RCT", "TFD", "TRM"})  # their carrier is the other party, not the one carrying
DATE_STATUSES = frozenset(STATUS_RULES) - {"TRM"}  # every status with a date field
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAY_CHANGE = {"P": -1, "N": 1, "S": 2, "T": 3}
DATE_WINDOW = timedelta(days=183)


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


def _hhmm(text: str | None) -> dtime | str | None:
    """time of HHMM, None when absent, or the problem text."""
    if text is None:
        return None
    hh, mm = int(text[:2]), int(text[2:])
    if hh > 23 or mm > 59:
        return f"{text} is not a time (HHMM)"
    return dtime(hh, mm)


def resolve_date(day: int, month: str, reference: date) -> date | str:
    """The date nearest `reference` (ties to the past) for a DDMMM without year, or the problem text."""
    label = f"{day:02d}{month}"
    number = MONTHS.get(month)
    if number is None:
        return f"{label} is not a date (unknown month {month})"
    candidates = []
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            candidates.append(date(year, number, day))
        except ValueError:
            continue
    if not candidates:
        return f"{label} is not a date"
    best = min(candidates, key=lambda d: (abs(d - reference), d > reference))
    if abs(best - reference) > DATE_WINDOW:
        return f"{label}: no such date within six months of reception ({reference.isoformat()})"
    return best


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
    found = _hhmm(ft.hhmm)
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
    own = _hhmm(line.hhmm)
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


def split_messages(text: str, header: re.Pattern[str] = _HEADER) -> list[tuple[int, list[tuple[int, str]]]]:
    """[(header line number, [(line number, line) ...])] for each Cargo-IMP message in the text: a message starts
    at a line matching `header` (FSU/FSA by default; FFM for the manifest adapter) and ends at the next header, or
    at a Type B end line (`=...`, NNNN) after which whatever follows is envelope. Lines are stripped, blank lines
    dropped. A header with a non-empty `rest` group (FSU's compact one-line form) is split into lines."""
    lines = [ln.strip().strip("\x01\x02\x03\x04").strip() for ln in re.split(r"\r\n|\r|\n", text)]
    compact = "rest" in header.groupindex
    messages: list[tuple[int, list[tuple[int, str]]]] = []
    current: list[tuple[int, str]] | None = None
    for number, line in enumerate(lines):
        match = header.match(line)
        if match:
            current = []
            messages.append((number, current))
            if compact and match.group("rest"):  # compact one-line form
                current.extend((number, part) for part in _COMPACT_SPLIT.split(match.group("rest").strip()) if part)
            continue
        if current is None:
            continue  # envelope before the message
        if _END.match(line):
            current = None  # end of message text; whatever follows until the next header is envelope
            continue
        if line:
            current.append((number, line))
    return messages


def local_date_time(
    day: int, month: str, hhmm: str | None, code: str, received: datetime
) -> tuple[datetime, str] | str:
    """A Cargo-IMP DDMMM[HHMM] at an IATA airport -> (aware UTC instant, the airport's UN/LOCODE), with the FSU
    conventions: the year nearest the reception day (the airport's local date), 00:00 local when there is no time,
    the airport's IANA zone. Or the problem text (unknown airport, impossible date or time)."""
    found = airport(code)
    if found is None:
        return f"unknown airport {code}"
    day_found = resolve_date(day, month, received.astimezone(found.zone).date())
    if isinstance(day_found, str):
        return day_found
    at = _hhmm(hhmm)
    if isinstance(at, str):
        return at
    moment = to_utc(datetime.combine(day_found, at or dtime(0, 0)), found.zone)
    if moment is None:
        return f"{day_found.isoformat()} is out of range"
    return moment, found.locode


def _total_pieces(quantity: str | None) -> int | None:
    """The shipment's total pieces from the AWB line's quantity (`T10K1000`, or `P2K505.0T10`), when given."""
    m = _QUANTITY.match((quantity or "").split("/")[0].strip())
    if not m:
        return None
    if m.group(1) == "T":
        return int(m.group(2))
    return int(m.group(5)) if m.group(5) else None


class GuardedIataFormat:
    """The three IATA adapters' shared entry point: times in UTC, and no exception ever escapes."""

    name: str

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        try:
            return self._parse(data, utc_received(received), source or self.name)
        except Exception as exc:  # never raise: a bug here must cost one message, not the stream
            return ParseResult(rejections=[Rejection(f"internal error in {self.name}: {exc!r}", data[:2000])])

    def _parse(self, data: bytes, received: datetime, source: str) -> ParseResult:
        raise NotImplementedError


class CargoImpFsu(GuardedIataFormat):
    """IATA Cargo-IMP FSU/FSA status messages (Type B envelope optional)."""

    name = "iata-fsu"
    description = "IATA Cargo-IMP FSU/FSA air cargo status update (bare or in a Type B envelope)"

    def sniff(self, data: bytes) -> bool:
        head = data[:4096]
        return bool(re.search(rb"(?m)^\s*(?:FSU|FSA)/\d{1,3}\b", head))

    def _parse(self, data: bytes, received: datetime, source: str) -> ParseResult:
        result = ParseResult()
        text = data.decode("utf-8", errors="replace")
        messages = split_messages(text)
        if not messages:
            result.rejections.append(
                Rejection("no FSU/<version> or FSA/<version> line: not a Cargo-IMP status message", data[:2000])
            )
            return result
        seen: set[str] = set()
        for header_line, body in messages:
            self._message(header_line, body, received, source, result, seen)
        return result

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
