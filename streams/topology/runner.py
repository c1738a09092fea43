"""Run the tracking job inside the current process (demo, tests) and know when it is ready."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from streams.settings import Settings
from streams.topology.app import Topology, create_app


async def wait_ready(topology: Topology, timeout: float = 60.0) -> None:
    """Ready = partitions assigned and table recovery completed."""
    app = topology.app

    async def loop() -> None:
        while not (
            app.consumer.assignment() and app.tables.recovery.completed.is_set() and not app.rebalancing
        ):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), timeout)


@contextlib.asynccontextmanager
async def running(settings: Settings, bootstrap: str, *, ready_timeout: float = 60.0) -> AsyncIterator[Topology]:
    topology = create_app(settings, bootstrap)
    await topology.app.start()
    try:
        await wait_ready(topology, ready_timeout)
        yield topology
    finally:
        await topology.app.stop()
