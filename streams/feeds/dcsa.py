"""DCSA Track & Trace 2.2 and 3.0 events -> canonical TrackingEvents.

Accepted shapes: one event object, an array of events (GET /events in 2.2), or {"events": [...]} (3.0 responses and
push notifications). Each event is judged alone: a bad one becomes a Rejection, the good ones are kept.

Decisions:
- SHIPMENT events (booking confirmed, B/L drafted...) report a document, not a movement of a unit: there is no
  canonical milestone for them, so they are rejected with that reason even when they name equipment. IOT and
  REEFER events (3.0) are sensor readings, not milestones: rejected likewise.
- TRANSPORT events (vessel/train/truck ARRI/DEPA, and OMIT/CANC for a call left out) are about the conveyance:
  each becomes a ConveyanceEvent (schemas/conveyances.py) identified from its transport call: vessel IMO (check
  digit verified; else call sign, else name) with the import voyage for an arrival and the export voyage for a
  departure (an omitted or cancelled call gives one event per voyage), train operator + number + departure date,
  truck plate. Containers the event also names (2.2 `references` of type EQ, `equipmentReference`, 3.0
  `equipmentDetails`) each get a unit event as well; one failing ISO 6346 is dropped with a warning (a Rejection
  with warning=True), never the vessel's event. A TRANSPORT event that names no usable conveyance is rejected for
  that part (its unit events, if any, are kept); naming neither, it is rejected whole.
- Mode: transportCall.modeOfTransport (VESSEL, RAIL, TRUCK, BARGE); an event without a transport call is SEA, the
  standard being the ocean carriers'.
- Ids: "<source>:<eventID>" (plus ":<container>" when one TRANSPORT event fans out), so a 3.0 update that re-sends an
  eventID with a later eventUpdatedDateTime replaces the earlier version downstream; isRetracted -> retracted=True.
- eventDateTime without an offset (seen in the wild) is read as local time at the event's UN/LOCODE.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import ConveyanceEvent, TrackingEvent
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceKind, ConveyanceMilestone, imo_check_digit_ok
from schemas.events import DCSA_CODES, Classifier, Milestone, ShipmentRefs, TransportRef
from schemas.refs import Mode, TrackedUnit
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.ids import IdError, container, event_id
from streams.feeds.locations import LocationError, check_locode
from streams.feeds.timeparse import TimeError, parse_iso_or_local

_CLASSIFIERS = {
    "PLN": Classifier.PLANNED, "PLANNED": Classifier.PLANNED,
    "EST": Classifier.ESTIMATED, "ESTIMATED": Classifier.ESTIMATED,
    "ACT": Classifier.ACTUAL, "ACTUAL": Classifier.ACTUAL,
}  # fmt: skip
# 3.0 word vocabulary, next to the four-letter codes of schemas.events.DCSA_CODES.
_WORDS: dict[str, Milestone] = {
    "GATED_IN": Milestone.GATE_IN, "GATED_OUT": Milestone.GATE_OUT, "LOADED": Milestone.LOADED,
    "DISCHARGED": Milestone.DISCHARGED, "DEPARTED": Milestone.DEPARTED, "ARRIVED": Milestone.ARRIVED,
    "STUFFED": Milestone.STUFFED, "STRIPPED": Milestone.STRIPPED, "PICKED_UP": Milestone.PICKED_UP,
    "DROPPED_OFF": Milestone.DROPPED_OFF, "INSPECTED": Milestone.INSPECTED, "RESEALED": Milestone.RESEALED,
    "REMOVED": Milestone.REMOVED, "SELECTED_FOR_SCAN": Milestone.CUSTOMS_SELECTED_FOR_SCAN,
    "SELECTED_FOR_INSPECTION": Milestone.CUSTOMS_SELECTED_FOR_INSPECTION, "RELEASED": Milestone.CUSTOMS_RELEASED,
    "CUSTOMS_SELECTED_FOR_SCAN": Milestone.CUSTOMS_SELECTED_FOR_SCAN,
    "CUSTOMS_SELECTED_FOR_INSPECTION": Milestone.CUSTOMS_SELECTED_FOR_INSPECTION,
    "CUSTOMS_RELEASED": Milestone.CUSTOMS_RELEASED,
}  # fmt: skip
# Transport event codes (2.2 four-letter, 3.0 words) -> conveyance milestone. OMIT/CANC are in DCSA's reference
# data (transporteventtypecodes.csv, operations events) though the 2.2/3.0 TNT enumerations list only ARRI/DEPA.
_CONVEYANCE_CODES = {
    "ARRI": ConveyanceMilestone.ARRIVED, "ARRIVED": ConveyanceMilestone.ARRIVED,
    "DEPA": ConveyanceMilestone.DEPARTED, "DEPARTED": ConveyanceMilestone.DEPARTED,
    "OMIT": ConveyanceMilestone.OMITTED, "OMITTED": ConveyanceMilestone.OMITTED,
    "CANC": ConveyanceMilestone.CANCELLED, "CANCELLED": ConveyanceMilestone.CANCELLED,
}  # fmt: skip
_KINDS = {Mode.SEA: ConveyanceKind.VESSEL, Mode.BARGE: ConveyanceKind.VESSEL, Mode.RAIL: ConveyanceKind.TRAIN,
          Mode.ROAD: ConveyanceKind.TRUCK}  # fmt: skip
_MODES = {"VESSEL": Mode.SEA, "RAIL": Mode.RAIL, "TRUCK": Mode.ROAD, "BARGE": Mode.BARGE}
_NOT_TRACKED = {
    "SHIPMENT": "reports a document status (booking, shipping instruction, B/L), not a movement of a unit",
    "IOT": "is a sensor reading, not a milestone",
    "REEFER": "is a reefer measurement, not a milestone",
}
_DOC_TYPES = {"BKG": "booking", "BOOKING": "booking", "TRD": "bill_of_lading", "TRANSPORT_DOCUMENT": "bill_of_lading"}


class _Reject(Exception):
    """One event that cannot become canonical; the message is the Rejection reason."""


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    return value.strip() or None if isinstance(value, str) else None


def events_of(doc: Any) -> list[Any]:
    """The list of event objects in a DCSA body (single event, array, or {"events": [...]})."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, Mapping) and isinstance(doc.get("events"), list):
        return doc["events"]
    return [doc]


