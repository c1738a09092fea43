"""Which Kafka to talk to: --broker / CORRIDOR_BROKER, else a running `corridor broker`, else an embedded
broker started for the lifetime of the command (durable, on CORRIDOR_BROKER_DATA, except for the demo), and the
fetch wait that broker needs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from streams.broker.embedded import EmbeddedBroker, find_shared, forget_shared, record_shared
from streams.settings import Settings


@contextlib.contextmanager
def broker_for(settings: Settings, *, durable: bool = True) -> Iterator[tuple[str, Settings]]:
    """Yield the bootstrap address and the settings adjusted for that broker. A broker started here is
    durable (its topics kept in settings.broker_data_dir()) unless `durable` is false or the settings say
    memory."""
    if settings.broker:
        yield settings.broker, settings
        return
    tolerant = settings.model_copy(update={"embedded_broker": True})  # see streams/broker/tansu.py
    shared = find_shared(settings.home)
    if shared:
        yield shared, for_long_runs(tolerant)  # a `corridor broker`, memory or durable, runs for hours
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    data = settings.broker_data_dir() if durable and settings.embedded_storage == "durable" else None
    with EmbeddedBroker(log_path=settings.home / "embedded-broker.log", data=data) as broker:
        if data is None:  # the demo's short run keeps the short wait; a worker on memory by choice may run for hours
            yield broker.bootstrap, tolerant if not durable else for_long_runs(tolerant)
            return
        # A durable broker is one per directory: recorded like `corridor broker`'s, so other commands use it
        # while this one runs instead of failing on the directory's lock.
        record_shared(settings.home, broker)
        try:
            yield broker.bootstrap, for_long_runs(tolerant)
        finally:
            forget_shared(settings.home)


LONG_RUN_FETCH_WAIT_MS = 500


def for_long_runs(settings: Settings) -> Settings:
    """On an embedded broker that runs for hours (`corridor broker`, memory or durable, and any broker a worker
    starts for itself), fetches wait at least 500 ms unless CORRIDOR_EMBEDDED_FETCH_WAIT_MS says otherwise.
    The Tansu build shipped lists a partition's batches from the first on every fetch and stops listing when the
    fetch's wait is over: a partition holding more batches than it lists in that time is never served again. At
    5 ms that is a few thousand batches (minutes to hours of steady traffic: the soak stalled after 17 minutes),
    at 500 ms about 300,000; on the durable engine a million-unit changelog stalled a rebuild at 5 ms
    (docs/operations.md). The price is latency on idle partitions, a few hundred ms a hop; the demo's short run
    keeps 5 ms."""
    if "embedded_fetch_wait_ms" in settings.model_fields_set:
        return settings
    wait = max(settings.embedded_fetch_wait_ms, LONG_RUN_FETCH_WAIT_MS)
    return settings.model_copy(update={"embedded_fetch_wait_ms": wait})
