import pytest

from streams.processing.cache import StateCache


class Counting(dict):
    """A store that counts its reads and writes."""

    def __init__(self, *args):
        super().__init__(*args)
        self.gets = self.sets = self.dels = 0

    def get(self, key, default=None):
        self.gets += 1
        return super().get(key, default)

    def __setitem__(self, key, value):
        self.sets += 1
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self.dels += 1
        super().__delitem__(key)


def test_reads_come_from_memory_and_writes_go_through_without_write_behind():
    backing = Counting({b"a": b"1"})
    cache = StateCache(backing, max_items=2)
    assert cache.get(b"a") == b"1" and cache.get(b"a") == b"1" and cache.get(b"zz") is None
    assert cache.get(b"zz") is None
    assert backing.gets == 2  # one miss per key, absent keys remembered too
    assert cache.misses == 2  # counted as the store reads them
    cache[b"b"] = b"2"
    del cache[b"a"]
    assert dict(backing) == {b"b": b"2"} and cache.get(b"a") is None and cache.pending == 0
    cache.clear()
    backing[b"b"] = b"changed elsewhere"
    assert cache[b"b"] == b"changed elsewhere"  # after clear, the store is read again
    for i in range(5):
        cache.get(bytes([i]))
    cache.flush()
    assert len(cache._cache) <= 2  # bounded


def test_values_are_decoded_once_and_encoded_on_flush():
    backing = Counting({b"a": b"1"})
    decoded = []
    cache = StateCache(backing, decode=lambda raw: decoded.append(raw) or int(raw),
                       encode=lambda v: str(v).encode(), write_behind=True)  # fmt: skip
    assert cache[b"a"] == 1 and cache[b"a"] == 1 and decoded == [b"1"]
    cache[b"a"] = 5
    assert backing[b"a"] == b"1" and cache[b"a"] == 5 and cache.pending == 1
    assert cache.flush() == 1 and backing[b"a"] == b"5" and cache.pending == 0


def test_write_behind_writes_each_changed_key_once_per_flush():
    backing = Counting()
    cache = StateCache(backing, write_behind=True)
    for i in range(10):
        cache[b"counter"] = str(i).encode()
    assert cache.get(b"gone") is None
    cache[b"gone"] = b"x"
    del cache[b"gone"]  # known absent, created and deleted between flushes: the store never sees it
    assert backing.sets == 0
    assert cache.flush() == 2
    assert dict(backing) == {b"counter": b"9"} and backing.sets == 1 and backing.dels == 0
    del cache[b"counter"]
    cache.flush()
    assert dict(backing) == {} and backing.dels == 1


def test_clear_drops_unwritten_changes():
    # Partitions moved mid-batch: the batch's records were not acknowledged and will be read again, so its
    # changes must not reach the store.
    backing = Counting({b"a": b"1"})
    cache = StateCache(backing, write_behind=True)
    cache[b"a"] = b"2"
    cache.clear()
    assert cache.flush() == 0 and backing == {b"a": b"1"} and cache[b"a"] == b"1"


def test_iterating_flushes_first():
    cache = StateCache({}, write_behind=True)
    cache[b"k"] = b"v"
    assert list(cache) == [b"k"] and len(cache) == 1


def test_missing_key():
    with pytest.raises(KeyError):
        StateCache({})[b"nope"]
