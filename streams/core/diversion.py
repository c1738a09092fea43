"""Diversions: a unit seen, actually, at a place its plan does not go through (Cape Town on a Suez plan, Khorgos
on an Alashankou plan, another airport) has left its plan. Its remaining route is re-derived from where it really
is to the plan's next places via the route table (`streams.core.routes`), and its predictions follow that route.

A function of the plan, the live events and nothing else (no clock): `timeline.derive` (the specification) and
`incremental.Derivation` call the same `detect` and `repredict`, so both paths agree.

Seam for learned transit times: `transit_hours` is the one place a remaining segment's duration is read; it takes
the route table's typical transit today, and a learned median per segment can replace it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas import Classifier, Milestone, Mode, PlannedStopKind
from streams.core.eta import predict_one
from streams.core.evidence import Evidence
from streams.core.learning.forecast import Forecast, shift
from streams.core.learning.holds import Holds
from streams.core.learning.lanes import cape_places
from streams.core.milestones import PlannedMilestone
from streams.core.policy import TrackingPolicy
from streams.core.routes import Route, road_fallback, table

# Events that say where the unit physically is. Customs and gate events at an unplanned place are not counted:
# they are often reported under a terminal's or an office's own code.
MOVES = frozenset({Milestone.ARRIVED, Milestone.DEPARTED, Milestone.LOADED, Milestone.DISCHARGED})


@dataclass(frozen=True, slots=True)
class Diversion:
    first_leg: int  # the plan leg the unit was on when it left the plan
    places: tuple[str, ...]  # the unplanned places it was seen at, in event order
    first_event: str  # id of the first unplanned event
    first_seen: datetime  # its event time
    last_place: str
    last_seen: datetime
    mode: Mode
    rejoin: int | None  # index of the planned milestone where it rejoins (or rejoined) the plan
    route: Route | None  # from the last unplanned place to the rejoin place (None once rejoined, or if unknown)
    floor: datetime | None  # earliest arrival at the rejoin place by that route (None once rejoined)
    rejoined: bool

    @property
    def active(self) -> bool:
        return not self.rejoined

    def co2e_hop(self, milestones: Sequence[PlannedMilestone], legs: Sequence
                 ) -> tuple[int, int, tuple[str, ...], tuple[Mode, ...]]:  # fmt: skip
        """(first leg, last leg, stops travelled, the mode between each two) of the diverted stretch, for
        `co2e.hops_of`: to the unplanned places by the mode it left the plan on, then on to the rejoin place by
        its onward mode (a truck, from an airport it was diverted to)."""
        origin = legs[self.first_leg].origin
        if self.rejoin is None:
            end, last = legs[self.first_leg].destination, self.first_leg
        else:
            ms = milestones[self.rejoin]
            if ms.kind is PlannedStopKind.DEPARTURE:
                end, last = ms.location, ms.leg_index - 1
            else:
                end, last = ms.location, ms.leg_index
        last = max(last, self.first_leg)
        stops = tuple(dict.fromkeys((origin, *self.places)))  # a place seen twice (arrived, departed) once
        left_on = legs[self.first_leg].mode  # the leg it left the plan on (later events may be the truck's)
        modes = (left_on,) * (len(stops) - 1)
        if stops[-1] != end:
            stops, modes = (*stops, end), (*modes, onward_mode(left_on))
        return self.first_leg, last, stops, modes

    def as_data(self, milestones: Sequence[PlannedMilestone]) -> dict:
        """The timeline's `diversion` field."""
        rejoin = milestones[self.rejoin] if self.rejoin is not None else None
        bypassed = [] if self.rejoin is None or self.rejoined else [
            m.key for m in milestones[: self.rejoin] if m.leg_index >= self.first_leg
            and not (m.kind is PlannedStopKind.DEPARTURE and m.leg_index == self.first_leg)
        ]  # fmt: skip
        return {
            "leg_index": self.first_leg, "places": list(self.places), "first_seen": self.first_seen,
            "last_place": self.last_place, "last_seen": self.last_seen,
            "rejoins": rejoin.key if rejoin else None, "rejoined": self.rejoined,
            "route": list(self.route.stops) if self.route else None,
            "route_names": list(self.route.names) if self.route else None,
            "route_km": round(self.route.km, 1) if self.route else None,
            "route_hours": round(transit_hours(self.route), 1) if self.route else None,
            "earliest_rejoin": self.floor, "bypassed": bypassed, "reason": self.reason(milestones),
        }  # fmt: skip

    def reason(self, milestones: Sequence[PlannedMilestone]) -> str:
        seen = ", ".join(self.places)
        if self.rejoined:
            where = milestones[self.rejoin].location if self.rejoin is not None else "the plan"
            return f"diverted via {seen} (not on the plan), back on the plan at {where}"
        if self.route is None or self.rejoin is None:
            return f"diverted: seen at {seen}, not on the plan; no known route from {self.last_place} to the plan"
        names = "/".join(self.route.names)
        return (f"diverted: seen at {seen}, not on the plan; re-routed {'-'.join(self.route.stops)} ({names}, "
                f"{self.route.km:,.0f} km, {transit_hours(self.route):.0f} h) to rejoin at "
                f"{milestones[self.rejoin].location}")  # fmt: skip


