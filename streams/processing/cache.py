"""A write-behind cache of decoded state in front of a key-value store.

In a worker the stores are Faust tables: every read goes through Faust's table machinery to RocksDB, and every
write is a RocksDB put plus a changelog message. Both cost far more than the tracking logic, so the engine keeps
decoded state objects in memory and writes each changed key once per batch (`flush`), however often the batch
changed it. This is safe because the worker that owns a partition is its tables' only writer, and because the
worker acknowledges a batch's input records only after `flush` (see `streams.topology.batching`): a crash before
that loses the unflushed state and the unacknowledged inputs together, and the inputs are read again.

Each change remembers the input partition it was made for (`partition`, set by the engine before each record):
a Faust table files a write under the partition of the record being processed, so `flush` writes each
partition's changes inside a `scope(partition)` that makes a record of that partition current.

The cache must be dropped when partitions are reassigned (`clear`): another worker may have written meanwhile."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import AbstractContextManager
from typing import Generic, TypeVar

V = TypeVar("V")
Scope = Callable[[int | None], AbstractContextManager]  # partition -> context in which its writes are made

log = logging.getLogger(__name__)

_ABSENT = object()


def _same(value):  # type: ignore[no-untyped-def]
    return value


class StateCache(MutableMapping[bytes, V], Generic[V]):
    """`backing` holds encoded values; this cache holds decoded ones. Values must not be mutated in place once
    stored: store a new object instead (the trackers work on copies)."""

    def __init__(
        self,
        backing: MutableMapping[bytes, bytes],
        decode: Callable[[bytes], V] = _same,
        encode: Callable[[V], bytes] = _same,
        max_items: int = 100_000,
        write_behind: bool = False,
    ) -> None:
        self.backing = backing
        self.max_items = max_items
        self.write_behind = write_behind
        self._decode, self._encode = decode, encode
        self._cache: dict[bytes, object] = {}  # key -> value, or None when known absent
        self._dirty: dict[bytes, int | None] = {}  # keys changed since the last flush -> their partition
        self.partition: int | None = None  # the input partition changes are made for now
        self._absent: set[bytes] = set()  # keys known not to be in the store (nothing to delete there)
        self._encoded: dict[bytes, bytes] = {}  # dirty keys' values as already encoded by the caller
        self._sizes: dict[bytes, int] = {}  # cached values' encoded sizes, or upper bounds of them (see `size`)
        self.misses = 0  # reads that went to the store (to size the cache: `python -m bench units-memory`)

    def get(self, key: bytes, default: V | None = None) -> V | None:  # type: ignore[override]
        value = self._cache.get(key, _ABSENT)
        if value is _ABSENT:
            self.misses += 1
            raw = self.backing.get(key)
            if raw is None:
                value = None
                self._absent.add(key)
            else:
                value = self._decode(raw)
                self._sizes[key] = len(raw)
            self._cache[key] = value
        return default if value is None else value  # type: ignore[return-value]

    def __getitem__(self, key: bytes) -> V:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: V) -> None:
        self.put(key, value)

    def put(self, key: bytes, value: V, encoded: bytes | None = None, size: int | None = None) -> None:
        """Store `value`; `encoded`, when the caller has it already, is written as it is instead of encoding
        the value again at the flush; otherwise `size`, if given, is an upper bound of its encoded size."""
        self._cache.pop(key, None)  # most recently written last: evicted last
        self._cache[key] = value
        self._dirty[key] = self.partition
        if encoded is None:
            self._encoded.pop(key, None)
            if size is None:
                self._sizes.pop(key, None)
            else:
                self._sizes[key] = size
        else:
            self._encoded[key] = encoded
            self._sizes[key] = len(encoded)
        if not self.write_behind:
            self.flush()

    def __delitem__(self, key: bytes) -> None:
        self._cache[key] = None
        self._encoded.pop(key, None)
        self._sizes.pop(key, None)
        self._dirty[key] = self.partition
        if not self.write_behind:
            self.flush()

    def __iter__(self) -> Iterator[bytes]:
        self.flush()
        return iter(self.backing)

    def __len__(self) -> int:
        self.flush()
        return len(self.backing)

    @property
    def cached(self) -> int:
        """Keys held in memory (values and keys known absent), without flushing: at most `max_items` after a flush."""
        return len(self._cache)

    def size(self, key: bytes) -> int | None:
        """The encoded size of the key's current value as last known: exact when it was read from the store,
        written, or put with its bytes; else the bound it was put with; 0 when known absent; None when not
        known (not read since it was cached, or put without either)."""
        if key in self._sizes:
            return self._sizes[key]
        return 0 if self._cache.get(key, _ABSENT) is None else None

    @property
    def pending(self) -> int:
        """Keys changed and not yet written."""
        return len(self._dirty)

    def flush(self, scope: Scope | None = None) -> int:
        """Write every changed key to the store, once each, each partition's inside `scope(partition)`;
        returns how many were written."""
        dirty, self._dirty = self._dirty, {}
        if scope is None:
            self._write(dirty)
        else:
            by_partition: dict[int | None, list[bytes]] = {}
            for key, partition in dirty.items():
                by_partition.setdefault(partition, []).append(key)
            for partition, keys in by_partition.items():
                with scope(partition):
                    self._write(keys)
        excess = len(self._cache) - self.max_items
        if excess > 0:  # oldest first; everything is clean now
            for key in list(self._cache)[:excess]:
                del self._cache[key]
                self._absent.discard(key)
                self._sizes.pop(key, None)
        return len(dirty)

    def _write(self, keys) -> None:  # type: ignore[no-untyped-def]
        for key in keys:
            value = self._cache[key]
            if value is None:
                # Nothing to delete if the store never had it (created and deleted since the last flush: a
                # delete is a changelog record too).
                if key not in self._absent and key in self.backing:
                    with contextlib.suppress(KeyError):
                        del self.backing[key]
                self._absent.add(key)
            else:
                raw = self._encoded.pop(key, None)
                if raw is None:
                    raw = self._encode(value)  # type: ignore[arg-type]
                self.backing[key] = raw
                self._sizes[key] = len(raw)
                self._absent.discard(key)

    def clear(self) -> None:  # type: ignore[override]
        """Forget what is cached (not the backing store's content), including unwritten changes: their input
        records were not acknowledged, so whichever worker owns the partition next reads them again."""
        if self._dirty:
            log.info("dropping %d unwritten state changes (partitions moved; their inputs will be re-read)",
                     len(self._dirty))  # fmt: skip
        self._dirty.clear()
        self._encoded.clear()
        self._sizes.clear()
        self._cache.clear()
        self._absent.clear()
