"""A unit's tracking state and the three things that can happen to it: a plan, an event, time passing.

Each step returns the new state and the outputs it caused. Outputs are computed by re-deriving the whole
view (timeline, delays, ETA) from plan + history + watermark and comparing with what was already emitted,
so a re-delivered event changes nothing and out-of-order events land where their event time puts them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import is_

from schemas import (
    AlertKind,
    Classifier,
    DelayAlert,
    EtaUpdate,
    Milestone,
    Mode,
    Plan,
    PlannedStopKind,
    ShipmentRefs,
    StopEta,
    Timeline,
    TrackedUnit,
    TrackingEvent,
    UnitKind,
)
from schemas.codec import constructor
from schemas.refs import normalise_awb
from streams.core.delays import alert_id, diversion_alert, new_alerts
from streams.core.diversion import Diversion, cape_legs
from streams.core.incremental import Derivation
from streams.core.learning.forecast import Forecast, model_name
from streams.core.learning.holds import Holds
from streams.core.learning.lanes import suez_due
from streams.core.learning.observe import observe_again
from streams.core.links import Link, since, with_link
from streams.core.policy import TrackingPolicy
from streams.core.records import EventRecord, PlanRecord
from streams.core.state import UnitState, to_micros
from streams.core.timeline import UnitView, derive

Output = Timeline | DelayAlert | EtaUpdate
# Built whenever a prediction moves (every unit aboard, for a vessel's new ETA): pydantic's model_construct is slow.
_ETA_UPDATE, _STOP_ETA = constructor(EtaUpdate), constructor(StopEta)


@dataclass(slots=True)
class Outcome:
    state: UnitState
    records: list[DelayAlert | EtaUpdate] = field(default_factory=list)  # outputs after the timeline
    changed: bool = False  # the state must be saved
    view: UnitView | None = None
    linked: list[str] = field(default_factory=list)  # shipment keys whose links to this unit changed
    timeline: bool = False  # the view's timeline is the first output (kept in the view: built only if asked for)
    # What the unit had taught the job before this step, when `state.learned` changed: the engine hands both to
    # its Knowledge once the new state is saved (`Knowledge.apply`).
    learned_before: dict[str, list] | None = None

    @property
    def outputs(self) -> list[Output]:
        """Every output, in order, as models."""
        head: list[Output] = [self.view.timeline] if self.timeline and self.view is not None else []
        return [*head, *self.records]


def apply_plan(state: UnitState, plan: Plan, watermark: datetime | None, policy: TrackingPolicy, *,
               incremental: bool = True) -> Outcome:  # fmt: skip
    current = state.plan
    record = PlanRecord.of(plan)
    if current is not None and (plan.revision < current.revision or record == current):
        return Outcome(state)  # stale or re-delivered plan
    new = state.copy()
    new.unit, new.plan = plan.unit, record
    if current is None or plan.revision != current.revision:
        new.eta_arrived = False  # a re-route after arrival gets ETAs again
        new.alert_floor = 0  # a new plan resets what counts as "more late than already alerted"
    return _evaluate(new, watermark, policy, f"plan revision {plan.revision}", plan.issued_time, replanned=True,
                     incremental=incremental, owned=True)  # fmt: skip


class Refused(ValueError):
    """A valid record the tracker will not apply; the message says why, for the dead-letter topic."""


def apply_event(
    state: UnitState, event: TrackingEvent, watermark: datetime | None, policy: TrackingPolicy, *,
    incremental: bool = True, record: EventRecord | None = None, unit: TrackedUnit | None = None,
) -> Outcome:
    """`record`: `EventRecord.of(event)`, when the caller made it already. `unit`: the unit the event is for, when
    `event` is a template that many units hear (its own `unit` another's: a conveyance fan-out,
    `streams.processing.unit_conveyance`); `record` is then the record of the unit's copy of it, made by the caller
    from the template's bytes. Nothing else in the event depends on the unit, so no copy is made."""
    if unit is None:
        unit = event.unit
    old = state.events.get(event.event_id)
    if record is None:
        record = EventRecord.of(event)
    if old is not None and (old == record or event.received_time < old.received_time):
        return Outcome(state)  # duplicate delivery, or an older version of a corrected event
    events, links = state.events, state.links
    if old is None and len(events) >= policy.max_events:  # corrections of held events still apply
        events, links = _forget_old_trips(state, event, unit, policy)
    new = state.copy()
    new.events = {**events, event.event_id: record}
    new.links = links
    if events is not state.events:  # old trips forgotten: so are their encoded rows (memory only)
        new._rows = {k: row for k, row in state._rows.items() if k in events}
    if new.unit is None:
        new.unit = unit
    derived = state._derived
    if incremental and derived is not None and events is state.events and new.unit is state.unit and \
            derived.reflects(state.unit, state.plan, state.events, policy):
        derived.replace(old, record, new.events)  # it is the new state's now: the old one's would be rebuilt
    else:
        new._derived = None
    linked = _link(new, event)
    trigger = (
        f"{event.milestone.value} {event.location} ({event.classifier.value.lower()}, {event.source})"
    )
    outcome = _evaluate(new, watermark, policy, trigger, min(event.event_time, event.received_time),
                        incremental=incremental, owned=True)
    outcome.changed = True  # the event is new state even when it changes no output (e.g. only its transport)
    outcome.linked = linked
    return outcome


