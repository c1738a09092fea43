"""Running the connectors until stopped: what `corridor gateway`, `corridor poll` and `corridor watch` call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from schemas.topics import TopicNames
from streams.connectors.checkpoints import CheckpointStore, checkpoint_topic, ensure_checkpoint_topic
from streams.connectors.config import GatewayConfig, PollConfig
from streams.connectors.dropfolder import DropFolder
from streams.connectors.gateway import create_app
from streams.connectors.poller import Poller
from streams.connectors.sink import RawSink
from streams.settings import Settings

log = logging.getLogger(__name__)


async def serve_gateway(settings: Settings, bootstrap: str, config: GatewayConfig, host: str, port: int,
                        stop: asyncio.Event, ready: Callable[[int], None] | None = None) -> None:  # fmt: skip
    sink = RawSink(bootstrap, TopicNames(settings.topic_prefix), max_record_bytes=settings.max_record_bytes,
                   timeout=config.publish_timeout_seconds, security=settings.kafka_security())  # fmt: skip
    runner = web.AppRunner(create_app(config, sink), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    try:
        await sink.partition_for(sink.topics.raw("dcsa-tnt-2.2"), b"warm-up")  # connect now, not at the first POST
    except Exception as exc:  # answered 503 until Kafka is there
        log.warning("gateway: Kafka not reachable yet: %s", exc)
    if ready:
        ready(bound)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def run_pollers(settings: Settings, bootstrap: str, config: PollConfig, stop: asyncio.Event,
                      once: bool = False) -> dict[str, dict[str, int]]:  # fmt: skip
    topic = checkpoint_topic(settings.topic_prefix)
    await ensure_checkpoint_topic(bootstrap, topic, settings.replication, settings.kafka_security())
    stats: dict[str, dict[str, int]] = {}
    security = settings.kafka_security()
    sink = RawSink(bootstrap, TopicNames(settings.topic_prefix), max_record_bytes=settings.max_record_bytes,
                   security=security)
    async with (sink, CheckpointStore(bootstrap, topic, security=security) as store,
                aiohttp.ClientSession() as http):
        pollers = [Poller(c, sink, store, http) for c in config.carriers]
        if once:
            for p in pollers:
                r = await p.run_pass()
                stats[p.carrier.name] = {"pages": r.pages, "events": r.events, "dead_letters": r.dead_letters}
            return stats
        await asyncio.gather(*(p.run(stop) for p in pollers))
    return stats


async def run_watch(settings: Settings, bootstrap: str, root: Path, stop: asyncio.Event, *, settle: float,
                    interval: float, name: str | None = None, once: bool = False) -> dict[str, int]:  # fmt: skip
    totals = {"archived": 0, "quarantined": 0, "recovered": 0}
    async with RawSink(bootstrap, TopicNames(settings.topic_prefix), max_record_bytes=settings.max_record_bytes,
                       security=settings.kafka_security()) as sink:  # fmt: skip
        folder = DropFolder(root, sink, name=name, settle=settle)
        while True:
            r = await folder.scan()
            totals["archived"] += len(r.archived)
            totals["quarantined"] += len(r.quarantined)
            totals["recovered"] += len(r.recovered)
            if (once and not r.waiting) or stop.is_set():
                return totals
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue


def attach(app, settings: Settings, bootstrap: str, *, gateway: GatewayConfig | None = None,  # type: ignore[no-untyped-def]
           gateway_host: str = "127.0.0.1", gateway_port: int = 8088, poll: PollConfig | None = None,
           watch: Path | None = None, watch_settle: float = 2.0) -> None:  # fmt: skip
    """Run connectors inside a worker process (`corridor worker --gateway ... --poll ... --watch ...`): each is a
    Faust app task, started once the worker is ready and cancelled when it stops. For small deployments and the
    demo; in production run them as their own processes, which scale and restart independently of the worker."""
    forever = asyncio.Event()  # never set: the tasks end by cancellation when the worker stops

    if gateway is not None:
        async def gateway_task() -> None:
            await serve_gateway(settings, bootstrap, gateway, gateway_host, gateway_port, forever,
                                lambda port: log.info("gateway on http://%s:%d/", gateway_host, port))
        app.task(gateway_task)
    if poll is not None:
        async def poll_task() -> None:
            await run_pollers(settings, bootstrap, poll, forever)
        app.task(poll_task)
    if watch is not None:
        async def watch_task() -> None:
            await run_watch(settings, bootstrap, watch, forever, settle=watch_settle, interval=1.0)
        app.task(watch_task)
