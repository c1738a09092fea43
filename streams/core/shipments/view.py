"""A shipment's view, derived afresh from its plan, what its units reported and the watermark.

Which unit carried which pieces is learnt from link events (STUFFED = cargo into a unit, STRIPPED = out of
it); each pair is a part. A part is matched to the plan leg it travelled on, and a leg is done when all the
shipment's pieces have arrived: a split air waybill arrives with its last part. Pieces not yet in any unit
are predicted from the plan, leaving no earlier than they are ready and never in the past."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from schemas import (
    Milestone,
    ShipmentPlan,
    ShipmentRef,
    ShipmentStatus,
    ShipmentTimeline,
    TrackedUnit,
    UnitKind,
)
from streams.core.records import trusted_unit
from streams.core.shipments.policy import ShipmentPolicy
from streams.core.timeline import minutes

_ARRIVALS = frozenset({"ARRIVED", "DISCHARGED", "DELIVERED"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)
_DISCHARGED = Milestone.DISCHARGED.value
_ARRIVED = frozenset({Milestone.ARRIVED.value})
_DEPARTED = Milestone.DEPARTED.value


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass
class UnitRide:
    """What a shipment knows of one unit: the link events that put its cargo in or out, and the unit's
    latest timeline. `own` marks the shipment's own statuses (an air waybill reported as a unit)."""

    unit: TrackedUnit
    links: list[list[Any]]  # [event_id, stuffed 1 / stripped 0, event time (us), location, pieces, retracted]
    own: bool
    timeline: dict[str, Any]

    @cached_property
    def actuals(self) -> list[tuple[datetime, dict[str, Any]]]:
        """The unit's actual events, in event-time order."""
        out = [(_ts(e["event_time"]), e) for e in self.timeline.get("events", []) if e["classifier"] == "ACTUAL"]
        out.sort(key=lambda p: p[0])  # type: ignore[arg-type,return-value]
        return out  # type: ignore[return-value]

    def first(self, milestones: frozenset[str] | set[str], location: str, after: datetime | None) -> datetime | None:
        for t, e in self.actuals:
            if e["milestone"] in milestones and e["location"] == location and (after is None or t >= after):
                return t
        return None

    def expected_arrival(self, location: str) -> datetime | None:
        """The unit's own prediction (or the carrier's estimate, or its plan) for arriving at `location`."""
        for m in self.timeline.get("milestones", []):
            if m["kind"] == "ARRIVAL" and m["location"] == location:
                return _ts(m.get("actual") or m.get("predicted") or m.get("estimated") or m["planned"])
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


@dataclass(slots=True)
class LegState:
    index: int
    parts: list[Part]
    missing: int  # pieces not (yet) in any unit on this leg
    departed: int  # pieces
    arrived: int
    actual_departure: datetime | None
    actual_arrival: datetime | None
    first_arrival: datetime | None
    predicted_arrival: datetime
    latest_part: Part | None  # the part whose arrival decides the leg's; None: pieces not loaded yet
    drifting: bool  # the prediction rests on the watermark (cargo should have left and has not)


@dataclass(slots=True)
class Hold:
    location: str
    since: datetime | None
    released: datetime | None
    unit: TrackedUnit | None
    mode: str


@dataclass(slots=True)
class Stay:
    location: str
    leg_in: int
    arrived: datetime | None
    departed: datetime | None
    normal: timedelta
    unit: TrackedUnit | None  # what brought the cargo in


@dataclass
class ShipmentView:
    ref: ShipmentRef
    plan: ShipmentPlan | None
    data: dict[str, Any]
    as_of: datetime | None
    legs: list[LegState] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    predicted_delivery: datetime | None = None
    delivered_at: datetime | None = None
    delivered_pieces: int = 0
    cause: tuple[int, TrackedUnit | None] | None = None

    @cached_property
    def timeline(self) -> ShipmentTimeline:
        return ShipmentTimeline.model_validate({**self.data, "as_of": self.as_of})

    @cached_property
    def digest(self) -> str:
        return hashlib.blake2b(orjson.dumps(self.data), digest_size=12).hexdigest()

    @property
    def next_leg(self) -> int | None:
        """The leg whose departure is expected next: its cargo has arrived at its origin, not all left (a leg
        whose pieces all arrived further on has left, even when nobody reported when)."""
        total = self.plan.pieces if self.plan is not None else 1
        for leg in self.legs:
            if leg.actual_departure is None and leg.departed < total:
                prev = self.legs[leg.index - 1] if leg.index else None
                return leg.index if prev is None or prev.actual_arrival is not None else None
        return None


