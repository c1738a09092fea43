"""IATA ONE Record JSON-LD LogisticsEvents -> canonical TrackingEvents.

    {"@context": {"cargo": "https://onerecord.iata.org/ns/cargo#"},
     "@type": "cargo:LogisticsEvent",
     "cargo:eventCode": {"@id": "https://onerecord.iata.org/ns/code-lists/StatusCode#DEP"},
     "cargo:eventDate": {"@type": "http://www.w3.org/2001/XMLSchema#dateTime", "@value": "2023-04-01T10:38:01Z"},
     "cargo:eventTimeType": {"@id": "cargo:ACTUAL"},
     "cargo:eventLocation": {"@type": "cargo:Location", "cargo:locationCodes": [{"cargo:code": "FRA"}]},
     "cargo:eventFor": {"@id": "https://1r.example.com/logistics-objects/awb-020-12345675"}}

Accepted containers: one object, a JSON array, `@graph`, `@set`, `@list`, an API collection (`api:hasItem`), and
events nested in other objects; LogisticsEvent and its subtype StatusUpdateEvent. Properties are matched by local
name whatever the prefix or `@vocab` (`cargo:eventCode`, `eventCode`, full IRIs; `cargo:Code` as some servers
write it). Links (`{"@id": ...}`) are followed inside the same document only: nothing is fetched.

- Milestone: eventCode (an IATA status code as an IRI `...StatusCode#DEP`, `...coreCodeLists#StatusCode_DEP`, a
  CodeListElement, or a string) through the FSU table (streams.feeds.iata.rules.STATUS_RULES). BKD has no milestone
  here: a booking LogisticsEvent's date is when the booking was made, not a planned departure.
- Classifier: eventTimeType ACTUAL / ESTIMATED / PLANNED (SCHEDULED and REQUESTED read as PLANNED); absent ->
  ACTUAL (the property is optional and events without it report what happened).
- Time: eventDate (xsd:dateTime); without an offset it is local at the event's location.
- Location: eventLocation (or recordedAtLocation, as in the ShipmentTracking good practice) -> Location ->
  locationCodes / locationCode: an IATA airport code or a UN/LOCODE.
- Air waybill, first found: a Waybill reachable from eventFor / linkedObject (Waybill, Shipment#waybill, ...);
  an `awb-020-12345675` or `020-12345675` segment of the event's or eventFor's IRI (the good practice's
  waybill-specific URIs); the document's only master Waybill. A house waybill is not an AWB.
- Flight: transportIdentifier of a linked TransportMovement (`LH400/16OCT2023` -> LH400).

- Pieces: a partial event (partialEventIndicator true) whose eventFor / linkedObject names Piece objects gives
  their number in ShipmentRefs.pieces; a partial event naming no Piece leaves it empty (how much is unknown).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from schemas import Classifier
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.iata.events import EventDraft, GuardedIataFormat, emit
from streams.feeds.iata.places import instant, resolve_place
from streams.feeds.iata.refs import awb_problem, split_flight
from streams.feeds.iata.rules import STATUS_RULES, unmapped_reason

EVENT_TYPES = frozenset({"logisticsevent", "statusupdateevent"})
TIME_TYPES = {
    "ACTUAL": Classifier.ACTUAL,
    "ESTIMATED": Classifier.ESTIMATED,
    "PLANNED": Classifier.PLANNED,
    "SCHEDULED": Classifier.PLANNED,
    "REQUESTED": Classifier.PLANNED,
}
CONTAINERS = ("@graph", "@set", "@list")
MAX_DEPTH = 64
MAX_FRAGMENT = 4000
_IRI_AWB = re.compile(r"(?:^|[/#:])(?:awb-)?(\d{3})-(\d{8})(?=$|[/?#])", re.IGNORECASE)


def _local(key: str) -> str:
    if key.startswith("@"):
        return key
    return re.split(r"[#/:]", key)[-1].lower()


class _Node:
    """A JSON-LD node with its properties keyed by lower-case local name."""

    __slots__ = ("props", "raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.props: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(key, str):
                self.props.setdefault(_local(key), value)

    def get(self, name: str) -> Any:
        return self.props.get(name if name.startswith("@") else name.lower())

    @property
    def id(self) -> str | None:
        value = self.raw.get("@id")
        return value.strip() if isinstance(value, str) and value.strip() else None

    @property
    def types(self) -> set[str]:
        value = self.raw.get("@type")
        values = value if isinstance(value, list) else [value]
        return {_local(v) for v in values if isinstance(v, str)}

    def is_reference(self) -> bool:
        return set(self.raw) <= {"@id", "@type"}


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    if isinstance(value, dict):
        for key in ("@value", "@id"):
            found = _scalar(value.get(key)) if not isinstance(value.get(key), dict | list) else None
            if found:
                return found
        return None
    if isinstance(value, list):
        for item in value:
            found = _scalar(item)
            if found:
                return found
    return None


def _walk(document: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the document, depth-first, in document order (no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            continue
        if isinstance(value, dict):
            yield value
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        stack.extend((child, depth + 1) for child in reversed(children))


def _last_segment(text: str) -> str:
    return re.split(r"[#/:]", text.strip())[-1]


class _Document:
    def __init__(self, document: Any) -> None:
        self.nodes = [_Node(raw) for raw in _walk(document)]
        self.wrapped = {id(node.raw): node for node in self.nodes}
        self._masters: tuple[dict[str, _Node], list[str]] | None = None
        self.by_id: dict[str, _Node] = {}
        for node in self.nodes:
            if node.id and (node.id not in self.by_id or self.by_id[node.id].is_reference()):
                self.by_id[node.id] = node

    def events(self) -> list[_Node]:
        found = [n for n in self.nodes if n.types & EVENT_TYPES]
        if not found:  # an untyped single event
            found = [n for n in self.nodes if not n.types and n.get("eventCode") is not None]
        return found

    def resolve(self, value: Any) -> _Node | None:
        if isinstance(value, list):
            for item in value:
                found = self.resolve(item)
                if found is not None:
                    return found
            return None
        if isinstance(value, str):
            return self.by_id.get(value.strip())
        if isinstance(value, dict):
            node = self.wrapped.get(id(value)) or _Node(value)
            if node.is_reference() and node.id in self.by_id:
                return self.by_id[node.id]
            return node
        return None

    # -- event properties ---------------------------------------------------------------------------------------

    def code(self, event: _Node) -> str | None:
        value = event.get("eventCode")
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            node = self.resolve(value) or _Node(value)
            text = _scalar(node.get("code")) or node.id or _scalar(value)
        else:
            text = _scalar(value)
        if not text:
            return None
        text = _last_segment(text)
        if text.lower().startswith("statuscode_"):
            text = text[len("statuscode_") :]
        return text.strip().upper() or None

    def classifier(self, event: _Node) -> Classifier | str:
        raw = _scalar(event.get("eventTimeType"))
        if raw is None:
            return Classifier.ACTUAL
        name = _last_segment(raw).upper()
        return TIME_TYPES.get(name) or f"eventTimeType {raw[:60]!r} is not ACTUAL, ESTIMATED or PLANNED"

    def location(self, event: _Node) -> str | tuple[str, str]:
        """(location code, how it was named) or the problem text."""
        for key in ("eventLocation", "recordedAtLocation", "location"):
            value = event.get(key)
            if value is None:
                continue
            node = self.resolve(value)
            if node is None or (node.is_reference() and node.id):
                link = _scalar(value) or "?"
                return f"{key} {link[:80]} is a link this document does not include; send the Location with it"
            codes: list[str] = []
            for prop in ("locationCodes", "locationCode", "code"):
                items = node.get(prop)
                for item in items if isinstance(items, list) else [items]:
                    found = _scalar(self.resolve(item).get("code")) if isinstance(item, dict) else _scalar(item)
                    if found:
                        codes.append(found)
            for code in codes:
                if not isinstance(resolve_place(code), str):
                    return code, key
            if codes:
                problem = resolve_place(codes[0])
                return f"{key}: {problem}" if isinstance(problem, str) else f"{key}: unusable location"
            return f"{key} has no location code (locationCodes)"
        return "no eventLocation"

    def awb(self, event: _Node) -> tuple[str | None, str | None]:
        problems: list[str] = []
        starts = [event.get(k) for k in ("eventFor", "linkedObject", "logisticsObject")]
        seen: set[int] = set()
        frontier = [n for n in (self.resolve(s) for s in starts if s is not None) if n is not None]
        for _ in range(5):  # Piece -> Shipment -> Waybill is three hops
            following: list[_Node] = []
            for node in frontier:
                if id(node.raw) in seen:
                    continue
                seen.add(id(node.raw))
                awb, problem = self._waybill_number(node)
                if awb:
                    return awb, None
                if problem:
                    problems.append(problem)
                for value in node.props.values():
                    if isinstance(value, dict | list | str):
                        found = self.resolve(value)
                        if found is not None and found is not node:
                            following.append(found)
            frontier = following
        for iri in [event.id] + [_scalar(s) for s in starts if s is not None]:
            match = _IRI_AWB.search(iri or "")
            if match:
                return awb_problem(f"{match.group(1)}-{match.group(2)}")
        masters, waybill_problems = self.masters()
        problems.extend(waybill_problems)
        if len(masters) == 1:
            return next(iter(masters)), None
        if len(masters) > 1:
            return None, f"no eventFor link and {len(masters)} waybills in the document: cannot tell which"
        if problems:
            return None, problems[0]
        return None, "no air waybill: link the event to its Waybill (eventFor) or send the Waybill with it"

    def masters(self) -> tuple[dict[str, _Node], list[str]]:
        """The document's air waybills (computed once) and the problems of waybills that are not usable."""
        if self._masters is None:
            masters: dict[str, _Node] = {}
            problems: list[str] = []
            for node in self.nodes:
                awb, problem = self._waybill_number(node)
                if awb:
                    masters[awb] = node
                elif problem:
                    problems.append(problem)
            self._masters = (masters, problems)
        return self._masters

    @staticmethod
    def _waybill_number(node: _Node) -> tuple[str | None, str | None]:
        number = _scalar(node.get("waybillNumber"))
        if number is None:
            return None, None
        kind = (_scalar(node.get("waybillType")) or "").upper()
        if kind.endswith("HOUSE"):
            return None, f"waybill {number[:20]} is a house waybill, not an air waybill"
        prefix = _scalar(node.get("waybillPrefix")) or ""
        text = number if "-" in number or len(number) == 11 or not prefix else f"{prefix}-{number}"
        return awb_problem(text)

    def pieces(self, event: _Node) -> int | None:
        """For a partial event (partialEventIndicator true): how many Pieces its eventFor / linkedObject names (each
        a Piece object, embedded or in the document); None when not partial or when it names no Piece."""
        if (_scalar(event.get("partialEventIndicator")) or "").lower() not in ("true", "1"):
            return None
        found: set[str] = set()
        for key in ("eventFor", "linkedObject"):
            value = event.get(key)
            for item in value if isinstance(value, list) else [value]:
                node = self.resolve(item) if item is not None else None
                if node is not None and "piece" in node.types:
                    found.add(node.id or str(id(node.raw)))
        return len(found) or None

    def flight(self, event: _Node) -> tuple[str | None, str | None]:
        for key in ("transportMovementReference", "transportMovement", "servedActivity", "eventFor", "linkedObject"):
            node = self.resolve(event.get(key)) if event.get(key) is not None else None
            identifier = _scalar(node.get("transportIdentifier")) if node is not None else None
            if identifier:
                return split_flight(identifier.split("/")[0])
        return None, None


