"""Wire a worker: the tracking and shipment jobs (streams/topology) and, when the web server is on, the query API
and operations page on the same app (streams/api). The one place that knows both, so neither imports the other.

`build_worker` is what `corridor worker` runs; `running` runs it in this process (the demo, tests)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from streams.api import register
from streams.settings import Settings
from streams.topology import runner
from streams.topology.app import Topology, create_app


def build_worker(settings: Settings, bootstrap: str) -> Topology:
    """The app with both jobs and, when `settings.web_enabled`, the API's index agent, tables and web views.
    Building has no side effects: nothing connects until the app starts."""
    topology = create_app(settings, bootstrap)
    register(topology, settings)  # nothing unless settings.web_enabled
    return topology


@contextlib.asynccontextmanager
async def running(settings: Settings, bootstrap: str, *, ready_timeout: float = 60.0) -> AsyncIterator[Topology]:
    """The whole worker (API included when the web server is on) started in this process, ready."""
    async with runner.running(settings, bootstrap, ready_timeout=ready_timeout, build=build_worker) as topology:
        yield topology