class _DcsaFormat:
    name = ""
    description = ""
    source = "dcsa"

    def sniff(self, data: bytes) -> bool:
        head = data[:8192].lstrip()
        return head[:1] in (b"{", b"[") and self._marker(head)

    def _marker(self, head: bytes) -> bool:
        raise NotImplementedError

    def parse(self, data: bytes, received: datetime, source: str | None = None) -> ParseResult:
        result = ParseResult()
        src = source or self.source
        try:
            doc = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError):
            result.rejections.append(Rejection(f"{self.name}: not JSON (or not UTF-8)", data[:200]))
            return result
        for index, raw in enumerate(events_of(doc)):
            try:
                self._one(raw, received, src, result, index)
            except (_Reject, TimeError) as exc:
                result.rejections.append(Rejection(str(exc), _fragment(raw), index))
            except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
                result.rejections.append(Rejection(f"event {_label(raw)}: {_short(exc)}", _fragment(raw), index))
        return result

    # --- per version -------------------------------------------------------------------------------------------
    def _classify(self, ev: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        """(eventType, classifier code, milestone code)."""
        raise NotImplementedError

    def _one(self, raw: Any, received: datetime, src: str, result: ParseResult, index: int) -> None:
        """One DCSA event into `result`: unit events, a conveyance event (TRANSPORT), warnings; or raise _Reject."""
        if not isinstance(raw, Mapping):
            raise _Reject(f"event is a JSON {type(raw).__name__}, not an object")
        label = _label(raw)
        etype, clf, code = self._classify(raw)
        if etype in _NOT_TRACKED:
            raise _Reject(f"{etype} event {label} {_NOT_TRACKED[etype]}: not tracked")
        if etype not in ("EQUIPMENT", "TRANSPORT"):
            raise _Reject(f"event {label}: eventType {etype or 'missing'} is not EQUIPMENT or TRANSPORT")
        if etype == "EQUIPMENT":
            result.events.extend(self._event(raw, received, src, etype, clf, code))
            return
        units, warnings = self._transport_units(raw, label)
        result.rejections.extend(Rejection(w, _fragment(raw), index, warning=True) for w in warnings)
        events: list[TrackingEvent] = []
        if units and (DCSA_CODES.get((code or "").upper()) or _WORDS.get((code or "").upper())):
            events = list(self._event(raw, received, src, etype, clf, code, units))
        try:
            conveyances = list(self._conveyances(raw, received, src, clf, code, label, result, index))
        except (_Reject, TimeError, ValidationError, ValueError) as exc:
            if not events:
                raise
            reason = str(exc) if isinstance(exc, _Reject | TimeError) else f"event {label}: {_short(exc)}"
            result.rejections.append(Rejection(f"{reason} (its container events were kept)", _fragment(raw), index))
            conveyances = []
        result.events.extend(events)
        for c in conveyances:
            result.add_conveyance(c)

    def _basics(self, raw: Mapping[str, Any], clf: str | None, label: str
                ) -> tuple[Classifier, Mapping[str, Any], str, datetime, Mode]:  # fmt: skip
        classifier = _CLASSIFIERS.get((clf or "").upper())
        if classifier is None:
            raise _Reject(f"event {label}: event classifier {clf!r} is not PLN/EST/ACT (PLANNED/ESTIMATED/ACTUAL)")
        call = self._transport_call(raw)
        location = self._location(raw, call, label)
        when = parse_iso_or_local(raw.get("eventDateTime"), location, field=f"event {label} eventDateTime")
        mode = _MODES.get((_str(call.get("modeOfTransport")) or _str(raw.get("modeOfTransport")) or "VESSEL").upper())
        if mode is None:
            bad = call.get("modeOfTransport") or raw.get("modeOfTransport")
            raise _Reject(f"event {label}: modeOfTransport {bad!r} is not VESSEL, RAIL, TRUCK or BARGE")
        return classifier, call, location, when, mode

    def _event(self, raw: Mapping[str, Any], received: datetime, src: str, etype: str, clf: str | None,
               code: str | None, units: list[TrackedUnit] | None = None) -> Iterator[TrackingEvent]:  # fmt: skip
        label = _label(raw)
        milestone = DCSA_CODES.get((code or "").upper()) or _WORDS.get((code or "").upper())
        if milestone is None:
            raise _Reject(f"{etype} event {label}: event type code {code!r} has no canonical milestone")
        classifier, call, location, when, mode = self._basics(raw, clf, label)
        units = units if units is not None else self._units(raw, etype, label)
        transport = self._transport(raw, call, milestone)
        shipment = self._shipment(raw)
        own_id = _str(raw.get("eventID"))
        for unit in units:
            if own_id:
                eid = event_id(src, own_id) if len(units) == 1 else event_id(src, own_id, unit.id)
            else:
                eid = event_id(src, unit.id, milestone, classifier, location, when.isoformat())
            yield TrackingEvent(
                event_id=eid, source=src, unit=unit, mode=mode, milestone=milestone, classifier=classifier,
                location=location, event_time=when, received_time=received, transport=transport,
                shipment=shipment, retracted=raw.get("isRetracted") is True,
            )  # fmt: skip

    def _transport_call(self, ev: Mapping[str, Any]) -> Mapping[str, Any]:
        return _obj(ev.get("transportCall"))

    def _location(self, ev: Mapping[str, Any], call: Mapping[str, Any], label: str) -> str:
        code = (
            _str(_obj(ev.get("eventLocation")).get("UNLocationCode"))
            or _str(call.get("UNLocationCode"))
            or _str(_obj(call.get("location")).get("UNLocationCode"))
        )
        if not code:
            raise _Reject(f"event {label}: no UNLocationCode (eventLocation or transportCall)")
        try:
            return check_locode(code)
        except LocationError as exc:
            raise _Reject(f"event {label}: {exc}") from None

    def _references(self, ev: Mapping[str, Any]) -> list[str]:
        refs = [_str(ev.get("equipmentReference")), _str(_obj(ev.get("equipmentDetails")).get("equipmentReference"))]
        for ref in ev.get("references") or []:
            if isinstance(ref, Mapping) and (_str(ref.get("referenceType")) or _str(ref.get("type"))) == "EQ":
                refs.append(_str(ref.get("referenceValue")) or _str(ref.get("value")))
        return list(dict.fromkeys(r for r in refs if r))

    def _transport_units(self, ev: Mapping[str, Any], label: str) -> tuple[list[TrackedUnit], list[str]]:
        """The containers a TRANSPORT event names, and a warning for each reference that is not one."""
        units, warnings = [], []
        for ref in self._references(ev):
            try:
                units.append(container(ref))
            except IdError as exc:
                warnings.append(f"TRANSPORT event {label}: equipment reference dropped, the event kept: {exc}")
        return units, warnings

    def _conveyances(self, raw: Mapping[str, Any], received: datetime, src: str, clf: str | None, code: str | None,
                     label: str, result: ParseResult, index: int) -> Iterator[ConveyanceEvent]:  # fmt: skip
        milestone = _CONVEYANCE_CODES.get((code or "").upper())
        if milestone is None:
            raise _Reject(f"TRANSPORT event {label}: transport event type code {code!r} is not ARRI, DEPA, OMIT or "
                          "CANC (ARRIVED, DEPARTED, OMITTED, CANCELLED)")  # fmt: skip
        classifier, call, location, when, mode = self._basics(raw, clf, label)
        facility = (_str(call.get("facilityCode")) or _str(_obj(raw.get("eventLocation")).get("facilityCode"))
                    or _str(_obj(call.get("location")).get("facilityCode")))  # fmt: skip
        sequence = call.get("transportCallSequenceNumber")
        where = ConveyanceCall(location=location, facility=facility,
                               sequence=sequence if isinstance(sequence, int) and not isinstance(sequence, bool)
                               else None)  # fmt: skip
        identities = self._identities(call, mode, milestone, label, result, raw, index)
        own_id = _str(raw.get("eventID"))
        for conveyance in identities:
            if own_id:
                eid = event_id(src, own_id) if len(identities) == 1 else event_id(src, own_id, conveyance.voyage)
            else:
                eid = event_id(src, conveyance.id, milestone, classifier, location, when.isoformat())
            yield ConveyanceEvent(
                event_id=eid, source=src, conveyance=conveyance, mode=mode, call=where, milestone=milestone,
                classifier=classifier, event_time=when, received_time=received,
                delay_reason=_str(raw.get("delayReasonCode")),
                remark=(_str(raw.get("changeRemark")) or "")[:250] or None,
                retracted=raw.get("isRetracted") is True,
            )  # fmt: skip

    def _identities(self, call: Mapping[str, Any], mode: Mode, milestone: ConveyanceMilestone, label: str,
                    result: ParseResult, raw: Mapping[str, Any], index: int) -> list[Conveyance]:  # fmt: skip
        kind = _KINDS[mode]
        try:
            if kind is ConveyanceKind.VESSEL:
                return self._vessels(call, milestone, label, result, raw, index)
            if kind is ConveyanceKind.TRAIN:
                rail = _obj(call.get("railTransport"))
                operator = (_str(rail.get("operatorCode")) or _str(rail.get("railOperatorCode"))
                            or _str(call.get("carrierCode")))  # fmt: skip
                number = _str(rail.get("trainNumber")) or _str(rail.get("railService")) or _str(call.get("railService"))
                day = _str(rail.get("departureDate")) or _str(rail.get("trainDepartureDate"))
                return [Conveyance(kind=kind, carrier=operator, number=number, departure_date=day)]
            truck = _obj(call.get("truckTransport"))
            plate = (_str(truck.get("licensePlate")) or _str(truck.get("truckLicensePlate"))
                     or _str(call.get("licencePlate")))  # fmt: skip
            return [Conveyance(kind=kind, plate=plate, trip=_str(truck.get("tripID")) or _str(call.get("tripID")))]
        except ValidationError as exc:
            raise _Reject(f"TRANSPORT event {label} names no conveyance corridor can key: {_conveyance_error(exc)}"
                          ) from None  # fmt: skip

    def _vessels(self, call: Mapping[str, Any], milestone: ConveyanceMilestone, label: str, result: ParseResult,
                 raw: Mapping[str, Any], index: int) -> list[Conveyance]:  # fmt: skip
        vessel = _obj(call.get("vessel")) or _obj(call.get("vesselTransport"))
        imo = _str(vessel.get("vesselIMONumber"))
        if imo and not imo_check_digit_ok(imo):
            result.rejections.append(Rejection(
                f"TRANSPORT event {label}: vessel IMO number {imo} fails its check digit; the vessel is identified by "
                "its call sign or name instead", _fragment(raw), index, warning=True))  # fmt: skip
            imo = None
        imports = (_str(call.get("importVoyageNumber")) or _str(call.get("carrierImportVoyageNumber"))
                   or _str(_obj(call.get("importVoyageNumberOrReference")).get("carrierVoyageNumber")))  # fmt: skip
        exports = (_str(call.get("exportVoyageNumber")) or _str(call.get("carrierExportVoyageNumber"))
                   or _str(_obj(call.get("exportVoyageNumberOrReference")).get("carrierVoyageNumber")))  # fmt: skip
        single = _str(call.get("carrierVoyageNumber"))
        u_in, u_out = _str(call.get("universalImportVoyageReference")), _str(call.get("universalExportVoyageReference"))
        if milestone is ConveyanceMilestone.ARRIVED:
            voyages = [(imports or single or exports, u_in or u_out)]
        elif milestone is ConveyanceMilestone.DEPARTED:
            voyages = [(exports or single or imports, u_out or u_in)]
        else:  # an omitted or cancelled call concerns the voyage arriving there and the one leaving
            voyages = list(dict.fromkeys([(imports or single or exports, u_in or u_out),
                                          (exports or single or imports, u_out or u_in)]))  # fmt: skip
        common = {
            "kind": ConveyanceKind.VESSEL, "vessel_imo": imo,
            "call_sign": _str(vessel.get("vesselCallSignNumber")) or _str(vessel.get("vesselCallSign"))
            or _str(vessel.get("callSign")),
            "vessel_name": _str(vessel.get("vesselName")) or _str(vessel.get("name")),
            "carrier": _str(vessel.get("vesselOperatorCarrierCode")) or _str(vessel.get("operatorCarrierCode"))
            or _str(call.get("carrierCode")),
            "service": _str(call.get("carrierServiceCode")) or _str(call.get("universalServiceReference")),
        }  # fmt: skip
        return [Conveyance(**common, voyage=v, universal_voyage=u) for v, u in voyages]

    def _units(self, ev: Mapping[str, Any], etype: str, label: str) -> list[TrackedUnit]:
        wanted = self._references(ev)
        if not wanted:
            raise _Reject(f"{etype} event {label} names no equipment (equipmentReference or EQ reference): "
                          "corridor tracks units")  # fmt: skip
        units = []
        for ref in wanted:
            try:
                units.append(container(ref))
            except IdError as exc:
                raise _Reject(f"event {label}: {exc}") from None
        return units

    def _transport(self, ev: Mapping[str, Any], call: Mapping[str, Any], milestone: Milestone) -> TransportRef:
        vessel = _obj(call.get("vessel")) or _obj(call.get("vesselTransport"))
        inbound = milestone in (Milestone.ARRIVED, Milestone.DISCHARGED)
        voyages = [call.get("importVoyageNumber"), call.get("exportVoyageNumber")]
        voyages += [_obj(call.get("importVoyageNumberOrReference")).get("carrierVoyageNumber"),
                    _obj(call.get("exportVoyageNumberOrReference")).get("carrierVoyageNumber"),
                    call.get("carrierVoyageNumber")]  # fmt: skip
        if not inbound:
            voyages[0], voyages[1] = voyages[1], voyages[0]
            voyages[2], voyages[3] = voyages[3], voyages[2]
        imo = _str(vessel.get("vesselIMONumber"))
        rail, truck = _obj(call.get("railTransport")), _obj(call.get("truckTransport"))
        return TransportRef(
            carrier=_str(vessel.get("vesselOperatorCarrierCode")) or _str(call.get("carrierCode")),
            vessel_imo=imo if imo and len(imo) == 7 and imo.isdigit() else None,  # a malformed IMO is dropped
            vessel_name=_str(vessel.get("vesselName")),
            voyage=next((v for v in map(_str, voyages) if v), None),
            train=_str(rail.get("trainNumber")) or _str(rail.get("railCarName")),
            truck=_str(truck.get("licensePlate")) or _str(truck.get("truckLicensePlate")),
        )

    def _shipment(self, ev: Mapping[str, Any]) -> ShipmentRefs:
        found: dict[str, str] = {}
        docs = [r for r in ev.get("documentReferences") or [] if isinstance(r, Mapping)]
        details = _obj(ev.get("shipmentDetails"))
        docs += [d for d in [_obj(details.get("documentReference"))] if d]
        docs += [d for d in details.get("additionalDocumentReferences") or [] if isinstance(d, Mapping)]
        for doc in docs:
            kind = _str(doc.get("documentReferenceType")) or _str(doc.get("type")) or _str(doc.get("typeCode"))
            value = _str(doc.get("documentReferenceValue")) or _str(doc.get("reference"))
            field = _DOC_TYPES.get((kind or "").upper())
            if field and value:
                found.setdefault(field, value)
        if _str(ev.get("carrierBookingReference")):
            found.setdefault("booking", _str(ev.get("carrierBookingReference")) or "")
        if _str(ev.get("transportDocumentReference")):
            found.setdefault("bill_of_lading", _str(ev.get("transportDocumentReference")) or "")
        return ShipmentRefs(**found)


class DcsaTnt22(_DcsaFormat):
    name = "dcsa-tnt-2.2"
    description = "DCSA Track & Trace 2.2 events (EQUIPMENT/TRANSPORT, four-letter codes), object or array"

    def _marker(self, head: bytes) -> bool:
        return b'"eventClassifierCode"' in head and b'"eventType"' in head and b'"eventClassification"' not in head

    def _classify(self, ev: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        etype = (_str(ev.get("eventType")) or "").upper()
        code = ev.get("equipmentEventTypeCode") if etype == "EQUIPMENT" else ev.get("transportEventTypeCode")
        return etype, _str(ev.get("eventClassifierCode")), _str(code)


class DcsaTnt30(_DcsaFormat):
    name = "dcsa-tnt-3.0"
    description = "DCSA Track & Trace 3.0 events (eventClassification; codes or words such as GATED_IN), retractions"

    def _marker(self, head: bytes) -> bool:
        return b'"eventClassification"' in head

    def _classify(self, ev: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        c = _obj(ev.get("eventClassification"))
        etype = (_str(c.get("eventType")) or _str(c.get("eventTypeCode")) or "").upper()
        clf = _str(c.get("eventClassifier")) or _str(c.get("eventClassifierCode"))
        prefix = {"EQUIPMENT": "equipment", "TRANSPORT": "transport"}.get(etype, "")
        code = _str(c.get(f"{prefix}EventType")) or _str(c.get(f"{prefix}EventTypeCode")) if prefix else None
        return etype, clf, code

    def _transport_call(self, ev: Mapping[str, Any]) -> Mapping[str, Any]:
        return _obj(_obj(ev.get("transportDetails")).get("transportCall")) or _obj(ev.get("transportCall"))


def _label(raw: Any) -> str:
    eid = _str(raw.get("eventID")) if isinstance(raw, Mapping) else None
    return eid[:60] if eid else "(no eventID)"


def _fragment(raw: Any) -> bytes | None:
    try:
        return orjson.dumps(raw)[:2000]
    except (TypeError, orjson.JSONEncodeError):
        return None


def _conveyance_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return str(err["msg"]).removeprefix("Value error, ")


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    if isinstance(exc, TimeError | LocationError | IdError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:300]
