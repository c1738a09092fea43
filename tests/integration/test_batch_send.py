"""The batcher's sends, a record batch per partition (`streams/topology/batch_send.py`), on the real broker: each
key lands on the partition aiokafka's own `send` gives it, in order, with its timestamp, and the offsets the
batcher computes for a table's changelog (first offset + records - 1) are the offsets the broker gave."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.broker.admin import ensure_topics
from streams.topology.batch_send import batch_sender


async def _read_all(bootstrap: str, topic: str, partitions: int, expected: int) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                                fetch_max_wait_ms=5)  # fmt: skip
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        out: list = []
        for _ in range(200):
            for batch in (await consumer.getmany(timeout_ms=100)).values():
                out += batch
            if len(out) >= expected:
                break
        return out
    finally:
        await consumer.stop()


async def test_records_land_where_send_puts_them_in_order_with_their_timestamps_and_offsets(bootstrap: str) -> None:
    plain, batched = f"send-{uuid.uuid4().hex[:6]}", f"batch-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, [plain, batched], 4)
    # Small batches, so that one partition's records span several wire batches.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, max_batch_size=4096, acks="all")
    await producer.start()
    try:
        records = [(f"MSKU{i % 37:07d}".encode(), f"value {i} ".encode() * 20, 1_700_000_000_000 + i)
                   for i in range(600)]  # fmt: skip
        for key, value, ts in records:
            await producer.send(plain, value, key=key, timestamp_ms=ts)
        await producer.flush()
        sender = batch_sender(producer)
        assert sender is not None
        sent = await sender.send([(batched, key, value, None, ts) for key, value, ts in records]
                                 + [(batched, None, b"keyless", 2, None)])  # fmt: skip
        last: dict[int, int] = {}
        for _, partition, count, future in sent:
            result = await future
            last[partition] = max(last.get(partition, -1), result.offset + count - 1)
        assert len(sent) > 8  # several wire batches a partition
    finally:
        await producer.stop()
    by_send = {(m.key, m.value): m.partition for m in await _read_all(bootstrap, plain, 4, len(records))}
    got = await _read_all(bootstrap, batched, 4, len(records) + 1)
    assert len(got) == len(records) + 1
    assert {(m.key, m.value): m.partition for m in got if m.key is not None} == by_send
    stamp = {(key, value): ts for key, value, ts in records}
    assert all(m.timestamp == stamp[(m.key, m.value)] for m in got if m.key is not None)
    for partition in range(4):
        mine = [m for m in got if m.partition == partition]
        assert [m.offset for m in mine] == sorted(m.offset for m in mine)
        assert max(m.offset for m in mine) == last[partition]
        expected = [(k, v) for k, v, _ in records if by_send[(k, v)] == partition]
        assert [(m.key, m.value) for m in mine if m.key is not None] == expected  # each partition in send order
    assert [m.partition for m in got if m.key is None] == [2]
