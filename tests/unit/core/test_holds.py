"""Customs holds as evidence for the learned ETA (streams/core/learning/holds.py): which holds a history says the
unit is under, what they teach, and the departure predicted for a held unit (ordered, deterministic, monotone in
the evidence; the incremental engine writes what the full derivation does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Classifier, ClockTick, Leg, Milestone, Mode, Plan, TrackedUnit, TrackingEvent, UnitKind, dumps
from schemas.topics import TopicNames
from streams.core.learning import Knowledge
from streams.core.learning import forecast as fc
from streams.core.learning.holds import hold_between, hold_keys, holds_of, release_key
from streams.core.policy import TrackingPolicy
from streams.processing.engine import Engine

T0 = datetime(2024, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)
POLICY = TrackingPolicy()
TOPICS = TopicNames()
UNIT = TrackedUnit(kind=UnitKind.AWB, id="580-12345675")


def _ev(i: int, milestone: Milestone, where: str, at: datetime, unit: TrackedUnit = UNIT,
        classifier: Classifier = Classifier.ACTUAL, mode: Mode = Mode.AIR) -> TrackingEvent:  # fmt: skip
    return TrackingEvent(event_id=f"{unit.id}-{i}", source="s", unit=unit, mode=mode, milestone=milestone,
                         classifier=classifier, location=where, event_time=at, received_time=at + timedelta(minutes=5))


# -- which holds -------------------------------------------------------------------------------------------------

def test_a_hold_is_closed_by_the_next_release_at_its_place_and_a_bare_release_is_no_hold() -> None:
    events = [
        _ev(1, Milestone.CUSTOMS_RELEASED, "DEDUI", T0),  # routine clearance: no hold
        _ev(2, Milestone.CUSTOMS_HOLD, "BELGG", T0 + 2 * H),
        _ev(3, Milestone.CUSTOMS_HOLD, "BELGG", T0 + 3 * H),  # the same hold reported again
        _ev(4, Milestone.CUSTOMS_RELEASED, "BELGG", T0 + 30 * H),
        _ev(5, Milestone.CUSTOMS_SELECTED_FOR_INSPECTION, "ESMAD", T0 + 60 * H),
        _ev(6, Milestone.CUSTOMS_HOLD, "ESMAD", T0 + 61 * H, classifier=Classifier.ESTIMATED),  # not a fact
        _ev(7, Milestone.ARRIVED, "BELGG", T0),
    ]
    assert holds_of(events) == (("BELGG", T0 + 2 * H, T0 + 30 * H), ("ESMAD", T0 + 60 * H, None))
    assert hold_between(holds_of(events), "BELGG", T0) == ("BELGG", T0 + 2 * H, T0 + 30 * H)
    assert hold_between(holds_of(events), "BELGG", T0 + 4 * H) is None  # held before the arrival asked about
    assert hold_between(holds_of(events), "ESMAD", T0) == ("ESMAD", T0 + 60 * H, None)


@given(st.lists(st.tuples(st.sampled_from([Milestone.CUSTOMS_HOLD, Milestone.CUSTOMS_RELEASED]),
                          st.sampled_from(["BELGG", "DEDUI"]), st.integers(0, 100)), max_size=12), st.randoms())
def test_holds_do_not_depend_on_the_order_events_came_in(reports, rnd) -> None:
    events = [_ev(i, m, where, T0 + h * H) for i, (m, where, h) in enumerate(reports)]
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert holds_of(events) == holds_of(shuffled)
    for _place, held, released in holds_of(events):
        assert released is None or released >= held


# -- the held departure ------------------------------------------------------------------------------------------

def _knowledge(min_samples: int = 8) -> Knowledge:
    kn = Knowledge(min_samples=min_samples)
    holds = {f"h{i}": [18 * 60 + i * 180, *hold_keys("BELGG")] for i in range(20)}  # 18 h to 75 h
    after = {f"r{i}": [600 + i * 60, release_key("DEPARTURE", "BELGG", "ROAD")] for i in range(20)}  # 10 h to 29 h
    waits = {f"w{i}": [0 if i < 14 else 600 * i, "W|DEPARTURE|BELGG|ROAD"] for i in range(20)}
    kn.apply({}, {**holds, **after, **waits})
    return kn


ARRIVED = fc.point(T0)
PLANNED = T0 + 20 * H


def _departure(now: datetime, hold, kn: Knowledge | None = None) -> fc.Forecast:
    return fc.departure(ARRIVED, T0, PLANNED, "DEPARTURE", "BELGG", "ROAD", 2 * H, kn or _knowledge(), now, hold)


def test_a_held_unit_leaves_after_its_release_and_the_wait_after_one() -> None:
    now = T0 + 6 * H
    free = _departure(now, None)
    held = _departure(now, ("BELGG", T0 + 4 * H, None))
    assert held.learned & fc.HOLD and not free.learned & fc.HOLD
    # Released (median hold 46.5 h) then the median wait after a release (19.5 h): about 70 h after arriving.
    assert timedelta(hours=62) <= held.mid - T0 <= timedelta(hours=78) and held.lo <= held.mid <= held.hi
    assert free.mid < held.mid
    # Its release known: the wait after it, given it has lasted since.
    released = _departure(T0 + 31 * H, ("BELGG", T0 + 4 * H, T0 + 30 * H))
    assert timedelta(hours=10) <= released.mid - (T0 + 30 * H) <= timedelta(hours=30)
    assert "customs hold" in fc.model_name(held.learned)
    # Too few holds learned to say when one ends: predicted as without it.
    assert _departure(now, ("BELGG", T0 + 4 * H, None), Knowledge()) == _departure(now, None, Knowledge())


@settings(max_examples=60)
@given(st.integers(4 * 60, 40 * 60), st.integers(1, 600))
def test_a_hold_that_lasts_longer_never_brings_the_departure_forward(lasted, more) -> None:
    hold = ("BELGG", T0 + 4 * H, None)
    a = _departure(T0 + 4 * H + timedelta(minutes=lasted), hold)
    b = _departure(T0 + 4 * H + timedelta(minutes=lasted + more), hold)
    assert a.lo <= a.mid <= a.hi and b.lo <= b.mid <= b.hi
    assert b.mid >= a.mid
    assert a == _departure(T0 + 4 * H + timedelta(minutes=lasted), hold)  # deterministic


# -- in the engine -----------------------------------------------------------------------------------------------

def _awb(n: int) -> TrackedUnit:
    body = f"{n:07d}"
    return TrackedUnit(kind=UnitKind.AWB, id=f"580-{body}{int(body) % 7}")


def _trip(n: int, start: datetime, hold: tuple[float, float] | None, left_h: float) -> list[bytes]:
    """An air waybill flown HKHKG -> BELGG (14 h) and trucked to ESMAD (planned 20 h later), held at Liège from
    `hold[0]` to `hold[1]` hours after landing when given, leaving Liège `left_h` hours after landing."""
    unit = _awb(n)
    landed = start + 14 * H
    plan = Plan(unit=unit, issued_time=start - timedelta(days=1), lane="HKHKG-ESMAD", legs=[
        Leg(mode=Mode.AIR, carrier="RU", origin="HKHKG", destination="BELGG", planned_departure=start,
            planned_arrival=landed),
        Leg(mode=Mode.ROAD, carrier="LH", origin="BELGG", destination="ESMAD", planned_departure=landed + 20 * H,
            planned_arrival=landed + 50 * H)])  # fmt: skip
    out = [plan, _ev(1, Milestone.DEPARTED, "HKHKG", start, unit), _ev(2, Milestone.ARRIVED, "BELGG", landed, unit)]
    if hold is not None:
        out += [_ev(3, Milestone.CUSTOMS_HOLD, "BELGG", landed + hold[0] * H, unit),
                _ev(4, Milestone.CUSTOMS_RELEASED, "BELGG", landed + hold[1] * H, unit)]
    out += [_ev(5, Milestone.DEPARTED, "BELGG", landed + left_h * H, unit, mode=Mode.ROAD),
            _ev(6, Milestone.ARRIVED, "ESMAD", landed + (left_h + 30) * H, unit, mode=Mode.ROAD)]
    return [dumps(r) for r in out]


def _feed(engine: Engine, raws: list[bytes]) -> list:
    out = []
    for raw in raws:
        d = orjson.loads(raw)
        if d["record"] == "clock":
            out += engine.process(TOPICS.name("clock"), 0, None, None, raw)
            continue
        topic = TOPICS.name("plan" if d["record"] == "plan" else "event")
        out += engine.process(topic, 0, None, d["unit"]["id"].encode(), raw)
    return out


def _etas(outs: list) -> list[dict]:
    return [orjson.loads(o.value) for o in outs if o.topic == TOPICS.name("eta")]


def test_a_worker_learns_holds_and_predicts_a_held_unit_the_same_incrementally_and_in_full() -> None:
    results = {}
    for incremental in (True, False):
        engine = Engine({}, {}, TOPICS, POLICY, incremental=incremental, min_samples=4)
        for n in range(16):  # six held units (3 h after landing, for 40-70 h, left 12 h after release); ten not
            hold = (3, 43 + 2 * n) if n % 3 == 0 else None
            _feed(engine, _trip(n, T0 + n * 2 * 24 * H, hold, 55 + 2 * n if hold else 20))
        learned = engine.knowledge
        assert learned is not None and learned.quantiles("H|BELGG") is not None
        assert learned.quantiles(release_key("DEPARTURE", "BELGG", "ROAD")) is not None
        trip = _trip(99, T0 + 40 * 24 * H, (3, 45), 57)
        landed = T0 + 40 * 24 * H + 14 * H
        tick = dumps(ClockTick(time=landed + H))  # event time: landed, the hold 2 h ahead of the watermark
        before = _etas(_feed(engine, [*trip[:3], tick]))[-1]  # landed at Liège, no hold reported
        held = _etas(_feed(engine, trip[3:4]))[-1]  # held
        assert "customs hold" in held["reason"] and held["predicted_arrival"] > before["predicted_arrival"]
        # Held 3 h after landing, released after the learned median hold (55 h), 12 h later on the truck, then
        # the 30 h drive: the plan's 50 h after landing would be two days early.
        predicted = datetime.fromisoformat(held["predicted_arrival"].replace("Z", "+00:00"))
        assert timedelta(hours=95) <= predicted - landed <= timedelta(hours=105)
        assert held["arrival_p10"] <= held["predicted_arrival"] <= held["arrival_p90"]
        results[incremental] = [*_etas(_feed(engine, trip[4:])), before, held]
    assert results[True] == results[False]
