"""Unit tests: pure functions and the engine over dict stores; no broker, no I/O."""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# `factories` sits next to the tests; keep it importable whatever the package layout of tests/ becomes.
sys.path.insert(0, str(Path(__file__).parent))

# No example database on disk (the suite runs with the cache provider off) and no per-example deadline:
# the first engine call pays for pydantic's lazy schema building.
settings.register_profile(
    "corridor", database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("corridor")
