"""A batch the broker will not take stops the worker, and its input is read again: nothing is lost.

On the real broker and worker, one send of a batch (an output, or a state changelog record) fails as the client
reports a broker that stayed unreachable past its request timeout. The worker must stop without acknowledging
that batch, and a restarted worker must emit every output an uninterrupted worker emits (some twice: at least
once) and hold the same state, on the same disk or rebuilt from the changelog. Before, the failure was only
logged and the batch was acknowledged and committed: a failed output was lost, and a failed changelog record
left a rebuilt worker without the batch's state."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError

from schemas import TrackedUnit
from schemas.partitioning import partition_for
from streams.core.history_order import canonical_order
from streams.io.kafka import Publisher
from streams.sim.scenario import generate
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.lost_writes import ClockLostAfter
from tests.integration.story import UNIT, d, event, expected, plan

pytestmark = pytest.mark.integration


class _FailingSend:
    """The worker's producer, except that the `after`-th send to a topic `to` matches is reported failed."""

    def __init__(self, producer: Any, to: str, after: int) -> None:
        self.producer, self.to, self.left = producer, to, after
        self.failed: list[tuple[str, bytes]] = []

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        if self.to in topic and not self.failed:
            self.left -= 1
            if self.left == 0:
                self.failed.append((topic, key))
                future = asyncio.get_running_loop().create_future()
                future.set_exception(KafkaTimeoutError())
                return future
        return await self.producer.send(topic, key, value, partition, timestamp, headers)


def _is_subsequence(want: list, got: list) -> bool:
    it = iter(got)
    return all(any(w == g for g in it) for w in want)


def _key(record: dict) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize(("fails", "after", "rebuild"), [
    ("eta", 40, False),  # restarted on the same disk: the local store must not be ahead of what was delivered
    ("units-changelog", 8, True),  # restarted on a new disk: the state is rebuilt from the changelog
    ("clock-changelog", 20, True),  # the events give 36 clock records in one batch, more in several
], ids=["output-same-disk", "unit-state-rebuilt", "watermark-rebuilt"])
async def test_a_batch_that_cannot_be_written_stops_the_worker_and_its_input_is_read_again(
    bootstrap, settings, topics, reader, fails, after, rebuild
):
    scenario = generate(seed=5, units_per_corridor=3, shipments=0)
    history = canonical_order([r.record for r in scenario.records if r.record.record != "clock"])
    plans = [r for r in history if r.record == "plan"]
    events = [r for r in history if r.record == "event"]
    states: dict[bytes, bytes] = {}
    want = expected([*plans, *events], topics, PARTITIONS, states)

    async with Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all(plans)
    async with running(settings, bootstrap) as topology:
        await reader.wait_for(lambda r: len({t["unit"]["id"] for t in r.of("timeline")}) == len(plans))
        track = topology.batchers["track"]
        failing = track.producer = _FailingSend(track.producer, fails, after)
        async with Publisher(bootstrap, topics, PARTITIONS) as pub:
            await pub.send_all(events)

        async def stopped() -> None:
            while track.failure is None or topology.app.crash_reason is None:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(stopped(), 30)
        assert failing.failed and isinstance(track.failure, KafkaTimeoutError)
        acknowledged = track.records
    assert acknowledged < len(plans) + len(events)  # the failed batch (and what came after) was not

    if rebuild:
        shutil.rmtree(settings.data_dir)
    async with running(settings, bootstrap) as topology:  # the same group
        timelines = {_key(r) for r in want[topics.name("timeline")]}
        await reader.wait_for(lambda r: timelines <= {_key(t) for t in r.of("timeline")}, timeout=60)
        await reader.settle()
        table = topology.app.tables["units"]
        stored = {key: table.get(key) for key in states}

    for role in ("timeline", "alert", "eta"):
        exp, got = want[topics.name(role)], reader.of(role)
        for unit in {p.unit.id for p in plans}:  # a unit's outputs keep their order (one partition)
            mine = [r for r in got if r["unit"]["id"] == unit]
            assert _is_subsequence([r for r in exp if r["unit"]["id"] == unit], mine), (role, unit)
        assert {_key(r) for r in got} == {_key(r) for r in exp}, role  # repeats, and nothing else
    assert reader.of("dead_letter") == []
    assert stored == states  # the restarted worker's RocksDB holds what an uninterrupted engine holds