def parts_of(rides: list[UnitRide], total: int) -> list[Part]:
    """Pair each unit's link events (by event time) into parts: in, then out."""
    parts: list[Part] = []
    for ride in rides:
        if ride.own:
            continue
        links = sorted((x for x in ride.links if not x[5]), key=lambda x: (x[2], -x[1]))
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


def _assign(parts: list[Part], plan: ShipmentPlan) -> None:
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


def derive(
    ref: ShipmentRef,
    plan: ShipmentPlan | None,
    rides: list[UnitRide],
    watermark: datetime | None,
    policy: ShipmentPolicy,
) -> ShipmentView:
    total = plan.pieces if plan is not None else 1
    parts = parts_of(rides, total)
    own = [r for r in rides if r.own]
    if plan is not None:
        _assign(parts, plan)
        # An air waybill reported only through its own statuses rides every air leg nobody else reported.
        for r in own:
            for i, leg in enumerate(plan.legs):
                if leg.mode.value == "AIR" and not any(i in p.legs for p in parts):
                    parts.append(Part(r, total, None, None, None, None, leg=i, legs=[i]))

    entries = _entries(parts, own)
    view = ShipmentView(ref, plan, {}, watermark)
    if plan is not None:
        _legs(view, plan, parts, own, watermark, policy)
        _stays(view, plan, policy)
    view.holds = _holds(entries)
    _delivery(view, plan, parts, own, total)
    view.data = _data(view, plan, parts, entries, watermark, policy, total)
    return view


