"""The latency baseline: the least a worker can do between two topics of the embedded broker, as a process of its
own. A plain aiokafka consumer reads each record, decodes and re-encodes it, and hands it to the producer without
waiting for delivery; it polls with the same short fetch wait as corridor's worker, and commits every 0.5 s.

    python -m bench.relay BOOTSTRAP SOURCE_TOPIC DEST_TOPIC GROUP [FETCH_WAIT_MS]
"""

from __future__ import annotations

import asyncio
import sys

import orjson


async def relay(bootstrap: str, source: str, dest: str, group: str, wait_ms: int = 5) -> None:
    from streams.broker.tansu import shorten_fetch_waits

    shorten_fetch_waits(wait_ms)  # as the worker does on the embedded broker (500 ms on the durable one)
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=True, auto_commit_interval_ms=500)  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=1000)
            for msgs in batch.values():
                for m in msgs:
                    await producer.send(dest, key=m.key, value=orjson.dumps(orjson.loads(m.value)))
    finally:
        await consumer.stop()
        await producer.stop()


def main() -> None:
    bootstrap, source, dest, group = sys.argv[1:5]
    asyncio.run(relay(bootstrap, source, dest, group, int(sys.argv[5]) if len(sys.argv) > 5 else 5))


if __name__ == "__main__":
    main()
