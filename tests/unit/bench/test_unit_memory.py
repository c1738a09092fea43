"""`python -m bench units-memory`: its layers add up, and the soak reports growth beside the RocksDB budget."""

from __future__ import annotations

import pytest

from bench.soak import report
from bench.unit_memory import _inputs, measure, throughput


def test_a_cached_unit_is_measured_layer_by_layer() -> None:
    r = measure(400)
    assert r["units"] > 50 and r["with_derivation"] == r["units"]
    assert r["derivation_kb"] > 0 and r["rows_kb"] > 0 and r["state_kb"] > 0
    total = r["derivation_kb"] + r["rows_kb"] + r["state_kb"]
    assert r["cached_kb_per_unit"] == pytest.approx(total, abs=0.05)
    # Decoded and derived, a unit takes several times its encoded bytes: what bounds the cache's count.
    assert r["cached_kb_per_unit"] > 3 * r["stored_kb_per_unit"]
    assert r["miss_us"] > 0


def test_a_smaller_cache_reads_units_from_the_store_again() -> None:
    rates = throughput(_inputs(1500, None), [20, 100_000], rounds=1)  # evicted at the flush of each 1,000
    assert rates[20][1] > rates[100_000][1] > 0  # miss fractions


def test_the_soak_fits_rss_less_the_rocksdb_memory_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    samples = [(60.0 * i, 400 + 2 * i) for i in range(1, 21)]  # RSS grows by the RocksDB budget filling...
    beyond = [(60.0 * i, 300 + (i % 2) * 0.5) for i in range(1, 21)]  # ... and nothing else
    full = [{"units": (1000.0, 1000.0)}] * 20  # every cache full from the start: steady from the third sample on
    summary = report({"rate": 100, "hold": 50, "samples": samples, "lags": [0] * 20, "sent": 1, "failed": 0,
                      "beyond_rocksdb": beyond, "fills": full,
                      "beyond_by_work": [(3000.0 * i, mb) for i, (_, mb) in enumerate(beyond)]})  # fmt: skip
    assert summary["verdict"] == "grows" and summary["steady_from_min"] == 4.0
    assert summary["phase_committed"] == 16 * 3000 and summary["phase_committed_per_s"] == 50  # kept up
    assert summary["phase_slope_mb_h"] == pytest.approx(120)
    low, high = summary["beyond_rocksdb_ci"]
    assert low < 0 < high and abs(summary["beyond_rocksdb_slope_mb_h"]) < 5
    out = capsys.readouterr().out
    assert "RSS less the RocksDB memory in use, steady phase" in out and "fell behind" not in out
    stalled = [(3000.0 * min(i, 8), mb) for i, (_, mb) in enumerate(beyond)]  # nothing committed after sample 8
    report({"rate": 100, "hold": 50, "samples": samples, "lags": [0] * 20, "sent": 1, "failed": 0,
            "beyond_rocksdb": beyond, "fills": full, "beyond_by_work": stalled})  # fmt: skip
    assert "the worker fell behind" in capsys.readouterr().out


def test_the_soak_gives_no_verdict_while_a_cache_still_fills(capsys: pytest.CaptureFixture[str]) -> None:
    samples = [(60.0 * i, 400.0 + (i % 2) * 0.5) for i in range(1, 21)]  # flat...
    filling = [{"units": (1000.0, 1000.0), "streams.core.state.to_micros": (400.0 * i, 8192.0)} for i in range(20)]
    summary = report({"rate": 100, "hold": 50, "samples": samples, "lags": [0] * 20, "sent": 1, "failed": 0,
                      "fills": filling})  # fmt: skip
    assert summary["verdict"] == "not steady"  # ... but not shown with every cache at its plateau
    out = capsys.readouterr().out
    assert "still filling at the end: streams.core.state.to_micros" in out
    assert "verdict: not steady" in out and "verdict: flat" not in out
