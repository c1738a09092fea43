"""Learning from completed legs and composing the band (streams/core/learning): the sketch, the composition's
properties (ordered, deterministic, monotone in the evidence), the observations a history teaches, and the
engine learning as a worker does (exactly once, per partition, the same after a restart and in the full
derivation)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import Classifier, Leg, Milestone, Mode, Plan, TrackedUnit, TrackingEvent, dumps
from schemas.topics import TopicNames
from streams.core.learning import Knowledge, Sketch, segment_quantiles
from streams.core.learning import forecast as fc
from streams.core.learning.knowledge import decode_model, encode_model, model_of
from streams.core.learning.sketch import representative
from streams.core.policy import TrackingPolicy
from streams.core.state import UnitState, learned_of
from streams.processing import backtest
from streams.processing.engine import Engine
from streams.sim.phenomena import NONE, REALISM
from streams.sim.scenario import generate

T0 = datetime(2024, 3, 1, tzinfo=UTC)
POLICY = TrackingPolicy()
TOPICS = TopicNames()
values = st.lists(st.floats(min_value=-1e5, max_value=1e5, allow_nan=False), min_size=1, max_size=60)


# -- the sketch -------------------------------------------------------------------------------------------------

@given(values, st.randoms())
def test_a_sketch_is_the_same_whatever_the_order_of_its_values(vs, rnd) -> None:
    a, b = Sketch(), Sketch()
    for v in vs:
        a.add(v)
    shuffled = list(vs)
    rnd.shuffle(shuffled)
    for v in shuffled:
        b.add(v)
    assert a == b and a.encode() == b.encode() and a.quantiles((0.1, 0.5, 0.9)) == b.quantiles((0.1, 0.5, 0.9))


@given(values, values)
def test_removing_takes_back_adding_and_merging_is_adding_both(xs, ys) -> None:
    a = Sketch()
    for v in xs:
        a.add(v)
    before = a.encode()
    for v in ys:
        a.add(v)
    for v in ys:
        a.remove(v)
    assert a.encode() == before and a.n == len(xs)
    b = Sketch()
    for v in ys:
        b.add(v)
    both = Sketch()
    for v in xs + ys:
        both.add(v)
    assert a.merge(b) == both and a.merge(b).n == both.n


@given(values)
def test_quantiles_are_ordered_and_within_four_percent(vs) -> None:
    s = Sketch()
    for v in vs:
        s.add(v)
    p10, p50, p90 = s.quantiles((0.1, 0.5, 0.9))
    assert p10 <= p50 <= p90
    lo, hi = min(vs), max(vs)
    assert lo - abs(lo) * 0.04 - 1 <= p10 and p90 <= hi + abs(hi) * 0.04 + 1
    assert Sketch.decode(orjson.loads(orjson.dumps(s.encode()))) == s


def _quantile_by_rank(s: Sketch, q: float) -> float:
    """The definition, rank by rank: the value at rank q * (n - 1), interpolated between the buckets of its two
    neighbouring ranks (what `Sketch.quantiles` computes in one pass over the buckets)."""
    ranks = [representative(k) for k in sorted(s.counts) for _ in range(s.counts[k])]
    rank = q * (s.n - 1)
    lo = math.floor(rank)
    v = ranks[lo] if rank == lo else ranks[lo] + (ranks[lo + 1] - ranks[lo]) * (rank - lo)
    return round(v, 2)


@given(values, st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=6))
def test_quantiles_in_one_pass_are_the_quantiles_rank_by_rank(vs, qs) -> None:
    s = Sketch()
    for v in vs:
        s.add(v)
    qs = sorted(qs)
    assert s.quantiles(qs) == tuple(_quantile_by_rank(s, q) for q in qs)


# -- composition ------------------------------------------------------------------------------------------------

minutes = st.integers(min_value=0, max_value=60 * 24 * 20)
quantiles = st.tuples(st.integers(-600, 6000), st.integers(0, 3000), st.integers(0, 6000)).map(
    lambda t: (float(t[0]), float(t[0] + t[1]), float(t[0] + t[1] + t[2])))


@st.composite
def forecasts(draw: st.DrawFn) -> fc.Forecast:
    mid = T0 + timedelta(minutes=draw(minutes))
    return fc.Forecast(mid - timedelta(minutes=draw(minutes)), mid, mid + timedelta(minutes=draw(minutes)))


def _ordered(f: fc.Forecast) -> bool:
    return f.lo <= f.mid <= f.hi


@given(forecasts(), quantiles, forecasts())
def test_composed_bands_are_ordered_and_deterministic(f, q, e) -> None:
    for g in (fc.add(f, q, fc.TRANSIT), fc.blend(f, e), fc.at_least(f, e.mid), fc.shift(f, timedelta(hours=3))):
        assert _ordered(g)
    assert fc.add(f, q, fc.TRANSIT) == fc.add(f, q, fc.TRANSIT)
    assert fc.blend(f, e) == fc.blend(f, e)
    # at_least: each quantile held back to the time, nothing else (it returns the same forecast when none is before)
    assert fc.at_least(f, e.mid) == fc.Forecast(max(f.lo, e.mid), max(f.mid, e.mid), max(f.hi, e.mid), f.learned)


@given(forecasts(), quantiles, st.integers(1, 60 * 24 * 5))
def test_later_evidence_never_makes_a_forecast_earlier(f, q, later) -> None:
    """A later departure (or a later actual before it) gives a later or equal arrival; a later carrier estimate
    a later or equal blend; a later watermark a later or equal forecast."""
    d = timedelta(minutes=later)
    a, b = fc.add(f, q, fc.TRANSIT), fc.add(fc.shift(f, d), q, fc.TRANSIT)
    assert (a.lo, a.mid, a.hi) <= (b.lo, b.mid, b.hi) and b.mid >= a.mid and b.lo >= a.lo and b.hi >= a.hi
    e = fc.Forecast(f.lo, f.mid, f.hi, fc.BIAS)
    x, y = fc.blend(f, e), fc.blend(f, fc.shift(e, d))
    assert y.mid >= x.mid
    kn = _knowledge({"B|src|SEA": [50] * 10})
    received = f.mid - timedelta(days=10)
    x = fc.with_estimate(f, f.mid, received, "src", "SEA", kn)
    y = fc.with_estimate(f, f.mid + d, received, "src", "SEA", kn)
    assert y.mid >= x.mid and _ordered(x) and _ordered(y)


def _knowledge(values_by_key: dict[str, list[float]], min_samples: int = 8) -> Knowledge:
    kn = Knowledge(min_samples=min_samples)
    kn.apply({}, {f"o{k}{i}": [v, k] for k, vs in values_by_key.items() for i, v in enumerate(vs)})
    return kn


def test_a_learned_source_bias_moves_its_estimate_and_too_little_data_falls_back() -> None:
    f = fc.point(T0 + timedelta(days=20))
    estimate, received = T0 + timedelta(days=18), T0
    # Without a learned error, the later of ours and the carrier's stands (the old rule): ours here.
    assert fc.with_estimate(f, estimate, received, "cosco", "SEA", None).mid == f.mid
    # The carrier is 5% optimistic over its 18-day horizon: its estimate says day 18.9, and it is trusted more
    # than a point forecast of ours only up to the blend floor.
    kn = _knowledge({"B|cosco|SEA": [50] * 10})
    e = fc.with_estimate(fc.Forecast(T0, f.mid, T0 + timedelta(days=40)), estimate, received, "cosco", "SEA", kn)
    assert abs(e.mid - (estimate + timedelta(hours=0.05 * 18 * 24))) < timedelta(hours=2)
    assert e.learned & fc.BIAS
    assert _knowledge({"B|cosco|SEA": [50] * 7}).quantiles("B|cosco|SEA") is None  # 7 < 8 samples


def test_a_side_lost_in_a_sketch_bucket_does_not_pin_the_blended_band() -> None:
    """A sea transit learned as (577 h, 577 h, 892 h): its p10 and p50 in one 4% bucket (a day wide at three weeks),
    as on simulator seed 11. Taken as exact, the empty side won the blend with the carrier's corrected estimate
    (7 h either side) and pinned the band's p10 half an hour below its median; it is now known to half a bucket,
    and the estimate's own spread below the median carries through."""
    departed = fc.point(T0)
    arrival = fc.add(departed, (577 * 60.0, 577 * 60.0, 892 * 60.0), fc.TRANSIT)
    res = timedelta(minutes=round(fc.RESOLUTION * 577 * 60))  # 11.5 h
    assert arrival.mid - arrival.lo == res and arrival.hi - arrival.mid == timedelta(hours=315)
    estimate = fc.Forecast(arrival.mid - timedelta(hours=7), arrival.mid, arrival.mid + timedelta(hours=7), fc.BIAS)
    band = fc.blend(arrival, estimate)
    assert timedelta(hours=5) < band.mid - band.lo < timedelta(hours=7)  # was 30 minutes
    assert timedelta(hours=6) < band.hi - band.mid <= timedelta(hours=7)
    # A side wider than the resolution is as learned.
    wide = fc.add(departed, (500 * 60.0, 577 * 60.0, 892 * 60.0), fc.TRANSIT)
    assert wide.mid - wide.lo == timedelta(hours=77)