def onward_mode(mode: Mode) -> Mode:
    """How a unit diverted on a leg of `mode` goes on from where it was diverted: cargo flown to another airport
    is trucked to where it was going (flying it back through the hub is not what forwarders do); otherwise the
    same mode, by the route table's alternatives."""
    return Mode.ROAD if mode is Mode.AIR else mode


def transit_hours(route: Route) -> float:
    """Typical transit over a re-derived route: the route table's today (the seam for learned segment medians)."""
    return route.hours


def off_plan(events: Iterable, places: frozenset[str]) -> list:
    """The actual movement events at places not on the plan, in the order given."""
    return [e for e in events if e.classifier is Classifier.ACTUAL and e.milestone in MOVES
            and e.location not in places]  # fmt: skip


def detect(milestones: Sequence[PlannedMilestone], evidence: Sequence[Evidence], furthest: int,
           unplanned: Sequence, issued: datetime, policy: TrackingPolicy) -> Diversion | None:  # fmt: skip
    """The unit's diversion, if it left its plan: `unplanned` are the off-plan actual movement events in history
    order (`off_plan`). Counted only between the trip's first planned actual and its final arrival, and after the
    plan was issued, at places it had not been seen at before then (a plan issued later knew where the unit had
    been: a ship re-planned while at Cape Town leaving Cape Town is not a new diversion)."""
    if not unplanned or furthest < 0:
        return None
    actual_times = [(i, ev.actual.event_time) for i, ev in enumerate(evidence) if ev.actual is not None]
    start = min(t for _, t in actual_times)
    final = next((i for i in range(len(milestones) - 1, -1, -1) if milestones[i].kind is PlannedStopKind.ARRIVAL),
                 None)  # fmt: skip
    end = evidence[final].actual.event_time if final is not None and evidence[final].actual else None
    known = {e.location for e in unplanned if e.event_time < issued}  # the plan was made knowing it was there
    rel = [e for e in unplanned if e.event_time > start and e.event_time >= issued and e.location not in known
           and (end is None or e.event_time < end)]  # fmt: skip
    if not rel:
        return None
    first, last = rel[0], rel[-1]
    before = max(i for i, t in actual_times if t <= first.event_time) if any(
        t <= first.event_time for _, t in actual_times) else 0  # fmt: skip
    ms = milestones[before]
    nlegs = max(m.leg_index for m in milestones) + 1
    first_leg = ms.leg_index if ms.kind is PlannedStopKind.DEPARTURE else min(ms.leg_index + 1, nlegs - 1)
    places = tuple(dict.fromkeys(e.location for e in rel))
    back = [i for i, t in actual_times if t > last.event_time and i > before]
    if back:
        return Diversion(first_leg, places, first.event_id, first.event_time, last.location, last.event_time,
                         last.mode, min(back), None, None, True)  # fmt: skip
    rejoin, route = _rejoin(milestones, furthest, last.location, last.mode)
    floor = None
    if route is not None:
        floor = last.event_time + timedelta(hours=transit_hours(route))
        if last.milestone in (Milestone.ARRIVED, Milestone.DISCHARGED):  # still there: it has to leave first
            floor += policy.min_connection(last.mode)
    return Diversion(first_leg, places, first.event_id, first.event_time, last.location, last.event_time,
                     last.mode, rejoin, route, floor, False)  # fmt: skip


