"""A worker learns from a first simulated month and predicts the second with what it learned (lane bias, hub
dwell, biased carrier estimates: streams/sim/phenomena.py); its outputs are exactly a replay's, and what it
learned is in the clock table's changelog, so a worker rebuilt from it starts from the same knowledge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.core.learning.knowledge import decode_model
from streams.io.kafka import Publisher
from streams.processing.replay import canonical_order
from streams.sim.phenomena import REALISM
from streams.sim.scenario import generate
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import expected

pytestmark = pytest.mark.integration


async def test_a_worker_learns_from_one_month_and_predicts_the_next_as_a_replay_does(bootstrap, settings, topics,
                                                                                      reader):  # fmt: skip
    first = generate(seed=21, units_per_corridor=4, shipments=0, realism=REALISM)
    second = generate(seed=22, units_per_corridor=4, shipments=0, realism=REALISM,
                      start=first.end + timedelta(days=1))  # fmt: skip
    history = canonical_order([r.record for r in first.records + second.records])
    settings = settings.model_copy(update={"learn_min_samples": 2})
    async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
        await pub.send_all(history)
    want = expected(history, topics, PARTITIONS, min_samples=2)
    async with running(settings, bootstrap) as topology:
        await reader.wait_for(lambda r: len(r.of("timeline")) >= len(want[topics.name("timeline")]), timeout=120)
        await reader.settle()
        clock = topology.app.tables["clock"]
        stored = {p: clock.get(f"learned:{p}".encode()) for p in range(PARTITIONS)}

    second_units = {o.unit for o in second.outcomes}
    for role in ("timeline", "alert", "eta"):
        for unit in {p.unit.id for p in history if p.record == "plan"}:
            assert [r for r in reader.of(role) if r["unit"]["id"] == unit] == [
                r for r in want[topics.name(role)] if r["unit"]["id"] == unit], (role, unit)
    learned = [e for e in reader.of("eta") if e["unit"]["id"] in second_units and "model: learned" in e["reason"]]
    assert learned, "the second month's ETAs use what the first taught"
    assert all(e["arrival_p10"] <= e["predicted_arrival"] <= e["arrival_p90"] for e in reader.of("eta"))
    # Each partition's knowledge is stored under its own key, and a worker on a fresh disk rebuilds it from the
    # changelog: it starts from what the first one learned.
    models = {p: decode_model(raw) for p, raw in stored.items() if raw is not None}
    assert len(models) == PARTITIONS and all(any(k.startswith("T|") for k in m) for m in models.values())
    fresh = settings.model_copy(update={"data_dir": settings.data_dir.parent / "rebuilt"})
    async with running(fresh, bootstrap) as topology:
        clock = topology.app.tables["clock"]
        rebuilt = {p: clock.get(f"learned:{p}".encode()) for p in range(PARTITIONS)}
    assert rebuilt == stored
