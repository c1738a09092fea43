"""Who is aboard a conveyance: the manifest of one vessel voyage, train or flight, learnt from the units' own events,
loading lists and the plans' legs. Pure: event time only, no I/O, no clock. The conveyance job keeps one per ride.

A manifest is keyed by a *ride key*, the part of a conveyance's identity that all three sources can give:

- vessel: `VOYAGE:<voyage>` (a plan leg's `reference` and a unit event's `transport.voyage` name the voyage, rarely
  the IMO number; the call locations then tell which units hear which call);
- train: `TRAIN:<number>:<departure date>`; flight: `FLIGHT:<designator+number>:<departure date>`, the date being the
  local date at the leg's origin (plans) or at the boarding place (a unit's LOADED/DEPARTED event);
- truck trip: `TRUCK:<plate or trip>`.

Evidence ranks REPORTED (a unit's own event) > LISTED (a loading list) > BOOKED (a plan leg). A unit boards at one
place and leaves at another; it stops hearing the conveyance once discharged (a later ACTUAL DISCHARGED on the ride),
or, while it is only booked, once a new plan revision no longer puts it on the ride. A unit that was actually loaded
stays aboard until it is reported discharged, whatever its plan says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from enum import IntEnum

from schemas import Classifier, Conveyance, ConveyanceKind, Leg, Milestone, Mode, Plan, TrackingEvent
from schemas.conveyances import normalise_flight

ZoneOf = Callable[[str], tzinfo | None]  # UN/LOCODE -> its time zone (streams.feeds.locations.locode_zone)
_BOARDING = (Milestone.LOADED, Milestone.DEPARTED)


class Basis(IntEnum):
    BOOKED = 0  # a plan leg's reference
    LISTED = 1  # a loading list (COARRI loading report, BAPLIE, FFM)
    REPORTED = 2  # the unit's own event


def _voyage(text: str | None) -> str | None:
    compact = re.sub(r"[\s-]", "", text or "").upper()
    return compact or None


def local_date(when: datetime, place: str, zone_of: ZoneOf) -> str | None:
    zone = zone_of(place)
    return when.astimezone(zone).date().isoformat() if zone else None


def ride_of_conveyance(conveyance: Conveyance) -> str:
    """The ride key a conveyance event is fanned out on."""
    if conveyance.kind is ConveyanceKind.VESSEL:
        voyage = conveyance.voyage or f"{conveyance.service}/{conveyance.universal_voyage}"
        return f"VOYAGE:{voyage}"
    if conveyance.kind is ConveyanceKind.TRUCK:
        return f"TRUCK:{conveyance.plate or 'TRIP-' + (conveyance.trip or '')}"
    return f"{conveyance.kind.value}:{conveyance.number}:{conveyance.departure_date}"


def ride_of_leg(leg: Leg, zone_of: ZoneOf) -> str | None:
    """The ride a plan leg books, or None when its reference cannot name one (no reference, a road leg, a
    departure place without a known zone)."""
    if not leg.reference:
        return None
    if leg.mode in (Mode.SEA, Mode.BARGE):
        voyage = _voyage(leg.reference)
        return f"VOYAGE:{voyage}" if voyage else None
    if leg.mode not in (Mode.RAIL, Mode.AIR):
        return None
    day = local_date(leg.planned_departure, leg.origin, zone_of)
    if day is None:
        return None
    if leg.mode is Mode.AIR:
        return f"FLIGHT:{normalise_flight(leg.reference)}:{day}"
    return f"TRAIN:{leg.reference.strip().upper()}:{day}"


def ride_of_event(event: TrackingEvent, zone_of: ZoneOf, plan: Plan | None = None) -> str | None:
    """The ride a unit event is about, or None. A train or flight is dated by the unit's plan leg with the same
    number when there is one, else by a boarding event's local date at its place; an arrival or discharge without
    such a leg cannot be dated and is not tied to a ride."""
    t = event.transport
    if event.mode in (Mode.SEA, Mode.BARGE):
        voyage = _voyage(t.voyage)
        return f"VOYAGE:{voyage}" if voyage else None
    number = normalise_flight(t.flight) if event.mode is Mode.AIR else (t.train or "").strip().upper() or None
    if number is None or event.mode not in (Mode.AIR, Mode.RAIL):
        return None
    kind = "FLIGHT" if event.mode is Mode.AIR else "TRAIN"
    for leg in plan.legs if plan else ():
        ride = ride_of_leg(leg, zone_of)
        if ride and ride.startswith(f"{kind}:{number}:"):
            return ride
    if event.milestone in _BOARDING:
        day = local_date(event.event_time, event.location, zone_of)
        return f"{kind}:{number}:{day}" if day else None
    return None


@dataclass(frozen=True, slots=True)
class Passage:
    """One unit on one ride: where it boards and leaves, on what evidence, as of which event time."""

    unit: str
    boards: str | None
    leaves: str | None
    basis: Basis
    boarded_at: datetime  # event time of the evidence that put it on the ride
    off_at: datetime | None = None  # event time of its ACTUAL discharge from the ride
    via: tuple[str, ...] = ()  # stops its plan makes on the ride between boarding and leaving (a train's borders)

    @property
    def aboard(self) -> bool:
        """On the ride, or booked on it: not discharged since the evidence that put it there."""
        return self.off_at is None or self.off_at < self.boarded_at


@dataclass(frozen=True, slots=True)
class Contradiction:
    """A manifest input that contradicts itself; it changes nothing (the caller dead-letters it)."""

    reason: str


@dataclass(slots=True)
class Manifest:
    ride: str
    passages: dict[str, Passage] = field(default_factory=dict)

    # --- evidence ------------------------------------------------------------------------------------------------
    def book(self, unit: str, leg: Leg, as_of: datetime) -> None:
        """A plan leg puts `unit` on this ride from leg.origin to leg.destination."""
        self._put(Passage(unit, leg.origin, leg.destination, Basis.BOOKED, as_of))

    def unbook(self, unit: str, as_of: datetime) -> None:
        """A later plan no longer puts `unit` on this ride: it leaves the manifest if it was only booked."""
        p = self.passages.get(unit)
        if p is not None and p.basis is Basis.BOOKED and p.boarded_at <= as_of:
            del self.passages[unit]

    def listed(self, units: Iterable[tuple[str, str | None]], port: str, as_of: datetime) -> Contradiction | None:
        """A loading list: (unit, its port of discharge or None) for each unit loaded at `port`. A list naming one
        unit twice with two ports of discharge contradicts itself and changes nothing."""
        seen: dict[str, str | None] = {}
        for unit, leaves in units:
            if unit in seen and seen[unit] != leaves:
                return Contradiction(f"loading list for {self.ride} at {port} lists {unit} twice, to be discharged "
                                     f"at {seen[unit]} and at {leaves}")  # fmt: skip
            seen[unit] = leaves
        for unit, leaves in seen.items():
            self._put(Passage(unit, port, leaves, Basis.LISTED, as_of))
        return None

    def reported(self, event: TrackingEvent) -> Contradiction | None:
        """The unit's own event on this ride: LOADED/DEPARTED put it aboard, an ACTUAL DISCHARGED takes it off."""
        unit, place, when = event.unit.id, event.location, event.event_time
        if event.retracted or event.classifier is not Classifier.ACTUAL:
            return None  # plans and estimates of a unit's move do not change who is aboard
        if event.milestone in _BOARDING:
            current = self.passages.get(unit)
            boards = place if event.milestone is Milestone.LOADED or current is None else current.boards
            self._put(Passage(unit, boards, current.leaves if current else None, Basis.REPORTED, when))
        elif event.milestone is Milestone.DISCHARGED:
            current = self.passages.get(unit)
            if current is not None and current.boards == place and current.basis is Basis.REPORTED \
                    and current.boarded_at == when:  # fmt: skip
                return Contradiction(f"{unit} is reported both loaded onto and discharged from {self.ride} at "
                                     f"{place} at {when.isoformat()}")  # fmt: skip
            if current is None:  # loaded unseen: it was aboard until now
                self.passages[unit] = Passage(unit, None, place, Basis.REPORTED, when, off_at=when)
            elif current.off_at is None or when > current.off_at:
                self.passages[unit] = replace(current, leaves=place, off_at=when)
        return None

    def _put(self, new: Passage) -> None:
        current = self.passages.get(new.unit)
        if current is None:
            self.passages[new.unit] = new
            return
        if new.basis < current.basis:  # weaker evidence only fills in what is unknown
            self.passages[new.unit] = replace(current, boards=current.boards or new.boards,
                                              leaves=current.leaves or new.leaves,
                                              via=current.via or new.via)  # fmt: skip
            return
        if new.basis == current.basis and new.boarded_at < current.boarded_at:
            return  # older news of the same kind
        self.passages[new.unit] = replace(new, boards=new.boards or current.boards, leaves=new.leaves or current.leaves,
                                          off_at=current.off_at, via=new.via or current.via)  # fmt: skip

    # --- questions -----------------------------------------------------------------------------------------------
    def aboard(self) -> list[Passage]:
        return sorted((p for p in self.passages.values() if p.aboard), key=lambda p: p.unit)

    def hearing(self, call: str) -> list[str]:
        """The units a conveyance event at `call` matters to: aboard or booked, and boarding or leaving there (or
        with no known place of leaving: they may leave anywhere). A unit discharged before, or booked to leave
        elsewhere, does not hear it."""
        return [p.unit for p in self.aboard() if call in (p.boards, p.leaves) or p.leaves is None]


def apply_plan(manifests: dict[str, Manifest], plan: Plan, previous: Plan | None, zone_of: ZoneOf) -> None:
    """Book `plan.unit` on each ride its legs name, and unbook it from the rides only `previous` named."""
    unit, when = plan.unit.id, plan.issued_time
    rides = {ride: leg for leg in plan.legs if (ride := ride_of_leg(leg, zone_of))}
    old = {ride for leg in (previous.legs if previous else ()) if (ride := ride_of_leg(leg, zone_of))}
    for ride in old - set(rides):
        if ride in manifests:
            manifests[ride].unbook(unit, when)
    for ride, leg in rides.items():
        manifests.setdefault(ride, Manifest(ride)).book(unit, leg, when)
