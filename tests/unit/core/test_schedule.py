"""The per-partition due index: every unit is re-evaluated once the watermark reaches its due time, never before,
and a move of the watermark that reaches nothing writes nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from streams.core.schedule import PartitionClock, _bucket
from streams.processing.cache import StateCache

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Recording(dict):
    """A store that counts what is written to it (each write is a changelog record in a worker)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, bytes]] = []

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes.append(("put", key))
        super().__setitem__(key, value)

    def __delitem__(self, key: bytes) -> None:
        self.writes.append(("delete", key))
        super().__delitem__(key)


class Units:
    """Due times as the engine keeps them (in unit state), and a sweep that steps units as the engine does: a
    stepped unit is due again later, or never."""

    def __init__(self, store: dict, earliest: dict | None = None) -> None:
        self.store, self.earliest = store, earliest
        self.due: dict[str, datetime | None] = {}
        self.fine: dict[int, datetime] = {}
        self.stepped: list[tuple[str, datetime]] = []

    def clock(self) -> PartitionClock:
        return PartitionClock(self.store, 0, self.fine, self.earliest)

    def set_due(self, unit: str, due: datetime | None) -> None:
        previous = self.due.get(unit)
        self.due[unit] = due
        if due is not None:
            self.clock().schedule(unit, due, previous=previous)

    def move(self, to: datetime, next_due=lambda unit, wm: None) -> list[str]:  # type: ignore[no-untyped-def]
        clock = self.clock()
        wm, moved = clock.advance(to)
        assert wm is not None
        stepped: list[str] = []

        def step(unit: str) -> None:
            stepped.append(unit)
            self.stepped.append((unit, wm))
            self.set_due(unit, next_due(unit, wm))

        if moved:
            clock.sweep(wm, self.due.get, step)
        return stepped


def test_a_move_within_the_hour_takes_only_what_it_reached_and_writes_nothing_else() -> None:
    store = Recording()
    units = Units(store, {})
    for i in range(50):
        units.set_due(f"U{i:02d}", T0 + timedelta(minutes=10 + i))  # all in the 08:00 hour
    units.move(T0 + timedelta(minutes=1))
    store.writes.clear()
    for minute in range(2, 10):  # moves that reach no entry write the watermark alone
        assert units.move(T0 + timedelta(minutes=minute)) == []
    assert {w[1] for w in store.writes} == {b"wm:0"}
    store.writes.clear()
    assert units.move(T0 + timedelta(minutes=12, seconds=30)) == ["U00", "U01", "U02"]
    # The three entries taken, and nothing else: no unit not yet due was taken out and put back.
    b = _bucket(T0)
    assert [w for w in store.writes if w[1] != b"wm:0"] == [("delete", f"due:{b}:{n}:0".encode()) for n in (1, 2, 3)]


def test_the_watermark_is_kept_to_the_microsecond() -> None:
    """A restarted worker re-reads its unacknowledged input at the watermark it left, not an hour before it."""
    store: dict[bytes, bytes] = {}
    at = T0 + timedelta(minutes=17, seconds=3, microseconds=250)
    PartitionClock(store, 0).advance(at)
    assert PartitionClock(store, 0).watermark == at  # a new clock: what a restarted worker reads
    PartitionClock(store, 0).advance(at + timedelta(microseconds=750))
    assert PartitionClock(store, 0).watermark == at + timedelta(microseconds=750)
    store[b"wm:1"] = str(int(T0.timestamp())).encode()  # as written before (whole seconds)
    assert PartitionClock(store, 1).watermark == T0


def test_a_unit_whose_due_time_moves_is_stepped_once_at_its_last_due_time() -> None:
    units = Units({}, {})
    units.set_due("U1", T0 + timedelta(minutes=20))
    units.set_due("U1", T0 + timedelta(minutes=10))  # earlier, same hour
    units.set_due("U1", T0 + timedelta(hours=3))  # later, another hour
    units.set_due("U1", T0 + timedelta(minutes=40))  # back into the first hour
    assert units.move(T0 + timedelta(minutes=39)) == []
    assert units.move(T0 + timedelta(minutes=40)) == ["U1"]
    assert units.move(T0 + timedelta(hours=4)) == []  # the 3 h entry is stale: dropped, not stepped
    assert units.stepped == [("U1", T0 + timedelta(minutes=40))]
    assert not [k for k in units.store if k.startswith(b"due:")]  # nothing left behind