_JOINS = {Milestone.STUFFED: 1, Milestone.STRIPPED: 0}
_REF_KINDS = (("booking", "BOOKING"), ("bill_of_lading", "BILL_OF_LADING"), ("air_waybill", "AIR_WAYBILL"),
              ("consignment", "CONSIGNMENT"))  # fmt: skip


def shipment_keys(refs: ShipmentRefs) -> list[str]:
    """"KIND:id" for every shipment an event names (ids normalised as ShipmentRef does)."""
    keys = []
    for attr, kind in _REF_KINDS:
        value = getattr(refs, attr)
        if not value:
            continue
        value = value.strip().upper()
        if kind == "AIR_WAYBILL":
            try:
                value = normalise_awb(value)
            except ValueError:
                continue  # not a valid air waybill: nothing a shipment can be keyed by
        keys.append(f"{kind}:{value}")
    return keys


def _forget_old_trips(state: UnitState, event: TrackingEvent, unit: TrackedUnit,
                      policy: TrackingPolicy) -> tuple[dict[str, EventRecord], dict[str, list[list]]]:  # fmt: skip
    """A unit at its event cap makes room by forgetting what happened more than `policy.history` before its
    newest event (in event time: a replay forgets the same), with the links to shipments of that time: a
    container or ULD reused trip after trip reached the cap within months and then refused every new event.
    Nothing that old: refused, as a feed re-sending one event under new ids would be."""
    newest = max(max(e.event_time for e in state.events.values()), event.event_time)
    horizon = newest - policy.history
    full = (f"unit {unit.id} already holds {len(state.events)} events, the most a unit keeps "
            f"(CORRIDOR_MAX_EVENTS_PER_UNIT)")  # fmt: skip
    if event.event_time < horizon:
        raise Refused(f"{full}, and event {event.event_id} is from before the {policy.history.days} days of history "
                      f"it keeps (CORRIDOR_HISTORY_DAYS): refused")  # fmt: skip
    kept = {k: e for k, e in state.events.items() if e.event_time >= horizon}
    if len(kept) == len(state.events):
        raise Refused(f"{full}, none older than the {policy.history.days} days of history it keeps: event "
                      f"{event.event_id} refused. So many events for one unit usually mean a feed re-sending one "
                      "event under new ids")  # fmt: skip
    return kept, since(state.links, to_micros(horizon))


