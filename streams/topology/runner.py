"""Run the tracking job inside the current process (demo, tests) and know when it is ready."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import faust

from streams.processing import collector
from streams.settings import Settings
from streams.topology.app import Topology, create_app


class Worker(faust.Worker):
    """Faust's worker without its terminal spinner. To spin on every log record, the spinner sets the root
    logger to DEBUG, so aiokafka and Faust build a debug record for every message produced: about a tenth of
    the worker's time, for a spinner nobody sees in a service's log."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.spinner = None
        collector.tune()  # before start-up: a table rebuild is the first to gain (streams.processing.collector)

    async def on_started(self) -> None:
        collector.freeze()  # what start-up allocated lives as long as the worker
        # Logging is set up by now: hold back repeats (the Kafka clients' reconnect errors while a broker is
        # away: about 80 lines a second otherwise).
        from streams.topology.broker_watch import limit_repeats

        limit_repeats()
        await super().on_started()


async def wait_ready(topology: Topology, timeout: float = 60.0) -> None:
    """Ready = partitions assigned and table recovery completed."""
    app = topology.app

    async def loop() -> None:
        while not (
            app.consumer.assignment() and app.tables.recovery.completed.is_set() and not app.rebalancing
        ):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout)


@contextlib.asynccontextmanager
async def running(settings: Settings, bootstrap: str, *, ready_timeout: float = 60.0,
                  build: Callable[[Settings, str], Topology] = create_app) -> AsyncIterator[Topology]:
    """The app `build` makes, started in this process and ready. By default the jobs alone, without the web
    layer: `streams.bootstrap.running` runs the whole worker (the API too when `settings.web_enabled`)."""
    topology = build(settings, bootstrap)
    opened = _track_databases(topology.app)
    await topology.app.start()
    try:
        await wait_ready(topology, ready_timeout)
        yield topology
    finally:
        databases = open_databases(topology.app)
        if topology.app.crash_reason is not None:
            _no_commit(topology.app.consumer)
        try:
            await topology.app.stop()
        finally:
            # Also those opened after the list above was taken: a batch completed while the app stopped (a job's
            # watcher after another job crashed it) opened one, left it locked, and the next start failed (CI).
            for db in {id(db): db for db in [*databases, *opened]}.values():
                db.close()


def _track_databases(app: faust.App) -> list:
    """Every RocksDB database the app's table stores open from now on (Faust's `_open_for_partition`)."""
    opened: list = []
    for table in app.tables.values():
        store = table.data
        open_for_partition = getattr(store, "_open_for_partition", None)
        if open_for_partition is None:  # not RocksDB (the tests' memory stores)
            continue

        def tracked(partition: int, _open: Callable = open_for_partition) -> object:
            db = _open(partition)
            opened.append(db)
            return db

        store._open_for_partition = tracked
    return opened


def _no_commit(consumer: object) -> None:
    """A crashed app commits nothing on its way down: what it had not written must be read again, and its
    consumer thread may be gone already (Faust's stop then asked it to commit and raised "Event loop is closed",
    leaving the app half stopped and its tasks running: a test's restart failed, and its event loop never closed)."""

    async def commit(*args: object, **kwargs: object) -> bool:
        return False

    consumer.commit = commit  # type: ignore[attr-defined]


def open_databases(app: faust.App) -> list:
    """The RocksDB databases the app's tables hold open. Faust's store forgets them on stop and leaves the
    closing to the garbage collector (its `db.close()` is commented out), but an app that crashed is still
    referenced (its crash reason's traceback, the caller's variables) and `collector.freeze()` exempts what
    start-up allocated from collection: the databases stay open with their locks. A worker started again in
    the same process on the same data dir (a test's restart, the demo) then cannot open them ("lock hold by
    current process"), and never becomes ready."""
    return [db for table in app.tables.values() for db in getattr(table.data, "_dbs", {}).values()]
