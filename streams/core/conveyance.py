"""A ride's join: its manifest (who is aboard, `streams.core.manifest`) and its latest calls (planned, estimated
and actual per call), and what each conveyance event or boarding change means for the units aboard. Pure: event
time only, no I/O, no clock.

What a unit hears is a unit `TrackingEvent` made from the conveyance event (`unit_news`), with provenance:

- its `event_id` names the conveyance, the call, the milestone and the classifier
  (`conv:VESSEL:IMO9321483:2103N@NLRTM:ARRIVED:ESTIMATED`), so a newer estimate of one call is a new version of
  one event in the unit's history (the tracker keeps the latest received), not one more event per change;
- its `transport` names the vessel and voyage, train or flight, its `source` the feed that reported it.

Which calls a unit hears (`hears`): the departure from where it boards, the arrival where it leaves (any
arrival but at its boarding place while where it leaves is unknown), and both at the stops its plan makes on the
ride in between (a block train's border stations), never the rest of the rotation. A unit only
booked hears plans and estimates but no actual (it may have been rolled); a unit loaded (listed or reported) hears
actuals too: an ACTUAL departure is then its actual departure, with or without an equipment event of its own.
A unit discharged stops hearing the rest of the rotation (it still hears its own calls, which came before its
discharge, so the order in which the discharge and the news arrive does not matter); one only booked and
re-planned off the ride has what it heard withdrawn (retracted versions of those events).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas import Classifier, Milestone, TrackedUnit, TrackingEvent, UnitKind
from schemas.codec import constructor
from schemas.conveyances import ConveyanceEvent, ConveyanceKind, ConveyanceMilestone
from schemas.events import TransportRef
from schemas.refs import UtcDateTime
from streams.core.manifest import Basis, Contradiction, Manifest, Passage, ride_of_conveyance

# Each unit a ride's news reaches, for every change (`schemas.codec.constructor`: `model_construct`, faster).
_TRACKED_UNIT = constructor(TrackedUnit)

CONVEYANCE_EVENT_PREFIX = "conv:"  # event ids of unit events made from a conveyance event
_MILESTONE = {ConveyanceMilestone.DEPARTED: Milestone.DEPARTED, ConveyanceMilestone.ARRIVED: Milestone.ARRIVED}
_WITHDRAWS = (ConveyanceMilestone.OMITTED, ConveyanceMilestone.CANCELLED)
_NEWS = (Classifier.PLANNED, Classifier.ESTIMATED)  # what an omitted or cancelled call withdraws
CallKey = tuple[str, str, str]  # (location, milestone, classifier)


class Boarding(BaseModel):
    """What the unit job tells the conveyance job about one unit on one ride (topic `corridor.boardings`, keyed by
    ride): BOOKED / UNBOOKED by a plan revision, LISTED by a loading list (FFM), REPORTED by the unit's own ACTUAL
    LOADED, DEPARTED or DISCHARGED (`event`)."""

    model_config = ConfigDict(frozen=True, title="Boarding")

    record: Literal["boarding"] = "boarding"
    ride: str = Field(min_length=1, max_length=200)
    basis: Literal["BOOKED", "UNBOOKED", "LISTED", "REPORTED"]
    unit: TrackedUnit
    boards: str | None = None
    leaves: str | None = None
    via: list[str] = Field(default_factory=list, description="stops the plan makes on the ride in between")
    as_of: UtcDateTime
    event: TrackingEvent | None = None


def is_conveyance_news(event_id: str) -> bool:
    return event_id.startswith(CONVEYANCE_EVENT_PREFIX)


def news_id(ev: ConveyanceEvent, milestone: ConveyanceMilestone | None = None,
            classifier: Classifier | None = None) -> str:  # fmt: skip
    ident = (f"{ev.conveyance.id}@{ev.call.location}:{(milestone or ev.milestone).value}:"
             f"{(classifier or ev.classifier).value}")  # fmt: skip
    if len(ident) + len(CONVEYANCE_EVENT_PREFIX) > 128:  # a vessel known by a long name: keep the id within bounds
        ident = hashlib.blake2b(ident.encode(), digest_size=16).hexdigest()
    return CONVEYANCE_EVENT_PREFIX + ident


def transport_of(ev: ConveyanceEvent) -> TransportRef:
    c = ev.conveyance
    if c.kind is ConveyanceKind.VESSEL:
        voyage = c.voyage or (f"{c.service}/{c.universal_voyage}" if c.service else None)
        return TransportRef(carrier=c.carrier, vessel_imo=c.vessel_imo, vessel_name=c.vessel_name, voyage=voyage)
    if c.kind is ConveyanceKind.TRAIN:
        return TransportRef(carrier=c.carrier, train=c.number)
    if c.kind is ConveyanceKind.FLIGHT:
        return TransportRef(carrier=c.carrier, flight=c.number)
    return TransportRef(carrier=c.carrier, truck=c.plate or c.trip)


def unit_news(ev: ConveyanceEvent, unit: TrackedUnit, *, retract: bool = False,
              milestone: ConveyanceMilestone | None = None, classifier: Classifier | None = None) -> TrackingEvent:
    """The unit event a conveyance event (or the withdrawal of one: `retract`) is for one unit aboard."""
    ms = milestone or ev.milestone
    return TrackingEvent(
        event_id=news_id(ev, milestone, classifier), source=ev.source, unit=unit, mode=ev.mode,
        milestone=_MILESTONE[ms], classifier=classifier or ev.classifier, location=ev.call.location,
        event_time=ev.event_time, received_time=ev.received_time, transport=transport_of(ev),
        retracted=retract or ev.retracted,
    )  # fmt: skip


def hears(p: Passage, ev: ConveyanceEvent) -> bool:
    """Whether the unit of passage `p` hears `ev` (see the module docstring)."""
    if ev.classifier is Classifier.ACTUAL and p.basis is Basis.BOOKED:
        return False
    call = ev.call.location
    if not p.aboard:  # discharged: still its own calls (they came before), in whatever order the news arrives
        own = (ev.milestone is ConveyanceMilestone.DEPARTED and call == p.boards) or \
              (ev.milestone is ConveyanceMilestone.ARRIVED and call == p.leaves)  # fmt: skip
        return own or call in p.via
    if call in p.via:
        return True
    if ev.milestone is ConveyanceMilestone.DEPARTED:
        return call == p.boards
    if ev.milestone is ConveyanceMilestone.ARRIVED:
        return call == p.leaves or (p.leaves is None and call != p.boards)
    return call in (p.boards, p.leaves) or p.leaves is None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Unit events for units: each unit in `units` hears every event in `events` (templates: their `unit` is
    the first of `units`; the consumer puts each unit in turn)."""

    units: tuple[TrackedUnit, ...]
    events: tuple[TrackingEvent, ...]


