"""Per-partition event-time clock: the watermark and an index of units due for re-evaluation.

Stored in a key-value table (a Faust table in a worker, a dict in replay) under keys that carry the
partition, so each partition's clock lives in that partition's changelog and moves with it on rebalance.
Units are indexed in hour buckets: advancing the watermark visits only the buckets it passes."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from functools import lru_cache

BUCKET_SECONDS = 3600


def _bucket(t: datetime) -> int:
    return int(t.timestamp()) // BUCKET_SECONDS


@lru_cache(maxsize=256)  # the persisted watermark is read several times per record and changes hourly
def _instant(raw: bytes) -> datetime:
    return datetime.fromtimestamp(int(raw), UTC)


class PartitionClock:
    def __init__(self, store: MutableMapping[bytes, bytes], partition: int,
                 fine: dict[int, datetime] | None = None) -> None:  # fmt: skip
        self._store = store
        self._p = partition
        # The watermark is persisted when it enters a new hour bucket, not on every record (each write is a
        # changelog message); within the hour it advances in `fine`, the engine's memory. After a restart it may
        # be up to an hour behind until the next record moves it: decisions are re-made, never lost.
        self._fine = fine if fine is not None else {}

    def _k(self, name: str) -> bytes:
        return f"{name}:{self._p}".encode()

    def _persisted(self) -> datetime | None:
        raw = self._store.get(self._k("wm"))
        return _instant(raw) if raw else None

    @property
    def watermark(self) -> datetime | None:
        return self._current(self._persisted())

    def _current(self, persisted: datetime | None) -> datetime | None:
        fine = self._fine.get(self._p)
        if persisted is None or (fine is not None and fine > persisted):
            return fine
        return persisted

    def advance(self, candidate: datetime | None) -> tuple[datetime | None, bool]:
        """Move the watermark forward to `candidate` (never back). Returns (watermark, moved)."""
        persisted = self._persisted()
        current = self._current(persisted)
        if candidate is None or (current is not None and candidate <= current):
            return current, False
        self._fine[self._p] = candidate
        if persisted is None or _bucket(candidate) > _bucket(persisted):
            self._store[self._k("wm")] = str(int(candidate.timestamp())).encode()
        return candidate, True

    def schedule(self, unit_id: str, due: datetime, previous: datetime | None = None) -> None:
        """Index `unit_id` in `due`'s hour bucket: one small key per entry and a counter per bucket, so
        scheduling costs the same whatever the bucket already holds. Nothing is written when the unit's
        `previous` due time is in the same bucket, still ahead of the watermark (its entry is still there)."""
        b = _bucket(due)
        if previous is not None and _bucket(previous) == b:
            wm = self.watermark
            if wm is None or b > _bucket(wm):
                return
        count_key = self._k(f"n:{b}")
        n = int(self._store.get(count_key) or 0) + 1
        self._store[count_key] = str(n).encode()
        self._store[self._k(f"due:{b}:{n}")] = unit_id.encode()
        low = self._store.get(self._k("low"))
        if low is None or b < int(low):
            self._store[self._k("low")] = str(b).encode()

    def drain(self, watermark: datetime) -> list[str]:
        """Take every unit id indexed in buckets up to the watermark's. Callers re-schedule what is not
        yet due; stale entries (a unit since re-scheduled for later) are harmless."""
        low = self._store.get(self._k("low"))
        if low is None:
            return []
        last = _bucket(watermark)
        ids: list[str] = []
        for b in range(int(low), last + 1):
            count_key = self._k(f"n:{b}")
            raw = self._store.get(count_key)
            if raw is None:
                continue
            for i in range(1, int(raw) + 1):
                key = self._k(f"due:{b}:{i}")
                unit = self._store.get(key)
                if unit is not None:
                    ids.append(unit.decode())
                    del self._store[key]
            del self._store[count_key]
        if int(low) <= last:
            self._store[self._k("low")] = str(last + 1).encode()
        return list(dict.fromkeys(ids))

    def sweep(self, watermark: datetime, due_of: Callable[[str], datetime | None], step: Callable[[str], None]) -> None:
        """Re-evaluate (`step`) every id drained up to the watermark whose current due time (`due_of`; None:
        nothing is due) it has reached. Ids whose due time has since moved later go back into the index."""
        later: list[tuple[str, datetime]] = []
        for id_ in self.drain(watermark):
            due = due_of(id_)
            if due is None:
                continue
            if due > watermark:
                later.append((id_, due))
                continue
            step(id_)
        for id_, due in later:
            self.schedule(id_, due)