def _fragment(node: _Node) -> bytes:
    try:
        return orjson.dumps(node.raw)[:MAX_FRAGMENT]
    except (TypeError, orjson.JSONEncodeError):
        return b""


class OneRecordLogisticsEvent(GuardedIataFormat):
    """IATA ONE Record LogisticsEvents (JSON-LD)."""

    name = "iata-one-record"
    description = "IATA ONE Record JSON-LD LogisticsEvent(s): air cargo milestones per waybill"

    def sniff(self, data: bytes) -> bool:
        head = data[:8192]
        return head.lstrip()[:1] in (b"{", b"[") and (b"LogisticsEvent" in head or b"onerecord.iata.org" in head)

    def _parse(self, data: bytes, received: datetime, source: str) -> ParseResult:
        result = ParseResult()
        try:
            document = orjson.loads(data.removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as exc:
            result.rejections.append(Rejection(f"ONE Record: not JSON: {exc}", data[:2000]))
            return result
        if not isinstance(document, dict | list):
            result.rejections.append(Rejection("ONE Record: expected a JSON-LD object or array", data[:2000]))
            return result
        doc = _Document(document)
        events = doc.events()
        if not events:
            result.rejections.append(Rejection("ONE Record: no LogisticsEvent in the document", data[:2000]))
            return result
        seen: set[str] = set()
        for index, event in enumerate(events):
            self._event(doc, event, index, received, source, result, seen)
        return result

    def _event(
        self,
        doc: _Document,
        event: _Node,
        index: int,
        received: datetime,
        source: str,
        result: ParseResult,
        seen: set[str],
    ) -> None:
        def fragment() -> bytes:
            return _fragment(event)

        code = doc.code(event)
        label = f"ONE Record {code or 'LogisticsEvent'} {event.id or f'#{index}'}"[:160]

        def reject(reason: str) -> None:
            result.rejections.append(Rejection(f"{label}: {reason}", fragment(), index))

        if code is None:
            reject("no eventCode")
            return
        rule = STATUS_RULES.get(code)
        if code == "BKD":
            reject("a booking event carries no planned movement (its date is when the booking was made)")
            return
        if rule is None or rule.milestone is None:
            result.rejections.append(Rejection(unmapped_reason(label, code), fragment(), index))
            return
        classifier = doc.classifier(event)
        if not isinstance(classifier, Classifier):  # Classifier is a StrEnum: test it first
            reject(classifier)
            return
        located = doc.location(event)
        if isinstance(located, str):
            reject(located)
            return
        place = resolve_place(located[0])
        if isinstance(place, str):
            reject(place)
            return
        raw_date = _scalar(event.get("eventDate"))
        if raw_date is None:
            reject("no eventDate")
            return
        at = instant(raw_date, place)
        if isinstance(at, str):
            reject(f"eventDate: {at}")
            return
        awb, problem = doc.awb(event)
        if awb is None:
            reject(problem or "no air waybill")
            return
        carrier, flight = doc.flight(event)
        emit(
            [EventDraft(rule.milestone, classifier, place.locode, at, flight, carrier)],
            awb=awb,
            status=code,
            source=source,
            received=received,
            label=label,
            fragment=fragment,
            index=index,
            result=result,
            seen=seen,
            pieces=doc.pieces(event),
        )
