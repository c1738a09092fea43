"""A unit's timeline, derived afresh from its plan, its event history and the watermark."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from schemas import (
    CLASSIFIER_RANK,
    Classifier,
    Milestone,
    Plan,
    PlannedStopKind,
    Timeline,
    TrackedUnit,
    TrackingEvent,
    UnitStatus,
)
from schemas.codec import dumps, dumps_fields
from schemas.refs import is_normal_unit_id, is_output_locode
from streams.core import co2e
from streams.core.diversion import Diversion, detect, first_affected, off_plan, repredict
from streams.core.eta import predict
from streams.core.evidence import Evidence, collect, furthest_actual, history
from streams.core.learning.forecast import Forecast
from streams.core.learning.holds import Holds, holds_of
from streams.core.milestones import planned_milestones
from streams.core.policy import TrackingPolicy


def minutes(delta_seconds: float) -> int:
    return round(delta_seconds / 60)


@dataclass(frozen=True)
class UnitView:
    """Everything derived for one unit at one watermark; the timeline is its public face."""

    data: dict[str, Any]  # the timeline's fields, as plain data
    as_of: datetime | None
    evidence: list[Evidence]
    predicted: list[datetime | None]
    furthest: int  # index of the furthest milestone that happened, -1 if none
    diversion: Diversion | None = None  # set when the unit left its plan (`streams.core.diversion`)
    forecasts: list[Forecast | None] | None = None  # each milestone's band (p10, p50, p90); p50 is `predicted`
    holds: Holds = ()  # the unit's customs holds (`streams.core.learning.holds`): evidence for the ETA

    @cached_property
    def timeline(self) -> Timeline:
        return Timeline.model_validate({**self.data, "as_of": self.as_of})

    @cached_property
    def timeline_json(self) -> bytes:
        """`dumps(self.timeline)`, without building the model: the data comes from validated records, so only
        the checks the model would make and that such data could fail are made here. If one fails, the model
        is built, and raises as it would have."""
        if not self.valid:
            return dumps(self.timeline)
        # `as_of` is the model's last field: the body's closing brace makes way for it.
        return self._body[:-1] + b',"as_of":' + orjson.dumps(self.as_of, option=orjson.OPT_UTC_Z) + b"}"

    @cached_property
    def valid(self) -> bool:
        """Whether the Timeline model would take this data (see `_valid_for_timeline`)."""
        return _valid_for_timeline(self.data)

    @cached_property
    def _body(self) -> bytes:
        """The timeline as `dumps` writes it, without `as_of`: one encoding serves the digest and the output."""
        data = self.data
        return dumps_fields({
            "record": "timeline", "unit": data["unit"], "plan_revision": data.get("plan_revision"),
            "lane": data.get("lane"), "status": data["status"], "mode": data["mode"], "location": data["location"],
            "last_milestone": data["last_milestone"], "destination": data.get("destination"),
            "planned_arrival": data.get("planned_arrival"), "predicted_arrival": data.get("predicted_arrival"),
            "minutes_late": data.get("minutes_late"), "milestones": data.get("milestones", []),
            "events": data["events"], "diversion": data.get("diversion"), "co2e": data.get("co2e"),
        })  # fmt: skip

    @cached_property
    def digest(self) -> str:
        """Changes when the timeline changes, whatever the watermark it was computed at."""
        return hashlib.blake2b(self._body, digest_size=12).hexdigest()

    @cached_property  # asked for several times per record (ETA, alerts)
    def final_arrival(self) -> int | None:
        """Index of the arrival at the final destination."""
        return _final_arrival(self.evidence)

    @property
    def next_expected(self) -> int | None:
        """Index of the first milestone after the furthest one that happened; for a diverted unit, the one where
        it rejoins its plan (those it bypasses are not expected)."""
        nxt = self.furthest + 1
        d = self.diversion
        if d is not None and d.active and d.rejoin is not None and d.rejoin > nxt:
            nxt = d.rejoin
        return nxt if nxt < len(self.evidence) else None


STATUS_AFTER = {
    PlannedStopKind.DEPARTURE: UnitStatus.IN_TRANSIT,
    PlannedStopKind.ARRIVAL: UnitStatus.AT_STOP,
    PlannedStopKind.DELIVERY: UnitStatus.DELIVERED,
}
STATUS_UNPLANNED = {
    Milestone.DEPARTED: UnitStatus.IN_TRANSIT,
    Milestone.LOADED: UnitStatus.IN_TRANSIT,
    Milestone.ARRIVED: UnitStatus.AT_STOP,
    Milestone.DISCHARGED: UnitStatus.AT_STOP,
    Milestone.DELIVERED: UnitStatus.DELIVERED,
}


def derive(
    unit: TrackedUnit,
    plan: Plan | None,
    events: Iterable[TrackingEvent],
    watermark: datetime | None,
    policy: TrackingPolicy,
) -> UnitView:
    ordered = history(events)
    last = next((e for e in reversed(ordered) if e.classifier is Classifier.ACTUAL), None)  # the latest actual
    milestones = planned_milestones(plan) if plan else []
    evidence, matched = collect(milestones, ordered)
    holds = holds_of(ordered)
    forecasts = predict(evidence, watermark, policy, holds)
    preds = [f.mid if f is not None else None for f in forecasts]
    furthest = furthest_actual(evidence)
    div = None
    if plan is not None:
        div = detect(milestones, evidence, furthest, off_plan(ordered, plan_places(milestones)), plan.issued_time,
                     policy)  # fmt: skip
        start = first_affected(div, furthest)
        if start is not None:
            repredict(evidence, forecasts, start, furthest, watermark, policy, div, holds)
            preds = [f.mid if f is not None else None for f in forecasts]

    final = _final_arrival(evidence)
    if furthest >= 0:
        status = STATUS_AFTER[evidence[furthest].milestone.kind]
        if status is UnitStatus.AT_STOP and furthest == final:
            status = UnitStatus.ARRIVED
    elif last is not None:
        status = STATUS_UNPLANNED.get(last.milestone, UnitStatus.PLANNED)
    else:
        status = UnitStatus.PLANNED
    if last is not None and last.milestone is Milestone.DELIVERED:
        status = UnitStatus.DELIVERED

    # Plain data first: the digest (has anything changed?) needs no model; the model is built only if emitted.
    data: dict[str, Any] = {
        "unit": {"kind": unit.kind, "id": unit.id},
        "status": status,
        "location": last.location if last else None,
        "last_milestone": last.milestone if last else None,
        "mode": last.mode if last else None,
        "events": [
            {"event_id": e.event_id, "source": e.source, "milestone": e.milestone, "classifier": e.classifier,
             "mode": e.mode, "location": e.location, "event_time": e.event_time, "received_time": e.received_time,
             "matched": matched.get(e.event_id), "also_reported": also}
            for e, also in same_events(ordered)
        ],
    }
    if plan is not None and final is not None:
        nxt = furthest + 1 if furthest + 1 < len(evidence) else None
        fin, fin_pred = evidence[final], preds[final]
        data |= {
            "plan_revision": plan.revision,
            "lane": plan.lane,
            "mode": evidence[nxt].milestone.mode if nxt is not None else data["mode"],
            "destination": plan.destination,
            "planned_arrival": fin.milestone.planned,
            "predicted_arrival": fin_pred,
            "minutes_late": minutes((fin_pred - fin.milestone.planned).total_seconds()) if fin_pred else None,
            "milestones": [milestone_data(ev, f) for ev, f in zip(evidence, forecasts, strict=True)],
            "diversion": div.as_data(milestones) if div is not None else None,
            "co2e": unit_co2e(unit, plan, milestones, div),
        }
    return UnitView(data=data, as_of=watermark, evidence=evidence, predicted=preds, furthest=furthest, diversion=div,
                    forecasts=forecasts, holds=holds)


def plan_places(milestones: list) -> frozenset[str]:
    return frozenset(ms.location for ms in milestones)


def unit_co2e(unit: TrackedUnit, plan: Any, milestones: list, div: Diversion | None) -> dict[str, Any]:
    """The timeline's `co2e`: along the plan, or along the diversion once there is one."""
    legs = tuple(plan.legs)
    hop = div.co2e_hop(milestones, legs) if div is not None else None
    return co2e.for_plan(legs, plan.cargo_tonnes, unit.kind.value, hop)


