"""The `corridor` command line. Thin: parse options, build settings, call into the package."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.interfaces.options import BrokerOpt
from streams.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="corridor: live tracking of multimodal freight (rail, sea, air, road) on Kafka.",
)
err = Console(stderr=True)



def _settings(**overrides: object) -> Settings:
    return Settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})


async def _ensure_topics(settings: Settings, bootstrap: str) -> None:
    from schemas.topics import TopicNames
    from streams.broker.admin import ensure_topics

    await ensure_topics(bootstrap, TopicNames(settings.topic_prefix).all, settings.partitions, settings.replication,
                        security=settings.kafka_security())


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = any free port)")] = 9092,
    data: Annotated[Path | None, typer.Option(
        envvar="CORRIDOR_BROKER_DATA", help="keep the topics in this directory (default ~/.corridor/broker)")] = None,
    memory: Annotated[bool, typer.Option(
        "--memory", help="keep the topics in memory only: lost when it stops")] = False,
    storage: Annotated[str | None, typer.Option(help="another Tansu storage engine URL (e.g. s3:// on your own "
                                                "object store, with AWS_* in the environment)")] = None,
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu) in the foreground, with corridor's topics created. Its
    topics survive a restart (and a kill): they are kept in --data by a local SeaweedFS started with it."""
    from streams.broker.embedded import EmbeddedBroker, forget_shared, record_shared

    settings = _settings(broker_data=data)
    durable_data = None if memory or storage else settings.broker_data_dir()
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with EmbeddedBroker(port=port, storage=storage or "memory://tansu/", data=durable_data) as b:
        asyncio.run(_ensure_topics(settings, b.bootstrap))
        record_shared(settings.home, b)
        print(b.bootstrap, flush=True)
        kept = f"topics kept in {durable_data}" if durable_data else f"{b.storage}: topics lost when it stops"
        err.print(f"embedded broker on {b.bootstrap} ({kept}); topics created; Ctrl-C to stop")
        try:
            while not stop["now"] and b.process and b.process.poll() is None:
                time.sleep(0.2)
        finally:
            forget_shared(settings.home)
            if durable_data:
                err.print("stopping: waiting for SeaweedFS to close its files")


