"""A body is published once: a re-send within the window gets the first answer again, not a second record.

What identifies a body: the sender's `Idempotency-Key`, else, for DCSA bodies, the set of their events'
(eventID, eventUpdatedDateTime) pairs (a 3.0 update re-sends an eventID with a later eventUpdatedDateTime and is
new). Keys are scoped by source. The window lives in the gateway's memory: a second gateway replica, or a restart,
does not share it, and the worker's de-duplication by event id covers what slips through."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from streams.feeds.dcsa import events_of


@dataclass(frozen=True, slots=True)
class Ack:
    """Where Kafka put a record."""

    topic: str
    partition: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


def dcsa_key(body: bytes) -> str | None:
    """A digest of the events' ids and update times, or None when the body is not DCSA JSON or an event has no id
    (then there is nothing reliable to de-duplicate on)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    events = events_of(doc)
    ids = []
    for e in events:
        if not isinstance(e, dict) or not isinstance(e.get("eventID"), str) or not e["eventID"]:
            return None
        ids.append(f"{e['eventID']}@{e.get('eventUpdatedDateTime') or ''}")
    if not ids:
        return None
    return "dcsa:" + hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


T = TypeVar("T")


class IdempotencyWindow(Generic[T]):
    """Remembers keys for `window` seconds (monotonic clock: this is request bookkeeping, not event time). A key
    being published right now makes a concurrent re-send wait for the same answer instead of publishing again."""

    def __init__(self, window: float, max_keys: int = 200_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._done: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._flight: dict[str, asyncio.Future[T]] = {}

    def _expire(self) -> None:
        now = self._clock()
        while self._done:
            _key, (at, _) = next(iter(self._done.items()))
            if now - at < self.window and len(self._done) <= self.max_keys:
                break
            self._done.popitem(last=False)

    def seen(self, key: str) -> T | None:
        self._expire()
        hit = self._done.get(key)
        return hit[1] if hit else None

    async def once(self, key: str | None, publish: Callable[[], Any]) -> tuple[T, bool]:
        """Publish under `key` unless it was within the window: (ack, True if it was a duplicate). A failed
        publish forgets the key, so the sender's retry publishes."""
        if key is None or self.window <= 0:
            return await publish(), False
        if (ack := self.seen(key)) is not None:
            return ack, True
        if (flight := self._flight.get(key)) is not None:
            return await asyncio.shield(flight), True
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._flight[key] = fut
        try:
            ack = await publish()
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._flight.pop(key, None)
        fut.set_result(ack)
        self.remember(key, ack)
        return ack, False

    def remember(self, key: str, ack: T) -> None:
        self._done[key] = (self._clock(), ack)
        self._done.move_to_end(key)
        self._expire()
