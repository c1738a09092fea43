"""CORRIDOR_COALESCE_TIMELINES on the real worker: a backlog, taken in batches, writes each unit's latest timeline
once per batch, and every alert and ETA update exactly as `corridor replay` (docs/design/outputs.md)."""

from __future__ import annotations

import pytest

from streams.core.history_order import canonical_order
from streams.io.kafka import Publisher
from streams.sim.scenario import generate
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import expected

pytestmark = pytest.mark.integration


def _subsequence(got: list, want: list) -> bool:
    it = iter(want)
    return all(any(g == w for w in it) for g in got)


async def test_a_backlog_writes_each_units_latest_timeline_per_batch_and_every_alert_and_eta(
    bootstrap, settings, topics, reader
):
    scenario = generate(seed=5, units_per_corridor=4, shipments=0)
    history = canonical_order([r.record for r in scenario.records])
    units = [r.unit.id for r in history if r.record == "plan"]
    async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
        await pub.send_all(history)  # all waiting when the worker starts: it takes them in batches
    want = expected(history, topics, PARTITIONS)
    last = {t["unit"]["id"]: t for t in want[topics.name("timeline")]}

    def per_unit(records: list[dict], unit: str) -> list[dict]:
        return [r for r in records if r["unit"]["id"] == unit]

    async with running(settings.model_copy(update={"coalesce_timelines": True}), bootstrap) as topology:
        await reader.wait_for(lambda r: {t["unit"]["id"]: t for t in r.of("timeline")} == last
                              and len(r.of("eta")) >= len(want[topics.name("eta")]), timeout=90)  # fmt: skip
        await reader.settle()
        batches = topology.batchers["track"].batches

    for role in ("alert", "eta"):  # never coalesced: exactly replay's, unit by unit
        for unit in units:
            assert per_unit(reader.of(role), unit) == per_unit(want[topics.name(role)], unit), (role, unit)
    timelines = reader.of("timeline")
    for unit in units:  # some of replay's timelines, in its order, ending with its last
        got, exp = per_unit(timelines, unit), per_unit(want[topics.name("timeline")], unit)
        assert got[-1] == exp[-1] and _subsequence(got, exp), unit
    assert batches < len(history) / 2  # the backlog was taken in batches
    assert len(timelines) < len(want[topics.name("timeline")]) / 2
    assert reader.of("dead_letter") == []
