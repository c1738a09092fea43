"""Does the worker's local state (RocksDB) belong to the broker's topics? Checked before the worker starts.

Each RocksDB table partition remembers the last changelog offset it applied. Kafka offsets only grow, so a
changelog partition whose end is at or below that offset has been deleted and created again: the broker lost
its data (a memory broker restarted, a cluster rebuilt), or this is another broker. Faust would stop the worker
with `ConsistencyError` ("19 > -1") at every start; here the worker says so in one line, and
`corridor worker --reset-state` moves the state aside (kept, not deleted) so the worker starts from the
broker's topics as they are now."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka_security import KafkaSecurity, client_kwargs


@dataclass(frozen=True)
class Mismatch:
    topic: str
    partition: int
    applied: int  # last changelog offset the local state applied
    end: int  # the changelog partition's end offset on the broker now

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}] ends at offset {self.end}, the local state applied {self.applied}"


class StateAhead(RuntimeError):
    """The local state is ahead of the broker's changelogs."""

    def __init__(self, state_dir: Path, mismatches: list[Mismatch]) -> None:
        self.state_dir, self.mismatches = state_dir, mismatches
        first = mismatches[0]
        more = f" (and {len(mismatches) - 1} more partitions)" if len(mismatches) > 1 else ""
        super().__init__(
            f"the broker has lost this worker's topics: changelog {first}{more}. The local state in {state_dir} "
            "belongs to topics that no longer exist; run `corridor worker --reset-state` to move it aside and "
            "start again from the broker's topics (see docs/operations.md)")


def persisted_offsets(app: faust.App, partitions: int) -> dict[TopicPartition, int]:
    """Last applied changelog offset of each local RocksDB table partition (none for memory stores)."""
    found: dict[TopicPartition, int] = {}
    for table in app.tables.values():
        store = table.data
        if not hasattr(store, "partition_path"):  # memory:// store: nothing kept between runs
            continue
        topic = table.changelog_topic.get_topic_name()
        for p in range(partitions):
            path = store.partition_path(p)
            if not path.exists():
                continue
            db = store.rocksdb_options.open(path, read_only=True)
            try:
                raw = db.get(store.offset_key)
            finally:
                with contextlib.suppress(Exception):
                    db.close()
            if raw is not None:
                found[TopicPartition(topic, p)] = int(raw)
    return found


async def end_offsets(bootstrap: str, tps: list[TopicPartition], security: KafkaSecurity | None,
                      embedded: bool) -> dict[TopicPartition, int]:  # fmt: skip
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                **client_kwargs(security))  # fmt: skip
    await consumer.start()
    try:
        existing = await consumer.topics()
        present = [tp for tp in tps if tp.topic in existing]
        ends = {tp: 0 for tp in tps if tp.topic not in existing}  # a changelog that is gone ends at 0
        if present:
            reported = await consumer.end_offsets(present)
            if embedded:
                from streams.broker.tansu import true_end_offsets

                reported = await true_end_offsets(bootstrap, reported, security=security)
            ends.update(reported)
        return ends
    finally:
        await consumer.stop()


async def check_state(app: faust.App, partitions: int, bootstrap: str, security: KafkaSecurity | None,
                      embedded: bool = False) -> None:  # fmt: skip
    """Raise StateAhead when a local table partition applied changelog offsets the broker does not have."""
    applied = persisted_offsets(app, partitions)
    if not applied:
        return
    ends = await end_offsets(bootstrap, list(applied), security, embedded)
    bad = [Mismatch(tp.topic, tp.partition, off, ends[tp]) for tp, off in sorted(applied.items()) if off >= ends[tp]]
    if bad:
        raise StateAhead(Path(app.conf.appdir), bad)


def reset_state(app: faust.App) -> Path | None:
    """Move the app's local state directory aside (to `<dir>.reset-<UTC time>`); return where, or None if
    there was none. Nothing is deleted: an operator may still want to look at it."""
    appdir = Path(app.conf.appdir)
    if not appdir.exists():
        return None
    target = appdir.with_name(f"{appdir.name}.reset-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    appdir.rename(target)
    return target


# Faust's own message for the same condition, for a broker that loses its data while the worker runs (it
# is raised during a rebalance's recovery): one clear line with the way on.
E_PERSISTED_OFFSET = (
    "The broker has lost this worker's topics: changelog {0} ends before the offset the local state already "
    "applied ({1} > {2}). Stop the worker and run `corridor worker --reset-state` (see docs/operations.md).")


def install_clear_message() -> None:
    from faust.tables import recovery

    recovery.E_PERSISTED_OFFSET = E_PERSISTED_OFFSET
