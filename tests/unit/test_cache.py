from streams.processing.cache import WriteThrough


class Counting(dict):
    gets = 0

    def get(self, key, default=None):
        Counting.gets += 1
        return super().get(key, default)


def test_reads_come_from_memory_and_writes_go_through():
    backing = Counting({b"a": b"1"})
    cache = WriteThrough(backing, max_items=2)
    assert cache.get(b"a") == b"1" and cache.get(b"a") == b"1" and cache.get(b"zz") is None
    assert cache.get(b"zz") is None
    assert Counting.gets == 2  # one miss per key, absent keys remembered too
    cache[b"b"] = b"2"
    del cache[b"a"]
    assert dict(backing) == {b"b": b"2"} and cache.get(b"a") is None
    cache.clear()
    backing[b"b"] = b"changed elsewhere"
    assert cache[b"b"] == b"changed elsewhere"  # after clear, the store is read again
    for i in range(5):
        cache.get(bytes([i]))
    assert len(cache._cache) <= 2  # bounded
