"""A worker's producer that loses a batch's clock changelog records, as a worker killed after the batch's
outputs and units reached the broker and before its clock did."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaTimeoutError


class ClockLostAfter:
    """Every clock changelog send is reported failed from the first batch in which `trigger(topic, value)` held
    for a record sent before it (outputs and units are sent before the clock): none of that batch's clock records
    lands, and the worker stops."""

    def __init__(self, producer: Any, trigger: Callable[[str, bytes | None], bool]) -> None:
        self.producer, self.trigger = producer, trigger
        self.triggered = False
        self.failed: list[bytes] = []

    async def send(self, topic, key, value, partition, timestamp, headers):  # type: ignore[no-untyped-def]
        if "clock-changelog" in topic and self.triggered:
            self.failed.append(key)
            future = asyncio.get_running_loop().create_future()
            future.set_exception(KafkaTimeoutError())
            return future
        if not self.failed and self.trigger(topic, value):
            self.triggered = True
        return await self.producer.send(topic, key, value, partition, timestamp, headers)