@dataclass(slots=True)
class Ride:
    """One ride's manifest, its units' kinds, and its latest report per (call, milestone, classifier)."""

    manifest: Manifest
    kinds: dict[str, UnitKind] = field(default_factory=dict)
    calls: dict[CallKey, ConveyanceEvent] = field(default_factory=dict)

    @classmethod
    def new(cls, ride: str) -> Ride:
        return cls(Manifest(ride))

    # --- conveyance events -----------------------------------------------------------------------------------
    def on_conveyance(self, ev: ConveyanceEvent) -> list[Delivery]:
        """Keep `ev` if it is the latest report of its call, milestone and classifier, and say who hears it. An
        omitted or cancelled call withdraws the plans and estimates of that call from those who heard them."""
        key = (ev.call.location, ev.milestone.value, ev.classifier.value)
        current = self.calls.get(key)
        if current is not None and (ev.received_time, ev.event_id) < (current.received_time, current.event_id):
            return []  # older news of the call
        if current == ev:
            return []
        if ev.retracted:
            if current is None or current.event_id != ev.event_id:
                return []  # withdraws something that is not (or no longer) the call's latest report
            del self.calls[key]
        else:
            self.calls[key] = ev
        if ev.milestone in _WITHDRAWS:
            return self._withdraw_call(ev)
        return self._deliver(ev, [p for p in self.manifest.passages.values() if hears(p, ev)])

    def _withdraw_call(self, ev: ConveyanceEvent) -> list[Delivery]:
        out: list[Delivery] = []
        for ms in _MILESTONE:
            for cl in _NEWS:
                old = self.calls.pop((ev.call.location, ms.value, cl.value), None)
                if old is None or ev.retracted:
                    continue
                gone = replace_time(old, ev.received_time)
                out += self._deliver(gone, [p for p in self.manifest.passages.values() if hears(p, old)],
                                     retract=True)  # fmt: skip
        return out

    def _deliver(self, ev: ConveyanceEvent, passages: Iterable[Passage], *, retract: bool = False) -> list[Delivery]:
        units = tuple(self._unit(p.unit) for p in sorted(passages, key=lambda p: p.unit))
        if not units:
            return []
        return [Delivery(units, (unit_news(ev, units[0], retract=retract),))]

    def _unit(self, unit_id: str) -> TrackedUnit:
        return _TRACKED_UNIT(kind=self.kinds.get(unit_id, UnitKind.CONTAINER), id=unit_id)

    # --- boardings -------------------------------------------------------------------------------------------
    def on_boarding(self, b: Boarding) -> tuple[list[Delivery], Contradiction | None]:
        """Apply one boarding; the unit hears what the ride already reported that it now hears (and, re-planned
        off, has withdrawn what it heard)."""
        unit = b.unit.id
        self.kinds[unit] = b.unit.kind
        before = self.manifest.passages.get(unit)
        problem: Contradiction | None = None
        if b.basis == "BOOKED":
            self.manifest._put(Passage(unit, b.boards, b.leaves, Basis.BOOKED, b.as_of, via=tuple(b.via)))
        elif b.basis == "UNBOOKED":
            self.manifest.unbook(unit, b.as_of)
        elif b.basis == "LISTED":
            problem = self.manifest.listed([(unit, b.leaves)], b.boards or "", b.as_of)
        elif b.event is not None:
            problem = self.manifest.reported(b.event)
        after = self.manifest.passages.get(unit)
        if problem is not None or after == before:
            return [], problem
        return self._catch_up(b.unit, before, after), None

    def _catch_up(self, unit: TrackedUnit, before: Passage | None, after: Passage | None) -> list[Delivery]:
        heard = {k for k, ev in self.calls.items() if before is not None and hears(before, ev)}
        now = {k for k, ev in self.calls.items() if after is not None and hears(after, ev)}
        events = [unit_news(self.calls[k], unit) for k in sorted(now - heard)]
        if after is None:  # re-planned off the ride: what it heard as a booked unit is withdrawn
            events += [unit_news(self.calls[k], unit, retract=True) for k in sorted(heard)]
        return [Delivery((unit,), tuple(events))] if events else []

    # --- encoding (by the processing layer, in parts) --------------------------------------------------------
    def calls_data(self) -> list[Any]:
        return [ev.model_dump(mode="json") for _, ev in sorted(self.calls.items())]

    def load_calls(self, data: list[Any]) -> None:
        for item in data:
            ev = ConveyanceEvent.model_validate(item)
            self.calls[(ev.call.location, ev.milestone.value, ev.classifier.value)] = ev

    def passage_data(self, unit: str) -> list[Any] | None:
        p = self.manifest.passages.get(unit)
        if p is None:
            return None
        return [p.unit, self.kinds.get(unit, UnitKind.CONTAINER).value, p.boards, p.leaves, int(p.basis),
                p.boarded_at.isoformat(), p.off_at.isoformat() if p.off_at else None, list(p.via)]

    def load_passage(self, row: list[Any]) -> None:
        unit, kind, boards, leaves, basis, boarded, off, via = row
        self.kinds[unit] = UnitKind(kind)
        self.manifest.passages[unit] = Passage(unit, boards, leaves, Basis(basis), datetime.fromisoformat(boarded),
                                               datetime.fromisoformat(off) if off else None, tuple(via))  # fmt: skip


def replace_time(ev: ConveyanceEvent, received: datetime) -> ConveyanceEvent:
    """`ev` as withdrawn at `received` (a withdrawal must not be older than what it withdraws)."""
    return ev.model_copy(update={"received_time": max(received, ev.received_time)})


def ride_of(ev: ConveyanceEvent) -> str:
    return ride_of_conveyance(ev.conveyance)


