"""Which unit carried which of a shipment's pieces, when, and over which plan legs.

Link events say it (STUFFED = cargo into a unit, STRIPPED = out of it); each pair is a Part. IATA feeds report a
ULD's build-up (FFM) but not its breakdown or its flight, so a ULD part is also ended at the air waybill's own
"received from flight" and flown on the waybill's own departure and arrival while they can be the ULD's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from schemas import Milestone, ShipmentPlan, TrackedUnit, UnitKind
from streams.core.links import live

ARRIVALS = frozenset({"ARRIVED", "DISCHARGED", "DELIVERED"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)
_DISCHARGED = Milestone.DISCHARGED.value
_ARRIVED = frozenset({Milestone.ARRIVED.value})
_DEPARTED = Milestone.DEPARTED.value


def parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass
class UnitRide:
    """What a shipment knows of one unit: the link events that put its cargo in or out, and the unit's
    latest timeline. `own` marks the shipment's own statuses (an air waybill reported as a unit)."""

    unit: TrackedUnit
    links: list[list[Any]]  # as the unit report carries them: rows of `streams.core.links.Link`
    own: bool
    timeline: dict[str, Any]

    @cached_property
    def actuals(self) -> list[tuple[datetime, dict[str, Any]]]:
        """The unit's actual events, in event-time order."""
        out = [(parse_time(e["event_time"]), e) for e in self.timeline.get("events", []) if e["classifier"] == "ACTUAL"]
        out.sort(key=lambda p: p[0])  # type: ignore[arg-type,return-value]
        return out  # type: ignore[return-value]

    def first(self, milestones: frozenset[str] | set[str], location: str, after: datetime | None) -> datetime | None:
        for t, e in self.actuals:
            if e["milestone"] in milestones and e["location"] == location and (after is None or t >= after):
                return t
        return None

    def expected_band(self, location: str) -> tuple[datetime, datetime] | None:
        """The unit's band (p10, p90) for arriving at `location`, while it has not: from its timeline."""
        for m in self.timeline.get("milestones", []):
            if m["kind"] == "ARRIVAL" and m["location"] == location:
                lo, hi = m.get("predicted_p10"), m.get("predicted_p90")
                if m.get("actual") or not m.get("predicted") or lo is None or hi is None:
                    return None
                return parse_time(lo), parse_time(hi)  # type: ignore[return-value]
        return None

    def expected_arrival(self, location: str) -> datetime | None:
        """The unit's own prediction (or the carrier's estimate, or its plan) for arriving at `location`."""
        for m in self.timeline.get("milestones", []):
            if m["kind"] == "ARRIVAL" and m["location"] == location:
                return parse_time(m.get("actual") or m.get("predicted") or m.get("estimated") or m["planned"])
        return None


@dataclass(slots=True)
class Part:
    ride: UnitRide
    pieces: int  # resolved: a link without pieces moves the whole shipment
    loaded: datetime | None  # None: in the unit from before anything was reported
    loaded_at: str | None
    unloaded: datetime | None
    unloaded_at: str | None
    leg: int | None = None  # the first plan leg it travelled
    reported_pieces: int | None = None
    legs: list[int] = field(default_factory=list)  # every plan leg it travelled

    def covers(self, t: datetime) -> bool:
        return (self.loaded is None or t >= self.loaded) and (self.unloaded is None or t <= self.unloaded)


def parts_of(rides: list[UnitRide], total: int) -> list[Part]:
    """Pair each unit's link events (by event time) into parts: in, then out."""
    parts: list[Part] = []
    for ride in rides:
        if ride.own:
            continue
        links = sorted(live(ride.links), key=lambda x: (x.time, -x.stuffed))
        open_: Part | None = None
        for _id, stuffed, us, location, pieces, _ in links:
            t = _EPOCH + timedelta(microseconds=us)
            if stuffed:
                if open_ is not None and ride.unit.kind is UnitKind.ULD and _received_from_flight(open_, rides, t):
                    open_ = None  # the waybill was received from the flight in between: these pieces went in anew
                if open_ is not None:  # stuffed twice without a strip
                    if _flew_on(open_, location, t):  # listed again where it went: the same cargo, a new count
                        open_.reported_pieces = max(open_.reported_pieces or 0, pieces or 0) or None
                    else:  # more pieces went in
                        open_.reported_pieces = (open_.reported_pieces or 0) + (pieces or 0) or None
                    open_.pieces = open_.reported_pieces or total
                    continue
                open_ = Part(ride, pieces or total, t, location, None, None, reported_pieces=pieces)
                parts.append(open_)
            elif open_ is not None:
                open_.unloaded, open_.unloaded_at = t, location
                open_ = None
            else:  # stripped with no stuffing reported: the cargo was in it from the start
                parts.append(Part(ride, pieces or total, None, None, t, location, reported_pieces=pieces))
        if open_ is not None and ride.unit.kind is UnitKind.ULD:
            _received_from_flight(open_, rides)
    parts.sort(key=lambda p: (p.loaded or p.unloaded or _FAR, p.ride.unit.id))
    return parts


