"""`corridor notify`, `corridor export` and `corridor report`: the consumers of the output topics.
`register(app)` adds them to the `corridor` command (streams/cli.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from streams.interfaces.options import BrokerOpt
from streams.settings import Settings

err = Console(stderr=True)

SecondsOpt = Annotated[float, typer.Option(help="stop after this many seconds (0 = run until Ctrl-C / SIGTERM)")]


def _settings(broker: str | None) -> Settings:
    return Settings().model_copy(update={"broker": broker} if broker else {})


async def _until_stopped(seconds: float, run: Any) -> Any:
    from streams.consumers.common import stop_event_on_signals

    stop = stop_event_on_signals()
    if seconds > 0:
        asyncio.get_running_loop().call_later(seconds, stop.set)
    return await run(stop)


def notify(
    broker: BrokerOpt = None,
    subscriptions: Annotated[Path, typer.Option(envvar="CORRIDOR_NOTIFY_SUBSCRIPTIONS",
                                                help="subscriptions file (.yaml/.yml or .json); see docs/notify.md")
                             ] = Path(".corridor/subscriptions.yaml"),
    store: Annotated[Path, typer.Option(envvar="CORRIDOR_NOTIFY_STORE",
                                        help="SQLite record of deliveries (share it between instances on a host)")
                     ] = Path(".corridor/notify.sqlite"),
    group: Annotated[str, typer.Option(envvar="CORRIDOR_NOTIFY_GROUP", help="consumer group")] = "corridor-notify",
    port: Annotated[int, typer.Option(help="subscriptions API port (0 = any free port)")] = 8089,
    host: Annotated[str, typer.Option(envvar="CORRIDOR_NOTIFY_HOST", help="address the subscriptions API binds; "
                                      "beyond loopback it needs credentials (docs/security.md)")] = "127.0.0.1",
    webhook_allow: Annotated[str, typer.Option(envvar="CORRIDOR_NOTIFY_WEBHOOK_ALLOW", help="comma-separated "
                                               "networks webhooks may reach besides public addresses, e.g. "
                                               "10.20.0.0/16")] = "",
    allowed_host: Annotated[str, typer.Option(envvar="CORRIDOR_NOTIFY_ALLOWED_HOSTS", help="comma-separated Host "
                                              "header names the API answers besides loopback")] = "",
    api: Annotated[bool, typer.Option(help="serve the subscriptions API")] = True,
    admin_token: Annotated[str | None, typer.Option(envvar="CORRIDOR_NOTIFY_TOKEN",
                                                    help="bearer token required by the API")] = None,
    window: Annotated[float, typer.Option(help="seconds to group alerts of one unit and cause")] = 60.0,
    attempts: Annotated[int, typer.Option(help="delivery attempts before dead-lettering")] = 6,
    backoff: Annotated[float, typer.Option(help="seconds before the first retry; doubles each time")] = 1.0,
    backoff_max: Annotated[float, typer.Option(help="longest wait between attempts, seconds")] = 300.0,
    timeout: Annotated[float, typer.Option(help="per-attempt timeout, seconds")] = 10.0,
    seconds: SecondsOpt = 0.0,
) -> None:
    """Deliver alerts to subscribers (webhooks, email): grouped, signed, retried, dead-lettered, once each."""
    from streams.broker.resolve import broker_for
    from streams.consumers.notify.delivery import RetryPolicy
    from streams.consumers.notify.service import NotifyConfig, NotifyService, run_notify

    config = NotifyConfig(
        subscriptions=subscriptions, store=store, group=group, window=window, port=port if api else None,
        admin_token=admin_token, retry=RetryPolicy(attempts=attempts, base=backoff, max_delay=backoff_max,
                                                   timeout=timeout),
        host=host, webhook_allow=tuple(n for n in webhook_allow.split(",") if n.strip()),
        allowed_hosts=tuple(h for h in allowed_host.split(",") if h.strip()),
    )

    def ready(svc: NotifyService) -> None:
        api_at = f"API on http://{host}:{svc.admin_port}/subscriptions; " if svc.admin_port else ""
        err.print(f"notify: group {group}, {len(svc.book.all())} subscription(s) from {subscriptions}; {api_at}"
                  f"dead letters to {svc.dead_letter_topic}")

    from streams.security.credentials import ConfigError
    from streams.security.exposure import OpenExposure

    with broker_for(_settings(broker)) as (bootstrap, settings):
        try:
            stats = asyncio.run(_until_stopped(seconds, lambda stop: run_notify(settings, bootstrap, config, stop,
                                                                                ready)))
        except (OpenExposure, ConfigError, ValueError) as exc:  # open beyond loopback, bad credentials or networks
            err.print(f"notify: {exc}")
            raise typer.Exit(2) from None
    err.print(f"notify stopped: {json.dumps(stats)}")


def export(
    broker: BrokerOpt = None,
    out: Annotated[Path, typer.Option(envvar="CORRIDOR_EXPORT_DIR", help="Parquet output directory")
                   ] = Path(".corridor/export"),
    group: Annotated[str, typer.Option(envvar="CORRIDOR_EXPORT_GROUP", help="consumer group")] = "corridor-export",
    batch_records: Annotated[int, typer.Option(help="records per partition that trigger a file")] = 5000,
    flush_seconds: Annotated[float, typer.Option(help="write a partition's records at least this often")] = 10.0,
    idle_exit: Annotated[float, typer.Option(help="exit after this many seconds without new records (0 = never)")
                         ] = 0.0,
    seconds: SecondsOpt = 0.0,
) -> None:
    """Write timelines, alerts and ETA updates as partitioned Parquet, each record exactly once."""
    from streams.broker.resolve import broker_for
    from streams.consumers.export.sink import ExportConfig, run_export

    config = ExportConfig(out=out, group=group, batch_records=batch_records, flush_seconds=flush_seconds)
    with broker_for(_settings(broker)) as (bootstrap, settings):
        err.print(f"export: group {group} -> {out}")
        stats = asyncio.run(_until_stopped(
            seconds, lambda stop: run_export(settings, bootstrap, config, stop, idle_exit=idle_exit)))
    err.print(f"export stopped: {json.dumps(stats)}")


def report(
    data: Annotated[Path, typer.Option(envvar="CORRIDOR_EXPORT_DIR", help="directory written by `corridor export`")
                    ] = Path(".corridor/export"),
    format: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    payload: Annotated[list[str] | None, typer.Option(
        help="cargo tonnes per unit kind where the plan gave none, e.g. CONTAINER=14")] = None,
    sql: Annotated[str | None, typer.Option(help="run this query on the views instead (timelines, milestones, "
                                                 "durations, emissions, eta, alerts, latest, "
                                                 "eta_history, legs)")] = None,
) -> None:
    """Lane and mode figures from the exported files: on-time %, delays, dwell, ETA error, CO2e."""
    from streams.consumers import report as rep

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("--format must be table, csv or json")
    if not data.is_dir():
        err.print(f"no export at {data}: run `corridor export` first")
        raise typer.Exit(1)
    tonnes: dict[str, float] = {}
    for item in payload or []:
        kind, _, value = item.partition("=")
        try:
            tonnes[kind.strip().upper()] = float(value)
        except ValueError:
            raise typer.BadParameter(f"--payload expects KIND=TONNES, got {item!r}") from None
    if sql:
        con = rep.connect(data, tonnes)
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        sys.stdout.write(rep.render(rows, format, columns=cols))  # type: ignore[arg-type]
        return
    sys.stdout.write(rep.render(rep.build(data, tonnes), format))  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    app.command()(notify)
    app.command()(export)
    app.command()(report)