def test_a_stale_entry_does_not_multiply() -> None:
    """Taking a stale entry used to put the unit back for its new time, next to the entry it already had there:
    a unit whose due time moved a few times went on to be taken, and written, several times per move."""
    store = Recording()
    units = Units(store, {})
    for minutes in (5, 10, 15, 20):
        units.set_due("U1", T0 + timedelta(hours=1, minutes=minutes))  # each change leaves an entry
    for minutes in range(61, 90):
        units.move(T0 + timedelta(minutes=minutes))
    assert units.stepped == [("U1", T0 + timedelta(minutes=80))]
    entries = [k for k in store if k.startswith(b"due:")]
    assert entries == []
    puts = [k for op, k in store.writes if op == "put" and k.startswith(b"due:")]
    assert len(puts) == 4  # one per change of due time, none when stale ones were taken


def test_the_same_second_goes_back_until_the_watermark_passes_it() -> None:
    units = Units({}, {})
    due = T0 + timedelta(minutes=30, microseconds=600_000)
    units.set_due("U1", due)
    assert units.move(due - timedelta(microseconds=300_000)) == []  # same second, not yet due
    assert units.move(due) == ["U1"]


def test_entries_written_before_they_held_their_due_time_are_still_swept() -> None:
    b = _bucket(T0)
    store = {f"low:{0}".encode(): str(b).encode(), f"n:{b}:0".encode(): b"2", f"due:{b}:1:0".encode(): b"U1",
             f"due:{b}:2:0".encode(): b"U2"}  # fmt: skip
    units = Units(store, {})
    units.due = {"U1": T0 + timedelta(minutes=5), "U2": T0 + timedelta(minutes=50)}
    assert units.move(T0 + timedelta(minutes=6)) == ["U1"]  # U2's old entry is taken, and U2 put back
    assert units.move(T0 + timedelta(minutes=49)) == []
    assert units.move(T0 + timedelta(minutes=51)) == ["U2"]


def test_random_schedules_and_moves_step_exactly_the_units_due() -> None:
    """Against the definition: at each move, the units stepped are those whose due time the watermark reached.
    With and without the engine's memory of each bucket's earliest entry, and with a memory dropped midway (a
    rebalance), which must only cost reads."""
    rng = random.Random(7)
    for trial in range(40):
        earliest: dict | None = {} if trial % 2 else None
        units = Units({}, earliest)
        wm = T0
        names = [f"U{i}" for i in range(30)]

        def later(unit: str, at: datetime) -> datetime | None:
            return None if rng.random() < 0.3 else at + timedelta(seconds=rng.randint(1, 4 * 3600))

        for round_ in range(120):
            for unit in rng.sample(names, 4):  # events for a few units change their due time
                units.set_due(unit, wm + timedelta(seconds=rng.randint(-1800, 5 * 3600)) if rng.random() < 0.9
                              else None)  # fmt: skip
            if earliest is not None and round_ == 60:
                earliest.clear()
            wm += timedelta(seconds=rng.choice([1, 30, 300, 1200, 4000]), microseconds=rng.randint(0, 999_999))
            expected = sorted(u for u, d in units.due.items() if d is not None and d <= wm)
            assert sorted(units.move(wm, later)) == expected, (trial, round_)
            assert all(d is None or d > wm for d in units.due.values())


def test_a_key_created_and_deleted_between_flushes_writes_nothing() -> None:
    backing = Recording()
    backing[b"old"] = b"1"
    backing.writes.clear()
    cache: StateCache[bytes] = StateCache(backing, write_behind=True)
    cache[b"new"] = b"x"
    del cache[b"new"]
    del cache[b"old"]
    cache.flush()
    assert backing.writes == [("delete", b"old")]