def _link(state: UnitState, event: TrackingEvent) -> list[str]:
    """Record cargo going into (STUFFED) or out of (STRIPPED) this unit, for each shipment the event names.
    An air waybill's own statuses (its PRE "built up") are not cargo going into it: the AWB is the cargo."""
    if event.milestone not in _JOINS or event.classifier is not Classifier.ACTUAL:
        return []
    if state.unit is None or state.unit.kind is UnitKind.AWB:
        return []
    keys = shipment_keys(event.shipment)
    if not keys:
        return []
    link = Link(event.event_id, _JOINS[event.milestone], to_micros(event.event_time), event.location,
                event.shipment.pieces, int(event.retracted))  # fmt: skip
    state.links = with_link(state.links, keys, link)
    return keys


def advance(state: UnitState, watermark: datetime, policy: TrackingPolicy, *, incremental: bool = True) -> Outcome:
    """Time passed (in event time) without news for this unit."""
    return _evaluate(state, watermark, policy, "no report", watermark, quiet=True, incremental=incremental)


def _evaluate(
    state: UnitState,
    watermark: datetime | None,
    policy: TrackingPolicy,
    trigger: str,
    trigger_time: datetime,
    *,
    replanned: bool = False,
    quiet: bool = False,
    incremental: bool = True,
    owned: bool = False,
) -> Outcome:
    """With `incremental`, the view comes from the unit's `Derivation` (kept beside its state, built afresh when
    it does not reflect it) and only milestones whose actual changed are checked for LATE alerts; without, from
    `derive` over the whole history and every milestone checked: the specification, which the tests compare the
    incremental path with. `owned`: `state` is the caller's fresh copy, changed here rather than copied again
    (every field is read before it is replaced)."""
    assert state.unit is not None
    due_before = state.next_due
    late: set[int] | None = None
    if incremental:
        derived = state._derived
        if derived is None or not derived.reflects(state.unit, state.plan, state.events, policy):
            derived = state._derived = Derivation(state.unit, state.plan, state.events, policy)
        view, late = derived.view(watermark)
    else:
        # A retraction stays in the history (so an older copy re-delivered later is recognised as stale) but
        # evidences nothing.
        live = [e for e in state.events.values() if not e.retracted]
        view = derive(state.unit, state.plan, live, watermark, policy)
    outputs: list[DelayAlert | EtaUpdate] = []
    new = state if owned else state.copy()

    if state.plan is not None:
        alerts = new_alerts(
            state.unit, state.plan.revision, view, watermark, policy, set(state.alerted), state.alert_floor, late
        )
        if alerts:
            new.alerted = [*state.alerted, *(a.alert_id for a in alerts)]
            new.alert_floor = max(state.alert_floor, *(a.minutes_late for a in alerts))
            outputs.extend(alerts)
        diverted = diversion_alert(state.unit, state.plan.revision, view, watermark, policy, new.alerted)
        if diverted is not None:  # once per plan revision; it does not raise the floor of delay alerts
            new.alerted = [*new.alerted, diverted.alert_id]
            outputs.append(diverted)
        eta = _eta_update(new, view, watermark or trigger_time, policy, trigger, replanned)
        if eta is not None:
            outputs.append(eta)

    learned_before = None
    if policy.knowledge is not None and state.plan is not None:
        lessons = _lessons(view.evidence, view.diversion, state.plan, policy, state._derived if incremental else None,
                           view.holds)
        if lessons != state.learned:
            learned_before, new.learned = state.learned, lessons

    timeline = (not quiet or outputs != []) and view.digest != state.timeline_digest
    if timeline:
        new.timeline_digest = view.digest
    new.next_due = _next_due(new, view, watermark, policy)
    changed = timeline or outputs != [] or new.next_due != due_before or replanned or learned_before is not None
    return Outcome(new, outputs, changed, view, timeline=timeline, learned_before=learned_before)


