"""`CORRIDOR_LRU_CACHE_SCALE` (streams/topology/cache_bounds.py): every bounded lru cache of the jobs is replaced by
one of the scaled bound, everywhere it is called from, so the engines fill only the new ones."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator

import pytest

from schemas import dumps
from schemas.topics import TopicNames
from streams.core.policy import TrackingPolicy
from streams.processing.replay import replay
from streams.sim.scenario import generate
from streams.topology import cache_bounds
from streams.topology.metrics import lru_caches


@pytest.fixture
def restored() -> Iterator[None]:
    """Put every module's original caches back: the rescale is process-wide, other tests see the real bounds."""
    held = [(m, name, obj) for m in cache_bounds._modules() for name, obj in list(vars(m).items())
            if isinstance(obj, functools._lru_cache_wrapper)]  # fmt: skip
    yield
    for module, name, obj in held:
        setattr(module, name, obj)


def _lines() -> list[bytes]:
    scenario = generate(seed=5, units_per_corridor=3, shipments=1)
    return [dumps(r.record) for r in scenario.records]


def test_one_changes_nothing() -> None:
    before = dict(lru_caches())
    assert cache_bounds.rescale(1) == {}
    assert lru_caches() == before
    with pytest.raises(ValueError):
        cache_bounds.rescale(0)


def test_scaled_caches_replace_the_old_ones_everywhere_and_the_jobs_fill_only_them(restored: None) -> None:
    import streams.core.state as state_module

    old = dict(lru_caches())
    changed = cache_bounds.rescale(1 / 16)
    assert changed["streams.core.state.to_micros"] == (1 << 17, 1 << 13)
    assert changed["streams.core.records.trusted_unit"] == (65536, 4096)
    assert changed["streams.core.schedule._instant"] == (256, cache_bounds.FLOOR)
    new = lru_caches()
    assert state_module.to_micros is new["streams.core.state.to_micros"] is not old["streams.core.state.to_micros"]
    for name, (_, bound) in changed.items():
        assert new[name].cache_info().maxsize == bound
        assert new[name].__wrapped__ is old[name].__wrapped__
    # No module of corridor's still holds an old cache under any name.
    stale = {id(c) for n, c in old.items() if n in changed}
    for module in list(sys.modules.values()):
        if module is not None and getattr(module, "__name__", "").startswith(("streams.", "schemas.")):
            assert not [k for k, v in vars(module).items() if id(v) in stale], module.__name__
    for name in changed:
        old[name].cache_clear()
    result = replay(_lines(), TopicNames("t."), TrackingPolicy(), 4)
    assert result.accepted and result.outputs
    assert {n: old[n].cache_info().currsize for n in changed} == dict.fromkeys(changed, 0)  # only the new fill
    assert new["streams.core.state.to_micros"].cache_info().currsize > 0
    assert new["streams.core.records.trusted_unit"].cache_info().currsize > 0
