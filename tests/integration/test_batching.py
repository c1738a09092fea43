"""The worker handles its input in batches that span partitions (streams/topology/batching.py) and writes each
batch's state once, at its end. On the real broker: outputs stay exactly the engine's, and every state write is
filed under its own key's partition, in RocksDB and in the changelog (Faust files a write under the partition
of the record being processed: at the end of a batch that is some other partition's record)."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.io.kafka import Publisher
from streams.processing.replay import partition_for
from streams.sim.scenario import generate
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import expected

pytestmark = pytest.mark.integration


async def _changelog(bootstrap: str, topic: str) -> list[tuple[int, bytes]]:
    """(partition, key) of every record on a changelog topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[tuple[int, bytes]] = []
        while True:
            batch = await consumer.getmany(timeout_ms=1500)
            if not batch:
                return out
            out += [(tp.partition, m.key) for tp, msgs in batch.items() for m in msgs]
    finally:
        await consumer.stop()


async def test_batches_span_partitions_and_every_write_lands_on_its_own_partition(bootstrap, settings, topics,
                                                                                   reader):  # fmt: skip
    scenario = generate(seed=5, units_per_corridor=4)
    plans = [r.record for r in scenario.records if r.record.record == "plan"]
    events = [r.record for r in scenario.records if r.record.record == "event"]
    async with Publisher(bootstrap, topics, PARTITIONS) as pub:
        # All published before the worker starts: it finds them waiting, and its batches mix partitions.
        await pub.send_all(plans)
    async with running(settings, bootstrap) as topology:
        await reader.wait_for(lambda r: len({t["unit"]["id"] for t in r.of("timeline")}) == len(plans))
        async with Publisher(bootstrap, topics, PARTITIONS) as pub:
            await pub.send_all(events)  # one topic: each partition's order is the order sent
        want = expected([*plans, *events], topics, PARTITIONS)
        await reader.wait_for(lambda r: len(r.records[topics.name("timeline")]) >= len(want[topics.name("timeline")]))
        await reader.settle()
        track = topology.batchers["track"]
        changelog = topology.app.tables["units"].changelog_topic.get_topic_name()

    assert track.records >= len(plans) + len(events)
    assert track.batches < track.records / 2  # batches, not one record at a time

    # Exactly the engine's outputs, unit by unit (a unit's records meet on one partition, in order).
    units = {p.unit.id for p in plans}
    for role in ("timeline", "alert", "eta"):
        got, exp = reader.of(role), want[topics.name(role)]
        for unit in units:
            assert [r for r in got if r["unit"]["id"] == unit] == [r for r in exp if r["unit"]["id"] == unit]
    assert reader.of("dead_letter") == []

    written = await _changelog(bootstrap, changelog)
    assert {key.decode() for _, key in written} == units
    misplaced = [(p, key) for p, key in written if p != partition_for(key, PARTITIONS)]
    assert misplaced == []
