"""Calibrating the published band by measured errors (streams/core/learning/calibration.py): what a standing band
and its arrival teach, the scales they give (the median never moves, the band stays ordered, the same prior gives
the same bytes), and a prior that carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.core.learning import Sketch
from streams.core.learning import forecast as fc
from streams.core.learning.calibration import Calibration, horizon_class, observe
from streams.core.learning.knowledge import decode_model, encode_model

T0 = datetime(2024, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_an_arrival_is_measured_in_units_of_the_side_it_fell_on() -> None:
    band = (T0 - 2 * H, T0, T0 + 4 * H)
    late = observe("L1", T0 - 20 * H, band, True, T0 + 2 * H)
    assert late == [("Z|hi|L1|1|L", 500), ("Z|hi|*|1|L", 500)]  # half its upper side, a day out
    early = observe(None, T0 - 100 * H, band, False, T0 - 3 * H)
    assert early == [("Z|lo|*|3|P", 1500)]
    assert observe("L1", T0, (T0, T0, T0 + H), True, T0 - H) == []  # no lower side to measure in
    assert [horizon_class(h) for h in (0, 40, 41, 109, 110, 237, 238, 1000)] == ["1", "1", "3", "3", "7", "7", "14",
                                                                                 "14"]  # fmt: skip


def _prior(lo: list[int], hi: list[int], lane: str = "*", horizon: str = "1") -> dict[str, Sketch]:
    out = {}
    for side, values in (("lo", lo), ("hi", hi)):
        s = Sketch()
        for v in values:
            s.add(v)
        out[f"Z|{side}|{lane}|{horizon}|L"] = s
    return out


def test_a_band_that_held_every_arrival_well_inside_is_narrowed_by_a_fifth_at_most_and_its_median_kept() -> None:
    # 50 arrivals each side, all within 40% of the side: 7.5% beyond p10 (and p90) would put each side at its p85,
    # a third of the side; the errors of a month's few departures are too noisy for that: a fifth off at most.
    cal = Calibration(_prior([i * 8 for i in range(50)], [i * 8 for i in range(50)]))
    band = fc.Forecast(T0 - 10 * H, T0, T0 + 20 * H, fc.TRANSIT)
    out = cal.calibrate(band, T0 - 20 * H, "ANY")
    assert out.mid == band.mid and out.lo > band.lo and out.hi < band.hi and out.lo <= out.mid <= out.hi
    assert out.learned & fc.CALIBRATED and "band calibrated" in fc.model_name(out.learned)
    assert out.hi - out.mid == 16 * H and out.mid - out.lo == 8 * H  # LIMITS[0]: 0.8 of each side
    # Errors spread to 1.2 sides: each side scaled to their p85 (7.5% of all arrivals beyond it), about 1.02.
    wide = Calibration(_prior([i * 24 for i in range(50)], [i * 24 for i in range(50)])).calibrate(band, T0 - 20 * H,
                                                                                                  "ANY")  # fmt: skip
    assert abs((wide.hi - wide.mid) / H - 20 * 1.02) < 0.6
    # Nothing measured for the plan model, or that far out: unchanged.
    assert cal.calibrate(fc.Forecast(band.lo, band.mid, band.hi), T0 - 20 * H, "ANY").learned == 0
    assert cal.calibrate(band, T0 - 300 * H, "ANY") == band
    # Too few measured: unchanged; no calibration in the prior at all: unchanged.
    assert Calibration(_prior([100] * 10, [100] * 10)).calibrate(band, T0 - 20 * H, None) == band
    assert Calibration({}).calibrate(band, T0 - 20 * H, None) == band


def test_a_lane_of_its_own_wins_over_all_lanes_and_a_band_too_narrow_is_widened() -> None:
    prior = {**_prior([500] * 40, [900] * 40), **_prior([3000] * 40, [3000] * 40, lane="SEA")}
    cal = Calibration(prior)
    band = fc.Forecast(T0 - H, T0, T0 + H, fc.TRANSIT)
    m = timedelta(minutes=1)
    assert abs(cal.calibrate(band, T0 - 10 * H, "SEA").hi - (T0 + 3 * H)) <= 4 * m  # to the sketch's 4%
    assert abs(cal.calibrate(band, T0 - 10 * H, "RAIL").hi - (T0 + 54 * m)) <= 3 * m
    assert cal.calibrate(band, T0 - 10 * H, "RAIL").lo == T0 - 48 * m  # 0.5 measured, 0.8 at most narrowed


@given(st.lists(st.integers(0, 5000), min_size=30, max_size=80), st.lists(st.integers(0, 5000), min_size=30,
                                                                              max_size=80),
       st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 400))  # fmt: skip
def test_a_calibrated_band_is_ordered_keeps_its_median_and_is_the_same_from_the_same_prior(lo, hi, below, above,
                                                                                           hours) -> None:  # fmt: skip
    prior = _prior(lo, hi, horizon=horizon_class(hours))
    band = fc.Forecast(T0 - below * timedelta(minutes=1), T0, T0 + above * timedelta(minutes=1), fc.WAIT)
    out = Calibration(prior).calibrate(band, T0 - hours * H, None)
    assert out.lo <= out.mid == band.mid <= out.hi
    again = Calibration(decode_model(encode_model(prior))).calibrate(band, T0 - hours * H, None)
    assert again == out


def test_learning_from_a_history_measures_its_bands_only_when_asked() -> None:
    from streams.core.policy import TrackingPolicy
    from streams.processing import backtest
    from streams.sim.phenomena import REALISM
    from streams.sim.scenario import generate

    records = [r.record for r in generate(seed=5, units_per_corridor=8, realism=REALISM).records]
    plain = backtest.learn(records, TrackingPolicy(), min_samples=2)
    measured = backtest.learn(records, TrackingPolicy(), calibrate=True, min_samples=2)
    assert not any(k.startswith("Z|") for k in plain)
    z = {k: s for k, s in measured.items() if k.startswith("Z|")}
    assert z and all(k.split("|")[1] in ("lo", "hi") for k in z)
    assert {k: s for k, s in measured.items() if not k.startswith("Z|")} == plain  # nothing else differs
    # Measured held out, and deterministic: the same history gives the same bytes, in any order of its records.
    again = backtest.learn(list(reversed(records)), TrackingPolicy(), calibrate=True, min_samples=2)
    assert encode_model(again) == encode_model(measured)
    # 8 units a lane ride 4 departures, 2 a half: under the default floor of 8 departures, nothing is measured.
    assert backtest.learn(records, TrackingPolicy(), calibrate=True) == backtest.learn(records, TrackingPolicy())


_REFS = st.lists(st.tuples(st.sampled_from(["L1", "L2", None]), st.integers(0, 5), st.integers(0, 3)), min_size=1,
                 max_size=30)  # fmt: skip


def _plans(refs: list[tuple[str | None, int, int]]) -> list:
    from schemas import Leg, Mode, Plan, TrackedUnit, UnitKind

    out = []
    for n, (lane, train, day) in enumerate(refs):
        dep = T0 + timedelta(days=day)
        leg = Leg(mode=Mode.RAIL, carrier="C", origin="CNCKG", destination="DEDUI", planned_departure=dep,
                  planned_arrival=dep + 300 * H, reference=f"T{train}")  # fmt: skip
        unit = TrackedUnit(kind=UnitKind.TRAILER, id=f"TR{n}")
        out.append(Plan(unit=unit, issued_time=T0 - H, lane=lane, legs=[leg]))
    return out


@given(_REFS, st.randoms(use_true_random=False))
def test_the_history_is_halved_by_departure_whatever_the_order_of_its_records(refs, rnd) -> None:
    from streams.processing import backtest

    plans = _plans(refs)
    deps, (a, b) = backtest.departure_folds(plans)
    assert a | b == {p.unit.id for p in plans} and not a & b
    for p in plans:  # all the units of a departure are in one half
        assert all((q.unit.id in a) == (p.unit.id in a) for q in plans if deps[q.unit.id] == deps[p.unit.id])
    # departures alternate: the halves differ by at most one departure
    assert abs(len({deps[u] for u in a}) - len({deps[u] for u in b})) <= 1
    shuffled = list(plans)
    rnd.shuffle(shuffled)
    assert backtest.departure_folds(shuffled) == (deps, (a, b))


def test_corridor_learn_calibrates_by_default_and_not_when_told(tmp_path, monkeypatch) -> None:
    import typer
    from typer.testing import CliRunner

    from streams.interfaces.learning_cli import register
    from streams.sim.phenomena import REALISM
    from streams.sim.scenario import generate

    history = tmp_path / "history.jsonl"
    history.write_bytes(b"".join(r.record.model_dump_json().encode() + b"\n"
                                 for r in generate(seed=5, units_per_corridor=8, realism=REALISM).records))  # fmt: skip
    app = typer.Typer()
    register(app)  # learn, backtest
    monkeypatch.setenv("CORRIDOR_LEARN_MIN_SAMPLES", "2")  # 8 units a lane: 4 departures, 2 a half
    priors = {}
    for flag in ([], ["--no-calibrate"]):
        out = tmp_path / f"prior{len(flag)}.json"
        result = CliRunner().invoke(app, ["learn", str(history), "--out", str(out), *flag])
        assert result.exit_code == 0, result.output
        priors[bool(flag)] = decode_model(out.read_bytes())
    assert any(k.startswith("Z|") for k in priors[False])
    assert not any(k.startswith("Z|") for k in priors[True])
    assert {k: s for k, s in priors[False].items() if not k.startswith("Z|")} == priors[True]
