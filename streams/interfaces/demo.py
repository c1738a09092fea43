"""`corridor demo`: embedded broker, an in-process worker, the simulator on an accelerated clock, a live
view of the outputs, and a summary. Ends on its own within the time budget."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.live import Live

from schemas.topics import TopicNames
from streams.bootstrap import running
from streams.broker.admin import ensure_topics
from streams.broker.embedded import free_port
from streams.interfaces.live import render
from streams.interfaces.summary import Summary, summarise
from streams.io.kafka import OutputReader, Publisher
from streams.io.paced import Progress, publish_paced
from streams.settings import Settings
from streams.sim.scenario import generate


def _quiet_logging(path: Path) -> None:
    """The worker runs in this process: its logs go to a file, not over the live view."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


async def run_demo(settings: Settings, bootstrap: str, seed: int, units_per_corridor: int, seconds: float,
                   console: Console) -> Summary:
    _quiet_logging(settings.home / "demo-worker.log")
    topics = TopicNames(settings.topic_prefix)
    names = {r: topics.name(r) for r in ("timeline", "alert", "eta", "dead_letter", "shipment_timeline",
                                         "shipment_alert")}  # fmt: skip
    # Shipments too: ASEAN consolidation at Chongqing, air waybills built into ULDs, one split air waybill.
    scenario = generate(seed=seed, units_per_corridor=units_per_corridor, shipments=1)
    records = scenario.records
    span = (records[-1].published_at - records[0].published_at).total_seconds()
    speed = span / seconds
    # Fresh group, fresh state: a demo never inherits a previous run's offsets or tables.
    run = settings.model_copy(update={
        "app_id": f"corridor-demo-{uuid.uuid4().hex[:8]}",
        "data_dir": Path(tempfile.mkdtemp(prefix="corridor-demo-")),
        "web_enabled": True,
        "web_port": free_port(),
    })
    security = run.kafka_security()
    await ensure_topics(bootstrap, topics.all, run.partitions, run.replication, security=security)
    console.print(f"broker {bootstrap}; starting worker {run.app_id} (state in {run.data_dir}) ...")
    t0 = time.monotonic()
    async with running(run, bootstrap) as topology:
        console.print(f"operations page: http://{run.web_host}:{run.web_port}/ (live while the demo runs)")
        console.print(f"worker ready in {time.monotonic() - t0:.1f} s; simulating {len(records)} records "
                      f"({span / 86400:.0f} days of event time in {seconds:.0f} s, seed {seed})")
        progress = Progress()
        async with (Publisher(bootstrap, topics, run.partitions, security=security) as pub,
                    OutputReader(bootstrap, topics, security=security) as reader):
            publishing = asyncio.create_task(publish_paced(pub, records, speed, progress))

            def alive() -> None:  # a worker that could not write a batch stops: the demo says so, not hangs
                if topology.app.crashed:
                    raise RuntimeError(f"the worker stopped: {topology.app.crash_reason!r}")

            def header() -> str:
                clock = progress.sim_time.strftime("%Y-%m-%d %H:%M UTC") if progress.sim_time else "-"
                return (f"corridor demo | event time {clock} | published {progress.published}/{len(records)} "
                        f"| {time.monotonic() - t0:.0f} s")

            if console.is_terminal:
                with Live(render(reader.records, names, header()), console=console, refresh_per_second=4) as live:
                    while not publishing.done():
                        await asyncio.sleep(0.25)
                        alive()
                        live.update(render(reader.records, names, header()))
                    await reader.settle(quiet=2.0, timeout=20)
                    live.update(render(reader.records, names, header()))
            else:
                last = 0.0
                while not publishing.done():
                    await asyncio.sleep(0.25)
                    alive()
                    if time.monotonic() - last >= 10:
                        last = time.monotonic()
                        timelines = len({t["unit"]["id"] for t in reader.records[names["timeline"]]})
                        console.print(f"{header()} | units {timelines} | alerts {len(reader.records[names['alert']])}"
                                      f" | eta updates {len(reader.records[names['eta']])}")
                await reader.settle(quiet=2.0, timeout=20)
                console.print(render(reader.records, names, header()))
            await publishing
            events = sum(1 for r in records if getattr(r.record, "record", "") == "event")
            return summarise(reader.records, names, events)
