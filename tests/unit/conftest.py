"""Unit tests: pure functions and the engine over dict stores; no broker, no I/O."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# No example database on disk (the suite runs with the cache provider off) and no per-example deadline:
# the first engine call pays for pydantic's lazy schema building.
settings.register_profile(
    "corridor", database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("corridor")
