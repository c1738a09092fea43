"""The garbage collector's settings for a process that runs the engine: one place, for the worker and the engine
benchmark alike, so that the benchmark measures the engine as the worker runs it."""

from __future__ import annotations

import gc

# Collect young objects less often: the engine and a table rebuild allocate many short-lived ones, and every
# unit's state and derived view is long-lived. With Python's defaults (700, 10, 10) a rebuild of 300,000 records
# spent 1.4 s in the collector (1,600 collections, 16 of them full), with these 0.3 s; the engine benchmark on
# 3,000 units ran about 15% faster in CPU time (docs/performance.md).
# The middle generation is collected every 2 young collections, not 20: each of its collections scans what
# survived since the last, and after a burst of new state (12,000 units loaded, then a vessel's ETA change) one
# took 450 ms in the middle of the change; at 2 they take 30-190 ms. Full collections keep their cadence (2,000
# young collections between chances); the engine benchmark and the rebuild did not move beyond noise.
THRESHOLDS = (50_000, 2, 1000)


def tune() -> None:
    """Set the collector's thresholds (before start-up: a table rebuild is the first to gain)."""
    gc.set_threshold(*THRESHOLDS)


def freeze() -> None:
    """Keep what was allocated so far (modules, app, topology: it lives as long as the process) out of the
    collector's scans."""
    gc.freeze()