def milestone_data(ev: Evidence, f: Forecast | None) -> dict[str, Any]:
    """A milestone's timeline entry; `f` its forecast (the band, p50 the prediction). The band is shown until
    the actual: the shipment job composes door-to-door bands from it."""
    ms, actual = ev.milestone, ev.actual_time
    pred = f.mid if f is not None else None
    shown = actual or pred
    band = f is not None and not ev.actual
    return {"key": ms.key, "kind": ms.kind, "leg_index": ms.leg_index, "mode": ms.mode, "location": ms.location,
            "planned": ms.planned, "estimated": ev.estimated_time, "actual": actual,
            "predicted": None if ev.actual else pred,
            "minutes_late": minutes((shown - ms.planned).total_seconds()) if shown else None,
            "predicted_p10": f.lo if band else None, "predicted_p90": f.hi if band else None}  # type: ignore[union-attr]  # fmt: skip


# Two sources' reports of one physical event (a carrier's EDI and the terminal's DCSA feed) differ by minutes.
SAME_EVENT_WINDOW = timedelta(hours=1)


def same_events(ordered: list) -> list[tuple[Any, list[str]]]:
    """Collapse actual reports of the same milestone at the same place within SAME_EVENT_WINDOW, from
    different sources, into one entry: the first received, with the others' event ids."""
    actual = Classifier.ACTUAL
    groups: list[list] = []
    for e in ordered:
        if e.classifier is actual:
            for g in reversed(groups[-16:]):
                head = g[0]
                if (head.classifier is actual and head.milestone is e.milestone
                        and head.location == e.location and all(x.source != e.source for x in g)
                        and e.event_time - head.event_time <= SAME_EVENT_WINDOW):
                    g.append(e)
                    break
            else:
                groups.append([e])
        else:
            groups.append([e])
    out: list[tuple[Any, list[str]]] = []
    regrouped = False
    for g in groups:
        if len(g) == 1:  # most events are reported once
            out.append((g[0], []))
            continue
        first = min(g, key=lambda x: (x.received_time, x.event_id))
        out.append((first, [x.event_id for x in g if x is not first]))
        regrouped = regrouped or first is not g[0]
    # `ordered` is sorted by this key already: only a group whose first received report is not its first in
    # event order can be out of place.
    if regrouped:
        out.sort(key=lambda pair: (pair[0].event_time, -CLASSIFIER_RANK[pair[0].classifier], pair[0].event_id))
    return out


def _valid_for_timeline(data: dict[str, Any]) -> bool:
    """The Timeline model's checks that data derived from validated records can fail: Locode fields (the input
    check lets a trailing newline through) and the unit id (re-normalised by TrackedUnit)."""
    unit = data["unit"]
    if not is_normal_unit_id(unit["kind"], unit["id"]):
        return False
    locations = {m["location"] for m in data.get("milestones", ())} | {e["location"] for e in data["events"]}
    locations |= {data["location"], data.get("destination")}
    locations.discard(None)
    return all(map(is_output_locode, locations))


def _final_arrival(evidence: list[Evidence]) -> int | None:
    for i in range(len(evidence) - 1, -1, -1):
        if evidence[i].milestone.kind is PlannedStopKind.ARRIVAL:
            return i
    return None
