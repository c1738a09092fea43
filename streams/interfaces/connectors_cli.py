"""`corridor gateway`, `corridor poll` and `corridor watch`: carriers' feeds into the raw topics (streams/connectors).
`register(app)` adds them to the `corridor` command (streams/cli.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.interfaces.options import BrokerOpt
from streams.settings import Settings

err = Console(stderr=True)


def _settings(broker: str | None) -> Settings:
    return Settings().model_copy(update={"broker": broker} if broker else {})


def _run(settings: Settings, go) -> object:  # type: ignore[no-untyped-def]
    """Topics created, then `go(bootstrap, settings, stop)` until SIGINT/SIGTERM."""
    from schemas.topics import TopicNames
    from streams.broker.admin import ensure_topics
    from streams.broker.resolve import broker_for
    from streams.consumers.common import stop_event_on_signals

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    async def main(bootstrap: str, s: Settings) -> object:
        await ensure_topics(bootstrap, TopicNames(s.topic_prefix).all, s.partitions, s.replication,
                            security=s.kafka_security())
        return await go(bootstrap, s, stop_event_on_signals())

    try:
        import uvloop  # as the worker: less per-request asyncio overhead

        uvloop.install()
    except ImportError:
        pass
    with broker_for(settings) as (bootstrap, s):
        return asyncio.run(main(bootstrap, s))


def _config(load, path: Path):  # type: ignore[no-untyped-def]
    from streams.connectors.config import ConfigError

    try:
        return load(path)
    except ConfigError as exc:
        err.print(f"corridor: {exc}")
        raise typer.Exit(2) from None


def gateway(
    config: Annotated[Path, typer.Option("--config", "-c", envvar="CORRIDOR_GATEWAY_CONFIG",
                                         help="sources, keys and secrets (YAML); see docs/connectors.md")
                      ] = Path("gateway.yaml"),
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (0 = any free port)")] = 8088,
    broker: BrokerOpt = None,
) -> None:
    """HTTP receiver for carrier pushes: DCSA 2.2 signed callbacks, DCSA 3.0 /v3/events, POST /ingest/{format}."""
    from streams.connectors.config import load_gateway
    from streams.connectors.service import serve_gateway

    cfg = _config(load_gateway, config)

    async def go(bootstrap: str, s: Settings, stop: asyncio.Event) -> None:
        def ready(bound: int) -> None:
            err.print(f"gateway on http://{host}:{bound}/ ({len(cfg.sources)} source(s), Kafka {bootstrap}); "
                      f"OpenAPI at /openapi.json; Ctrl-C to stop")
        await serve_gateway(s, bootstrap, cfg, host, port, stop, ready)

    _run(_settings(broker), go)


def poll(
    config: Annotated[Path, typer.Option("--config", "-c", envvar="CORRIDOR_POLL_CONFIG",
                                         help="carriers to poll (YAML); see docs/connectors.md")
                      ] = Path("carriers.yaml"),
    once: Annotated[bool, typer.Option(help="one pass per carrier (every page), then exit")] = False,
    broker: BrokerOpt = None,
) -> None:
    """Poll carriers' DCSA Track & Trace GET /events, each with its filters, auth and a checkpoint in Kafka."""
    from streams.connectors.config import load_poll
    from streams.connectors.service import run_pollers

    cfg = _config(load_poll, config)
    err.print(f"poll: {', '.join(c.name for c in cfg.carriers)}")
    stats = _run(_settings(broker), lambda b, s, stop: run_pollers(s, b, cfg, stop, once=once))
    if once:
        err.print(f"poll: {json.dumps(stats)}")


def watch(
    directory: Annotated[Path, typer.Argument(help="the drop folder (archive/ and quarantine/ are made in it)")],
    settle: Annotated[float, typer.Option(help="seconds a file must keep its size before it is taken")] = 2.0,
    interval: Annotated[float, typer.Option(help="seconds between looks at the folder")] = 1.0,
    name: Annotated[str | None, typer.Option(help="source name (record key watch:<name>); default: the folder's")
                    ] = None,
    once: Annotated[bool, typer.Option(help="take what is there (waiting for files being written), then exit")
                    ] = False,
    broker: BrokerOpt = None,
) -> None:
    """Drop folder: complete files are published to their format's raw topic, then archived or quarantined."""
    from streams.connectors.service import run_watch

    if not directory.is_dir():
        err.print(f"corridor watch: {directory} is not a directory")
        raise typer.Exit(2)
    err.print(f"watch: {directory} (settle {settle:g}s)")
    stats = _run(_settings(broker), lambda b, s, stop: run_watch(s, b, directory, stop, settle=settle,
                                                                 interval=interval, name=name, once=once))
    err.print(f"watch: {json.dumps(stats)}")


def register(app: typer.Typer) -> None:
    app.command()(gateway)
    app.command()(poll)
    app.command()(watch)
