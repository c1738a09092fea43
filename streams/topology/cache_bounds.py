"""`CORRIDOR_LRU_CACHE_SCALE`: the bounds of the jobs' `functools.lru_cache`s, scaled for one worker.

The caches are module-level (`streams.core.state.to_micros`, `streams.core.records.trusted_unit`...), with their
bounds written where they are defined; a worker with less memory to spare, or a soak that has to see them full
within its run (docs/soak.md), scales them all at once. An `lru_cache`'s bound cannot change, so each bounded
cache is replaced by a fresh one of the scaled bound around the same function, in every module of corridor that
holds it (callers look the name up in their module's globals on each call, so every later call uses the new one;
tests/unit/topology/test_cache_bounds.py runs the engines after a rescale and checks that no old cache fills).
Done once, at worker start, before any record is processed."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

FLOOR = 64  # no cache smaller than this: a handful of entries would only measure the misses


def _modules() -> list[Any]:
    return [m for name, m in list(sys.modules.items())
            if m is not None and name.startswith(("streams.", "schemas.", "bench."))]  # fmt: skip


def rescale(scale: float) -> dict[str, tuple[int, int]]:
    """Replace each bounded lru cache of corridor's loaded modules by one of `scale` times its bound (at least
    FLOOR, never above the bound when scale < 1): by cache, (old bound, new bound). Unbounded caches (tables
    loaded once) and caches of bound 1 are left alone. scale 1 changes nothing."""
    if scale <= 0:
        raise ValueError("the scale must be positive")
    if scale == 1:
        return {}
    modules = _modules()
    replaced: dict[int, Any] = {}  # id(old wrapper) -> new wrapper
    changed: dict[str, tuple[int, int]] = {}
    for module in modules:
        for obj in list(vars(module).values()):
            if not isinstance(obj, functools._lru_cache_wrapper) or id(obj) in replaced:
                continue
            bound = obj.cache_info().maxsize
            if bound is None or bound <= 1:
                continue
            new_bound = max(FLOOR, round(bound * scale))
            if scale < 1:
                new_bound = min(new_bound, bound)
            fresh = functools.lru_cache(maxsize=new_bound, typed=obj.cache_parameters()["typed"])(obj.__wrapped__)
            replaced[id(obj)] = fresh
            changed[f"{obj.__wrapped__.__module__}.{obj.__wrapped__.__qualname__}"] = (bound, new_bound)
    for module in modules:  # every module that imported a cache by name holds the old wrapper too
        for name, obj in list(vars(module).items()):
            if id(obj) in replaced and isinstance(obj, functools._lru_cache_wrapper):
                setattr(module, name, replaced[id(obj)])
    if changed:
        log.info("lru cache bounds scaled by %g: %s", scale,
                 ", ".join(f"{n} {a}->{b}" for n, (a, b) in sorted(changed.items())))  # fmt: skip
    return changed