def _lessons(evidence: list, div: Diversion | None, plan: PlanRecord, policy: TrackingPolicy,
             derived: Derivation | None, holds: Holds = ()) -> dict:  # fmt: skip
    """What the unit's history teaches (`observe.observations`). The incremental engine's derivation replaces an
    Evidence only when it changes: the same Evidence objects (and diversion) teach the same, so most records skip
    the work, and the others teach again only from the milestones whose Evidence changed (and the one after each:
    `observe.observe_again`). A derivation belongs to one plan and policy, so its memo's carriers are the plan's."""
    memo = derived.lessons if derived is not None else None
    before = None
    if memo is not None and memo[2] == (div, holds):
        if len(memo[0]) == len(evidence) and all(map(is_, memo[0], evidence)):
            return memo[1][0]
        before = (memo[0], memo[1][1])
    lessons, chunks = observe_again(evidence, [g.carrier for g in plan.legs], policy, cape_legs(div), holds, before)
    if derived is not None:
        derived.lessons = (evidence, (lessons, chunks), (div, holds))
    return lessons


def _eta_update(
    state: UnitState,
    view: UnitView,
    as_of: datetime,
    policy: TrackingPolicy,
    trigger: str,
    replanned: bool,
) -> EtaUpdate | None:
    """Update `state`'s ETA memory and return an EtaUpdate when the prediction moved materially: the median of
    the final arrival or of a remaining stop by `_material`, or an edge of the final arrival's band (p10, p90)
    by that or by `policy.eta_band_shift` of the band's width, whichever is more."""
    fin = view.final_arrival
    plan = state.plan
    if fin is None or plan is None or state.eta_arrived:
        return None
    predicted = view.predicted[fin]
    if predicted is None:
        return None
    forecasts = view.forecasts or [None] * len(view.predicted)
    band = forecasts[fin] or Forecast(predicted, predicted, predicted)
    if policy.knowledge is not None:  # scaled as errors measured on a history say (none without a prior)
        band = policy.knowledge.calibration.calibrate(band, as_of, plan.lane)
    arrived = view.evidence[fin].actual is not None
    remaining = [
        (ev.milestone, p, f)
        for ev, p, f in zip(view.evidence[view.furthest + 1:], view.predicted[view.furthest + 1:],
                            forecasts[view.furthest + 1:], strict=True)
        if ev.milestone.kind is PlannedStopKind.ARRIVAL and p is not None
    ]  # fmt: skip
    moved = state.eta is None or _material(predicted, state.eta, as_of, policy) or any(
        _material(p, state.eta_stops[f"{ms.leg_index}"], as_of, policy)
        for ms, p, _ in remaining
        if f"{ms.leg_index}" in state.eta_stops
    )
    if not moved and state.eta_band is not None and policy.eta_band_shift is not None:
        lo, hi = state.eta_band
        width = (hi - lo) * policy.eta_band_shift
        moved = any(abs(new - old) >= width and _material(new, old, as_of, policy)
                    for new, old in ((band.lo, lo), (band.hi, hi)))  # fmt: skip
    if not (moved or replanned or arrived):
        return None
    # The stops' models are built only now: most re-derivations move no prediction.
    stops = [
        _STOP_ETA(location=ms.location, leg_index=ms.leg_index, planned=ms.planned, predicted=p,
                  predicted_p10=f.lo if f else p, predicted_p90=f.hi if f else p)
        for ms, p, f in remaining
    ]  # fmt: skip
    if arrived:
        reason = f"arrived at {plan.destination}"
    elif state.eta is None:
        reason = f"first prediction ({trigger}); model: {model_name(band.learned)}"
    else:
        reason = f"{trigger}: {_moves(predicted, state, stops, plan.destination)}; model: {model_name(band.learned)}"
    div = view.diversion
    if div is not None and div.active and not arrived:  # the timeline has the whole story; the ETA says why
        reason = f"{reason}; {div.reason([ev.milestone for ev in view.evidence])}"
    update = _ETA_UPDATE(
        unit=plan.unit,
        destination=plan.destination,
        predicted_arrival=predicted,
        arrival_p10=band.lo,
        arrival_p90=band.hi,
        previous_prediction=state.eta,
        planned_arrival=view.evidence[fin].milestone.planned,
        carrier_estimate=view.evidence[fin].estimated_time,
        stops=stops,
        reason=reason,
        as_of=as_of,
        plan_revision=plan.revision,
    )
    state.eta = predicted
    state.eta_band = (band.lo, band.hi)
    state.eta_stops = {f"{s.leg_index}": s.predicted for s in stops}
    state.eta_arrived = arrived
    return update


