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
- writes and deletes: kept as pending (reads see them) with the changelog record in `outbox` for the batcher,
  which sends it once the batch's outputs are delivered, and writes it to the partition's database (`apply`)
  only once the broker has acknowledged it. The local store is then never ahead of the changelog: a worker
  that crashed mid-batch, restarted on the same disk, reads the batch again and finds its state as a rebuild
  would (ahead, it would take the batch's events for duplicates and emit nothing for them);
- changelog offsets: the acknowledged ones written with the batch (`apply`), for the partitions this worker
  still owns. Recovery resumes after the persisted offset.

Only for RocksDB stores; `wrap()` leaves other stores' tables (memory://) as they are."""

from __future__ import annotations

from collections.abc import Collection, Iterator, MutableMapping
from typing import Any

import faust
from faust.streams import current_event
from faust.types import TP


def _current_partition() -> int:
    event = current_event()
    if event is None:
        raise RuntimeError("a table write needs a current record (the batcher sets one per partition)")
    return event.message.partition


class RawTable(MutableMapping[bytes, bytes]):
    def __init__(self, table: faust.Table) -> None:
        self.table = table
        self.outbox: list[tuple[int, bytes, bytes | None]] = []  # changelog records to send: partition, key, value
        self._pending: dict[bytes, bytes | None] = {}  # written, not yet in the store (None: deleted)
        self._pending_in: dict[bytes, int] = {}  # the partition of each pending key

    @property
    def store(self) -> Any:
        return self.table.data

    @property
    def changelog(self) -> str:
        return self.table.changelog_topic.get_topic_name()

    # -- reads -----------------------------------------------------------------------------------------

    def _read(self, key: bytes) -> bytes | None:
        if self._pending:
            value = self._pending.get(key, _NOT_PENDING)
            if value is not _NOT_PENDING:
                return value  # type: ignore[return-value]
        return self.store._get(key)

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        value = self._read(key)
        return default if value is None else value

    def __getitem__(self, key: bytes) -> bytes:
        value = self._read(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and self._read(key) is not None

    def __iter__(self) -> Iterator[bytes]:  # diagnostics only: every partition this worker holds
        return iter(self.table.keys())

    def __len__(self) -> int:
        return len(self.table)

    # -- writes ----------------------------------------------------------------------------------------

    def __setitem__(self, key: bytes, value: bytes) -> None:
        partition = _current_partition()
        self._pending[key] = value
        self._pending_in[key] = partition
        self.outbox.append((partition, key, value))

    def __delitem__(self, key: bytes) -> None:
        partition = _current_partition()
        self._pending[key] = None
        self._pending_in[key] = partition
        self.outbox.append((partition, key, None))

    def items_in(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every key and value of one partition, as reads see them (pending writes included): for what is
        derived from a partition's state as a whole (the learned model, a due index re-made)."""
        pending = {k: v for k, v in self._pending.items() if self._pending_in.get(k) == partition}
        store = self.store
        for key, value in store._visible_items(store._db_for_partition(partition)):
            if key not in pending:
                yield key, value
        for key, value in pending.items():
            if value is not None:
                yield key, value

    def values_in(self, partition: int) -> Iterator[bytes]:
        return (value for _, value in self.items_in(partition))

    def persisted_in(self, partition: int) -> int | None:
        """The offset of the last changelog record this partition's database holds (None: none)."""
        return self.store.persisted_offset(TP(self.changelog, partition))

    def get_in(self, partition: int, key: bytes) -> bytes | None:
        """A key of one partition's database, read with no current record (a seek's check reads it)."""
        value = self._pending.get(key, _NOT_PENDING)
        if value is not _NOT_PENDING:
            return value  # type: ignore[return-value]
        return self.store._db_for_partition(partition).get(key)

    def take_outbox(self) -> list[tuple[int, bytes, bytes | None]]:
        out, self.outbox = self.outbox, []
        return out

    def apply(self, written: list[tuple[int, bytes, bytes | None]], offsets: dict[int, int],
              actives: Collection[TP]) -> None:  # fmt: skip
        """The broker acknowledged `written` (taken from the outbox) at `offsets` (partition -> highest): write
        them to the store with the offsets, for the partitions this worker still owns (`actives`: the
        assignor's; writing a revoked one would reopen its database, and its next owner rebuilds from the
        changelog anyway)."""
        store, pending, topic = self.store, self._pending, self.changelog
        owned = {p for p in offsets if TP(topic, p) in actives}
        for partition, key, value in written:
            if pending.get(key, _NOT_PENDING) is value:  # not written again since (by a later batch)
                del pending[key]
                self._pending_in.pop(key, None)
            if partition not in owned:
                continue
            db = store._db_for_partition(partition)  # what Faust's `_set` does, for a record of that partition
            if value is None:
                db.delete(key)
                store._key_index.pop(key, None)
            else:
                db.put(key, value)
                store._key_index[key] = partition
        for partition in owned:
            store.set_persisted_offset(TP(topic, partition), offsets[partition])

    def forget(self) -> None:
        """Partitions moved: drop what was not sent or written (the batch is re-read by the next owner)."""
        self.outbox = []
        self._pending = {}
        self._pending_in = {}


_NOT_PENDING = object()


def wrap(table: faust.Table, store_url: str) -> MutableMapping[bytes, bytes]:
    """The engine's view of `table`: a `RawTable` for RocksDB stores, the table itself otherwise."""
    return RawTable(table) if store_url.startswith("rocksdb:") else table  # type: ignore[return-value]
