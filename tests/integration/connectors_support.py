"""Shared by the connector integration tests: read a topic to its end, run the gateway on a free port."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from schemas.topics import TopicNames
from streams.connectors.config import GatewayConfig, Source
from streams.connectors.gateway import create_app
from streams.connectors.sink import RawSink

V3_KEY = "v3-key-0123456789abcdef"
INGEST_KEY = "ingest-key-0123456789ab"
OLD_SECRET = b"old-subscription-secret-0123"
NEW_SECRET = b"new-subscription-secret-4567"


def gateway_config(**overrides: object) -> GatewayConfig:
    b64 = [base64.b64encode(s).decode() for s in (NEW_SECRET, OLD_SECRET)]
    return GatewayConfig(sources=[
        Source(name="maeu-sub", secrets=b64),
        Source(name="hlcu", api_keys=[V3_KEY], formats=["dcsa-tnt-3.0"]),
        Source(name="platform", api_keys=[INGEST_KEY]),
    ], **overrides)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def gateway(bootstrap: str, topics: TopicNames, config: GatewayConfig | None = None,
                  timeout: float = 10.0) -> AsyncIterator[str]:  # fmt: skip
    """The gateway's base URL while it runs."""
    cfg = config or gateway_config()
    sink = RawSink(bootstrap, topics, timeout=timeout)
    runner = web.AppRunner(create_app(cfg, sink), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def read_topic(bootstrap: str, topic: str, *, at_least: int = 0, timeout: float = 20.0,
                     partitions: int = 4) -> list[ConsumerRecord]:
    """Every record of `topic`, waiting until there are `at_least` of them (or `timeout`)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[ConsumerRecord] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            ends = await consumer.end_offsets(tps)
            done = all([await consumer.position(tp) >= ends[tp] for tp in tps])
            if done and len(out) >= at_least:
                return out
            if asyncio.get_running_loop().time() > deadline:
                return out
            for msgs in (await consumer.getmany(timeout_ms=300)).values():
                out += msgs
    finally:
        await consumer.stop()