def test_knowledge_learns_once_takes_back_corrections_and_merges_a_prior() -> None:
    kn = Knowledge(min_samples=2)
    old = {"T0": [600, "T|A|B|RAIL|c", "T|A|B|RAIL|*"]}
    kn.apply({}, old)
    kn.apply(old, old)  # re-evaluated: nothing new
    assert kn.model()["T|A|B|RAIL|*"].n == 1
    kn.apply(old, {"T0": [660, "T|A|B|RAIL|c", "T|A|B|RAIL|*"]})  # a corrected arrival
    assert kn.model()["T|A|B|RAIL|*"].n == 1 and kn.quantiles("T|A|B|RAIL|*") is None
    prior = decode_model(encode_model({"T|A|B|RAIL|*": Sketch({100: 3})}))
    kn2 = Knowledge(prior, min_samples=2)
    assert segment_quantiles(kn2, "A", "B", "RAIL") is not None
    assert segment_quantiles(kn2, "A", "C", "RAIL") is None and segment_quantiles(None, "A", "B", "RAIL") is None


_KEYS = ["T|A|B|RAIL|c", "T|A|B|RAIL|*", "W|DEP|KZDOS|RAIL", "B|crct|RAIL", "C|CNSHA|NLRTM|2026-03-02"]
_OBSERVATION = st.tuples(st.sampled_from(["T0", "T1", "W0", "B3", "C0"]),
                         st.lists(st.sampled_from(_KEYS), min_size=1, max_size=3, unique=True),
                         st.integers(-3000, 30000))  # fmt: skip
