"""Per-partition event-time clock: the watermark and an index of units due for re-evaluation.

Stored in a key-value table (a Faust table in a worker, a dict in replay) under keys that carry the
partition, so each partition's clock lives in that partition's changelog and moves with it on rebalance.
Units are indexed in hour buckets: advancing the watermark visits only the buckets it passes. Each entry holds
the unit's due time (whole seconds, rounded down), so a move within the hour takes only the entries it has
reached: taking the whole hour's bucket and putting back what was not due wrote two changelog records per unit
and move (most of a worker's writes)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, datetime
from functools import lru_cache

BUCKET_SECONDS = 3600


def _bucket(t: datetime) -> int:
    return int(t.timestamp()) // BUCKET_SECONDS


@lru_cache(maxsize=256)  # the persisted watermark is read several times per record
def _instant(raw: bytes) -> datetime:
    """Seconds since the epoch, with microseconds after a point where the instant has them."""
    seconds, _, micros = raw.partition(b".")
    t = datetime.fromtimestamp(int(seconds), UTC)
    return t.replace(microsecond=int(micros.ljust(6, b"0"))) if micros else t


def _stamp(t: datetime) -> bytes:
    seconds = math.floor(t.timestamp())
    return (f"{seconds}.{t.microsecond:06d}" if t.microsecond else str(seconds)).encode()


def _seconds(t: datetime) -> int:
    return math.floor(t.timestamp())


def _entry(unit_id: str, due: datetime) -> bytes:
    return f"{unit_id}\0{_seconds(due)}".encode()


def _parse(raw: bytes) -> tuple[str, int | None]:
    """(unit id, due seconds) of an entry; None for one written before entries held their due time."""
    head, sep, tail = raw.decode().rpartition("\0")
    return (head, int(tail)) if sep else (tail, None)


class PartitionClock:
    def __init__(self, store: MutableMapping[bytes, bytes], partition: int,
                 fine: dict[int, datetime] | None = None,
                 earliest: dict[tuple[int, int], int] | None = None) -> None:  # fmt: skip
        self._store = store
        self._p = partition
        # The watermark is written at every move, to the microsecond: the worker's tables write a key once per
        # batch, so that is one changelog record per partition and batch. A worker restarted after a SIGKILL then
        # re-reads its unacknowledged input at the very watermark it left, and decides as `corridor replay` does
        # (it was persisted hourly before: a restarted worker re-decided against a clock up to an hour behind,
        # and its alerts and ETAs could differ from replay's). `fine` is the same value in the engine's memory.
        self._fine = fine if fine is not None else {}
        # The earliest due time (seconds) of the entries left in a bucket, by (partition, bucket), as last seen
        # (the engine's memory, dropped with its caches): a move within the hour before that time reads nothing.
        self._earliest = earliest if earliest is not None else {}

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
        self._store[self._k("wm")] = _stamp(candidate)
        return candidate, True

    def schedule(self, unit_id: str, due: datetime, previous: datetime | None = None) -> None:
        """Index `unit_id` at `due`, in its hour bucket: one small key per entry and a counter per bucket, so
        scheduling costs the same whatever the bucket already holds. `previous`: the unit's due time before this
        change, whose entry stays and is dropped when reached (the sweep finds the unit due later)."""
        if previous is not None and _seconds(previous) == _seconds(due):
            return  # its entry is there
        b = _bucket(due)
        count_key = self._k(f"n:{b}")
        n = int(self._store.get(count_key) or 0) + 1
        self._store[count_key] = str(n).encode()
        self._store[self._k(f"due:{b}:{n}")] = _entry(unit_id, due)
        low = self._store.get(self._k("low"))
        if low is None or b < int(low):
            self._store[self._k("low")] = str(b).encode()
        known = self._earliest.get((self._p, b))
        if known is not None and _seconds(due) < known:
            self._earliest[(self._p, b)] = _seconds(due)

    def reindex(self, items: Iterable[tuple[bytes, bytes]], due_of: Callable[[bytes], datetime | None]) -> int:
        """Index every stored state (`items`: key, encoded state) at its due time (`due_of`, None: not due);
        returns how many. For a clock that may lack entries its states imply; an entry too many is dropped
        when reached."""
        n = 0
        for key, raw in items:
            due = due_of(raw)
            if due is not None:
                self.schedule(key.decode(), due)
                n += 1
        return n

    def drain(self, watermark: datetime) -> list[tuple[str, int | None]]:
        """Take every entry indexed at or before the watermark (in whole seconds): (unit id, due seconds it was
        indexed for, None for an entry from before entries held it)."""
        low = self._store.get(self._k("low"))
        if low is None:
            return []
        last, now = _bucket(watermark), _seconds(watermark)
        taken: list[tuple[str, int | None]] = []
        first = int(low)
        for b in range(first, last + 1):
            count_key = self._k(f"n:{b}")
            raw = self._store.get(count_key)
            if raw is None:
                continue
            if b == last and self._earliest.get((self._p, b), now) > now:  # nothing due yet in the watermark's
                last -= 1
                break
            left: int | None = None  # earliest due time of the entries left in the bucket
            for i in range(1, int(raw) + 1):
                key = self._k(f"due:{b}:{i}")
                entry = self._store.get(key)
                if entry is None:
                    continue
                unit, due = _parse(entry)
                if due is None or due <= now:
                    taken.append((unit, due))
                    del self._store[key]
                elif left is None or due < left:
                    left = due
            if left is None:
                del self._store[count_key]
                self._earliest.pop((self._p, b), None)
            else:  # only the watermark's own bucket can keep entries
                self._earliest[(self._p, b)] = left
                last -= 1
        if first <= last:
            self._store[self._k("low")] = str(last + 1).encode()
        return taken

    def sweep(self, watermark: datetime, due_of: Callable[[str], datetime | None], step: Callable[[str], None]) -> None:
        """Re-evaluate (`step`) every unit whose entry the watermark reached, and whose current due time (`due_of`;
        None: nothing is due) it has reached too. A unit due later has an entry for that time already (every
        change of due time writes one), unless the entry taken was for that very second or from before entries
        held their time: those go back into the index."""
        stepped: set[str] = set()
        later: dict[str, datetime] = {}
        for id_, indexed in self.drain(watermark):
            if id_ in stepped:
                continue
            due = due_of(id_)
            if due is None:
                continue
            if due <= watermark:
                stepped.add(id_)
                step(id_)
            elif indexed is None or indexed == _seconds(due):
                later[id_] = due
        for id_, due in later.items():
            self.schedule(id_, due)
