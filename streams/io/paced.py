"""Publish a scenario on an accelerated event-time clock: a record goes out when the simulated clock passes the
moment it became known. Kafka I/O, so it lives here and not in the pure simulator (streams/sim)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from schemas import ShipmentPlan, dumps
from streams.io.kafka import Publisher


@dataclass
class Progress:
    published: int = 0
    total: int = 0
    sim_time: datetime | None = None


async def send(publisher: Publisher, record: object) -> None:
    """A shipment plan goes to the shipment-plan topic keyed by shipment id; the rest as the publisher routes
    them (plans and events keyed by unit id, clock ticks to every partition)."""
    if isinstance(record, ShipmentPlan):
        topic = publisher.topics.name("shipment_plan")  # KeyError if the topic map has no such role
        await publisher.send_raw(topic, dumps(record), key=record.key.encode())
    else:
        await publisher.send(record)  # type: ignore[arg-type]


async def publish_paced(
    publisher: Publisher,
    records: Sequence,  # SimRecord: .published_at, .record
    speed: float,  # simulated seconds per wall-clock second; 0 = as fast as possible
    progress: Progress | None = None,
    on_record: Callable[[object], None] | None = None,
) -> Progress:
    progress = progress or Progress()
    progress.total = len(records)
    if not records:
        return progress
    start_sim = records[0].published_at
    start_wall = time.monotonic()
    for rec in records:
        if speed > 0:
            wait = (rec.published_at - start_sim).total_seconds() / speed - (time.monotonic() - start_wall)
            if wait > 0:
                await publisher.flush()
                await asyncio.sleep(wait)
        await send(publisher, rec.record)
        progress.published += 1
        progress.sim_time = rec.published_at
        if on_record:
            on_record(rec.record)
    await publisher.flush()
    return progress
