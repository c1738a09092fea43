"""Connector checkpoints in a compacted Kafka topic (`<prefix>connector-checkpoints`, one partition): key = the
connector (`poll:<carrier>`), value = its JSON state; the last value of a key is the checkpoint. Kafka keeps that
last value forever (cleanup.policy=compact), so a poller restarted anywhere resumes where it left off."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.connectors.sink import Unavailable
from streams.kafka_security import KafkaSecurity, client_kwargs

SUFFIX = "connector-checkpoints"


def checkpoint_topic(prefix: str) -> str:
    return prefix + SUFFIX


async def ensure_checkpoint_topic(bootstrap: str, topic: str, replication: int = 1,
                                  security: KafkaSecurity | None = None) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **client_kwargs(security))
    await admin.start()
    try:
        if topic not in set(await admin.list_topics()):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(topic, 1, replication,
                                                    topic_configs={"cleanup.policy": "compact"})])
    finally:
        await admin.close()


class CheckpointStore:
    def __init__(self, bootstrap: str, topic: str, timeout: float = 10.0,
                 security: KafkaSecurity | None = None) -> None:
        self.bootstrap = bootstrap
        self.security = security
        self.topic = topic
        self.timeout = timeout
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> CheckpointStore:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", **client_kwargs(self.security))
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def load(self, key: str) -> dict[str, Any] | None:
        """The key's last checkpoint: the topic read from the start to its end now."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    **client_kwargs(self.security))
        await consumer.start()
        found: dict[str, Any] | None = None
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            want = key.encode()
            while await consumer.position(tp) < end:
                for msgs in (await consumer.getmany(tp, timeout_ms=1000)).values():
                    for m in msgs:
                        if m.key == want:
                            found = orjson.loads(m.value) if m.value is not None else None
        finally:
            await consumer.stop()
        return found

    async def save(self, key: str, state: dict[str, Any]) -> None:
        assert self._producer is not None, "use the store as an async context manager"
        try:
            await asyncio.wait_for(self._producer.send_and_wait(self.topic, orjson.dumps(state), key=key.encode(),
                                                                partition=0), self.timeout)  # fmt: skip
        except (KafkaError, TimeoutError) as exc:
            raise Unavailable(f"checkpoint not written: {exc or type(exc).__name__}") from exc
