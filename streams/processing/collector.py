"""The garbage collector's settings for a process that runs the engine: one place, for the worker and the engine
benchmark alike, so that the benchmark measures the engine as the worker runs it."""

from __future__ import annotations

import gc

# Collect young objects less often: the engine and a table rebuild allocate many short-lived ones, and every
# unit's state and derived view is long-lived. With Python's defaults (700, 10, 10) a rebuild of 300,000 records
# spent 1.4 s in the collector (1,600 collections, 16 of them full), with these 0.3 s; the engine benchmark on
# 3,000 units ran about 15% faster in CPU time (docs/performance.md).
THRESHOLDS = (50_000, 20, 100)


def tune() -> None:
    """Set the collector's thresholds (before start-up: a table rebuild is the first to gain)."""
    gc.set_threshold(*THRESHOLDS)


def freeze() -> None:
    """Keep what was allocated so far (modules, app, topology: it lives as long as the process) out of the
    collector's scans."""
    gc.freeze()
