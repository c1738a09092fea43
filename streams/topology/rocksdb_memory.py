"""One memory budget for all of a worker's RocksDB stores.

Faust opens one RocksDB database per table partition: with corridor's tables and 4 partitions, about 40 in one
worker. Each gets Faust's defaults: its own 2 GB block cache and up to three 64 MB memtables. Nothing bounds the
sum: in a 30-minute soak (`python -m bench soak`) the worker's RSS rose by about 100 MB a minute while the
memtables filled (the tables' write-ahead logs held 230 MB after 3 minutes, their SST files 6 MB), and a worker
whose state is read gets a block cache of its own for every partition.

RocksDB's answer is a shared block cache and a write buffer manager that charges every memtable to that cache:
then block cache and memtables together stay within one limit, whatever the number of databases. `install()`
makes every database Faust opens use them (Faust's `RocksDBOptions` has no option for a shared cache, so its
`as_options` is wrapped). The limit is `CORRIDOR_ROCKSDB_MEMORY_MB` (Settings.rocksdb_memory_mb)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

MEMTABLE_SHARE = 0.5  # of the budget that memtables may take before RocksDB flushes the largest
WRITE_BUFFER_BYTES = 16 * 2**20  # one memtable of one database: flushed at this size (Faust's default: 64 MB)

_budget: dict[str, Any] = {}  # the shared cache and write buffer manager, made once per process


def shared(limit_mb: int) -> tuple[Any, Any]:
    """The process's block cache and write buffer manager (the first limit asked for wins: tests run several
    workers in one process, and they share it as the databases of one worker do)."""
    import rocksdict

    if not _budget:
        limit = limit_mb * 2**20
        cache = rocksdict.Cache(limit)
        manager = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            int(limit * MEMTABLE_SHARE), False, cache)  # fmt: skip
        _budget.update(cache=cache, manager=manager, limit_mb=limit_mb)
    return _budget["cache"], _budget["manager"]


def install(limit_mb: int) -> None:
    """Make every RocksDB database Faust opens from now on in this process use the shared budget."""
    from faust.stores import rocksdb as faust_rocksdb

    options_class = faust_rocksdb.RocksDBOptions
    if getattr(options_class.as_options, "corridor_budget", False):
        return
    original = options_class.as_options  # fails here, at start, if Faust changes shape

    def as_options(self: Any) -> Any:
        options = original(self)
        if not self.use_rocksdict:  # python-rocksdb: Faust's own options
            return options
        import rocksdict

        cache, manager = shared(limit_mb)
        table = rocksdict.BlockBasedOptions()  # as Faust builds it, with the shared cache
        table.set_bloom_filter(self.bloom_filter_size, True)
        table.set_block_cache(cache)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(manager)
        options.set_write_buffer_size(min(self.write_buffer_size, WRITE_BUFFER_BYTES))
        return options

    as_options.corridor_budget = True  # type: ignore[attr-defined]
    options_class.as_options = as_options


def usage() -> dict[str, int]:
    """Bytes in use now: the shared cache (memtables included) and the memtables alone; empty before use."""
    if not _budget:
        return {}
    return {"cache": _budget["cache"].get_usage(), "memtables": _budget["manager"].get_usage()}
