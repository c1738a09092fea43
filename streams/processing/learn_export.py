"""`corridor learn` from the Parquet export (streams/consumers/export): each unit's latest timeline snapshot in
the `milestones` table gives its plan's milestones with their actual and estimated times, from which the same
observations a worker makes are drawn (`streams.core.learning.observe`).

What the export does not hold is not learned: leg carriers (transit is learned per segment only) and when an
estimate was received (so no source's estimate error; a replay file has both)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pyarrow.dataset as ds

from schemas import Mode, PlannedStopKind
from streams.core.evidence import Evidence
from streams.core.learning import Knowledge, Sketch
from streams.core.learning.observe import observations
from streams.core.milestones import PlannedMilestone
from streams.core.policy import TrackingPolicy


def learn_export(root: Path, policy: TrackingPolicy) -> dict[str, Sketch]:
    table = ds.dataset(root / "milestones", format="parquet", partitioning="hive").to_table(
        columns=["unit", "src_partition", "src_offset", "key", "kind", "leg_index", "mode", "location", "planned",
                 "actual"])  # fmt: skip
    rows = table.to_pylist()
    latest: dict[str, tuple[int, int]] = {}
    for r in rows:
        snap = (r["src_partition"], r["src_offset"])
        if r["unit"] not in latest or snap > latest[r["unit"]]:
            latest[r["unit"]] = snap
    by_unit: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if (r["src_partition"], r["src_offset"]) == latest[r["unit"]]:
            by_unit[r["unit"]].append(r)
    knowledge = Knowledge()
    for unit in sorted(by_unit):
        evidence = [_evidence(r) for r in by_unit[unit]]  # in plan order, as the timeline lists them
        knowledge.apply({}, observations(evidence, [], policy))
    return knowledge.merged()


def _evidence(r: dict) -> Evidence:
    ms = PlannedMilestone(r["key"], PlannedStopKind(r["kind"]), r["leg_index"], Mode(r["mode"]), r["location"],
                          r["planned"])  # fmt: skip
    actual = SimpleNamespace(event_time=r["actual"]) if isinstance(r["actual"], datetime) else None
    return Evidence(ms, actual, None)  # type: ignore[arg-type]