_LESSONS = st.lists(_OBSERVATION, max_size=4).map(lambda obs: {oid: [value, *keys] for oid, keys, value in obs})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), _LESSONS), max_size=40))
def test_a_model_learned_change_by_change_is_the_sum_of_what_each_unit_last_taught(changes) -> None:
    """What a worker rebuilt from the units store knows (`model_of` their lessons) is what a worker that learned
    every change as it came knows, whatever the order and however often a unit's lessons were revised."""
    kn = Knowledge()
    taught: dict[int, dict] = {}
    for unit, lessons in changes:
        kn.apply(taught.get(unit, {}), lessons)
        taught[unit] = lessons
    assert encode_model(kn.model()) == encode_model(model_of(taught.values()))
    rebuilt = Knowledge(lessons=lambda p: list(taught.values()))
    assert encode_model(rebuilt.model()) == encode_model(kn.model())


# -- the engine learns as legs complete ---------------------------------------------------------------------------

def _unit(n: int) -> TrackedUnit:
    from stdnum import iso6346

    body = f"TGHU{n:06d}"
    return TrackedUnit.container(body + iso6346.calc_check_digit(body))


def _trip(n: int, transit_h: float, start: datetime) -> list[bytes]:
    """A unit planned 100 h from CNCKG to DEDUI by rail, departing on time and taking `transit_h`."""
    unit = _unit(n)
    plan = Plan(unit=unit, issued_time=start - timedelta(days=1), lane="CNCKG-DEDUI", legs=[
        Leg(mode=Mode.RAIL, carrier="CR", origin="CNCKG", destination="DEDUI", planned_departure=start,
            planned_arrival=start + timedelta(hours=100))])  # fmt: skip

    def ev(i: int, milestone: Milestone, where: str, at: datetime) -> bytes:
        return dumps(TrackingEvent(event_id=f"{unit.id}-{i}", source="crct", unit=unit, mode=Mode.RAIL,
                                   milestone=milestone, classifier=Classifier.ACTUAL, location=where, event_time=at,
                                   received_time=at + timedelta(minutes=5)))  # fmt: skip

    return [dumps(plan), ev(1, Milestone.DEPARTED, "CNCKG", start),
            ev(2, Milestone.ARRIVED, "DEDUI", start + timedelta(hours=transit_h))]


