"""Which Kafka to talk to: --broker / CORRIDOR_BROKER, else a running `corridor broker`, else an embedded
broker started for the lifetime of the command (durable, on CORRIDOR_BROKER_DATA, except for the demo)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from streams.broker.embedded import EmbeddedBroker, find_shared, forget_shared, record_shared, shared_is_durable
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
        yield shared, for_durable(tolerant) if shared_is_durable(settings.home) else tolerant
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    data = settings.broker_data_dir() if durable and settings.embedded_storage == "durable" else None
    with EmbeddedBroker(log_path=settings.home / "embedded-broker.log", data=data) as broker:
        if data is None:
            yield broker.bootstrap, tolerant
            return
        # A durable broker is one per directory: recorded like `corridor broker`'s, so other commands use it
        # while this one runs instead of failing on the directory's lock.
        record_shared(settings.home, broker)
        try:
            yield broker.bootstrap, for_durable(tolerant)
        finally:
            forget_shared(settings.home)


DURABLE_FETCH_WAIT_MS = 500


def for_durable(settings: Settings) -> Settings:
    """On the durable broker, fetches wait at least 500 ms unless CORRIDOR_EMBEDDED_FETCH_WAIT_MS says otherwise.
    Tansu's s3:// engine lists a partition's batch objects on every fetch; with a changelog of a million units
    that took longer than the 5 ms wait, and every such fetch came back empty: a rebuild stalled (measured in
    docs/operations.md). Latency on the durable broker is seconds anyway."""
    if "embedded_fetch_wait_ms" in settings.model_fields_set:
        return settings
    wait = max(settings.embedded_fetch_wait_ms, DURABLE_FETCH_WAIT_MS)
    return settings.model_copy(update={"embedded_fetch_wait_ms": wait})
