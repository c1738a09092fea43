"""The embedded broker's end-offset quirk and corridor's workaround for Faust table recovery."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.broker.admin import ensure_topics
from streams.broker.tansu import true_end_offsets

pytestmark = pytest.mark.integration


async def test_true_end_offsets_see_past_the_last_batch(bootstrap):
    topic = f"quirk-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(topic, b"one", partition=0)
        futures = [await producer.send(topic, b"batched", partition=0) for _ in range(5)]  # one batch
        await producer.flush()
        offsets = [(await f).offset for f in futures]
    finally:
        await producer.stop()
    assert offsets == [3, 4, 5, 6, 7]
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        reported = await consumer.end_offsets([tp])
    finally:
        await consumer.stop()
    # Tansu 0.6 reports the last batch's base offset + 1 (a fixed broker would report 8: both pass below).
    assert reported[tp] in (4, 8)
    assert (await true_end_offsets(bootstrap, reported))[tp] == 8


async def test_an_idle_consumer_backs_off_and_still_reads_the_next_record(bootstrap: str, monkeypatch) -> None:
    """`shorten_fetch_waits`'s back-off, on aiokafka's real fetcher: a consumer with nothing to read comes to wait
    `IDLE_WAIT_MS` a fetch (a tenth of the polling), and a record written then is still read at once."""
    import asyncio

    import aiokafka

    from streams.broker.tansu import IDLE_WAIT_MS, shorten_fetch_waits

    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", aiokafka.AIOKafkaConsumer)  # the patch below is undone after
    topic = f"idle-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [topic], 1)
    shorten_fetch_waits(5)
    consumer = aiokafka.AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                         auto_offset_reset="earliest")  # fmt: skip
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        for _ in range(100):
            if consumer._fetcher._fetch_max_wait_ms == IDLE_WAIT_MS:
                break
            await asyncio.sleep(0.02)
        assert consumer._fetcher._fetch_max_wait_ms == IDLE_WAIT_MS
        await producer.send_and_wait(topic, b"news")
        record = await asyncio.wait_for(consumer.getone(), 2)
        assert record.value == b"news"
    finally:
        await producer.stop()
        await consumer.stop()
