"""The lane summary and the Cape risk (issue #25): sea legs file a sailing, round the Cape or through Suez, in the
partition's knowledge; a Suez-routed leg under way whose Suez passage is overdue gets its p90 widened by the Cape
detour when most of the lane's recent sailings went round. Both derivations agree, and the unit is woken when
its Suez passage falls due."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import Classifier, Leg, Milestone, Mode, Plan, TrackedUnit, TrackingEvent
from streams.core.evidence import Evidence
from streams.core.learning import Knowledge, lanes
from streams.core.learning import forecast as fc
from streams.core.learning.knowledge import sailing_key
from streams.core.learning.observe import observations
from streams.core.milestones import planned_milestones
from streams.core.policy import TrackingPolicy
from streams.core.records import PlanRecord
from streams.core.state import UnitState
from streams.core.tracker import advance, apply_event, apply_plan

H = timedelta(hours=1)
T0 = datetime(2026, 3, 5, 10, tzinfo=UTC)
LANE = lanes.cape_lane("SGSIN", "NLRTM")


def _box(n: int) -> TrackedUnit:
    from stdnum import iso6346

    body = f"MSKU{n:06d}"
    return TrackedUnit.container(body + iso6346.calc_check_digit(body))


def _plan(unit: TrackedUnit, start: datetime, sea_hours: float = 552) -> Plan:
    return Plan(unit=unit, revision=1, issued_time=start - 48 * H, lane="SGSIN-NLRTM", legs=[
        Leg(mode=Mode.SEA, carrier="C", origin="SGSIN", destination="NLRTM", planned_departure=start,
            planned_arrival=start + sea_hours * H)])  # fmt: skip


def _ev(unit: TrackedUnit, n: int, milestone: Milestone, loc: str, at: datetime) -> TrackingEvent:
    return TrackingEvent(event_id=f"{unit.id}-{n}", source="carrier", unit=unit, mode=Mode.SEA, milestone=milestone,
                         classifier=Classifier.ACTUAL, location=loc, event_time=at, received_time=at + H)  # fmt: skip


def _evidence(plan: Plan, dep: datetime | None, arr: datetime | None) -> list[Evidence]:
    ms = planned_milestones(PlanRecord.of(plan))
    out = []
    for m in ms:
        at = dep if m.kind.value == "DEPARTURE" else arr
        e = _ev(plan.unit, len(out), Milestone.DEPARTED if at is dep else Milestone.ARRIVED, m.location, at) \
            if at is not None else None  # fmt: skip
        out.append(Evidence(m, _record(e) if e else None, None))
    return out


def _record(e: TrackingEvent):
    from streams.core.records import EventRecord

    return EventRecord.of(e)


def test_the_route_table_knows_the_lane_and_its_cape_detour() -> None:
    assert LANE is not None and 200 < LANE.detour_hours < 260 and 0 < LANE.canal_hours < LANE.suez_hours
    assert lanes.cape_lane("CNSHA", "SGSIN") is None and lanes.cape_places() == frozenset({"ZACPT"})
    assert lanes.went_round_cape("SGSIN", "NLRTM", 580) is False and lanes.went_round_cape("SGSIN", "NLRTM", 800)
    # A plan that already goes round the Cape (its transit nearer the Cape route's) has no Suez passage due.
    assert lanes.suez_due("SGSIN", "NLRTM", T0, 800 * H, 6 * H) is None
    assert lanes.suez_due("SGSIN", "NLRTM", T0, 552 * H, 6 * H) == T0 + LANE.canal_hours * H + 6 * H


def test_a_sea_leg_files_its_sailing_when_its_route_is_known() -> None:
    plan, policy = _plan(_box(1), T0), TrackingPolicy()
    under_way = observations(_evidence(plan, T0, None), ["C"], policy)
    assert not [k for k in under_way if k.startswith("S")]  # not known yet
    seen = T0 + 300 * H
    cape = observations(_evidence(plan, T0, None), ["C"], policy, {0: seen})
    assert cape["S0"] == [1, sailing_key("SGSIN", "NLRTM", seen.date())]
    suez = observations(_evidence(plan, T0, T0 + 580 * H), ["C"], policy)
    assert suez["S0"] == [0, sailing_key("SGSIN", "NLRTM", (T0 + 580 * H).date())]
    # Round the Cape without a call there: its transit says so.
    silent = observations(_evidence(plan, T0, T0 + 820 * H), ["C"], policy)
    assert silent["S0"][0] == 1


def test_the_lane_summary_counts_a_window_and_moves_the_version_when_a_counted_day_changes() -> None:
    kn = Knowledge()
    day = T0.date()
    kn.apply({}, {"a": [1, sailing_key("SGSIN", "NLRTM", day)], "b": [0, sailing_key("SGSIN", "NLRTM", day)],
                  "c": [1, sailing_key("SGSIN", "NLRTM", day - timedelta(days=40))]})  # fmt: skip
    assert kn.sailings("SGSIN", "NLRTM", day, 31) == (1, 2)  # the one 40 days ago is not recent
    v = kn.version
    kn.apply({}, {"d": [1, sailing_key("SGSIN", "NLRTM", day - timedelta(days=3))]})
    assert kn.sailings("SGSIN", "NLRTM", day, 31) == (2, 3) and kn.version > v
    kn.apply({"a": [1, sailing_key("SGSIN", "NLRTM", day)]}, {})  # taken back (a retracted Cape call)
    assert kn.sailings("SGSIN", "NLRTM", day, 31) == (1, 2)


@given(cape=st.integers(0, 10), extra=st.integers(0, 10), hours=st.integers(0, 2000))
def test_the_widening_only_widens_p90_and_more_cape_sailings_never_narrow_it(cape: int, extra: int,
                                                                             hours: int) -> None:  # fmt: skip
    kn = Knowledge()
    obs = {f"o{i}": [int(i < cape), sailing_key("SGSIN", "NLRTM", T0.date())] for i in range(cape + extra)}
    kn.apply({}, obs)
    more = Knowledge()
    more.apply({}, obs | {"x": [1, sailing_key("SGSIN", "NLRTM", T0.date())]})
    f = fc.Forecast(T0 + 500 * H, T0 + 552 * H, T0 + 600 * H)
    now = T0 + hours * H
    a = lanes.cape_risk(f, "SGSIN", "NLRTM", T0, 552 * H, now, 6 * H, kn)
    b = lanes.cape_risk(f, "SGSIN", "NLRTM", T0, 552 * H, now, 6 * H, more)
    assert (a.lo, a.mid) == (f.lo, f.mid) and a.hi >= f.hi and b.hi >= a.hi
    assert a == lanes.cape_risk(f, "SGSIN", "NLRTM", T0, 552 * H, now, 6 * H, kn)  # deterministic


def _voyage(policy: TrackingPolicy, n: int, start: datetime, cape: bool, incremental: bool) -> None:
    unit = _box(n)
    state = apply_plan(UnitState(), _plan(unit, start), start - 48 * H, policy, incremental=incremental).state
    events = [_ev(unit, 1, Milestone.DEPARTED, "SGSIN", start)]
    if cape:
        events.append(_ev(unit, 2, Milestone.ARRIVED, "ZACPT", start + 370 * H))
    for e in events:
        o = apply_event(state, e, e.received_time, policy, incremental=incremental)
        state = o.state
        if o.learned_before is not None or o.state.learned:
            policy.knowledge.apply(o.learned_before or {}, o.state.learned)


@pytest.mark.parametrize("incremental", [True, False])
@pytest.mark.parametrize("cape_first", [True, False])
def test_a_silent_suez_sailing_widens_its_p90_once_its_passage_is_overdue_on_a_cape_lane(incremental: bool,
                                                                                        cape_first: bool) -> None:
    policy = replace(TrackingPolicy(), knowledge=Knowledge())
    for n in range(3):  # three sailings, seen at Cape Town (or not) before ours is due at the canal
        _voyage(policy, n, T0 + n * 24 * H, cape_first, incremental)
    unit = _box(9)
    start = T0 + 10 * 24 * H
    state = apply_plan(UnitState(), _plan(unit, start), start - 48 * H, policy, incremental=incremental).state
    o = apply_event(state, _ev(unit, 1, Milestone.DEPARTED, "SGSIN", start), start + H, policy,
                    incremental=incremental)  # fmt: skip
    before = o.view.forecasts[-1]
    assert o.state.next_due is not None
    due = start + LANE.canal_hours * H + policy.tolerance(Mode.SEA)
    assert o.state.next_due <= due  # woken by then at the latest, though nothing is reported
    state, records = o.state, []
    while state.next_due is not None and state.next_due <= due:
        o = advance(state, state.next_due, policy, incremental=incremental)
        state = o.state
        records += o.records
    o = advance(state, due + H, policy, incremental=incremental)
    records += o.records
    after = o.view.forecasts[-1]
    assert after.mid == before.mid or after.mid >= due  # the median does not move for the risk
    widened = after.hi - after.mid - (before.hi - before.mid)
    if cape_first:
        assert abs(widened - LANE.detour_hours * H) <= H and after.learned & fc.CAPE
        etas = [r for r in records if r.record == "eta"]
        assert etas and "went round the Cape" in etas[-1].reason and etas[-1].arrival_p90 == after.hi
    else:
        assert widened <= H and not after.learned & fc.CAPE


# -- the residual wait: a unit long at a hub past its rule is not about to leave ---------------------------------


@given(waits=st.lists(st.integers(0, 5000), min_size=8, max_size=80), a=st.integers(1, 3000), b=st.integers(1, 3000))
def test_the_remaining_wait_lies_beyond_what_was_waited_and_grows_with_it(waits: list[int], a: int, b: int) -> None:
    kn = Knowledge(min_samples=4)
    kn.apply({}, {f"w{i}": [w, "W|DEPARTURE|BELGG|ROAD"] for i, w in enumerate(waits)})
    lo, hi = sorted((a, b))
    qa, qb = kn.remaining("W|DEPARTURE|BELGG|ROAD", lo), kn.remaining("W|DEPARTURE|BELGG|ROAD", hi)
    for w, q in ((lo, qa), (hi, qb)):
        if q is not None:
            assert w * 0.96 <= q[0] <= q[1] <= q[2]  # within the sketch's 4% buckets of what was waited, or later
    if qa is not None and qb is not None:
        assert qb[1] >= qa[1]


def test_a_departure_overdue_at_the_hub_is_predicted_from_the_tail_of_the_learned_wait() -> None:
    kn = Knowledge()
    # 60% leave on time, 40% wait about a day or two (a missed daily truck, a customs queue).
    waits = [0] * 30 + [1440] * 12 + [2880] * 8
    kn.apply({}, {f"w{i}": [w, "W|DEPARTURE|BELGG|ROAD"] for i, w in enumerate(waits)})
    arrived = fc.point(T0)
    rule = T0 + 8 * H  # planned departure
    plain = fc.departure(arrived, T0, rule, "DEPARTURE", "BELGG", "ROAD", 8 * H, kn)
    assert plain.mid == rule  # most leave on time: the median wait is nothing
    now = rule + 10 * H  # ten hours past the rule and still there
    late = fc.departure(arrived, T0, rule, "DEPARTURE", "BELGG", "ROAD", 8 * H, kn, now)
    assert late.mid >= rule + 23 * H and late.lo >= now - H and late.learned & fc.WAIT  # the next truck at least
    # Without enough learned waits that long, the unconditioned forecast stands (the watermark then holds it).
    sparse = Knowledge()
    sparse.apply({}, {f"w{i}": [w, "W|DEPARTURE|BELGG|ROAD"] for i, w in enumerate([0] * 30 + [1440] * 3)})
    assert fc.departure(arrived, T0, rule, "DEPARTURE", "BELGG", "ROAD", 8 * H, sparse, now) == \
        fc.departure(arrived, T0, rule, "DEPARTURE", "BELGG", "ROAD", 8 * H, sparse)
