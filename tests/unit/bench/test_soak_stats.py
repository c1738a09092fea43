"""The soak's arithmetic: the least-squares slope and its interval, the verdict, histogram quantiles."""

from __future__ import annotations

import math
import random

import pytest

from bench.soak_stats import (
    fit,
    histogram_delta,
    histogram_quantile,
    mb_per_hour,
    second_half,
    steady_from,
    t95,
    unsettled,
    verdict,
)


def test_fit_recovers_an_exact_line() -> None:
    xs = [0.0, 0.5, 1.0, 1.5, 2.0]
    f = fit(xs, [300 + 12 * x for x in xs])
    assert f.slope == pytest.approx(12)
    assert f.intercept == pytest.approx(300)
    assert f.residual_sd == pytest.approx(0, abs=1e-9)
    assert f.low == pytest.approx(12) and f.high == pytest.approx(12)


def test_fit_matches_the_textbook_standard_error() -> None:
    # y = 1, 3, 2, 5, 4 at x = 1..5: slope 0.8, SSE 3.6, sd sqrt(1.2), se sqrt(1.2 / 10)
    f = fit([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])
    assert f.slope == pytest.approx(0.8)
    assert f.residual_sd == pytest.approx(math.sqrt(1.2))
    assert f.stderr == pytest.approx(math.sqrt(0.12))
    assert f.half_width == pytest.approx(3.182 * math.sqrt(0.12))


def test_fit_refuses_what_has_no_slope() -> None:
    with pytest.raises(ValueError):
        fit([1.0], [2.0])
    with pytest.raises(ValueError):
        fit([1.0, 1.0, 1.0], [2.0, 3.0, 4.0])
    assert math.isinf(fit([0.0, 1.0], [0.0, 1.0]).stderr)  # two points: a line, but no interval


def test_t95_table_and_tail() -> None:
    assert t95(1) == 12.706 and t95(10) == 2.228 and t95(30) == 2.042 and t95(200) == 1.96
    assert math.isinf(t95(0))


def test_second_half_keeps_the_points_from_the_middle_on() -> None:
    xs, ys = second_half([0, 1, 2, 3, 4], [10, 11, 12, 13, 14])
    assert xs == [2, 3, 4] and ys == [12, 13, 14]


def test_mb_per_hour_converts_seconds() -> None:
    assert mb_per_hour([(0, 300.0), (1800, 310.0)]) == ([0.0, 0.5], [300.0, 310.0])


def _noisy(slope: float, sd: float, n: int = 16, seed: int = 3) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    xs = [i / 60 for i in range(n)]  # a sample a minute, in hours
    return xs, [400 + slope * x + rng.gauss(0, sd) for x in xs]


def test_noise_without_a_trend_is_flat() -> None:
    xs, ys = _noisy(slope=0, sd=0.5)
    v = verdict(fit(xs, ys), rss_now_mb=400)
    assert v.word == "flat within noise"
    assert v.budget_mb_per_h == pytest.approx((1024 - 400) / 24)


def test_a_clear_leak_grows_and_says_when_the_target_is_reached() -> None:
    xs, ys = _noisy(slope=200, sd=0.5)
    v = verdict(fit(xs, ys), rss_now_mb=424)
    assert v.word == "grows"
    assert v.hours_to_target == pytest.approx(600 / 200, rel=0.1)
    assert "target is reached in" in str(v)


def test_memory_given_back_falls() -> None:
    xs, ys = _noisy(slope=-200, sd=0.5)
    assert verdict(fit(xs, ys), rss_now_mb=400).word == "falls"


def test_too_much_noise_to_rule_out_a_leak_is_inconclusive() -> None:
    xs, ys = _noisy(slope=0, sd=30)  # the interval spans far more than the 26 MB/h budget
    f = fit(xs, ys)
    assert f.low < 0 < f.high and f.high > (1024 - 400) / 24
    assert verdict(f, rss_now_mb=400).word == "inconclusive"


