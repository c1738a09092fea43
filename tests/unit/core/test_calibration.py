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


def test_a_band_that_held_every_arrival_well_inside_is_narrowed_and_its_median_kept() -> None:
    # 50 arrivals each side, all within 40% of the side: 10% beyond p10 (and p90) needs each side at its p80.
    cal = Calibration(_prior([i * 8 for i in range(50)], [i * 8 for i in range(50)]))
    band = fc.Forecast(T0 - 10 * H, T0, T0 + 20 * H, fc.TRANSIT)
    out = cal.calibrate(band, T0 - 20 * H, "ANY")
    assert out.mid == band.mid and out.lo > band.lo and out.hi < band.hi and out.lo <= out.mid <= out.hi
    assert out.learned & fc.CALIBRATED and "band calibrated" in fc.model_name(out.learned)
    assert abs((out.hi - out.mid) / H - 20 * 0.32) < 0.5  # the p80 of 0..392 per mille: about 0.32 of the side
    # Nothing measured for the plan model, or that far out: unchanged.
    assert cal.calibrate(fc.Forecast(band.lo, band.mid, band.hi), T0 - 20 * H, "ANY").learned == 0
    assert cal.calibrate(band, T0 - 300 * H, "ANY") == band
    # Too few measured: unchanged; no calibration in the prior at all: unchanged.
    assert Calibration(_prior([100] * 10, [100] * 10)).calibrate(band, T0 - 20 * H, None) == band
    assert Calibration({}).calibrate(band, T0 - 20 * H, None) == band


def test_a_lane_of_its_own_wins_over_all_lanes_and_a_band_too_narrow_is_widened() -> None:
    prior = {**_prior([500] * 40, [500] * 40), **_prior([3000] * 40, [3000] * 40, lane="SEA")}
    cal = Calibration(prior)
    band = fc.Forecast(T0 - H, T0, T0 + H, fc.TRANSIT)
    m = timedelta(minutes=1)
    assert abs(cal.calibrate(band, T0 - 10 * H, "SEA").hi - (T0 + 3 * H)) <= 4 * m  # to the sketch's 4%
    assert abs(cal.calibrate(band, T0 - 10 * H, "RAIL").hi - (T0 + 30 * m)) <= 2 * m


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
    plain = backtest.learn(records, TrackingPolicy())
    measured = backtest.learn(records, TrackingPolicy(), calibrate=True)
    assert not any(k.startswith("Z|") for k in plain)
    z = {k: s for k, s in measured.items() if k.startswith("Z|")}
    assert z and all(k.split("|")[1] in ("lo", "hi") for k in z)
    assert {k: s for k, s in measured.items() if not k.startswith("Z|")} == plain  # nothing else differs
