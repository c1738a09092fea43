"""Topic administration: every topic is created up front with its partition count, and checked."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.kafka_security import KafkaSecurity, client_kwargs


class TopicMismatch(RuntimeError):
    pass


async def _admin(bootstrap: str, timeout: float, security: KafkaSecurity | None = None) -> AIOKafkaAdminClient:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **client_kwargs(security))
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_topics(
    bootstrap: str, names: list[str], partitions: int, replication: int = 1, timeout: float = 30.0,
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create the topics that do not exist; fail if an existing one has another partition count
    (keyed topics must be co-partitioned). Returns the names created."""
    admin = await _admin(bootstrap, timeout, security)
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them in between
                await admin.create_topics([NewTopic(n, partitions, replication) for n in missing])
        described = await admin.describe_topics(names)
        wrong = {d["topic"]: len(d["partitions"]) for d in described if len(d["partitions"]) != partitions}
        if wrong:
            raise TopicMismatch(f"topics exist with other partition counts than {partitions}: {wrong}")
        return missing
    finally:
        await admin.close()
