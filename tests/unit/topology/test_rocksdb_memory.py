"""Every RocksDB database Faust opens shares one block cache and one write buffer manager."""

from __future__ import annotations

from pathlib import Path

from faust.stores.rocksdb import RocksDBOptions

from streams.topology import rocksdb_memory


def test_databases_share_one_budget(tmp_path: Path) -> None:
    rocksdb_memory.install(256)
    rocksdb_memory.install(256)  # a second worker in the process: wrapped once
    assert getattr(RocksDBOptions.as_options, "corridor_budget", False)
    options = RocksDBOptions(use_rocksdict=True)
    dbs = [options.open(tmp_path / f"t-{i}.db") for i in range(3)]
    try:
        before = rocksdb_memory.usage()["memtables"]
        for i, db in enumerate(dbs):
            for k in range(2000):
                db[f"{i}-{k}".encode()] = b"x" * 500
        after = rocksdb_memory.usage()
        # The three databases' memtables are counted by the one manager, and charged to the one cache.
        assert after["memtables"] >= before + 3 * 2000 * 500
        assert after["cache"] >= after["memtables"]
        assert dbs[0][b"0-1999"] == b"x" * 500
    finally:
        for db in dbs:
            db.close()