def _flew_on(part: Part, location: str, t: datetime) -> bool:
    """A build-up at another place than the part's, with nothing taken out in between: a through ULD listed
    again on the connecting flight's manifest (FFM lists what a ULD holds, not what was added). The unit moved
    there whether or not its arrival was reported: IATA feeds often report none for a ULD."""
    return part.loaded_at is not None and location != part.loaded_at


def _received_from_flight(part: Part, rides: list[UnitRide], before: datetime | None = None) -> bool:
    """End a ULD part nobody reported broken down at the air waybill's own "received from flight" (FSU RCF,
    DISCHARGED), at or `before` a given time: IATA feeds report the build-up (FFM) per ULD, the breakdown only as
    the waybill's RCF. Left open, the part followed the ULD onto its next flight with other cargo, and a new
    build-up of the same waybill in it counted the pieces twice.

    The RCF must be where the ULD went: where it arrived if its arrival was reported, and otherwise anywhere but
    where it was built up, as long as the ULD was not seen there again after the RCF (it had not left yet: the
    RCF was for pieces on another flight). IATA feeds (FFM and FSU) report no ULD arrival at all."""
    after, origin = part.loaded, part.loaded_at
    for ride in rides:
        if not ride.own:
            continue
        for t, e in ride.actuals:
            if e["milestone"] != _DISCHARGED or (after is not None and t < after):
                continue
            if before is not None and t > before:
                break
            where = e["location"]
            arrived = part.ride.first(_ARRIVED, where, after)
            if arrived is not None:
                if arrived > t:
                    continue
            elif where == origin or _still_at(part.ride, origin, after, t):
                continue
            part.unloaded, part.unloaded_at = t, where
            return True
    return False


def _still_at(ride: UnitRide, origin: str | None, loaded: datetime | None, t: datetime) -> bool:
    """Whether the unit loaded at `origin` had not left it by `t`: its first departure from there came later,
    or, with no departure reported, it was seen there after `t` before being seen anywhere else."""
    if origin is None:
        return False
    for when, e in ride.actuals:
        if loaded is not None and when < loaded:
            continue
        if e["location"] != origin:
            return False
        if e["milestone"] == _DEPARTED:
            return when > t
        if when > t:
            return True
    return False


def assign_legs(parts: list[Part], plan: ShipmentPlan) -> None:
    """The legs each part travelled: from the leg it was loaded for (the leg naming its unit, or starting where
    it was loaded) through the leg ending where it was unloaded, or, still aboard, as far as the unit goes."""
    legs = plan.legs
    for p in parts:
        uid = p.ride.unit.id
        start = next((i for i, g in enumerate(legs) if g.unit is not None and g.unit.id == uid
                      and (p.loaded_at is None or p.loaded_at == g.origin)), None)  # fmt: skip
        if start is None:
            start = next((i for i, g in enumerate(legs) if p.loaded_at and g.origin == p.loaded_at), None)
        if start is None:
            start = next((i for i, g in enumerate(legs) if p.unloaded_at and g.destination == p.unloaded_at), None)
        if start is None:
            continue
        end = start
        if p.unloaded_at is not None:
            end = next((i for i in range(start, len(legs)) if legs[i].destination == p.unloaded_at), start)
        else:
            goes = {m["location"] for m in p.ride.timeline.get("milestones", []) if m["kind"] == "ARRIVAL"}
            while end + 1 < len(legs) and (
                (legs[end + 1].unit is not None and legs[end + 1].unit.id == uid)  # type: ignore[union-attr]
                or (legs[end].destination in goes and legs[end + 1].destination in goes)
            ):
                end += 1
        p.leg, p.legs = start, list(range(start, end + 1))


def flown(p: Part, origin: str, destination: str, own: list[UnitRide], dep: datetime | None,
           arr: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A ULD's leg as IATA feeds report it: FFM says where the ULD was built up, FSU reports the waybill's own
    departure and arrival (DEP, ARR, RCF), nobody the ULD's. The waybill's statuses count for the ULD while they
    can be its own: not while the ULD was still where it was built up (another part's flight). A ULD seen at
    the leg's destination (built up again there for the next flight) had arrived by then."""
    for r in own:
        for t, e in r.actuals:
            if (p.loaded is not None and t < p.loaded) or _still_at(p.ride, p.loaded_at, p.loaded, t):
                continue
            if dep is None and e["milestone"] == "DEPARTED" and e["location"] == origin:
                dep = t
            elif arr is None and e["milestone"] in ARRIVALS and e["location"] == destination:
                arr = t
    if arr is None:
        arr = next((t for t, e in p.ride.actuals if e["location"] == destination
                    and t >= (dep or p.loaded or _EPOCH)), None)  # fmt: skip
    return dep, arr