def _feed(engine: Engine, records: list[bytes]) -> list:
    out = []
    for raw in records:
        d = orjson.loads(raw)
        topic = TOPICS.name("plan" if d["record"] == "plan" else "event")
        key = d["unit"]["id"].encode()
        out += engine.process(topic, 0, None, key, raw)
    return out


def test_a_unit_after_eight_completed_legs_is_predicted_with_their_transit() -> None:
    engine = Engine({}, {}, TOPICS, POLICY, write_behind=True)
    for n in range(8):
        _feed(engine, _trip(n, 120 + n, T0 + timedelta(days=n)))
    engine.flush()
    out = _feed(engine, _trip(99, 125, T0 + timedelta(days=20))[:2])  # planned, departed; not yet arrived
    eta = orjson.loads([o for o in out if o.topic == TOPICS.name("eta")][-1].value)
    start = T0 + timedelta(days=20)
    predicted = datetime.fromisoformat(eta["predicted_arrival"].replace("Z", "+00:00"))
    assert timedelta(hours=121) <= predicted - start <= timedelta(hours=126)  # not the planned 100 h
    assert eta["arrival_p10"] <= eta["predicted_arrival"] <= eta["arrival_p90"]
    assert eta["reason"].endswith("model: learned transit+dwell")  # its departure wait: none, learned too
    # Stored under the partition's key, and a worker restarted on the same stores predicts the same.
    assert b"learned:0" in engine.clock
    again = Engine(engine.units, engine.clock, TOPICS, POLICY, write_behind=True)
    assert again.knowledge is not None and again.knowledge.quantiles("T|CNCKG|DEDUI|RAIL|CR") == \
        engine.knowledge.quantiles("T|CNCKG|DEDUI|RAIL|CR")  # fmt: skip


class _Listed(dict):
    """A units store that lists a partition's states, as the worker's RocksDB tables do (one partition here)."""

    def values_in(self, partition: int):  # type: ignore[no-untyped-def]
        return iter(list(self.values()))


def test_a_store_that_lists_its_units_is_learned_from_and_no_copy_is_kept() -> None:
    units: dict[bytes, bytes] = _Listed()
    engine = Engine(units, {}, TOPICS, POLICY, write_behind=True)
    for n in range(8):
        _feed(engine, _trip(n, 120 + n, T0 + timedelta(days=n)))
    engine.flush()
    assert not any(k.startswith(b"learned:") for k in engine.clock)
    assert all(learned_of(v) for v in units.values())  # every unit completed its leg, and says what it taught
    # Restarted with a clock that holds none of it (its changelog lost the batches' clock records): the same.
    again = Engine(units, {}, TOPICS, POLICY, write_behind=True)
    assert engine.knowledge is not None and again.knowledge is not None
    assert again.knowledge.quantiles("T|CNCKG|DEDUI|RAIL|CR") == engine.knowledge.quantiles("T|CNCKG|DEDUI|RAIL|CR")
    assert encode_model(again.knowledge.model(0)) == encode_model(engine.knowledge.model(0))
    assert learned_of(UnitState().encode()) == {}


def test_redelivered_events_teach_nothing_twice_and_learning_off_predicts_from_the_plan() -> None:
    engine = Engine({}, {}, TOPICS, POLICY)
    records = _trip(1, 130, T0)
    _feed(engine, records + records[1:])
    assert engine.knowledge is not None and engine.knowledge.model()["T|CNCKG|DEDUI|RAIL|*"].n == 1
    state = UnitState.decode(engine.units[_unit(1).id.encode()])
    assert state.learned["T0"][0] == 130 * 60 and state.eta_band is not None
    off = Engine({}, {}, TOPICS, POLICY, learning=False)
    _feed(off, records)
    assert off.knowledge is None and UnitState.decode(off.units[_unit(1).id.encode()]).learned == {}