def test_histogram_quantile_bounds_by_bucket() -> None:
    before = {0.01: 5, 0.1: 8, 1.0: 10, math.inf: 10}
    after = {0.01: 95, 0.1: 105, 1.0: 110, math.inf: 110}
    delta = histogram_delta(before, after)
    assert delta == {0.01: 90, 0.1: 97, 1.0: 100, math.inf: 100}
    assert histogram_quantile(delta, 0.5) == 0.01
    assert histogram_quantile(delta, 0.95) == 0.1
    assert histogram_quantile(delta, 0.99) == 1.0
    assert histogram_quantile({0.01: 0, math.inf: 0}, 0.99) is None
    assert histogram_quantile({0.01: 0, math.inf: 4}, 0.99) == math.inf


def test_rss_past_the_target_has_no_budget_and_says_so() -> None:
    xs, ys = _noisy(slope=400, sd=0.5)
    v = verdict(fit(xs, ys), rss_now_mb=1221)
    assert v.word == "grows" and v.budget_mb_per_h == 0 and v.hours_to_target is None
    assert "already above the target" in str(v)


def _filling(entries: list[float], bound: float = 1000) -> list[dict[str, tuple[float, float]]]:
    return [{"units": (e, bound)} for e in entries]


def test_the_steady_phase_starts_when_every_cache_is_full() -> None:
    fills = [{"units": (u, 1000.0), "to_micros": (t, 8192.0)}
             for u, t in [(200, 1000), (600, 3000), (1000, 5000), (1000, 7000), (1000, 8192), (1000, 8192)]]
    assert unsettled(fills, 2) == ["to_micros"]  # units full; to_micros still filling
    assert steady_from(fills) == 4  # the first sample with both full, `window` (3) samples in
    assert steady_from(fills[:4]) is None


def test_a_cache_that_stopped_short_of_its_bound_is_stable() -> None:
    # A cache whose keys ran out (the feed's lanes) never fills: it settles once it stops growing.
    fills = _filling([10, 40, 41, 41, 41, 41], bound=8192)
    assert unsettled(fills, 1) == ["units"]  # fewer than `window` samples behind: only full counts
    assert steady_from(fills) == 3  # grew by 1 (< 1% of 8,192) over the last three samples
    # Growth of more than 1% of the bound over the window is filling, however slow.
    assert steady_from(_filling([0, 100, 200, 300, 400, 500, 600], bound=8192)) is None


def test_a_cache_that_appears_later_counts_as_empty_before() -> None:
    fills = [{"a": (10.0, 10.0)}, {"a": (10.0, 10.0)}, {"a": (10.0, 10.0)},
             {"a": (10.0, 10.0), "b": (500.0, 4096.0)}, {"a": (10.0, 10.0), "b": (500.0, 4096.0)}]  # fmt: skip
    assert unsettled(fills, 3) == ["b"]  # from nothing to 500 within the window
    assert steady_from(fills) is None


def test_unbounded_caches_do_not_hold_the_steady_phase_back() -> None:
    fills = [{"table": (float(i), 0.0), "units": (1000.0, 1000.0)} for i in range(5)]
    assert steady_from(fills) == 3


def test_shrinking_counts_as_settled() -> None:
    # RocksDB's budget in use falls when memtables flush: memory given back is not filling.
    assert steady_from(_filling([60, 63, 50, 40, 41], bound=64)) == 3


def test_a_slow_growth_well_inside_the_budget_is_told_apart_from_a_leak_that_matters() -> None:
    xs, ys = _noisy(slope=3, sd=0.05, n=24)  # the 30-minute soak of 7 December: +3 MB/h, RSS quantised to 0.1 MB
    v = verdict(fit(xs, ys), rss_now_mb=375)
    assert v.word == "grows within budget" and v.hours_to_target == pytest.approx((1024 - 375) / 3, rel=0.2)
    xs, ys = _noisy(slope=60, sd=0.05, n=24)  # past the 27 MB/h budget: a leak that matters within a day
    assert verdict(fit(xs, ys), rss_now_mb=375).word == "grows"
