"""A worker SIGKILLed and restarted on its data dir at the worst moments, on the real broker: during start-up
(joined, nothing assigned yet), during recovery (tables restored, streams not yet resumed), mid-batch (outputs and
state written, input not acknowledged), and while a second worker's arrival rebalances the group during recovery.
Fault points (`streams/topology/faults.py`) hold the worker at each moment, so the kill lands there every time.
Every input must take effect exactly as `corridor replay` of the same records has it (the data-loss issue)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from bench.chaos import caught_up, compare
from schemas import ClockTick, Plan, TrackingEvent
from streams.core.history_order import canonical_order
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.sim.scenario import generate
from streams.topology.process import start_worker, stop_process
from tests.integration.conftest import PARTITIONS

pytestmark = pytest.mark.integration


class _Worker:
    def __init__(self, bootstrap: str, settings: Settings, tmp: Path, name: str) -> None:
        self.bootstrap, self.settings, self.tmp, self.name = bootstrap, settings, tmp, name
        self.life = 0
        self.proc: subprocess.Popen | None = None

    @property
    def log(self) -> Path:
        return self.tmp / f"{self.name}.{self.life}.log"

    def start(self, faults: str = "") -> None:
        self.life += 1
        env = {"CORRIDOR_FAULTS": faults}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            self.proc = start_worker(self.log, broker=self.bootstrap, app_id=self.settings.app_id,
                                     topic_prefix=self.settings.topic_prefix, data_dir=self.tmp / self.name,
                                     embedded_broker=True, web_enabled=False, partitions=PARTITIONS,
                                     commit_interval=0.5, home=self.tmp / "home")  # fmt: skip
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    async def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not (self.log.exists() and text.encode() in self.log.read_bytes()):
            assert self.proc is not None and self.proc.poll() is None, f"{self.name} exited: {self.log.read_text()}"
            assert asyncio.get_running_loop().time() < deadline, f"{self.name} never logged {text!r}"
            await asyncio.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


async def test_every_input_takes_effect_across_kills_at_the_worst_moments(bootstrap, settings, topics, tmp_path):
    scenario = generate(seed=11, units_per_corridor=3, shipments=0)
    records = canonical_order([r.record for r in scenario.records
                               if isinstance(r.record, Plan | TrackingEvent | ClockTick)])  # fmt: skip
    parts = [records[i * len(records) // 6:(i + 1) * len(records) // 6] for i in range(6)]
    a = _Worker(bootstrap, settings, tmp_path, "a")
    b = _Worker(bootstrap, settings, tmp_path, "b")
    try:
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True, ordered=True) as pub:
            await pub.send_all(parts[0])
            a.start()
            await a.wait_for("Worker ready")
            # Mid-batch: the batch's outputs and state are written, its input not yet acknowledged.
            a.kill()
            a.start("batch_written=30x1")
            await pub.send_all(parts[1])
            await a.wait_for("fault point batch_written")
            a.kill()
            # During start-up: joined the group (the dead member is still in it), nothing assigned yet.
            await pub.send_all(parts[2])
            a.start()
            await a.wait_for("Joined group")
            a.kill()
            # During recovery: tables restored, streams not yet resumed.
            await pub.send_all(parts[3])
            a.start("recovery_completed=30x1")
            await a.wait_for("fault point recovery_completed")
            a.kill()
            # A rebalance begins while recovery completes: another worker joins during the hold.
            await pub.send_all(parts[4])
            a.start("recovery_completed=8x1")
            await a.wait_for("fault point recovery_completed")
            await asyncio.sleep(4)
            b.start()
            await b.wait_for("Worker ready", timeout=120)
            await a.wait_for("Worker ready", timeout=120)
            await pub.send_all(parts[5])
        async with OutputReader(bootstrap, topics) as reader:
            await caught_up(bootstrap, settings.app_id, topics)
            await reader.settle(quiet=3, timeout=120)
            live = [(t, v) for t, vs in reader.records.items() for v in vs]
    finally:
        a.stop()
        b.stop()
    result = compare(records, live, topics)
    assert result["lost"] == 0, result
    assert result["differing_units"] == 0 and result["missing_alerts"] == 0, result


async def _commit_ends(bootstrap: str, group: str, topics) -> int:  # type: ignore[no-untyped-def]
    """Commit the group's offsets at the ends of its inputs, as a worker would that acknowledged records whose
    state never reached its changelog; returns how many records that passes over."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    from streams.broker.tansu import true_end_offsets

    class AsFaust(RoundRobinPartitionAssignor):  # the broker keeps the group's protocol name while it knows it
        name = "faust"

    tps = [TopicPartition(t, p) for t in topics.inputs for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                partition_assignment_strategy=(AsFaust,))  # fmt: skip
    await consumer.start()
    try:
        consumer.subscribe(list(topics.inputs))  # a member of the group (the broker refuses others' commits)
        async with asyncio.timeout(60):
            while len(consumer.assignment()) < len(tps):
                await consumer.getmany(timeout_ms=200, max_records=1)
        ends = await true_end_offsets(bootstrap, await consumer.end_offsets(tps))
        before = {tp: await consumer.committed(tp) or 0 for tp in tps}
        await consumer.commit({tp: ends[tp] for tp in tps if ends[tp]})
        return sum(ends[tp] - before[tp] for tp in tps)
    finally:
        await consumer.stop()


async def test_a_worker_whose_state_is_behind_the_committed_offset_reads_the_records_between_again(
        bootstrap, settings, topics, tmp_path):  # fmt: skip
    """Whatever put the group's committed offset past what the state holds (a changelog write that landed after
    the next owner rebuilt, a rebuild that stopped short), the records in between are read again, not skipped:
    the state records the input offsets whose effects it holds, and a rebuilt worker seeks back there."""
    scenario = generate(seed=5, units_per_corridor=3, shipments=0)
    records = canonical_order([r.record for r in scenario.records
                               if isinstance(r.record, Plan | TrackingEvent | ClockTick)])  # fmt: skip
    first, second = records[: len(records) // 2], records[len(records) // 2:]
    a = _Worker(bootstrap, settings, tmp_path, "a")
    try:
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True, ordered=True) as pub:
            await pub.send_all(first)
            a.start()
            await a.wait_for("Worker ready")
            await caught_up(bootstrap, settings.app_id, topics)
            a.stop()
            await pub.send_all(second)
        passed_over = await _commit_ends(bootstrap, settings.app_id, topics)
        assert passed_over > 100
        a.start()
        async with OutputReader(bootstrap, topics) as reader:
            await a.wait_for("Worker ready", timeout=120)
            await a.wait_for("records again")
            await caught_up(bootstrap, settings.app_id, topics)
            await reader.settle(quiet=3, timeout=120)
            live = [(t, v) for t, vs in reader.records.items() for v in vs]
    finally:
        a.stop()
    result = compare(records, live, topics)
    assert result["lost"] == 0, result
    assert result["differing_units"] == 0 and result["missing_alerts"] == 0, result
