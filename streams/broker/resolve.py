"""Which Kafka to talk to: --broker / CORRIDOR_BROKER, else a running `corridor broker`, else an embedded
broker started for the lifetime of the command (durable, on CORRIDOR_BROKER_DATA, except for the demo)."""

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
        yield shared, tolerant
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
            yield broker.bootstrap, tolerant
        finally:
            forget_shared(settings.home)