async def test_a_worker_stopped_in_this_process_leaves_no_database_open(bootstrap, settings):
    """A stopped app must close its RocksDB databases even while something still refers to them (a crash's
    traceback does): otherwise a worker started again here on a rebuilt data dir cannot take their locks
    ("lock hold by current process") and never becomes ready (how `[watermark-rebuilt]` above failed in CI)."""
    async with running(settings, bootstrap) as topology:
        held = [db for table in topology.app.tables.values() for db in table.data._dbs.values()]
    assert held  # the tables' databases were open while it ran
    shutil.rmtree(settings.data_dir)
    async with running(settings, bootstrap, ready_timeout=60) as topology:
        assert topology.app.tables["units"].data._dbs


async def test_a_batch_whose_units_were_written_but_not_its_clock_leaves_no_unit_unindexed(
    bootstrap, settings, topics, reader
):
    """A sweep stepped a unit and moved its due time: the new entry is in the clock's records, the unit's new
    state in the units'. With the clock's lost and the units' kept, the restarted worker swept again over the old
    entry, found the unit due later, and never indexed it at its new time: a unit that hears nothing more (its
    carrier went silent, another unit's events move the clock) never had its later milestones alerted. The clock
    now says how far the units changelog was written with it; a worker that finds the units further indexes the
    partition's units again."""
    silent, other = UNIT, TrackedUnit.container("TGHU0000013")  # one partition: the other's events move its clock
    assert partition_for(silent.id.encode(), PARTITIONS) == partition_for(other.id.encode(), PARTITIONS)
    first = [plan(silent), plan(other), event(1, "DEPARTED", "CNCKG", d(1), unit=other),
             event(1, "DEPARTED", "CNCKG", d(2), unit=silent)]
    then = [event(2, "ARRIVED", "KZDOS", d(6), unit=other),
            event(3, "DEPARTED", "KZDOS", d(7, 10), unit=other)]  # the silent unit's Dostyk arrival is overdue
    before = first + then
    after = [event(4, "ARRIVED", "PLMAL", d(16), unit=other), event(5, "DEPARTED", "PLMAL", d(17), unit=other)]
    want = expected([*before, *after], topics, PARTITIONS)
    owed = {_key(e) for e in want[topics.name("eta")] if e["unit"]["id"] == silent.id} - {
        _key(e) for e in expected(before, topics, PARTITIONS)[topics.name("eta")]}
    assert owed  # the silent unit's ETA once the other's events move the clock on ("no report: DEDUI +206 h")
    def swept(topic: str, value: bytes | None) -> bool:  # time passing raised an alert: a unit stepped by the sweep
        return topic.endswith("alerts") and b'"OVERDUE"' in (value or b"")

    async with running(settings, bootstrap) as topology:
        track = topology.batchers["track"]
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
            await pub.send_all(first)  # its own records in a batch of their own, written whole
            await reader.wait_for(lambda r: {t["unit"]["id"] for t in r.of("timeline")} == {silent.id, other.id})
            await asyncio.sleep(1)
            failing = track.producer = ClockLostAfter(track.producer, swept)
            await pub.send_all(then)

        async def stopped() -> None:
            while track.failure is None or topology.app.crash_reason is None:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(stopped(), 60)
        assert failing.failed
    shutil.rmtree(settings.data_dir)
    async with running(settings, bootstrap) as topology:  # rebuilt from the changelogs
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
            await pub.send_all(after)
        timelines = {_key(r) for r in want[topics.name("timeline")] if r["unit"]["id"] == other.id}
        await reader.wait_for(lambda r: timelines <= {_key(t) for t in r.of("timeline")}, timeout=60)
        await reader.settle()
        assert topology.batchers["track"].reindexed >= 1
    for role in ("timeline", "alert", "eta"):
        assert {_key(r) for r in reader.of(role)} == {_key(r) for r in want[topics.name(role)]}, role
