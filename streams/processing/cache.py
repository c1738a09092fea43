"""A write-through cache in front of a key-value store.

In a worker the stores are Faust tables: every read goes through Faust's table machinery to RocksDB, which
costs far more than the tracking logic itself. The worker that owns a partition is its tables' only writer, so
reads can be served from memory while every write still goes to the table (and its changelog). The cache
must be dropped when partitions are reassigned (`clear`)."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

_ABSENT = object()


class WriteThrough(MutableMapping[bytes, bytes]):
    def __init__(self, backing: MutableMapping[bytes, bytes], max_items: int = 100_000) -> None:
        self.backing = backing
        self.max_items = max_items
        self._cache: dict[bytes, object] = {}

    def _remember(self, key: bytes, value: object) -> None:
        if len(self._cache) >= self.max_items:
            self._cache.pop(next(iter(self._cache)))  # oldest first
        self._cache[key] = value

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        value = self._cache.get(key, _ABSENT)
        if value is _ABSENT:
            value = self.backing.get(key)
            self._remember(key, value)
        return default if value is None else value  # type: ignore[return-value]

    def __getitem__(self, key: bytes) -> bytes:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.backing[key] = value
        self._cache.pop(key, None)
        self._remember(key, value)

    def __delitem__(self, key: bytes) -> None:
        if self.get(key) is not None:
            del self.backing[key]
        self._cache.pop(key, None)
        self._remember(key, None)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.backing)

    def __len__(self) -> int:
        return len(self.backing)

    def clear(self) -> None:  # type: ignore[override]
        """Forget what is cached (not the backing store's content)."""
        self._cache.clear()