def _rejoin(milestones: Sequence[PlannedMilestone], furthest: int, place: str,
            mode: Mode) -> tuple[int | None, Route | None]:  # fmt: skip
    """The planned arrival ahead to rejoin the plan at: the first planned place on the shortest route from `place`
    to the destination (Brest, for a train re-routed via Khorgos); when the route passes none, the planned arrival
    that makes the quickest way to the destination (the route there, then the plan's own remaining time)."""
    t = table()
    final = max((i for i, m in enumerate(milestones) if m.kind is PlannedStopKind.ARRIVAL), default=None)
    if final is None:
        return None, None
    mode = onward_mode(mode)
    whole = t.shortest(place, milestones[final].location, mode) or road_fallback(t, place,
                                                                                  milestones[final].location, mode)
    if whole is not None and whole.segments:
        for j in range(furthest + 1, final + 1):
            m = milestones[j]
            if m.kind is PlannedStopKind.ARRIVAL and m.location in whole.stops[1:]:
                cut = [s.b for s in whole.segments].index(m.location) + 1
                return j, Route(mode, whole.segments[:cut])
    best: tuple[float, int, Route] | None = None
    for j in range(furthest + 1, final + 1):
        m = milestones[j]
        if m.kind is not PlannedStopKind.ARRIVAL:
            continue
        r = t.shortest(place, m.location, mode) or road_fallback(t, place, m.location, mode)
        if r is None or not r.segments:
            continue
        cost = transit_hours(r) + (milestones[final].planned - m.planned).total_seconds() / 3600
        if best is None or cost < best[0]:
            best = (cost, j, r)
    return (best[1], best[2]) if best else (None, None)


def repredict(evidence: Sequence[Evidence], forecasts: list[Forecast | None], start: int, furthest: int,
              watermark: datetime | None, policy: TrackingPolicy, div: Diversion | None,
              holds: Holds = ()) -> None:  # fmt: skip
    """`eta.predict` from milestone `start` on, in place, carrying on from the forecasts before it; a diverted
    unit's milestones between where it left the plan and where it rejoins are bypassed (None: it will not be
    there), and the rejoin is predicted no earlier than the re-derived route allows (its band moved with it)."""
    rejoin = div.rejoin if div is not None and div.active else None
    prev = prev_ms = None
    for j in range(start - 1, -1, -1):
        if forecasts[j] is not None:
            prev, prev_ms = forecasts[j], evidence[j].milestone
            break
    for i in range(start, len(evidence)):
        ev = evidence[i]
        if rejoin is not None and furthest < i < rejoin and ev.actual is None:
            forecasts[i] = None
            continue
        pred = predict_one(ev, i < furthest, prev, prev_ms, watermark, policy, cape=div is None or not div.active,
                           holds=holds)
        if (i == rejoin and pred is not None and ev.actual is None and div.floor is not None  # type: ignore[union-attr]
                and pred.mid < div.floor):  # type: ignore[union-attr]
            pred = shift(pred, div.floor - pred.mid)  # type: ignore[union-attr]
        forecasts[i] = pred
        if pred is not None:
            prev, prev_ms = pred, ev.milestone


def first_affected(div: Diversion | None, furthest: int) -> int | None:
    """The first milestone whose prediction a diversion can change."""
    return None if div is None or not div.active else furthest + 1


def cape_legs(div: Diversion | None) -> dict[int, datetime]:
    """The sea leg a diversion took round the Cape of Good Hope (seen at a Cape-only place, or re-routed round
    it), with when the diversion was first seen: what the lane summary learns before the unit arrives."""
    if div is None or div.mode is not Mode.SEA:
        return {}
    if cape_places().isdisjoint(div.places) and (div.route is None or "Cape" not in div.route.names):
        return {}
    return {div.first_leg: div.first_seen}
