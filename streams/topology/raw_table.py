"""A Faust table of raw bytes as the engines use it: read and written without Faust's per-key layers.

The engines read a key at most once per batch (they cache decoded states) and write each changed key once
per batch, always for a record of the key's own partition. Through `faust.Table` each read went through
`ManagedUserDict`, a `__contains__` and a `__getitem__` (two RocksDB lookups, an exception on a miss), and each
write through `send_soon`, a `FutureMessage`, the producer buffer's background task, and a RocksDB write of
the changelog offset for every message; a delete of a key the store had not indexed looked in every
partition's database. In a profile of the tracking worker that was about a sixth of its main thread.

`RawTable` keeps Faust's storage and changelog exactly (same RocksDB databases, same changelog topic, key,
value and partition; the table still rebuilds, recovers and serves the API through Faust), and does:

- reads: one lookup in the database of the current record's partition (what Faust's RocksDB store does
  while a stream record is current);
- writes and deletes: into that partition's database, with the changelog record kept in `outbox` for the
  batcher, which sends it with the batch's outputs (Faust flushes the producer before it commits input
  offsets, so a committed input always has its changelog written);
- changelog offsets: remembered as the records are acknowledged by the broker and written to the store once
  per batch (`persist`), for the partitions this worker still owns. Recovery resumes after the persisted
  offset; one that lags only makes it re-apply a few records, which is idempotent.

Only for RocksDB stores; `wrap()` leaves other stores' tables (memory://) as they are."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, MutableMapping
from typing import Any

import faust
from faust.streams import current_event
from faust.types import TP

log = logging.getLogger(__name__)


def _current_partition() -> int:
    event = current_event()
    if event is None:
        raise RuntimeError("a table write needs a current record (the batcher sets one per partition)")
    return event.message.partition


class RawTable(MutableMapping[bytes, bytes]):
    def __init__(self, table: faust.Table) -> None:
        self.table = table
        self.outbox: list[tuple[int, bytes, bytes | None]] = []  # changelog records to send: partition, key, value
        self._sent: dict[int, int] = {}  # partition -> highest changelog offset the broker acknowledged

    @property
    def store(self) -> Any:
        return self.table.data

    @property
    def changelog(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    # -- reads -----------------------------------------------------------------------------------------

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        value = self.store._get(key)
        return default if value is None else value

    def __getitem__(self, key: bytes) -> bytes:
        value = self.store._get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self.store._get(key) is not None

    def __iter__(self) -> Iterator[bytes]:  # diagnostics only: every partition this worker holds
        return iter(self.table.keys())

    def __len__(self) -> int:
        return len(self.table)

    # -- writes ----------------------------------------------------------------------------------------

    def __setitem__(self, key: bytes, value: bytes) -> None:
        partition = _current_partition()
        self.store._set(key, value)  # the current record's partition's database
        self.outbox.append((partition, key, value))

    def __delitem__(self, key: bytes) -> None:
        partition = _current_partition()
        store = self.store
        store._db_for_partition(partition).delete(key)
        store._key_index.pop(key, None)
        self.outbox.append((partition, key, None))

    def take_outbox(self) -> list[tuple[int, bytes, bytes | None]]:
        out, self.outbox = self.outbox, []
        return out

    def on_sent(self, partition: int, sent: Any) -> None:
        """Callback of a changelog record's send: remember the highest acknowledged offset."""
        if sent.cancelled():
            return
        if sent.exception() is not None:
            log.error("a changelog record of table %s could not be written: %r", self.table.name, sent.exception())
            return
        offset = sent.result().offset
        if offset > self._sent.get(partition, -1):
            self._sent[partition] = offset

    def persist(self, actives: Collection[TP]) -> None:
        """Write the acknowledged changelog offsets to the store, for the partitions this worker still owns
        (`actives`: the assignor's active partitions; writing a revoked one would reopen its database)."""
        sent, self._sent = self._sent, {}
        topic = self.changelog
        for partition, offset in sent.items():
            tp = TP(topic, partition)
            if tp in actives:
                self.store.set_persisted_offset(tp, offset)

    def forget(self) -> None:
        """Partitions moved: drop what was not sent or persisted (the batch is re-read by the next owner)."""
        self.outbox = []
        self._sent = {}


def wrap(table: faust.Table, store_url: str) -> MutableMapping[bytes, bytes]:
    """The engine's view of `table`: a `RawTable` for RocksDB stores, the table itself otherwise."""
    return RawTable(table) if store_url.startswith("rocksdb:") else table  # type: ignore[return-value]
