"""Workarounds for the embedded broker (Tansu 0.6), applied only when corridor runs on it.

After a multi-record batch, Tansu reports a partition's end offset as the last batch's base offset + 1
(offsets 3, 4, 5 written in one batch: end offset 4). Faust rebuilds tables from changelogs up to that end
offset, so it would stop short and silently lose the newest state (and its consistency check would reject
a worker's own RocksDB state). The true end is found by fetching the last batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka_security import KafkaSecurity, client_kwargs


async def true_end_offsets(bootstrap: str, reported: Mapping, timeout: float = 10.0,
                           security: KafkaSecurity | None = None) -> dict:
    """Correct reported end offsets by reading the batch that holds the last reported offset."""
    todo = {tp: end for tp, end in reported.items() if end}
    if not todo:
        return dict(reported)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                **client_kwargs(security))
    await consumer.start()
    try:
        tps = {TopicPartition(tp.topic, tp.partition): tp for tp in todo}
        consumer.assign(list(tps))
        for ktp, tp in tps.items():
            consumer.seek(ktp, todo[tp] - 1)
        corrected = dict(reported)
        pending = set(tps)
        deadline = asyncio.get_running_loop().time() + timeout
        while pending and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for ktp, msgs in batch.items():
                if msgs:
                    corrected[tps[ktp]] = max(todo[tps[ktp]], msgs[-1].offset + 1)
                    pending.discard(ktp)
        return corrected
    finally:
        await consumer.stop()


def patch_highwaters(consumer: object, bootstrap: str, security: KafkaSecurity | None = None) -> None:
    """Make a Faust consumer's `highwaters()` (used by table recovery) return true end offsets."""
    original: Callable[..., Awaitable[Mapping]] = consumer.highwaters  # type: ignore[attr-defined]

    async def highwaters(*partitions: object) -> Mapping:
        return await true_end_offsets(bootstrap, await original(*partitions), security=security)

    consumer.highwaters = highwaters  # type: ignore[attr-defined]


IDLE_WAIT_MS = 50  # the longest a consumer of the embedded broker waits once its fetches keep coming back empty


def shorten_fetch_waits(max_wait_ms: int = 5) -> None:
    """Tansu answers a fetch only when its max wait is over, even when it found records at once (its fetch loop
    sleeps out the remaining wait after reading), where Kafka answers as soon as there is data: seen here, 700 ms
    per hop with Faust's fixed 1,500 ms. On the embedded broker, consumers created after this call (Faust's
    included) poll with a short wait instead, so a record is read one to two waits after it is written, at every
    hop. The price is polling: an idle worker and broker used 20% and 46% of a core at 5 ms, 4% and 15% at 50 ms
    (setting `embedded_fetch_wait_ms`). So a consumer whose fetches come back empty doubles its wait, up to
    `IDLE_WAIT_MS`, and goes back to the short wait as soon as one brings records (`_back_off_when_idle`)."""
    import aiokafka

    current = aiokafka.AIOKafkaConsumer
    if getattr(current, "corridor_short_wait", None) is not None:  # patched already: the latest call's wait holds
        current.corridor_short_wait = max_wait_ms  # type: ignore[attr-defined]
        return

    class ShortWaitConsumer(current):  # type: ignore[misc, valid-type]
        corridor_short_wait = max_wait_ms

        def __init__(self, *topics: str, **kwargs: object) -> None:
            wait = min(int(kwargs.get("fetch_max_wait_ms", 500)), self.corridor_short_wait)  # type: ignore[call-overload]
            super().__init__(*topics, **{**kwargs, "fetch_max_wait_ms": wait})

        async def start(self) -> None:
            await super().start()
            wait = self._fetch_max_wait_ms  # type: ignore[attr-defined]
            _back_off_when_idle(self._fetcher, wait, max(wait, IDLE_WAIT_MS))  # type: ignore[attr-defined]

    aiokafka.AIOKafkaConsumer = ShortWaitConsumer  # type: ignore[misc]


def _back_off_when_idle(fetcher: object, short: int, idle: int) -> None:
    """Make an aiokafka fetcher ask with a wait that doubles after each fetch that brought nothing (no records, no
    error), up to `idle` ms, and is `short` again after one that did. While records flow, every fetch has some:
    the wait stays short. The first record after a quiet spell waits at most `idle` ms more at that hop, and an
    idle consumer polls a tenth as often (python -m bench fanout: the worker's polling took about 0.6 CPU s and
    the broker's 0.9 s of each 2-second change at 5 ms)."""
    if fetcher is None or idle <= short:
        return
    proc = fetcher._proc_fetch_request  # type: ignore[attr-defined]

    async def fetched(assignment: object, node_id: int, request: object) -> bool:
        found = await proc(assignment, node_id, request)
        wait = fetcher._fetch_max_wait_ms  # type: ignore[attr-defined]
        fetcher._fetch_max_wait_ms = short if found else min(idle, wait * 2)  # type: ignore[attr-defined]
        return found

    fetcher._proc_fetch_request = fetched  # type: ignore[attr-defined]
