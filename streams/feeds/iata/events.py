"""From what an IATA adapter read to the result it returns: EventDraft (one fact, already placed and timed),
its deterministic id, the flight's own ConveyanceEvent, `emit` (drafts -> TrackingEvents or rejections saying why
not: an ACTUAL more than a day after reception is a feed error), and the guarded entry point that keeps any
exception inside one message."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import ValidationError

from schemas import Classifier, Milestone, Mode, ShipmentRefs, TrackedUnit, TrackingEvent, TransportRef, UnitKind
from schemas.conveyances import Conveyance, ConveyanceCall, ConveyanceEvent, ConveyanceKind, ConveyanceMilestone
from streams.feeds import ids
from streams.feeds.base import ParseResult, Rejection
from streams.feeds.iata.places import utc_received

FUTURE_TOLERANCE = timedelta(days=1)  # an ACTUAL event later than reception by more than this is a feed error


def event_id(source: str, awb: str, status: str, draft: EventDraft, unit: TrackedUnit | None = None) -> str:
    """Deterministic: the same fact re-sent (or sent again as XFSU by the same source) gets the same id. An event
    about another unit than the AWB itself (an FFM's ULD) has that unit in its key too."""
    parts = [source, awb, status, draft.milestone.value, draft.classifier.value, draft.locode, draft.at.isoformat(),
             draft.flight or ""]  # fmt: skip
    if unit is not None:
        parts.append(f"{unit.kind.value}:{unit.id}")
    return "iata-" + hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()



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
    unloading: str | None = None  # where the unit is to leave the flight (an FFM's point of unloading)


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
                transport=TransportRef(carrier=draft.carrier, flight=draft.flight, unloading=draft.unloading),
                shipment=ShipmentRefs(air_waybill=awb, pieces=pieces),
            )
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            result.rejections.append(Rejection(f"{label}: {detail}", piece(), index))
            continue
        if event.event_id not in seen:
            seen.add(event.event_id)
            result.events.append(event)



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