def test_state_with_what_it_taught_reads_back_and_older_states_still_read() -> None:
    state = UnitState(unit=_unit(1), learned={"T0": [60, "T|A|B|RAIL|*"]}, eta_band=(T0, T0 + timedelta(hours=2)))
    assert UnitState.decode(state.encode()) == state
    v2 = orjson.loads(UnitState(unit=_unit(1)).encode())
    v2[0] = 2
    assert UnitState.decode(orjson.dumps(v2)) == UnitState(unit=_unit(1))


@settings(max_examples=1, deadline=None)
@given(st.just(None))
def test_on_a_simulated_month_the_incremental_engine_learns_and_writes_what_the_full_derivation_does(_) -> None:
    """The oracle with learning at work on every corridor: lane bias, hub dwell, biased carrier estimates."""
    sim = generate(seed=3, units_per_corridor=6, realism=REALISM)
    records = [r.record for r in sim.records]
    outs = {}
    for inc in (True, False):
        engine = Engine({}, {}, TOPICS, POLICY, incremental=inc, min_samples=2)
        outs[inc] = [o for r in backtest.canonical_order(records) for o in _route(engine, r)]
    assert outs[True] == outs[False]
    assert any(b"model: learned" in o.value for o in outs[True] if o.topic == TOPICS.name("eta"))


def _route(engine: Engine, record) -> list:
    raw = record.model_dump_json().encode()
    if record.record == "clock":
        return [o for p in range(2) for o in engine.process(TOPICS.name("clock"), p, None, None, raw)]
    key = record.unit.id.encode()
    return engine.process(TOPICS.name(record.record), backtest.partition_for(key, 2), None, key, raw)


def test_the_backtest_beats_the_schedule_and_today_on_a_held_out_seed() -> None:
    """Trained on one simulator seed, tested on another: the learned ETA is closer than today's rules and the
    schedule, its band holds most arrivals, and it publishes no more often than today's rules."""
    train = generate(seed=1, units_per_corridor=20, realism=REALISM)
    test = generate(seed=2, units_per_corridor=20, realism=REALISM, start=train.end + timedelta(days=1))
    prior = backtest.learn([r.record for r in train.records], POLICY)
    records = [r.record for r in test.records]
    _, etas = backtest.run(records, POLICY, prior=prior)
    _, today = backtest.run(records, backtest.todays_rules(POLICY), learning=False)
    scores = backtest.score(records, etas, today)
    s = scores["all"]
    from statistics import mean

    for days in (3, 1):
        assert mean(s.errors[("corridor", days)]) < 0.5 * mean(s.errors[("schedule", days)])
        assert mean(s.errors[("corridor", days)]) < mean(s.errors[("today", days)])
    cover = [c for d in backtest.HORIZONS_DAYS for c in s.covered[d]]
    assert 0.75 <= sum(cover) / len(cover) <= 0.9
    assert s.updates / s.unit_days <= s.updates_today / s.unit_days_today
    assert "p10-p90" in backtest.render(scores, with_today=True)
    # The simulator's default is honest plans: the phenomena are opt-in, and they do change what happens.
    honest = generate(seed=12, units_per_corridor=1).records
    assert generate(seed=12, units_per_corridor=1, realism=NONE).records == honest
    assert generate(seed=12, units_per_corridor=1, realism=REALISM).records != honest


# -- no churn ---------------------------------------------------------------------------------------------------

def test_a_move_is_published_when_material_for_the_time_left() -> None:
    """30 days out, the default rule wants 3% of the time left (about 22 h) before it publishes; an hour out,
    the 30-minute floor."""
    from streams.core.state import UnitState
    from streams.core.tracker import apply_event, apply_plan

    unit = _unit(7)
    plan = Plan(unit=unit, issued_time=T0 - timedelta(days=1), legs=[
        Leg(mode=Mode.SEA, carrier="C", origin="CNSHA", destination="NLRTM", planned_departure=T0,
            planned_arrival=T0 + timedelta(days=30))])  # fmt: skip
    state = apply_plan(UnitState(), plan, None, POLICY).state

    def departed(hours: float):
        at = T0 + timedelta(hours=hours)
        e = TrackingEvent(event_id="d", source="s", unit=unit, mode=Mode.SEA, milestone=Milestone.DEPARTED,
                          classifier=Classifier.ACTUAL, location="CNSHA", event_time=at, received_time=at)  # fmt: skip
        return [o for o in apply_event(state, e, at, POLICY).outputs if o.record == "eta"]

    assert departed(10) == []  # 10 h on a 30-day voyage: not material
    (eta,) = departed(30)
    assert eta.predicted_arrival == T0 + timedelta(days=30, hours=30)
    assert eta.arrival_p10 < eta.predicted_arrival < eta.arrival_p90  # the plan model's band
    absolute = TrackingPolicy(eta_relative_shift=0.0)
    at = T0 + timedelta(hours=10)
    e = TrackingEvent(event_id="d", source="s", unit=unit, mode=Mode.SEA, milestone=Milestone.DEPARTED,
                      classifier=Classifier.ACTUAL, location="CNSHA", event_time=at, received_time=at)  # fmt: skip
    assert [o for o in apply_event(apply_plan(UnitState(), plan, None, absolute).state, e, at, absolute).outputs
            if o.record == "eta"]  # fmt: skip


