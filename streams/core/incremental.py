"""A unit's view kept up to date change by change, instead of derived afresh from its whole history.

`streams.core.timeline.derive` stays the specification: a `Derivation` gives the same view (the same timeline
bytes, evidence and predictions) for the same plan, live events and watermark, and the tests hold it to that on
random histories (`tests/unit/core/test_incremental.py`). What it keeps between records, per milestone:

- the live events each planned milestone matched, and its evidence (best actual, best estimate): an event
  changes only the milestone it matches (and, when it replaces an earlier version, the one that matched);
- the predictions, recomputed from the first milestone whose inputs changed (its evidence, whether it lies
  before the furthest milestone that happened, or the watermark) forward;
- each milestone's and each event's encoded timeline entry, re-encoded only when what it shows changed: the
  timeline is assembled from these bytes, so its digest costs a hash, not an encoding of every datetime;
- the grouping of several sources' reports of one happening (`timeline.same_events`), redone only from the
  earliest changed event on;
- which milestones' actuals changed since the last view: only those can raise a LATE alert (see `view`).

What is left in proportion to a unit's history is in C: copying the event map, and joining and hashing the
timeline's bytes (about 0.8 ms a record for a unit of 1,000 events, 4.6 ms when derived afresh).

It is a cache beside a unit's state, not state: never stored, rebuilt from the state whenever it does not
reflect that very state (after a restart, a plan, or a state from the store). Pure: no I/O, no clock."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any

import orjson

from schemas import CLASSIFIER_RANK, Classifier, Milestone, PlannedStopKind, Timeline, UnitStatus
from schemas.codec import dumps_fields
from schemas.refs import is_normal_unit_id, is_output_locode
from streams.core.diversion import MOVES, Diversion, detect, repredict
from streams.core.evidence import Evidence, better_actual, better_estimate
from streams.core.learning.forecast import Forecast
from streams.core.learning.holds import CUSTOMS, Holds, holds_of
from streams.core.milestones import matcher, planned_milestones
from streams.core.policy import TrackingPolicy
from streams.core.records import EventRecord, PlanRecord
from streams.core.timeline import (
    SAME_EVENT_WINDOW,
    STATUS_AFTER,
    STATUS_UNPLANNED,
    UnitView,
    derive,
    minutes,
    plan_places,
    unit_co2e,
)
from streams.core.timeline_entries import event_entry, fragment, milestone_entry

_ACTUAL = Classifier.ACTUAL
_ARRIVAL = PlannedStopKind.ARRIVAL
_DELIVERED = Milestone.DELIVERED
_UNSET: Any = object()


def _knowledge_version(policy: TrackingPolicy) -> int:
    knowledge = policy.knowledge
    return 0 if knowledge is None else knowledge.version


class IncrementalView(UnitView):
    """A `UnitView` whose timeline bytes were assembled from cached entries: `data` holds the head fields only,
    and the model, when asked for, is read back from those bytes (the tests check it equals `derive`'s)."""

    @cached_property
    def timeline(self) -> Timeline:
        return Timeline.model_validate_json(self.timeline_json)


_new_view = object.__new__


def _key(e: EventRecord) -> tuple[datetime, int, str]:
    return (e.event_time, -CLASSIFIER_RANK[e.classifier], e.event_id)  # `evidence.history`'s order


class Derivation:
    """The derived view of one unit's (unit, plan, events), updated by `replace` as events change and asked
    for at a watermark by `view`. `reflects(state)` says whether it is that state's."""

    __slots__ = (
        "_by_ms",
        "_co2e",
        "_customs",
        "_dirty",
        "_div",
        "_ev_entries",
        "_evidence",
        "_fc",
        "_frags",
        "_furthest",
        "_groups",
        "_holds",
        "_index",
        "_invalid",
        "_keys",
        "_kv",
        "_last",
        "_late",
        "_matched",
        "_milestones",
        "_ms_entries",
        "_off",
        "_ordered",
        "_preds",
        "_regrouped",
        "_stale",
        "_static_ok",
        "_watermark",
        "events",
        "lessons",
        "plan",
        "policy",
        "unit",
    )  # fmt: skip

    def __init__(self, unit: Any, plan: PlanRecord | None, events: dict[str, EventRecord],
                 policy: TrackingPolicy) -> None:  # fmt: skip
        self.unit, self.plan, self.events, self.policy = unit, plan, events, policy
        self._milestones = planned_milestones(plan) if plan is not None else []
        n = len(self._milestones)
        self._index = {ms.key: i for i, ms in enumerate(self._milestones)}
        # Diversions (`streams.core.diversion`): live actual movement events at places the plan does not go through.
        # The matcher and the plan's places are not kept: rebuilt per record they cost microseconds, kept they were
        # 2.6 KB of every cached unit (`python -m bench units-memory`).
        self._off: dict[str, EventRecord] = {}
        self._customs: dict[str, EventRecord] = {}  # live customs events: the unit's holds, evidence for the ETA
        self._holds: Holds = ()
        self._div: Diversion | None = None
        # The timeline's `co2e`, encoded, with the diversion it was computed for: it depends on nothing else that
        # changes under one plan, and computing and encoding it was redone for every view (each of a vessel's
        # thousands of units, for each of its new estimates).
        self._co2e: tuple[Diversion | None, orjson.Fragment] | None = None
        self._by_ms: list[dict[str, EventRecord]] = [{} for _ in range(n)]  # live events matched, by id
        self._matched: dict[str, str] = {}  # event id -> milestone key, for live events that matched one
        self._ordered: list[EventRecord] = []  # live events in history order
        self._keys: list[tuple[datetime, int, str]] = []  # their sort keys
        self._last: EventRecord | None = None  # the last live actual in history order (the timeline's head)
        self._evidence = [Evidence(ms, None, None) for ms in self._milestones]
        self._dirty: set[int] = set()  # milestones whose matched events changed since the last view
        self._late: set[int] | None = None  # milestones whose actual changed since the last view; None: all
        self._furthest = -1
        self._watermark: datetime | None = _UNSET
        self._preds: list[datetime | None] = [None] * n
        self._fc: list[Forecast | None] = [None] * n  # the predictions' bands; `_preds` holds their medians
        self._kv = -1  # the version of what the job had learned when the predictions were made
        self.lessons: tuple[list[Evidence], Any, Any] | None = None  # the tracker's memo (`tracker._lessons`)
        self._ms_entries: list[tuple[Any, orjson.Fragment] | None] = [None] * n
        self._ev_entries: dict[str, tuple[EventRecord, list[str], orjson.Fragment]] = {}
        # `timeline.same_events` kept as events come and go: its groups (reports of one happening), each group's
        # encoded entry, how many groups' first received report is not their first in event order (then the
        # entries are sorted), and the smallest sort key changed since the groups were last brought up to date.
        self._groups: list[list[EventRecord]] = []
        self._frags: list[tuple[EventRecord, orjson.Fragment, bool]] = []  # (first received, entry, regrouped)
        self._regrouped = 0
        self._stale: tuple[datetime, int, str] | None = None
        self._invalid: set[str] = set()  # live events whose place the Timeline model refuses
        # What does not change with events: the unit id and the plan's places, as the Timeline model checks them.
        self._static_ok = unit is not None and is_normal_unit_id(unit.kind, unit.id) and all(
            is_output_locode(ms.location) for ms in self._milestones
        ) and (plan is None or is_output_locode(plan.destination))
        match, places = matcher(self._milestones), plan_places(self._milestones)
        for e in events.values():
            if not e.retracted:
                self._add(e, match, places)

    def reflects(self, unit: Any, plan: PlanRecord | None, events: dict[str, EventRecord],
                 policy: TrackingPolicy) -> bool:  # fmt: skip
        return self.events is events and self.plan is plan and self.unit is unit and self.policy is policy

    # -- changes ---------------------------------------------------------------------------------------------

    def replace(self, old: EventRecord | None, new: EventRecord, events: dict[str, EventRecord]) -> None:
        """An event arrived (`old` None) or replaced its earlier version `old`; `events` is the new event map.
        A retracted version evidences nothing, but stays in the history."""
        if old is not None and not old.retracted:
            self._remove(old)
        if not new.retracted:
            self._add(new, matcher(self._milestones), plan_places(self._milestones))
        self.events = events

    def _add(self, e: EventRecord, match: Callable[[Any], Any], places: frozenset[str]) -> None:
        key = _key(e)
        i = bisect_left(self._keys, key)
        self._keys.insert(i, key)
        self._ordered.insert(i, e)
        if self._stale is None or key < self._stale:
            self._stale = key
        if not is_output_locode(e.location):
            self._invalid.add(e.event_id)
        if e.classifier is _ACTUAL and e.milestone in MOVES and e.location not in places:
            self._off[e.event_id] = e
        if e.milestone in CUSTOMS and e.classifier is _ACTUAL:
            self._customs[e.event_id] = e
        if e.classifier is _ACTUAL and (self._last is None or key > _key(self._last)):
            self._last = e
        ms = match(e)
        if ms is not None:
            idx = self._index[ms.key]
            self._by_ms[idx][e.event_id] = e
            self._matched[e.event_id] = ms.key
            self._dirty.add(idx)

    def _remove(self, e: EventRecord) -> None:
        key = _key(e)
        i = bisect_left(self._keys, key)
        if i < len(self._keys) and self._keys[i] == key:
            del self._keys[i]
            del self._ordered[i]
            if self._stale is None or key < self._stale:
                self._stale = key
            if self._last is not None and _key(self._last) == key:  # the one before it, found once
                self._last = next((x for x in reversed(self._ordered[:i]) if x.classifier is _ACTUAL), None)
        self._invalid.discard(e.event_id)
        self._off.pop(e.event_id, None)
        self._customs.pop(e.event_id, None)
        ms_key = self._matched.pop(e.event_id, None)
        if ms_key is not None:
            idx = self._index[ms_key]
            self._by_ms[idx].pop(e.event_id, None)
            self._dirty.add(idx)

    # -- the view ----------------------------------------------------------------------------------------------

    def view(self, watermark: datetime | None) -> tuple[UnitView, set[int] | None]:
        """The unit's view at `watermark`, equal to `derive`'s, and the milestones (indexes) whose actual changed
        since the previous view (None: all of them, for a fresh derivation).

        Only those can raise a LATE alert: a late actual that did not change was a candidate at an earlier view
        already, and then either alerted (its id is remembered) or fell within tolerance of the alert floor,
        which only rises under one plan (a new plan is a new derivation)."""
        evidence, n = self._evidence, len(self._evidence)
        late, self._late = self._late, set()
        changed = n
        for idx in self._dirty:
            actual = estimate = None
            for e in self._by_ms[idx].values():
                if e.classifier is _ACTUAL:
                    if better_actual(e, actual):  # type: ignore[arg-type]
                        actual = e
                elif better_estimate(e, estimate):  # type: ignore[arg-type]
                    estimate = e
            old = evidence[idx]
            if old.actual is not actual or old.estimate is not estimate:
                evidence[idx] = Evidence(old.milestone, actual, estimate)  # type: ignore[arg-type]
                changed = min(changed, idx)
                if old.actual is not actual and late is not None:
                    late.add(idx)
        self._dirty.clear()

        furthest = next((i for i in range(n - 1, -1, -1) if evidence[i].actual is not None), -1)
        # Predictions before `start` depend on nothing that changed: not their evidence, not whether they lie
        # before the furthest milestone that happened, not the watermark (it only touches those from it on).
        start = 0 if self._watermark is _UNSET else changed
        if furthest != self._furthest:
            start = min(start, max(0, min(furthest, self._furthest)))
        if watermark != self._watermark:
            start = min(start, max(0, furthest))
        div = None
        if self._off and self.plan is not None:
            off = sorted(self._off.values(), key=_key)
            div = detect(self._milestones, evidence, furthest, off, self.plan.issued_time, self.policy)
        if div != self._div:  # its bypassed milestones and rejoin start after the furthest, old or new
            start = min(start, max(0, min(furthest, self._furthest) + 1))
            self._div = div
        holds = holds_of(self._customs.values()) if self._customs else ()
        if holds != self._holds:  # a hold or its release: the predictions after what happened may move
            start, self._holds = min(start, max(0, furthest)), holds
        kv = _knowledge_version(self.policy)
        if kv != self._kv:  # the job learned something since: every prediction after what happened may have moved
            start, self._kv = min(start, max(0, furthest)), kv
        self._furthest, self._watermark = furthest, watermark
        preds = self._preds
        self._predict(start, furthest, watermark)

        # Milestone entries, re-encoded from `start` on where what they show changed.
        entries = self._ms_entries
        fcs = self._fc
        for i in range(start, n):
            ev, f = evidence[i], fcs[i]
            shown = (ev.actual_time, ev.estimated_time, ev.actual is not None, f)
            cached = entries[i]
            if cached is None or cached[0] != shown:
                entries[i] = (shown, milestone_entry(ev, f, shown))

        view = self._assemble(watermark, list(evidence), list(preds), furthest)
        object.__setattr__(view, "forecasts", list(self._fc))
        object.__setattr__(view, "holds", holds)
        return view, late

    def _predict(self, start: int, furthest: int, watermark: datetime | None) -> None:
        """`streams.core.eta.predict` from milestone `start` on, carrying on from the forecasts before it (and
        the diversion's re-derived route, as `derive` applies it)."""
        fcs, preds = self._fc, self._preds
        repredict(self._evidence, fcs, start, furthest, watermark, self.policy, self._div, self._holds)
        for i in range(start, len(fcs)):
            f = fcs[i]
            preds[i] = f.mid if f is not None else None

    def _regroup(self) -> None:
        """Bring the groups of `timeline.same_events` up to date from the smallest changed sort key on.

        Its pass is greedy in event order, so what it made of the events before that key stands: drop the groups
        that begin at or after it, take their later members from the groups before it (only the last 16 can have
        any: a report joins one of the 16 latest groups), and carry on the same pass over the events from there."""
        stale, self._stale = self._stale, None
        if stale is None:
            return
        groups, frags = self._groups, self._frags
        while groups and _key(groups[-1][0]) >= stale:
            groups.pop()
            if frags.pop()[2]:
                self._regrouped -= 1
        touched = len(groups)
        for gi in range(max(0, len(groups) - 16), len(groups)):
            g = groups[gi]
            if _key(g[-1]) >= stale:
                groups[gi] = [x for x in g if _key(x) < stale]
                touched = min(touched, gi)
        for e in self._ordered[bisect_left(self._keys, stale):]:
            if e.classifier is _ACTUAL:
                for gi in range(len(groups) - 1, max(0, len(groups) - 16) - 1, -1):
                    g = groups[gi]
                    head = g[0]
                    if (head.classifier is _ACTUAL and head.milestone is e.milestone and head.location == e.location
                            and all(x.source != e.source for x in g)
                            and e.event_time - head.event_time <= SAME_EVENT_WINDOW):
                        g.append(e)
                        touched = min(touched, gi)
                        break
                else:
                    groups.append([e])
            else:
                groups.append([e])
        self._regrouped -= sum(f[2] for f in frags[touched:])
        del frags[touched:]  # entries of groups that changed or are new
        cache, matched = self._ev_entries, self._matched
        for g in groups[touched:]:
            if len(g) == 1:
                first, also = g[0], []
            else:
                first = min(g, key=lambda x: (x.received_time, x.event_id))
                also = [x.event_id for x in g if x is not first]
            hit = cache.get(first.event_id)
            if hit is None or hit[0] is not first or hit[1] != also:
                hit = cache[first.event_id] = (first, also, event_entry(first, matched.get(first.event_id), also))
            regrouped = first is not g[0]
            self._regrouped += regrouped
            frags.append((first, hit[2], regrouped))
        if len(cache) > 2 * len(self._ordered) + 16:  # entries of replaced and retracted events
            live = {e.event_id for e in self._ordered}
            for k in [k for k in cache if k not in live]:
                del cache[k]

    def _co2e_fragment(self) -> orjson.Fragment:
        cached = self._co2e
        if cached is None or cached[0] != self._div:
            assert self.plan is not None
            cached = self._co2e = (self._div, fragment(unit_co2e(self.unit, self.plan, self._milestones, self._div)))
        return cached[1]

    def _assemble(self, watermark: datetime | None, evidence: list[Evidence], preds: list[datetime | None],
                  furthest: int) -> UnitView:  # fmt: skip
        """`derive`'s timeline fields, and its bytes from the cached entries."""
        unit, plan = self.unit, self.plan
        last = self._last
        final = next((i for i in range(len(evidence) - 1, -1, -1) if evidence[i].milestone.kind is _ARRIVAL), None)
        if furthest >= 0:
            status = STATUS_AFTER[evidence[furthest].milestone.kind]
            if status is UnitStatus.AT_STOP and furthest == final:
                status = UnitStatus.ARRIVED
        elif last is not None:
            status = STATUS_UNPLANNED.get(last.milestone, UnitStatus.PLANNED)
        else:
            status = UnitStatus.PLANNED
        if last is not None and last.milestone is _DELIVERED:
            status = UnitStatus.DELIVERED

        data: dict[str, Any] = {
            "unit": {"kind": unit.kind, "id": unit.id},
            "status": status,
            "location": last.location if last else None,
            "last_milestone": last.milestone if last else None,
            "mode": last.mode if last else None,
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
                "diversion": self._div.as_data(self._milestones) if self._div is not None else None,
                "co2e": self._co2e_fragment(),
            }
            milestones = [entry[1] for entry in self._ms_entries]  # type: ignore[index]
        else:
            milestones = []

        self._regroup()
        if self._regrouped:  # as `same_events` orders them then
            events = [f[1] for f in sorted(self._frags, key=lambda f: _key(f[0]))]
        else:
            events = [f[1] for f in self._frags]
        ok = self._static_ok and not self._invalid
        if not ok:
            # Something the Timeline model refuses: `derive`'s view builds the model, which raises as it did.
            live_events = [e for e in self.events.values() if not e.retracted]
            return derive(unit, plan, live_events, watermark, self.policy)

        body = dumps_fields({
            "record": "timeline", "unit": data["unit"], "plan_revision": data.get("plan_revision"),
            "lane": data.get("lane"), "status": data["status"], "mode": data["mode"], "location": data["location"],
            "last_milestone": data["last_milestone"], "destination": data.get("destination"),
            "planned_arrival": data.get("planned_arrival"), "predicted_arrival": data.get("predicted_arrival"),
            "minutes_late": data.get("minutes_late"), "milestones": milestones, "events": events,
            "diversion": data.get("diversion"), "co2e": data.get("co2e"),
        })  # fmt: skip
        # As `IncrementalView(data=..., ...)` makes it, without the frozen dataclass's attribute-by-attribute
        # `__init__` (one view per record); `view` sets `forecasts` and `holds`. Then the cached properties' values:
        # `_body` (what `UnitView._body` would encode, from the cached entries), `valid` and `final_arrival`.
        view = _new_view(IncrementalView)
        view.__dict__.update(data=data, as_of=watermark, evidence=evidence, predicted=preds, furthest=furthest,
                             diversion=self._div, forecasts=None, holds=(), _body=body, valid=True,
                             final_arrival=final)  # fmt: skip
        return view
