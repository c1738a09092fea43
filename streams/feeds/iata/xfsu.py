"""IATA Cargo-XML XFSU (StatusMessage) -> canonical TrackingEvents, with the FSU status mapping.

    <rsm:StatusMessage xmlns:rsm="iata:statusmessage:1" xmlns:ram="iata:datamodel:3">
      <rsm:MasterConsignment>
        <ram:TransportContractDocument><ram:ID>020-12345675</ram:ID></ram:TransportContractDocument>
        <ram:ReportedStatus>
          <ram:ReasonCode>DEP</ram:ReasonCode>
          <ram:AssociatedStatusConsignment>
            <ram:PieceQuantity>10</ram:PieceQuantity>
            <ram:TransportSplitDescription>T</ram:TransportSplitDescription>
            <ram:SpecifiedLogisticsTransportMovement>
              <ram:ID>LH400</ram:ID>
              <ram:DepartureEvent> DepartureOccurrenceDateTime, DepartureDateTimeTypeCode (A/E/S),
                                   OccurrenceDepartureLocation/ID </ram:DepartureEvent>
              <ram:ArrivalEvent> ArrivalOccurrenceDateTime, ArrivalDateTimeTypeCode, OccurrenceArrivalLocation/ID
              </ram:ArrivalEvent>
              <ram:SpecifiedLocation><ram:ID>FRA</ram:ID></ram:SpecifiedLocation>
              <ram:SpecifiedEvent><ram:OccurrenceDateTime>2023-10-16T16:15:00</ram:OccurrenceDateTime>
                                  <ram:DateTimeTypeCode>A</ram:DateTimeTypeCode></ram:SpecifiedEvent>
            </ram:SpecifiedLogisticsTransportMovement>
          ...

Elements are matched by local name, whatever the namespace prefixes (the JAXB root `statusMessageType` of
published samples is accepted too). The AWB is MasterConsignment/TransportContractDocument/ID; each ReportedStatus
(ReasonCode, or StatusCode) gives, per AssociatedStatusConsignment and transport movement:

- the status's own event (the STATUS_RULES table of streams.feeds.iata.rules: same milestones and classifiers as
  FSU) at SpecifiedLocation/ID and SpecifiedEvent/OccurrenceDateTime; without them, a departure-side status (DEP,
  BKD, MAN, PRE) uses the DepartureEvent and an arrival-side one (ARR, RCF) the ArrivalEvent;
- DEPARTED / ARRIVED events from the movement's DepartureEvent / ArrivalEvent (and ARRIVED PLANNED from a
  ScheduledArrivalEvent), classified by their DateTimeTypeCode (A actual, E estimated, S scheduled = PLANNED).

An AssociatedStatusConsignment about part of the shipment (TransportSplitDescription P, or a PieceQuantity below the
MasterConsignment's TotalPieceQuantity) puts its pieces in ShipmentRefs.pieces.

Locations are IATA airport codes or UN/LOCODEs; date-times without an offset are local at that place (converted
with its IANA zone, an unknown place is rejected, never read as UTC). The XML is parsed with defusedxml (no entity
expansion, no external resources).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from schemas import Milestone
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.iata.events import EventDraft, GuardedIataFormat, emit
from streams.feeds.iata.places import Place, instant, resolve_place
from streams.feeds.iata.refs import awb_problem, partial_pieces, split_flight
from streams.feeds.iata.rules import (
    STATUS_RULES,
    StatusRule,
    flight_time_classifier,
    status_classifier,
    unmapped_reason,
)

MESSAGE_ELEMENTS = frozenset({"StatusMessage", "statusMessageType", "StatusMessageType"})
MAX_FRAGMENT = 4000


def _name(el: ET.Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if el is None else [c for c in el if c.tag == name]  # tags are local names once parsed


def _kid(el: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        found = _kids(el, name)
        el = found[0] if found else None
    return el


def _text(el: ET.Element | None, *path: str) -> str | None:
    node = _kid(el, *path)
    if node is None or node.text is None:
        return None
    text = node.text.strip()
    return text or None


@dataclass(frozen=True, slots=True)
class _Moment:
    when: str | None
    kind: str | None  # A / E / S
    where: str | None


def _moment(el: ET.Element | None, prefix: str, location: str) -> _Moment | None:
    """DepartureEvent / ArrivalEvent -> (date-time, type code, location id)."""
    if el is None:
        return None
    when = _text(el, f"{prefix}OccurrenceDateTime") or _text(el, "ScheduledOccurrenceDateTime")
    kind = (_text(el, f"{prefix}DateTimeTypeCode") or "").upper()[:1] or None
    return _Moment(when, kind, _text(el, location, "ID"))


def _fragment(el: ET.Element) -> bytes:
    try:
        return ET.tostring(el, encoding="utf-8")[:MAX_FRAGMENT]
    except Exception:  # serialising back is best effort; the reason is what matters
        return b""


class _Problem(Exception):
    pass


def _place(code: str | None) -> Place:
    found = resolve_place(code)
    if isinstance(found, str):
        raise _Problem(found)
    return found


def _at(text: str | None, place: Place) -> datetime:
    found = instant(text, place)
    if isinstance(found, str):
        raise _Problem(found)
    return found


def _drafts(
    rule: StatusRule, movement: ET.Element | None, scope: ET.Element
) -> tuple[list[EventDraft], list[str]]:
    """Events of one ReportedStatus within one transport movement (or the consignment when there is none)."""
    carrier, flight = split_flight(_text(movement, "ID"))
    party = _text(movement, "CarrierParty", "PrimaryID")
    if party and re.match(r"^[A-Z0-9]{2,3}$", party.upper()):
        carrier = party.upper()
    departure = _moment(_kid(scope, "DepartureEvent"), "Departure", "OccurrenceDepartureLocation")
    arrival = _moment(_kid(scope, "ArrivalEvent"), "Arrival", "OccurrenceArrivalLocation")
    scheduled = _text(scope, "ScheduledArrivalEvent", "ScheduledOccurrenceDateTime")
    status_where = _text(scope, "SpecifiedLocation", "ID")
    status_when = status_kind = None
    for event in _kids(scope, "SpecifiedEvent"):
        if _text(event, "OccurrenceDateTime"):
            status_when = _text(event, "OccurrenceDateTime")
            status_kind = (_text(event, "DateTimeTypeCode") or "").upper()[:1] or None
            break

    drafts: list[EventDraft] = []
    problems: list[str] = []
    used: set[str] = set()
    # The flight's date: the local date of its (scheduled, else reported) departure, as Cargo-XML writes it.
    day = _flight_day(_text(scope, "DepartureEvent", "ScheduledOccurrenceDateTime")
                      or (departure.when if departure else None)) if flight else None  # fmt: skip
    if rule.milestone is not None:
        side = departure if rule.at == "departure" else arrival if rule.at == "arrival" else None
        where = status_where or (side.where if side else None)
        when, kind = status_when, status_kind
        if when is None and side is not None:
            when, kind = side.when, side.kind
            used.add(rule.at)
        place = _place(where)
        drafts.append(
            EventDraft(rule.milestone, status_classifier(rule, kind), place.locode, _at(when, place), flight, carrier,
                       day)
        )
    for side_name, moment, milestone in (
        ("departure", departure, Milestone.DEPARTED),
        ("arrival", arrival, Milestone.ARRIVED),
    ):
        if moment is None or side_name in used or moment.when is None:
            continue
        try:
            place = _place(moment.where)
            classifier = flight_time_classifier(rule, moment.kind)
            drafts.append(EventDraft(milestone, classifier, place.locode, _at(moment.when, place), flight, carrier,
                                     day))  # fmt: skip
        except _Problem as exc:
            problems.append(f"{side_name}: {exc}")
    if scheduled and arrival is not None and arrival.where:
        try:
            place = _place(arrival.where)
            classifier = flight_time_classifier(rule, "S")
            drafts.append(
                EventDraft(Milestone.ARRIVED, classifier, place.locode, _at(scheduled, place), flight, carrier, day)
            )
        except _Problem as exc:
            problems.append(f"scheduled arrival: {exc}")
    return drafts, problems


def _flight_day(text: str | None) -> date | None:
    """The date part of a Cargo-XML date-time (local, as sent), or None."""
    try:
        return date.fromisoformat(text.strip()[:10]) if text else None
    except ValueError:
        return None


def _count(text: str | None) -> int | None:
    """A piece quantity (`10`, `10.0`), or None when absent or not a whole number."""
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() and 0 <= value < 1_000_000 else None


def _total_pieces(consignment: ET.Element) -> int | None:
    """The shipment's total pieces: TotalPieceQuantity, else PieceQuantity of a consignment split T (whole)."""
    total = _count(_text(consignment, "TotalPieceQuantity"))
    if total is None and (_text(consignment, "TransportSplitDescription") or "").upper() == "T":
        total = _count(_text(consignment, "PieceQuantity"))
    return total


