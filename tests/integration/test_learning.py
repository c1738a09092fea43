"""A worker learns from a first simulated month and predicts the second with what it learned (lane bias, hub
dwell, biased carrier estimates: streams/sim/phenomena.py); its outputs are exactly a replay's, and what it
learned is the sum of what its units' states say they taught, so a worker rebuilt from the changelogs starts
from the same knowledge."""

from __future__ import annotations

import asyncio
import shutil
from datetime import timedelta

import orjson
import pytest

from streams.core.history_order import canonical_order
from streams.core.learning.knowledge import encode_model, model_of
from streams.core.state import learned_of
from streams.io.kafka import Publisher
from streams.sim.phenomena import REALISM
from streams.sim.scenario import generate
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.lost_writes import ClockLostAfter
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
        knowledge = topology.engine.knowledge
        assert knowledge is not None
        taught = {p: encode_model(knowledge.model(p)) for p in range(PARTITIONS)}  # change by change
        units = topology.engine.units
        stored = {p: encode_model(model_of(learned_of(v) for v in units.values_in(p))) for p in range(PARTITIONS)}
        assert b"learned:0" not in topology.engine.clock  # not kept twice

    second_units = {o.unit for o in second.outcomes}
    for role in ("timeline", "alert", "eta"):
        for unit in {p.unit.id for p in history if p.record == "plan"}:
            assert [r for r in reader.of(role) if r["unit"]["id"] == unit] == [
                r for r in want[topics.name(role)] if r["unit"]["id"] == unit], (role, unit)
    learned = [e for e in reader.of("eta") if e["unit"]["id"] in second_units and "model: learned" in e["reason"]]
    assert learned, "the second month's ETAs use what the first taught"
    assert all(e["arrival_p10"] <= e["predicted_arrival"] <= e["arrival_p90"] for e in reader.of("eta"))
    # Each partition's knowledge, learned change by change, is what its units' stored states teach together; a
    # worker on a fresh disk rebuilds the units from the changelog and starts from what the first one learned.
    assert taught == stored
    assert all(b'"T|' in m for m in stored.values())
    fresh = settings.model_copy(update={"data_dir": settings.data_dir.parent / "rebuilt"})
    async with running(fresh, bootstrap) as topology:
        knowledge = topology.engine.knowledge
        assert knowledge is not None
        rebuilt = {p: encode_model(knowledge.model(p)) for p in range(PARTITIONS)}
    assert rebuilt == stored


async def test_a_batch_whose_units_reached_the_changelog_but_not_its_clock_teaches_what_a_replay_learns(
    bootstrap, settings, topics, reader
):
    """Rebuilt from the changelogs after a batch's clock records were lost (its units' were not), the worker must
    know what those units taught: their events come again as duplicates and teach nothing twice. The model was
    kept in the clock table, and the rebuilt worker predicted without those lessons (bench chaos, series 1201:
    ETAs on the plan live, on the learned dwell in replay)."""
    first = generate(seed=21, units_per_corridor=4, shipments=0, realism=REALISM)
    second = generate(seed=22, units_per_corridor=4, shipments=0, realism=REALISM,
                      start=first.end + timedelta(days=1))  # fmt: skip
    taught = canonical_order([r.record for r in first.records])
    asked = canonical_order([r.record for r in second.records])
    settings = settings.model_copy(update={"learn_min_samples": 2})
    want = expected(taught + asked, topics, PARTITIONS, min_samples=2)

    def teaches(topic: str, value: bytes | None) -> bool:  # a unit's state says what it taught
        return "units-changelog" in topic and value is not None and bool(learned_of(value))

    async with running(settings, bootstrap) as topology:
        track = topology.batchers["track"]
        failing = track.producer = ClockLostAfter(track.producer, teaches)
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
            await pub.send_all(taught)

        async def stopped() -> None:
            while track.failure is None or topology.app.crash_reason is None:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(stopped(), 60)
        assert failing.failed
    shutil.rmtree(settings.data_dir)
    async with running(settings, bootstrap) as topology:  # the same group, rebuilt from the changelogs
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:  # what it learned is asked
            await pub.send_all(asked)
        await reader.wait_for(lambda r: len(r.of("eta")) >= len(want[topics.name("eta")]), timeout=120)
        await reader.settle()
        knowledge, units = topology.engine.knowledge, topology.engine.units
        assert knowledge is not None
        for p in range(PARTITIONS):  # what it knows is what its units taught
            assert encode_model(knowledge.model(p)) == encode_model(model_of(learned_of(v) for v in units.values_in(p)))
    for role in ("alert", "eta"):
        got = {_key(r) for r in reader.of(role)}
        missing = [r for r in want[topics.name(role)] if _key(r) not in got]
        assert not missing, (role, len(missing), missing[:2])
        assert got == {_key(r) for r in want[topics.name(role)]}, role  # repeats, and nothing else


def _key(record: dict) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