def _material(new: datetime, old: datetime, as_of: datetime, policy: TrackingPolicy) -> bool:
    """A move worth publishing: at least `eta_min_shift`, and at least `eta_relative_shift` of the time left
    until the new prediction (a week's ETA moving by an hour is noise; an hour's ETA moving by 30 min is not)."""
    threshold = policy.eta_min_shift
    if policy.eta_relative_shift and new > as_of:
        threshold = max(threshold, (new - as_of) * policy.eta_relative_shift)
    return abs(new - old) >= threshold


def _next_due(
    state: UnitState, view: UnitView, watermark: datetime | None, policy: TrackingPolicy
) -> datetime | None:
    """The watermark at which time passing alone may change this unit's outputs: the next expected
    milestone becoming overdue, or its prediction slipping by an ETA-worthy amount."""
    nxt = view.next_expected
    if state.plan is None or state.unit is None or nxt is None:
        return None
    ms = view.evidence[nxt].milestone
    due: list[datetime] = []
    if alert_id(state.unit.id, ms.key, AlertKind.OVERDUE) not in state.alerted:
        due.append(ms.planned + timedelta(minutes=state.alert_floor + 1) + policy.tolerance(ms.mode))
    pred = view.predicted[nxt]
    if pred is not None:
        # While a milestone is overdue its prediction slips with the watermark. Re-check after a tolerance,
        # then back off in proportion to how late it already is: a unit silent for weeks (a feed outage)
        # publishes a handful of ETA updates, not one per tolerance period.
        late = max(pred - ms.planned, timedelta(0))
        due.append(pred + max(policy.eta_min_shift, policy.tolerance(ms.mode), late / 2))
    suez = _suez_due(view, nxt, policy)
    if suez is not None:  # a silent sailing's Suez passage becomes overdue: the Cape risk may widen its band
        due.append(suez)
    later = [d for d in due if watermark is None or d > watermark]
    return min(later) if later else None


def _suez_due(view: UnitView, nxt: int, policy: TrackingPolicy) -> datetime | None:
    """`lanes.suez_due` of the sea leg under way, if the next expected milestone is its arrival."""
    if policy.knowledge is None or nxt == 0:
        return None
    ms, dep = view.evidence[nxt].milestone, view.evidence[nxt - 1]
    if ms.mode is not Mode.SEA or ms.kind is not PlannedStopKind.ARRIVAL or dep.actual is None \
            or dep.milestone.kind is not PlannedStopKind.DEPARTURE or dep.milestone.leg_index != ms.leg_index:
        return None
    return suez_due(dep.milestone.location, ms.location, dep.actual.event_time, ms.planned - dep.milestone.planned,
                    policy.tolerance(ms.mode))  # fmt: skip


def _moves(predicted: datetime, state: UnitState, stops: list[StopEta], destination: str) -> str:
    """Say what moved: the destination's ETA, or else the stop that moved most."""
    assert state.eta is not None
    if predicted != state.eta:
        return f"{destination} {(predicted - state.eta).total_seconds() / 3600:+.1f} h"
    shifts = [
        (s.predicted - state.eta_stops[f"{s.leg_index}"], s.location)
        for s in stops
        if f"{s.leg_index}" in state.eta_stops and s.predicted != state.eta_stops[f"{s.leg_index}"]
    ]
    if not shifts:
        return f"{destination} unchanged"
    delta, where = max(shifts, key=lambda d: abs(d[0]))
    return f"{where} {delta.total_seconds() / 3600:+.1f} h, {destination} unchanged"
