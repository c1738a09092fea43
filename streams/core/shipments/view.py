"""A shipment's view, derived afresh from its plan, what its units reported and the watermark.

Which unit carried which pieces is learnt from link events (STUFFED = cargo into a unit, STRIPPED = out of
it); each pair is a part. A part is matched to the plan leg it travelled on, and a leg is done when all the
shipment's pieces have arrived: a split air waybill arrives with its last part. Pieces not yet in any unit
are predicted from the plan, leaving no earlier than they are ready and never in the past."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from streams.core.shipments.parts import ARRIVALS, Part, UnitRide, assign_legs, flown, parse_time, parts_of
from streams.core.shipments.policy import ShipmentPolicy
from streams.core.timeline import minutes


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


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
    band: tuple[datetime, datetime] | None = None  # (p10, p90) of `predicted_arrival`, until the leg arrived


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
    delivery_band: tuple[datetime, datetime] | None = None  # door to door: the last leg's (p10, p90)
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
        assign_legs(parts, plan)
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


Band = tuple[datetime, datetime, datetime]  # p10, p50, p90


def _latest(bands: list[Band]) -> Band:
    """The band of the latest of several arrivals, quantile by quantile: a leg is done when its last part
    arrives. Exact when the parts' delays move together (units on one departure share its disruptions);
    otherwise the latest arrival's p90 lies somewhat beyond it. Ordered whenever each band is."""
    return max(b[0] for b in bands), max(b[1] for b in bands), max(b[2] for b in bands)


def _legs(view: ShipmentView, plan: ShipmentPlan, parts: list[Part], own: list[UnitRide], wm: datetime | None,
          policy: ShipmentPolicy) -> None:  # fmt: skip
    """Each leg's predicted arrival (the last piece's) and its band. A part's band is its unit's for arriving at
    the leg's destination (from the unit's timeline; none, the plan's time, when the unit predicts nothing
    there); pieces not loaded yet carry the band of the leg before them (`_carried`); the leg's band is the
    latest part's (`_latest`). Door to door, the shipment's is its last leg's."""
    total = plan.pieces
    ready: datetime | None = None
    ready_band: Band | None = None
    prev_late = 0
    best: tuple[int, int, TrackedUnit | None] | None = None  # (increase, leg, unit)
    for i, leg in enumerate(plan.legs):
        on = [p for p in parts if i in p.legs]
        duration = leg.planned_arrival - leg.planned_departure
        departed = arrived = 0
        deps: list[datetime] = []
        arrs: list[datetime] = []
        predicted: list[tuple[datetime, Part | None]] = []
        bands: list[Band] = []
        clamped = False
        for p in on:
            if p.ride.own:
                dep = p.ride.first({"DEPARTED"}, leg.origin, None)
                arr = p.ride.first(ARRIVALS, leg.destination, dep)
            else:
                dep = p.ride.first({"DEPARTED"}, leg.origin, p.loaded)
                arr = p.ride.first(ARRIVALS, leg.destination, dep or p.loaded)
                if arr is None and p.unloaded is not None and p.unloaded_at == leg.destination:
                    arr = p.unloaded
                if (dep is None or arr is None) and p.ride.unit.kind is UnitKind.ULD:
                    dep, arr = flown(p, leg.origin, leg.destination, own, dep, arr)
            if dep is not None:
                departed += p.pieces
                deps.append(dep)
            elif arr is not None:  # it got there, so it left; when is not known
                departed += p.pieces
            if arr is not None:
                arrived += p.pieces
                arrs.append(arr)
                predicted.append((arr, p))
                bands.append((arr, arr, arr))
                continue
            guess = p.ride.expected_arrival(leg.destination)
            band = p.ride.expected_band(leg.destination) if guess is not None else None
            if guess is None:
                start = dep or max(leg.planned_departure, *(t for t in (p.loaded, wm) if t is not None))
                guess = start + duration
                band = None  # its unit says nothing of it yet: the plan's time
            if wm is not None and guess < wm:
                guess, clamped = wm, True  # not arrived yet, so not before now
            predicted.append((guess, p))
            lo, hi = band if band is not None else (guess, guess)
            bands.append((min(lo, guess), guess, max(hi, guess)) if wm is None else
                         (min(max(lo, wm), guess), guess, max(hi, guess)))  # fmt: skip
        assigned = sum(p.pieces for p in on)
        missing = max(total - assigned, 0)
        drifting = clamped
        if missing:
            start = max(t for t in (leg.planned_departure, ready) if t is not None)
            if wm is not None and wm > start:
                start, drifting = wm, True
            predicted.append((start + duration, None))
            floor = max(t for t in (leg.planned_departure, wm) if t is not None)
            bands.append(_carried(ready_band, floor, duration) if ready_band else (start + duration,) * 3)
        when, who = max(predicted, key=lambda x: x[0])
        done_dep = max(deps) if deps and departed >= total else None
        done_arr = max(arrs) if arrs and arrived >= total else None
        band3 = (done_arr,) * 3 if done_arr else _latest(bands)
        state = LegState(i, on, missing, min(departed, total), min(arrived, total), done_dep, done_arr,
                         min(arrs) if arrs else None, done_arr or when, who, drifting,
                         None if done_arr else (band3[0], band3[2]))  # fmt: skip
        view.legs.append(state)
        ready = state.predicted_arrival + policy.handling
        ready_band = (band3[0] + policy.handling, ready, band3[2] + policy.handling)
        late = minutes((state.predicted_arrival - leg.planned_arrival).total_seconds())
        if late - prev_late > 0 and (best is None or late - prev_late > best[0]):
            best = (late - prev_late, i, who.ride.unit if who is not None else None)
        prev_late = max(prev_late, late)
    view.predicted_delivery = view.legs[-1].predicted_arrival
    view.delivery_band = view.legs[-1].band
    if best is not None:
        view.cause = (best[1], best[2])


def _carried(ready: Band, floor: datetime, duration: timedelta) -> Band:
    """The band of pieces not loaded yet on a leg predicted from the plan: they leave when the cargo of the leg
    before is ready (its band, handling included), never before the leg's scheduled departure nor now
    (`floor`), quantile by quantile, and take the planned duration. Its median is the leg's own prediction."""
    lo, mid, hi = (max(floor, q) + duration for q in ready)
    return lo, mid, hi


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
        t = parse_time(e["event_time"])
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
                "predicted_arrival_p10": _iso(st.band[0]) if st.band and not st.actual_arrival else None,
                "predicted_arrival_p90": _iso(st.band[1]) if st.band and not st.actual_arrival else None,
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
    band = view.delivery_band if view.delivered_at is None else None
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
        "predicted_delivery_p10": _iso(band[0]) if band else None,
        "predicted_delivery_p90": _iso(band[1]) if band else None,
        "parts": [{
            "unit": {"kind": p.ride.unit.kind.value, "id": p.ride.unit.id}, "pieces": p.reported_pieces,
            "leg_index": p.leg, "loaded_at": _iso(p.loaded), "loaded_location": p.loaded_at,
            "unloaded_at": _iso(p.unloaded), "unloaded_location": p.unloaded_at,
        } for p in parts if not p.ride.own],
        "legs": legs,
        "hubs": hubs,
        "events": entries,
    }