def _entries(parts: list[Part], own: list[UnitRide]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out: list[tuple[datetime, str, dict[str, Any]]] = []

    def add(t: datetime, e: dict[str, Any], unit: TrackedUnit | None, pieces: int | None) -> None:
        key = (unit.id if unit else "", e["event_id"])
        if key in seen:
            return
        seen.add(key)
        out.append((t, unit.id if unit else "", {
            "event_time": e["event_time"], "milestone": e["milestone"], "classifier": e["classifier"],
            "location": e["location"], "mode": e["mode"],
            "unit": {"kind": unit.kind.value, "id": unit.id} if unit else None,
            "pieces": pieces, "source": e["source"], "event_id": e["event_id"],
        }))

    for p in parts:
        if p.ride.own:
            continue
        for t, e in p.ride.actuals:
            if p.covers(t):
                add(t, e, p.ride.unit, p.reported_pieces)
    for r in own:
        for t, e in r.actuals:
            add(t, e, None, None)
    out.sort(key=lambda x: (x[0], x[1]))
    return [e for _, _, e in out]


def _legs(view: ShipmentView, plan: ShipmentPlan, parts: list[Part], own: list[UnitRide], wm: datetime | None,
          policy: ShipmentPolicy) -> None:  # fmt: skip
    total = plan.pieces
    ready: datetime | None = None
    prev_late = 0
    best: tuple[int, int, TrackedUnit | None] | None = None  # (increase, leg, unit)
    for i, leg in enumerate(plan.legs):
        on = [p for p in parts if i in p.legs]
        duration = leg.planned_arrival - leg.planned_departure
        departed = arrived = 0
        deps: list[datetime] = []
        arrs: list[datetime] = []
        predicted: list[tuple[datetime, Part | None]] = []
        clamped = False
        for p in on:
            if p.ride.own:
                dep = p.ride.first({"DEPARTED"}, leg.origin, None)
                arr = p.ride.first(_ARRIVALS, leg.destination, dep)
            else:
                dep = p.ride.first({"DEPARTED"}, leg.origin, p.loaded)
                arr = p.ride.first(_ARRIVALS, leg.destination, dep or p.loaded)
                if arr is None and p.unloaded is not None and p.unloaded_at == leg.destination:
                    arr = p.unloaded
                if (dep is None or arr is None) and p.ride.unit.kind is UnitKind.ULD:
                    dep, arr = _flown(p, leg.origin, leg.destination, own, dep, arr)
            if dep is not None:
                departed += p.pieces
                deps.append(dep)
            elif arr is not None:  # it got there, so it left; when is not known
                departed += p.pieces
            if arr is not None:
                arrived += p.pieces
                arrs.append(arr)
                predicted.append((arr, p))
                continue
            guess = p.ride.expected_arrival(leg.destination)
            if guess is None:
                start = dep or max(leg.planned_departure, *(t for t in (p.loaded, wm) if t is not None))
                guess = start + duration
            if wm is not None and guess < wm:
                guess, clamped = wm, True  # not arrived yet, so not before now
            predicted.append((guess, p))
        assigned = sum(p.pieces for p in on)
        missing = max(total - assigned, 0)
        drifting = clamped
        if missing:
            start = max(t for t in (leg.planned_departure, ready) if t is not None)
            if wm is not None and wm > start:
                start, drifting = wm, True
            predicted.append((start + duration, None))
        when, who = max(predicted, key=lambda x: x[0])
        done_dep = max(deps) if deps and departed >= total else None
        done_arr = max(arrs) if arrs and arrived >= total else None
        state = LegState(i, on, missing, min(departed, total), min(arrived, total), done_dep, done_arr,
                         min(arrs) if arrs else None, done_arr or when, who, drifting)  # fmt: skip
        view.legs.append(state)
        ready = state.predicted_arrival + policy.handling
        late = minutes((state.predicted_arrival - leg.planned_arrival).total_seconds())
        if late - prev_late > 0 and (best is None or late - prev_late > best[0]):
            best = (late - prev_late, i, who.ride.unit if who is not None else None)
        prev_late = max(prev_late, late)
    view.predicted_delivery = view.legs[-1].predicted_arrival
    if best is not None:
        view.cause = (best[1], best[2])


def _flown(p: Part, origin: str, destination: str, own: list[UnitRide], dep: datetime | None,
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
            elif arr is None and e["milestone"] in _ARRIVALS and e["location"] == destination:
                arr = t
    if arr is None:
        arr = next((t for t, e in p.ride.actuals if e["location"] == destination
                    and t >= (dep or p.loaded or _EPOCH)), None)  # fmt: skip
    return dep, arr


def _stays(view: ShipmentView, plan: ShipmentPlan, policy: ShipmentPolicy) -> None:
    for i in range(1, len(plan.legs)):
        before, after = view.legs[i - 1], view.legs[i]
        loc = plan.legs[i].origin
        planned = plan.legs[i].planned_departure - plan.legs[i - 1].planned_arrival
        first_in = before.parts[0].ride.unit if before.parts else None
        left = after.actual_departure
        if left is None and after.departed >= plan.pieces:  # left, at a time nobody reported: by its arrival
            left = after.actual_arrival or after.first_arrival
        view.stays.append(Stay(loc, i - 1, before.first_arrival, left, policy.normal_dwell(loc, planned), first_in))


def _holds(entries: list[dict[str, Any]]) -> list[Hold]:
    holds: dict[str, Hold] = {}
    for e in entries:
        if e["milestone"] not in (Milestone.CUSTOMS_HOLD.value, Milestone.CUSTOMS_RELEASED.value):
            continue
        t = _ts(e["event_time"])
        unit = trusted_unit(e["unit"]["kind"], e["unit"]["id"]) if e["unit"] else None
        h = holds.setdefault(e["location"], Hold(e["location"], None, None, unit, e["mode"]))
        if e["milestone"] == Milestone.CUSTOMS_HOLD.value:
            if h.since is None:
                h.since, h.unit, h.mode = t, unit, e["mode"]
        else:
            h.released, h.since = t, None
    return list(holds.values())


def _delivery(view: ShipmentView, plan: ShipmentPlan | None, parts: list[Part], own: list[UnitRide],
              total: int) -> None:  # fmt: skip
    if plan is None:
        return
    dest = plan.legs[-1].destination
    last = len(plan.legs) - 1
    for r in own:
        t = r.first({"DELIVERED"}, dest, None)
        if t is not None:
            view.delivered_at, view.delivered_pieces = t, total
            return
    pieces, times = 0, []
    for p in parts:
        if last in p.legs and not p.ride.own:
            t = p.ride.first({"DELIVERED"}, dest, p.loaded)
            if t is not None and p.covers(t):
                pieces += p.pieces
                times.append(t)
    view.delivered_pieces = pieces
    if times and pieces >= total:
        view.delivered_at = max(times)


def _status(view: ShipmentView, entries: list[dict[str, Any]]) -> ShipmentStatus:
    if view.delivered_at is not None:
        return ShipmentStatus.DELIVERED
    if view.delivered_pieces:
        return ShipmentStatus.PARTLY_DELIVERED
    if any(h.since is not None for h in view.holds):
        return ShipmentStatus.HELD
    if any(leg.departed > leg.arrived for leg in view.legs):
        return ShipmentStatus.IN_TRANSIT
    if not view.legs and entries:
        last = entries[-1]["milestone"]
        return ShipmentStatus.IN_TRANSIT if last == "DEPARTED" else ShipmentStatus.AT_HUB
    return ShipmentStatus.AT_HUB if entries else ShipmentStatus.PLANNED


def _data(view: ShipmentView, plan: ShipmentPlan | None, parts: list[Part], entries: list[dict[str, Any]],
          wm: datetime | None, policy: ShipmentPolicy, total: int) -> dict[str, Any]:  # fmt: skip
    status = _status(view, entries)
    legs = []
    if plan is not None:
        for leg, st in zip(plan.legs, view.legs, strict=True):
            legs.append({
                "leg_index": st.index, "mode": leg.mode.value, "origin": leg.origin, "destination": leg.destination,
                "planned_departure": _iso(leg.planned_departure), "planned_arrival": _iso(leg.planned_arrival),
                "units": list(dict.fromkeys(p.ride.unit.id for p in st.parts if not p.ride.own)),
                "pieces_departed": st.departed, "pieces_arrived": st.arrived,
                "actual_departure": _iso(st.actual_departure), "actual_arrival": _iso(st.actual_arrival),
                "predicted_arrival": None if st.actual_arrival else _iso(st.predicted_arrival),
                "minutes_late": minutes((st.predicted_arrival - leg.planned_arrival).total_seconds()),
            })
    holds = {h.location: h for h in view.holds}
    hubs = []
    for s in view.stays:
        end = s.departed or wm
        h = holds.pop(s.location, None)
        hubs.append({
            "location": s.location, "arrived": _iso(s.arrived), "departed": _iso(s.departed),
            "dwell_minutes": minutes((end - s.arrived).total_seconds()) if s.arrived and end and end >= s.arrived
            else None,
            "normal_minutes": minutes(s.normal.total_seconds()),
            "held_since": _iso(h.since) if h else None, "released_at": _iso(h.released) if h else None,
        })
    for h in holds.values():  # holds away from the planned hubs (at origin, destination, a border)
        hubs.append({"location": h.location, "arrived": None, "departed": None, "dwell_minutes": None,
                     "normal_minutes": minutes(policy.normal_dwell(h.location, timedelta(0)).total_seconds()),
                     "held_since": _iso(h.since), "released_at": _iso(h.released)})  # fmt: skip
    planned = plan.legs[-1].planned_arrival if plan else None
    outcome = view.delivered_at or view.predicted_delivery
    return {
        "shipment": {"kind": view.ref.kind.value, "id": view.ref.id},
        "plan_revision": plan.revision if plan else None,
        "lane": plan.lane if plan else None,
        "customer": plan.customer if plan else None,
        "status": status.value,
        "pieces": total if plan else None,
        "location": entries[-1]["location"] if entries else None,
        "destination": plan.legs[-1].destination if plan else None,
        "planned_delivery": _iso(planned),
        "promised_delivery": _iso(plan.promised_delivery) if plan else None,
        "predicted_delivery": _iso(view.predicted_delivery) if view.delivered_at is None else None,
        "delivered_at": _iso(view.delivered_at),
        "minutes_late": minutes((outcome - planned).total_seconds()) if outcome and planned else None,
        "parts": [{
            "unit": {"kind": p.ride.unit.kind.value, "id": p.ride.unit.id}, "pieces": p.reported_pieces,
            "leg_index": p.leg, "loaded_at": _iso(p.loaded), "loaded_location": p.loaded_at,
            "unloaded_at": _iso(p.unloaded), "unloaded_location": p.unloaded_at,
        } for p in parts if not p.ride.own],
        "legs": legs,
        "hubs": hubs,
        "events": entries,
    }