def test_corridor_learn_reads_the_parquet_export(tmp_path) -> None:
    """The export's latest timeline snapshot per unit teaches transit and hub waits (not estimate errors: the
    export holds no receipt times), the same transit a replay of the history teaches."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from streams.consumers.export.rows import SCHEMAS, rows_for
    from streams.processing.learn_export import learn_export
    from streams.processing.replay import replay

    sim = generate(seed=4, units_per_corridor=4, realism=REALISM)
    lines = [dumps(r.record) for r in sim.records if r.record.record in ("plan", "event", "clock")]
    result = replay(lines, TOPICS, POLICY, 2, learning=False)
    rows: dict[tuple[str, str, str], list[dict]] = {}
    for offset, o in enumerate(result.outputs):
        if o.topic == TOPICS.name("timeline"):
            for table, lane, month, values in rows_for("timeline", orjson.loads(o.value), 0, offset):
                rows.setdefault((table, lane or "none", month), []).append(values)
    for (table, lane, month), values in rows.items():
        folder = tmp_path / table / f"lane={lane}" / f"month={month}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(values, schema=SCHEMAS[table]), folder / "part.parquet")
    model = learn_export(tmp_path, POLICY)
    assert any(k.startswith("T|CNSHA|SGSIN|SEA|*") for k in model) and any(k.startswith("W|") for k in model)
    assert not any(k.startswith("B|") for k in model)
    replayed = backtest.learn([r.record for r in sim.records if r.record.record != "shipment_plan"], POLICY, 2)
    assert model["T|CNSHA|SGSIN|SEA|*"] == replayed["T|CNSHA|SGSIN|SEA|*"]


_SIM = generate(seed=3, units_per_corridor=2, realism=REALISM).records


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_teaching_again_from_the_milestones_that_changed_gives_what_the_whole_history_teaches(data) -> None:
    """`observe_again` reuses what a milestone taught when it and the one before it are the same Evidence as
    before: from any earlier point of a unit's history (a prefix of its events, in any order) to a later one, the
    same observations, in the same order (the unit's state encodes them), as taught afresh."""
    from streams.core.diversion import cape_legs
    from streams.core.learning.observe import observations, observe_again
    from streams.core.timeline import derive

    unit_ids = sorted({r.record.unit.id for r in _SIM if r.record.record == "plan"})
    uid = data.draw(st.sampled_from(unit_ids), label="unit")
    plan = next(r.record for r in _SIM if r.record.record == "plan" and r.record.unit.id == uid)
    events = data.draw(st.permutations([r.record for r in _SIM if r.record.record == "event"
                                        and r.record.unit.id == uid]), label="order")  # fmt: skip
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), min_size=1, max_size=4), label="cuts"))
    carriers = [leg.carrier for leg in plan.legs]
    before = None
    prev_ev: list = []
    for cut in [*cuts, len(events)]:
        view = derive(plan.unit, plan, events[:cut], None, POLICY)
        # The incremental engine keeps an unchanged milestone's Evidence object: so does this (one plan: as many).
        evidence = [p if p == e else e for e, p in zip(view.evidence, prev_ev or view.evidence, strict=True)]
        fresh = observations(view.evidence, carriers, POLICY, cape_legs(view.diversion), view.holds)
        again, chunks = observe_again(evidence, carriers, POLICY, cape_legs(view.diversion), view.holds, before)
        assert list(again.items()) == list(fresh.items())
        if view.holds:  # the tracker teaches again only under the same holds: start afresh
            before = None
        else:
            before, prev_ev = (evidence, chunks), evidence
