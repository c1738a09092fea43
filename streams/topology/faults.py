"""Fault points: named pauses inside a worker, for tests that must make a race happen every time.

A worker started with `CORRIDOR_FAULTS="recovery_completed=6"` waits 6 seconds at that point (each time it
passes it, or only the first N times with `recovery_completed=6x1`), so a test can, say, have a rebalance begin
while the worker is between restoring its tables and resuming its streams. Unset, a fault point costs one dict
look-up. The points: `recovery_completed` (tables restored, streams not yet resumed) and `batch_written` (a
batch's outputs and state written, its input not yet acknowledged)."""

from __future__ import annotations

import asyncio
import logging
import os

log = logging.getLogger(__name__)


def _parse(spec: str) -> dict[str, list[float]]:
    points: dict[str, list[float]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        seconds, _, times = value.partition("x")
        points[name.strip()] = [float(seconds or 0)] * (int(times) if times else 1_000_000)
    return points


_points = _parse(os.environ.get("CORRIDOR_FAULTS", ""))


async def hold(name: str) -> None:
    """Pause here if the fault point `name` is set (and has passes left)."""
    left = _points.get(name)
    if not left:
        return
    seconds = left.pop()
    log.warning("fault point %s: holding %.1f s", name, seconds)
    await asyncio.sleep(seconds)