@app.command()
def worker(
    broker: BrokerOpt = None,
    app_id: Annotated[str | None, typer.Option(envvar="CORRIDOR_APP_ID", help="consumer group / state id")] = None,
    data_dir: Annotated[Path | None, typer.Option(envvar="CORRIDOR_DATA_DIR", help="RocksDB state dir")] = None,
    loglevel: Annotated[str, typer.Option(help="faust log level")] = "info",
    web: Annotated[bool, typer.Option("--web/--no-web", envvar="CORRIDOR_WEB_ENABLED",
                                      help="serve the query API and the operations page")] = True,
    web_port: Annotated[int | None, typer.Option(envvar="CORRIDOR_WEB_PORT", help="HTTP port (default 6066); "
                                                 "workers on one host need different ports")] = None,
    # connectors in the worker's process (docs/connectors.md); `corridor gateway/poll/watch` run them alone
    gateway: Annotated[Path | None, typer.Option(help="also run the gateway with this config")] = None,
    gateway_port: Annotated[int, typer.Option(help="the gateway's port on 127.0.0.1")] = 8088,
    poll: Annotated[Path | None, typer.Option(help="also poll the carriers of this config")] = None,
    watch: Annotated[Path | None, typer.Option(help="also watch this drop folder")] = None,
    reset_state: Annotated[bool, typer.Option(
        "--reset-state", help="move this worker's local state aside (kept, renamed) and start from the broker's "
        "topics: the way on when the broker has lost them")] = False,
) -> None:
    """Run the tracking job (a Faust worker) until stopped, with the query API and operations page on
    http://127.0.0.1:6066/. For production; scale out by starting more."""
    from streams.bootstrap import build_worker
    from streams.broker.resolve import broker_for
    from streams.security.credentials import ConfigError
    from streams.security.exposure import OpenExposure
    from streams.topology.runner import Worker

    settings = _settings(broker=broker, app_id=app_id, data_dir=data_dir, web_enabled=web, web_port=web_port)
    if web:  # before any broker or topic: serving open beyond loopback, or a bad auth configuration, stops here
        from streams.security.setup import api_guard

        try:
            api_guard(settings)
        except (OpenExposure, ConfigError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    with broker_for(settings) as (bootstrap, settings):
        asyncio.run(_ensure_topics(settings, bootstrap))
        err.print(f"Kafka {bootstrap} ({settings.kafka_security().describe()})")
        if web:
            err.print(f"operations page and API on http://{settings.web_host}:{settings.web_port}/")
        try:
            import uvloop  # measurably faster per-record asyncio machinery in Faust

            uvloop.install()
        except ImportError:
            pass
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            topology = build_worker(settings, bootstrap)
        except (OpenExposure, ConfigError) as exc:  # serving open beyond loopback, or a bad auth configuration
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        _check_state(topology.app, settings, bootstrap, loop, reset_state)
        if gateway or poll or watch:
            from streams.connectors.config import load_gateway, load_poll
            from streams.connectors.service import attach

            attach(topology.app, settings, bootstrap, gateway=load_gateway(gateway) if gateway else None,
                   gateway_port=gateway_port, poll=load_poll(poll) if poll else None, watch=watch)
        Worker(topology.app, loglevel=loglevel).execute_from_commandline()


def _check_state(app: object, settings: Settings, bootstrap: str, loop: asyncio.AbstractEventLoop,
                 reset: bool) -> None:  # fmt: skip
    """Before the worker starts: its local state must belong to the broker's topics (see state_check.py)."""
    from streams.topology.state_check import StateAhead, check_state, reset_state

    if reset:
        moved = reset_state(app)  # type: ignore[arg-type]
        err.print(f"local state moved aside to {moved}" if moved else "no local state to reset")
        return
    try:
        loop.run_until_complete(check_state(app, settings.partitions, bootstrap,  # type: ignore[arg-type]
                                            settings.kafka_security(), settings.embedded_broker))
    except StateAhead as exc:
        err.print(f"corridor worker: {exc}", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
def simulate(
    broker: BrokerOpt = None,
    seed: Annotated[int, typer.Option(help="same seed, same scenario")] = 7,
    units: Annotated[int, typer.Option(help="units per corridor")] = 8,
    shipments: Annotated[int, typer.Option(help="shipment flows of each kind (consolidation, air, split air "
                                           "waybill) per departure slot; 0 = units only")] = 1,
    speed: Annotated[float, typer.Option(help="simulated hours per wall-clock second; 0 = no pacing")] = 24.0,
    out: Annotated[Path | None, typer.Option(help="write the records as JSON lines here instead of publishing")] = None,
) -> None:
    """Publish plans, events and clock ticks for the seed corridors (rail, road+rail, sea, air+truck)."""
    from schemas import dumps
    from streams.sim.scenario import generate

    scenario = generate(seed=seed, units_per_corridor=units, shipments=shipments)
    if out is not None:
        with open(out, "wb") as f:
            for r in scenario.records:
                f.write(dumps(r.record) + b"\n")
        err.print(f"wrote {len(scenario.records)} records to {out}")
        return

    from schemas.topics import TopicNames
    from streams.broker.resolve import broker_for
    from streams.io.kafka import Publisher
    from streams.io.paced import publish_paced

    settings = _settings(broker=broker)

    async def go(bootstrap: str) -> int:
        await _ensure_topics(settings, bootstrap)
        async with Publisher(bootstrap, TopicNames(settings.topic_prefix), settings.partitions,
                             security=settings.kafka_security()) as pub:
            progress = await publish_paced(pub, scenario.records, speed * 3600)
        return progress.published

    with broker_for(settings) as (bootstrap, settings):
        n = asyncio.run(go(bootstrap))
    err.print(f"published {n} records to {bootstrap}")


@app.command()
def replay(
    history: Annotated[Path, typer.Argument(help="JSON lines of plans, events and clock ticks ('-' = stdin)")],
    out: Annotated[Path | None, typer.Option(help="output JSON lines file (default stdout)")] = None,
    partitions: Annotated[int | None, typer.Option(help="partitions to route by, as the live topics")] = None,
) -> None:
    """Run a recorded history through the tracking engine and write every output as JSON lines."""
    from schemas.topics import TopicNames
    from streams.processing.replay import as_json_lines
    from streams.processing.replay import replay as run_replay

    settings = _settings(partitions=partitions)
    source = sys.stdin.buffer if str(history) == "-" else open(history, "rb")  # noqa: SIM115
    with source:
        result = run_replay(source, TopicNames(settings.topic_prefix), settings.tracking_policy(), settings.partitions,
                            max_record_bytes=settings.max_record_bytes, **settings.learning_options())  # fmt: skip
    sink = open(out, "wb") if out else sys.stdout.buffer  # noqa: SIM115
    try:
        for line in as_json_lines(result.outputs):
            sink.write(line + b"\n")
    finally:
        if out:
            sink.close()
    err.print(f"replayed {result.accepted} records ({result.rejected} rejected): {len(result.outputs)} outputs")


@app.command()
def shipment(
    ref: Annotated[str, typer.Argument(help="shipment reference: booking, bill of lading, air waybill or CMR")],
    history: Annotated[Path | None, typer.Option(help="replay this history (JSON lines) instead of reading the "
                                                 "shipment topics of a broker")] = None,
    broker: BrokerOpt = None,
    partitions: Annotated[int | None, typer.Option(help="partitions to route by, with --history")] = None,
) -> None:
    """Print a shipment's timeline across its units, its alerts and how its door-to-door ETA moved."""
    from schemas import loads
    from schemas.topics import TopicNames
    from streams.interfaces.shipment_view import render

    settings = _settings(broker=broker, partitions=partitions)
    names = TopicNames(settings.topic_prefix)
    key = ref.strip().upper()
    found: dict[str, list[dict]] = {"shipment_timeline": [], "shipment_alert": [], "shipment_eta": []}
    if history is not None:
        from streams.processing.replay import replay as run_replay

        policy = settings.tracking_policy()
        with open(history, "rb") as f:
            result = run_replay(f, names, policy, settings.partitions, max_record_bytes=settings.max_record_bytes)
        for o in result.outputs:
            role = names.role_of(o.topic)
            if role in found and o.key is not None and o.key.decode() == key:
                found[role].append(loads(o.value))
    else:
        from streams.broker.resolve import broker_for
        from streams.io.kafka import OutputReader

        async def read(bootstrap: str) -> None:
            async with OutputReader(bootstrap, names, security=settings.kafka_security()) as reader:
                await reader.settle(quiet=1.5, timeout=30)
                for role in found:
                    topic = names.name(role)  # type: ignore[arg-type]
                    found[role] = [v for k, v in zip(reader.keys(topic), reader.records[topic], strict=True)
                                   if k is not None and k.decode() == key]  # fmt: skip

        with broker_for(settings) as (bootstrap, settings):
            asyncio.run(read(bootstrap))
    if not found["shipment_timeline"]:
        err.print(f"no shipment {key!r} found")
        raise typer.Exit(1)
    Console(width=160).print(render(found["shipment_timeline"][-1], found["shipment_alert"], found["shipment_eta"]))


@app.command()
def demo(
    broker: BrokerOpt = None,
    seed: Annotated[int, typer.Option(help="scenario seed")] = 7,
    units: Annotated[int, typer.Option(help="units per corridor")] = 6,
    seconds: Annotated[float, typer.Option(help="wall-clock seconds to play the scenario in")] = 75.0,
) -> None:
    """Live demo: embedded broker, a worker, the simulator, a live view, then a summary."""
    from streams.broker.resolve import broker_for
    from streams.interfaces.demo import run_demo

    settings = _settings(broker=broker)
    console = Console()
    if not console.is_terminal:  # piped or in CI: plain lines, wide enough for the table
        console = Console(width=150)
    with broker_for(settings, durable=False) as (bootstrap, settings):
        try:
            summary = asyncio.run(run_demo(settings, bootstrap, seed, units, seconds, console))
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
    console.rule("summary")
    for line in summary.lines():
        console.print(line)


@app.command()
def formats() -> None:
    """List the carrier and hub formats corridor reads, with a one-line description each."""
    from streams.feeds.registry import FORMATS

    for name, fmt in FORMATS.items():
        print(f"{name:18} {fmt.description}")


def _read(path: Path) -> bytes:
    return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()


@app.command()
def parse(
    source: Annotated[Path, typer.Argument(help="message file, or - for standard input")],
    format: Annotated[str | None, typer.Option("--format", "-f", help="format name (see `corridor formats`); "
                                               "default: detected")] = None,
    received: Annotated[str | None, typer.Option(help="time received, ISO 8601 with offset (resolves FSU dates "
                                                 "without a year); default: now")] = None,
) -> None:
    """Parse a carrier message: canonical events as JSON lines on stdout, rejections on stderr.
    Exit 0 when everything parsed (warnings, which drop only part of an event, included), 1 when something was
    rejected, 2 on a usage error."""
    from datetime import UTC, datetime

    from schemas import dumps
    from streams.feeds.registry import FORMATS
    from streams.feeds.registry import parse as parse_message

    if format is not None and format not in FORMATS:
        err.print(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
        raise typer.Exit(2)
    try:
        data = _read(source)
        at = datetime.fromisoformat(received) if received else datetime.now(UTC)
    except (OSError, ValueError) as exc:
        err.print(f"corridor parse: {exc}")
        raise typer.Exit(2) from None
    if at.tzinfo is None:
        err.print("--received needs a UTC offset")
        raise typer.Exit(2)
    result = parse_message(data, format, at)
    out = sys.stdout.buffer
    for e in result.events:
        out.write(dumps(e) + b"\n")
    for c in result.conveyances:  # vessel, train, flight and truck-trip events (record "conveyance_event")
        out.write(dumps(c) + b"\n")
    if result.listings:  # who a bay plan puts aboard (record "boarding", as ingest writes to corridor.boardings)
        from streams.processing.ingest import boarding_of

        for listing in result.listings:
            out.write(boarding_of(listing).model_dump_json(exclude_none=True).encode() + b"\n")
    out.flush()
    for r in result.rejections:
        where = f"[{r.index}] " if r.index is not None else ""
        print(f"{'warning' if r.warning else 'rejected'} {where}{r.reason}", file=sys.stderr)
    raise typer.Exit(1 if result.errors else 0)


@app.command()
def publish(
    source: Annotated[Path, typer.Argument(help="message file, or - for standard input")],
    format: Annotated[str | None, typer.Option("--format", "-f", help="format name; default: detected")] = None,
    broker: BrokerOpt = None,
) -> None:
    """Send a carrier message, as it is, to its format's raw topic (the worker's ingest parses it)."""
    from schemas.topics import TopicNames
    from streams.feeds.registry import FORMATS, detect
    from streams.io.kafka import Publisher

    try:
        data = _read(source)
    except OSError as exc:
        err.print(f"corridor publish: {exc}")
        raise typer.Exit(2) from None
    fmt = format or (f.name if (f := detect(data)) else None)
    if fmt not in FORMATS:
        err.print(f"unknown format {format!r}" if format else "format not recognised; give --format")
        raise typer.Exit(2)
    settings = _settings(broker=broker)
    names = TopicNames(settings.topic_prefix)
    from streams.connectors.splitting import Unsplittable, split  # input bigger than a record: cut at messages

    try:
        parts = split(fmt, data, settings.max_record_bytes)
    except Unsplittable as exc:
        err.print(f"corridor publish: {exc}; nothing was sent")
        raise typer.Exit(2) from None

    async def go(bootstrap: str) -> None:
        await _ensure_topics(settings, bootstrap)
        async with Publisher(bootstrap, names, settings.partitions, security=settings.kafka_security()) as pub:
            for part in parts:
                await pub.send_raw(names.raw(fmt), part)
            await pub.flush()

    from streams.broker.resolve import broker_for

    with broker_for(settings) as (bootstrap, settings):
        asyncio.run(go(bootstrap))
    in_parts = f" in {len(parts)} records cut at message boundaries" if len(parts) > 1 else ""
    err.print(f"sent {len(data)} bytes{in_parts} to {names.raw(fmt)} on {bootstrap}")


@app.command()
def topics(broker: BrokerOpt = None) -> None:
    """Create corridor's topics (if missing) and list them with their keys and schemas."""
    from schemas.topics import SPECS, TopicNames
    from streams.broker.resolve import broker_for

    settings = _settings(broker=broker)
    with broker_for(settings) as (bootstrap, settings):
        asyncio.run(_ensure_topics(settings, bootstrap))
    names = TopicNames(settings.topic_prefix)
    for s in SPECS:
        print(f"{names.name(s.role):26} {s.direction:3} key={s.key:30} schemas/json/{s.schema}")


def main() -> None:
    from streams.interfaces.consumers_cli import register  # notify, export, report

    register(app)
    from streams.interfaces.connectors_cli import register as register_connectors  # gateway, poll, watch

    register_connectors(app)
    from streams.interfaces.learning_cli import register as register_learning  # learn, backtest

    register_learning(app)
    app()


if __name__ == "__main__":
    main()
