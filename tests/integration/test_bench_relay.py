"""The latency baseline's relay passes every record through, key and content unchanged."""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.relay import relay
from streams.broker.admin import ensure_topics

pytestmark = pytest.mark.integration


async def test_the_relay_passes_records_through(bootstrap):
    source, dest = f"relay-{uuid.uuid4().hex[:8]}.in", f"relay-{uuid.uuid4().hex[:8]}.out"
    await ensure_topics(bootstrap, [source, dest], 2)
    records = {f"u{i}".encode(): {"event_id": f"e{i}", "n": i} for i in range(6)}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in records.items():
            await producer.send_and_wait(source, key=key, value=orjson.dumps(value))
    finally:
        await producer.stop()
    task = asyncio.create_task(relay(bootstrap, source, dest, f"relay-{uuid.uuid4().hex[:6]}"))
    reader = AIOKafkaConsumer(dest, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await reader.start()
    seen: dict[bytes, dict] = {}
    try:
        async with asyncio.timeout(30):
            while len(seen) < len(records):
                for msgs in (await reader.getmany(timeout_ms=500)).values():
                    seen |= {m.key: orjson.loads(m.value) for m in msgs}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await reader.stop()
    assert seen == records
