"""GS1 EPCIS 2.0 JSON / JSON-LD ObjectEvent and AggregationEvent -> canonical TrackingEvents.

Accepted bodies: an EPCISDocument (epcisBody.eventList), an EPCISQueryDocument (epcisBody.queryResults.resultsBody.
eventList), a list of events or one event. `type` (EPCIS 2.0) and `isA` (drafts) both name the event type.

Decisions:
- Units are containers named by ISO 6346 BIC EPCs (urn:epc:id:bic:CSQU3054383): the parentID of an
  AggregationEvent (the container holding the goods) or any entry of epcList / childEPCs. Trade items (SGTIN),
  pallets (SSCC) and the like are not tracked units: an event naming no container is rejected.
- Place: bizLocation, else readPoint. A UN/LOCODE is read from ids such as "urn:unece:locode:DEHAM",
  ".../locode/DEHAM" or a bare "DEHAM"; GLN-based ids (urn:epc:id:sgln:...) need the `sgln_locodes` mapping given to
  the adapter (a party's GLNs are private master data), else the event is rejected saying which GLN to map.
- bizStep (CBV, URN, bare word or https://ref.gs1.org/cbv/BizStep-...): see BIZ_STEPS. An AggregationEvent
  without a bizStep maps action ADD -> STUFFED and DELETE -> STRIPPED.
- eventTime with its offset is authoritative; a time without offset takes eventTimeZoneOffset.
- Mode: SEA when the event names a vessel (urn:epc:id:imovn:), else the adapter's `mode` (ROAD by default).
- Shipment: a bizTransaction of type bol -> ShipmentRefs.bill_of_lading. An AggregationEvent (packing into or
  unpacking from the parent container: STUFFED / STRIPPED) says which cargo: its child EPCs that are not containers,
  plus childQuantityList quantities counted in pieces (no uom or a count uom), give ShipmentRefs.pieces.
- errorDeclaration -> retracted=True (EPCIS repeats the erroneous event with the same eventID).
- Ids: eventID when it is a real id (not a blank node "_:..."), else a hash of unit, milestone, place and time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import TrackingEvent
from schemas.events import Classifier, Milestone, ShipmentRefs, TransportRef
from schemas.refs import Mode, TrackedUnit
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.ids import IdError, container, event_id
from streams.feeds.locations import LocationError, check_locode
from streams.feeds.timeparse import TimeError, parse_iso_any

BIZ_STEPS: dict[str, Milestone] = {
    "shipping": Milestone.GATE_OUT,  # staged, loaded and left the facility
    "departing": Milestone.DEPARTED,
    "arriving": Milestone.ARRIVED,
    "receiving": Milestone.GATE_IN,
    "accepting": Milestone.GATE_IN,
    "loading": Milestone.LOADED,
    "unloading": Milestone.DISCHARGED,
    "inspecting": Milestone.INSPECTED,
    "packing": Milestone.STUFFED,
    "unpacking": Milestone.STRIPPED,
}
_TRACKED_TYPES = ("ObjectEvent", "AggregationEvent")
_LOCODE_ID = re.compile(r"(?:^|[:/])(?:un)?locode[:/]([A-Za-z]{2}\s?[A-Za-z2-9]{3})$", re.IGNORECASE)
_BARE_LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
_COUNT_UOMS = frozenset({"EA", "C62", "H87", "PCE", "PCS", "PR", "XPK"})  # UN/ECE rec 20 counts: each, one, piece
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class _Reject(Exception):
    pass


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _events_of(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, Mapping):
        return [doc]
    body = doc.get("epcisBody")
    if isinstance(body, Mapping):
        if isinstance(body.get("eventList"), list):
            return body["eventList"]
        results = body.get("queryResults")
        rbody = results.get("resultsBody") if isinstance(results, Mapping) else None
        if isinstance(rbody, Mapping) and isinstance(rbody.get("eventList"), list):
            return rbody["eventList"]
        return []
    if isinstance(doc.get("eventList"), list):
        return doc["eventList"]
    return [doc]


class Epcis:
    name = "epcis-2.0"
    description = "GS1 EPCIS 2.0 JSON-LD ObjectEvent / AggregationEvent with ISO 6346 (BIC) containers"

    def __init__(self, sgln_locodes: Mapping[str, str] | None = None, mode: Mode = Mode.ROAD) -> None:
        self.sgln_locodes = dict(sgln_locodes or {})
        self.mode = mode

    def sniff(self, data: bytes) -> bool:
        head = data[:8192].lstrip()
        if head[:1] not in (b"{", b"["):
            return False
        return b'"epcisBody"' in head or (b'"eventTimeZoneOffset"' in head and b"Event" in head)

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        result = ParseResult()
        src = source or "epcis"
        try:
            doc = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError):
            result.rejections.append(Rejection("epcis: not JSON (or not UTF-8)", data[:200]))
            return result
        for index, raw in enumerate(_events_of(doc)):
            label = _label(raw)
            try:
                result.events.extend(self._event(raw, received, src, label))
            except (_Reject, TimeError, LocationError, IdError) as exc:
                result.rejections.append(Rejection(f"{label}: {exc}", _fragment(raw), index))
            except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
                reason = f"{label}: {type(exc).__name__}: {exc}"[:400]
                result.rejections.append(Rejection(reason, _fragment(raw), index))
        if not result.events and not result.rejections:
            result.rejections.append(Rejection("epcis: the document holds no event", data[:200]))
        return result

    def _event(self, raw: Any, received: datetime, src: str, label: str) -> Iterator[TrackingEvent]:
        if not isinstance(raw, Mapping):
            raise _Reject("not a JSON object")
        etype = _str(raw.get("type")) or _str(raw.get("isA")) or ""
        if etype not in _TRACKED_TYPES:
            raise _Reject(f"{etype or 'an event without type'} is not an ObjectEvent or AggregationEvent: not tracked")
        milestone = self._milestone(raw, etype)
        location = self._location(raw)
        when = self._time(raw)
        units, imo = self._units(raw)
        own = _str(raw.get("eventID"))
        own = own if own and not own.startswith("_:") else None
        transport = TransportRef(vessel_imo=imo) if imo else TransportRef()
        mode = Mode.SEA if imo else self.mode
        shipment = _shipment(raw, etype)
        retracted = isinstance(raw.get("errorDeclaration"), Mapping)
        for unit in units:
            if own:
                eid = event_id(src, own) if len(units) == 1 else event_id(src, own, unit.id)
            else:
                eid = event_id(src, unit.id, milestone.value, location, when.strftime("%Y%m%dT%H%M%S.%fZ"))
            yield TrackingEvent(
                event_id=eid, source=src, unit=unit, mode=mode, milestone=milestone, classifier=Classifier.ACTUAL,
                location=location, event_time=when, received_time=received, transport=transport, shipment=shipment,
                retracted=retracted,
            )  # fmt: skip

    def _milestone(self, raw: Mapping[str, Any], etype: str) -> Milestone:
        step = _str(raw.get("bizStep"))
        if step:
            word = re.split(r"[:/]|BizStep-", step)[-1].lower()
            if word in BIZ_STEPS:
                return BIZ_STEPS[word]
            raise _Reject(f"bizStep {step} has no canonical milestone (known: {', '.join(BIZ_STEPS)})")
        action = (_str(raw.get("action")) or "").upper()
        if etype == "AggregationEvent" and action in ("ADD", "DELETE"):
            return Milestone.STUFFED if action == "ADD" else Milestone.STRIPPED
        raise _Reject("no bizStep: the event does not say what happened")

    def _location(self, raw: Mapping[str, Any]) -> str:
        for key in ("bizLocation", "readPoint"):
            node = raw.get(key)
            ident = _str(node.get("id")) if isinstance(node, Mapping) else _str(node)
            if not ident:
                continue
            if ident in self.sgln_locodes:
                return check_locode(self.sgln_locodes[ident])
            m = _LOCODE_ID.search(ident)
            if m:
                return check_locode(m.group(1))
            if _BARE_LOCODE.match(ident):
                return check_locode(ident)
            if ident.startswith(("urn:epc:id:sgln:", "https://id.gs1.org/414/")):
                raise _Reject(f"{key} {ident} is a GLN with no UN/LOCODE: add it to the adapter's sgln_locodes")
            raise _Reject(f"{key} {ident[:80]} names no UN/LOCODE")
        raise _Reject("no bizLocation or readPoint: the event has no place")

    def _time(self, raw: Mapping[str, Any]) -> datetime:
        value = parse_iso_any(raw.get("eventTime"), field="eventTime")
        if value.tzinfo is not None:
            return value
        offset = _str(raw.get("eventTimeZoneOffset")) or ""
        m = _OFFSET.match(offset)
        if not m:
            raise TimeError(f"eventTime {raw.get('eventTime')} has no offset and eventTimeZoneOffset {offset!r} "
                            "is not ±hh:mm")  # fmt: skip
        delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        zone = timezone(delta if m.group(1) == "+" else -delta)
        return value.replace(tzinfo=zone).astimezone(UTC)

    def _units(self, raw: Mapping[str, Any]) -> tuple[list[TrackedUnit], str | None]:
        epcs: list[str] = []
        if _str(raw.get("parentID")):
            epcs.append(_str(raw.get("parentID")) or "")
        for key in ("epcList", "childEPCs"):
            epcs += [e.strip() for e in raw.get(key) or [] if isinstance(e, str)]
        imo = next((e.rsplit(":", 1)[-1] for e in epcs if e.startswith("urn:epc:id:imovn:")), None)
        units: dict[str, TrackedUnit] = {}
        for epc in epcs:
            if epc.startswith("urn:epc:id:bic:"):
                unit = container(epc.rsplit(":", 1)[-1])
                units.setdefault(unit.id, unit)
        if not units:
            kinds = sorted({e.split(":")[3] if e.count(":") >= 4 else e[:30] for e in epcs}) or ["none"]
            raise _Reject(f"no container (urn:epc:id:bic:) among the EPCs ({', '.join(kinds)}): corridor tracks "
                          "containers")  # fmt: skip
        return list(units.values()), imo if imo and len(imo) == 7 and imo.isdigit() else None


def _shipment(raw: Mapping[str, Any], etype: str) -> ShipmentRefs:
    bol = None
    for tx in raw.get("bizTransactionList") or []:
        if isinstance(tx, Mapping) and (_str(tx.get("type")) or "").lower().endswith("bol"):
            value = _str(tx.get("bizTransaction"))
            bol = value.rsplit(":", 1)[-1] if value else None
    pieces = _child_pieces(raw) if etype == "AggregationEvent" else None
    return ShipmentRefs(bill_of_lading=bol, pieces=pieces)


def _child_pieces(raw: Mapping[str, Any]) -> int | None:
    """The pieces an AggregationEvent packs into (or unpacks from) its parent: each child EPC that is not a tracked
    container or vessel is one piece (an SSCC package, an SGTIN item), plus the childQuantityList quantities
    counted in pieces (no uom, or a count uom such as EA/C62/H87); quantities by weight or volume are not pieces."""
    units = ("urn:epc:id:bic:", "urn:epc:id:imovn:")
    children = [e.strip() for e in raw.get("childEPCs") or [] if isinstance(e, str) and e.strip()]
    count = sum(1 for e in children if not e.startswith(units))
    for item in raw.get("childQuantityList") or []:
        if not isinstance(item, Mapping):
            continue
        quantity, uom = item.get("quantity"), (_str(item.get("uom")) or "").upper()
        if uom and uom not in _COUNT_UOMS:
            continue
        whole = isinstance(quantity, int | float) and not isinstance(quantity, bool) and float(quantity).is_integer()
        if whole and 0 < quantity < 1_000_000:
            count += int(quantity)
    return count or None


def _label(raw: Any) -> str:
    if isinstance(raw, Mapping):
        return f"event {(_str(raw.get('eventID')) or _str(raw.get('id')) or '(no id)')[:60]}"
    return "event"


def _fragment(raw: Any) -> bytes | None:
    try:
        return orjson.dumps(raw)[:2000]
    except (TypeError, orjson.JSONEncodeError):
        return None
