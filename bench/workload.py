"""The benchmark's input: plans and canonical events of a realistic mix (the simulator's four corridors,
delays, duplicates, out-of-order reports), for as many units as asked, as (topic role, key, value) bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas import dumps
from streams.sim.scenario import generate

PER_SEED = 500  # units per corridor per simulator run; runs are staggered in time and merged


@dataclass
class Workload:
    plans: list[tuple[bytes, bytes]]
    events: list[tuple[bytes, bytes]]
    units: int

    @property
    def records(self) -> int:
        return len(self.plans) + len(self.events)


def build(units: int, seed: int = 1, distinct_events: bool = False) -> Workload:
    """About 14 events per unit. `distinct_events` drops re-sent duplicates (for latency probes, where every
    event must cause an output)."""
    merged: list = []
    seen_units: set[str] = set()
    run = 0
    while len(seen_units) < units:
        per_corridor = min(PER_SEED, -(-(units - len(seen_units)) // 4))
        start = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=3 * run)
        scenario = generate(seed=seed * 1000 + run, units_per_corridor=per_corridor, start=start)
        run += 1
        fresh = {p.unit.id for p in scenario.plans} - seen_units
        merged += [r for r in scenario.records if r.record.record != "clock" and r.record.unit.id in fresh]
        seen_units |= fresh
    # One feed, as it would have arrived: every run's records interleaved by the time they became known.
    merged.sort(key=lambda r: r.published_at)
    plans: list[tuple[bytes, bytes]] = []
    events: list[tuple[bytes, bytes]] = []
    seen_events: set[str] = set()
    for r in merged:
        rec = r.record
        if rec.record == "plan":
            plans.append((rec.unit.id.encode(), dumps(rec)))
        elif not (distinct_events and rec.event_id in seen_events):
            seen_events.add(rec.event_id)
            events.append((rec.unit.id.encode(), dumps(rec)))
    return Workload(plans, events, len(seen_units))