def _messages(root: ET.Element) -> Iterator[ET.Element]:
    if _name(root) in MESSAGE_ELEMENTS or _kids(root, "MasterConsignment"):
        yield root
        return
    for el in root.iter():
        if _name(el) in MESSAGE_ELEMENTS:
            yield el


class CargoXmlXfsu(GuardedIataFormat):
    """IATA Cargo-XML XFSU status messages."""

    name = "iata-xfsu"
    description = "IATA Cargo-XML XFSU StatusMessage: air cargo status updates per air waybill"

    def sniff(self, data: bytes) -> bool:
        head = data[:8192].lower()
        return head.lstrip().startswith(b"<") and (b"statusmessage" in head or b"reportedstatus" in head)

    def _parse(self, data: bytes, received: datetime, source: str) -> ParseResult:
        result = ParseResult()
        try:
            root = fromstring(data)
        except DefusedXmlException as exc:
            result.rejections.append(Rejection(f"XFSU: refused XML construct ({type(exc).__name__})", data[:2000]))
            return result
        except (ET.ParseError, ValueError, TypeError, LookupError) as exc:  # LookupError: unknown encoding
            result.rejections.append(Rejection(f"XFSU: not well-formed XML: {exc}", data[:2000]))
            return result
        for el in root.iter():  # match by local name from here on (and fragments read without namespace noise)
            if isinstance(el.tag, str) and "}" in el.tag:
                el.tag = el.tag.rsplit("}", 1)[1]
        messages = list(_messages(root))
        if not messages:
            reason = f"XFSU: no StatusMessage element (root is {_name(root) or '?'})"
            result.rejections.append(Rejection(reason, data[:2000]))
            return result
        seen: set[str] = set()
        index = 0
        for message in messages:
            consignments = _kids(message, "MasterConsignment")
            if not consignments:
                result.rejections.append(Rejection("XFSU: StatusMessage without MasterConsignment", _fragment(message)))
            for consignment in consignments:
                index = self._consignment(consignment, received, source, result, seen, index)
        return result

    def _consignment(
        self,
        consignment: ET.Element,
        received: datetime,
        source: str,
        result: ParseResult,
        seen: set[str],
        index: int,
    ) -> int:
        statuses = _kids(consignment, "ReportedStatus")
        raw_awb = _text(consignment, "TransportContractDocument", "ID") or ""
        awb, problem = awb_problem(raw_awb.replace(" ", ""))
        if awb is None:
            reason = f"XFSU MasterConsignment: {problem}" if raw_awb else "XFSU MasterConsignment: no AWB number"
            result.rejections.append(Rejection(reason, _fragment(consignment), index))
            return index + max(1, len(statuses))
        if not statuses:
            result.rejections.append(Rejection(f"XFSU AWB {awb}: no ReportedStatus", _fragment(consignment), index))
            return index + 1
        total = _total_pieces(consignment)
        for status in statuses:
            self._status(status, awb, received, source, result, seen, index, total)
            index += 1
        return index

    def _status(
        self,
        status: ET.Element,
        awb: str,
        received: datetime,
        source: str,
        result: ParseResult,
        seen: set[str],
        index: int,
        total: int | None = None,
    ) -> None:
        def fragment() -> bytes:
            return _fragment(status)

        code = (_text(status, "ReasonCode") or _text(status, "StatusCode") or "").upper()
        label = f"XFSU AWB {awb} {code or '(no ReasonCode)'}"
        rule = STATUS_RULES.get(code)
        if rule is None:
            reason = f"{label}: no status code" if not code else unmapped_reason(label, code)
            result.rejections.append(Rejection(reason, fragment(), index))
            return
        produced = False
        for consignment in _kids(status, "AssociatedStatusConsignment") or [status]:
            pieces = partial_pieces(
                _text(consignment, "TransportSplitDescription"), _count(_text(consignment, "PieceQuantity")), total
            )
            movements: list[ET.Element | None] = list(_kids(consignment, "SpecifiedLogisticsTransportMovement"))
            for movement in movements or [None]:
                scope = movement if movement is not None else consignment
                try:
                    drafts, problems = _drafts(rule, movement, scope)
                except _Problem as exc:
                    result.rejections.append(Rejection(f"{label}: {exc}", fragment(), index))
                    produced = True
                    continue
                result.rejections.extend(Rejection(f"{label}: {p}", fragment(), index) for p in problems)
                produced = produced or bool(drafts) or bool(problems)
                emit(
                    drafts,
                    awb=awb,
                    status=code,
                    source=source,
                    received=received,
                    label=label,
                    fragment=fragment,
                    index=index,
                    result=result,
                    seen=seen,
                    pieces=pieces,
                )
        if not produced:
            result.rejections.append(Rejection(unmapped_reason(label, code), fragment(), index))
