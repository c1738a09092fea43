"""`python -m bench chaos`: does every accepted input take effect when workers are SIGKILLed at random?

Each run starts a fresh embedded broker, publishes a simulated history (stamped with when each record became
known, so the live job and `corridor replay` order it alike) over about `--seconds`, and meanwhile SIGKILLs
workers at random: during start-up (before the group assigned them anything), during recovery (tables being
restored), and while they work off batches. A killed worker is restarted at once on its own data dir. Half the
runs have two workers in the group and kill either. When the history is out and the group has caught up, every
unit's final timeline, final ETA and set of alert ids are compared with `replay()` of exactly what was
published. Printed per run: inputs lost (in replay's final timeline, not in the live one), units whose final
timeline or ETA differ, alerts missing and extra, alerts emitted more than once (delivery is at least once, so
duplicates are counted, not failed), and records read again because a rebuilt state was behind the committed
offset (the worker logs each such rewind). The last line is JSON."""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import ClockTick, Plan, TrackingEvent, loads
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.broker.tansu import true_end_offsets
from streams.core.history_order import canonical_order
from streams.core.policy import DEFAULT_POLICY
from streams.io.kafka import OutputReader, Publisher
from streams.processing.replay import replay
from streams.sim.scenario import generate
from streams.topology.process import start_worker, stop_process

PARTITIONS = 4


@dataclass
class RunResult:
    run: int
    workers: int
    kills: int
    kills_starting: int  # killed before its first assignment was ready
    published: int
    lost: int
    differing_units: int
    missing_alerts: int
    extra_alerts: int
    duplicated_alerts: int
    seconds: float
    stuck: bool = False  # the group never committed all its input within the time allowed
    reread: int = 0  # records read again because a rebuilt state was behind the committed offset (logged)


class Workers:
    """Worker processes by name, each on its own data dir; `kill` and `start` as an operator would."""

    def __init__(self, tmp: Path, bootstrap: str, app_id: str, prefix: str, names: list[str]) -> None:
        self.tmp, self.bootstrap, self.app_id, self.prefix = tmp, bootstrap, app_id, prefix
        self.procs: dict[str, subprocess.Popen] = {}
        self.started: dict[str, float] = {}
        self.lives: Counter[str] = Counter()
        for name in names:
            self.start(name)

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.{self.lives[name]}.log"

    def start(self, name: str) -> None:
        self.lives[name] += 1
        self.procs[name] = start_worker(self.log(name), broker=self.bootstrap, app_id=self.app_id,
                                        topic_prefix=self.prefix, data_dir=self.tmp / name, embedded_broker=True,
                                        web_enabled=False, partitions=PARTITIONS, home=self.tmp / "home")  # fmt: skip
        self.started[name] = time.monotonic()

    def ready(self, name: str) -> bool:
        path = self.log(name)
        return path.exists() and b"Worker ready" in path.read_bytes()

    def kill(self, name: str) -> bool:
        """SIGKILL and restart at once; True if it was not ready yet (start-up or recovery)."""
        starting = not self.ready(name)
        proc = self.procs[name]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.start(name)
        return starting

    def stop(self) -> None:
        for proc in self.procs.values():
            stop_process(proc)

    def reread(self) -> int:
        """Records the workers read again because a rebuilt state was behind the group's committed offset."""
        found = (re.search(rb"reading (\d+) records again", line) for log in self.tmp.glob("*.log")
                 for line in log.read_bytes().splitlines())  # fmt: skip
        return sum(int(m.group(1)) for m in found if m)


async def _publish(bootstrap: str, topics: TopicNames, records: list, seconds: float) -> None:
    # Ordered: replay takes the records in their stamps' order, and a worker can order only what is appended.
    async with Publisher(bootstrap, topics, PARTITIONS, stamped=True, ordered=True) as pub:
        pause = seconds / max(len(records), 1)
        for n, record in enumerate(records):
            await pub.send(record)
            if n % 20 == 19:
                await pub.flush()
                await asyncio.sleep(pause * 20)


async def caught_up(bootstrap: str, group: str, topics: TopicNames, timeout: float = 300) -> None:
    """Wait until the group has committed every input record (outputs going quiet is not enough: a worker that
    re-reads records it handled before emits nothing for them)."""
    names = [*topics.inputs, topics.name("shipment_plan"), topics.name("shipment_feed")]
    tps = [TopicPartition(t, p) for t in names for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            ends = await true_end_offsets(bootstrap, await consumer.end_offsets(tps))
            behind = {tp: ends[tp] - (await consumer.committed(tp) or 0) for tp in tps}
            if not any(n > 0 for n in behind.values()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the group never caught up: {behind}")
            await asyncio.sleep(2)
    finally:
        await consumer.stop()


def _final(outputs: list[tuple[str, dict]], topics: TopicNames) -> tuple[dict, dict, list[str]]:
    timelines: dict[str, dict] = {}
    etas: dict[str, dict] = {}
    alerts: list[str] = []
    for topic, value in outputs:
        if topic == topics.name("timeline"):
            timelines[value["unit"]["id"]] = value
        elif topic == topics.name("eta"):
            etas[value["unit"]["id"]] = value
        elif topic == topics.name("alert"):
            alerts.append(value["alert_id"])
    return timelines, etas, alerts


def compare(records: list, live: list[tuple[str, dict]], topics: TopicNames) -> dict[str, int]:
    lines = [r.model_dump_json().encode() for r in records]
    want = replay(lines, topics, DEFAULT_POLICY, PARTITIONS)
    want_t, want_e, want_a = _final([(o.topic, loads(o.value)) for o in want.outputs], topics)
    got_t, got_e, got_a = _final(live, topics)
    lost = 0
    examples: list[str] = []
    for r in records:
        if isinstance(r, TrackingEvent):
            want_ids = {e["event_id"] for e in want_t.get(r.unit.id, {}).get("events", [])}
            got_ids = {e["event_id"] for e in got_t.get(r.unit.id, {}).get("events", [])}
            if r.event_id in want_ids and r.event_id not in got_ids:
                lost += 1
                examples.append(f"event {r.event_id} of {r.unit.id}")
        elif isinstance(r, Plan) and (want_t.get(r.unit.id, {}).get("plan_revision") == r.revision
                and got_t.get(r.unit.id, {}).get("plan_revision") != r.revision):
            lost += 1
            examples.append(f"plan {r.revision} of {r.unit.id}")
    differing = sum(got_t.get(u) != t or got_e.get(u) != want_e.get(u) for u, t in want_t.items())
    counts = Counter(got_a)
    return {"lost": lost, "lost_examples": examples[:5], "differing_units": differing,
            "missing_alerts": len(set(want_a) - set(got_a)),
            "extra_alerts": len(set(got_a) - set(want_a)), "duplicated_alerts": sum(n - 1 for n in counts.values())}


async def one_run(run: int, seed: int, units: int, seconds: float, min_kills: int, two: bool, keep: Path | None,
                  rng: random.Random, working: float = 0.0) -> RunResult:  # fmt: skip
    began = time.monotonic()
    scenario = generate(seed=seed, units_per_corridor=units, shipments=0)
    records = canonical_order([r.record for r in scenario.records if isinstance(r.record, Plan | TrackingEvent
                                                                                  | ClockTick)])  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{run}-", dir=keep))
    topics = TopicNames(f"chaos{run}.")
    with EmbeddedBroker() as broker:
        await ensure_topics(broker.bootstrap, topics.all, PARTITIONS)
        workers = Workers(tmp, broker.bootstrap, f"chaos-{run}-{seed}", topics.prefix, ["a", "b"] if two else ["a"])
        kills = starting = 0
        try:
            publishing = asyncio.create_task(_publish(broker.bootstrap, topics, records, seconds))
            while not publishing.done() or kills < min_kills:
                # Short waits kill workers still starting (joining, restoring), long ones kill them mid-batch.
                await asyncio.sleep(rng.choice([rng.uniform(0.5, 3.0), rng.uniform(3.0, 9.0)]))
                name = rng.choice(sorted(workers.procs))
                if working and rng.random() < working:  # wait for it to work, so that the kill lands mid-batch
                    deadline = time.monotonic() + 30
                    while not workers.ready(name) and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(rng.uniform(0.2, 2.0))
                starting += workers.kill(name)
                kills += 1
            await publishing
            async with OutputReader(broker.bootstrap, topics) as reader:
                deadline = time.monotonic() + 240
                while not all(workers.ready(n) for n in workers.procs) and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                stuck = False
                try:
                    await caught_up(broker.bootstrap, workers.app_id, topics)
                except TimeoutError as exc:
                    stuck = True
                    print(f"run {run}: {exc}", file=sys.stderr)
                await reader.settle(quiet=3, timeout=120)
                live = [(t, v) for t, vs in reader.records.items() for v in vs]
        finally:
            workers.stop()
            reread = workers.reread()
    result = compare(records, live, topics)
    examples = result.pop("lost_examples")
    if examples:
        print(f"run {run}: lost, for example: {examples}", file=sys.stderr)
    if keep is not None and (result["lost"] or result["differing_units"] or result["missing_alerts"]):
        # What was published and what came out, for a look afterwards (the broker is gone with the run).
        (tmp / "published.jsonl").write_bytes(b"\n".join(r.model_dump_json().encode() for r in records))
        (tmp / "live.jsonl").write_bytes(b"\n".join(orjson.dumps({"topic": t, "value": v}) for t, v in live))
        print(f"run {run}: inputs and outputs kept in {tmp}", file=sys.stderr)
    return RunResult(run, len(workers.procs), kills, starting, len(records), seconds=round(time.monotonic() - began, 1),
                     stuck=stuck, reread=reread, **result)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench chaos")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--units", type=int, default=6, help="units per corridor")
    parser.add_argument("--seconds", type=float, default=45, help="how long the history takes to publish")
    parser.add_argument("--kills", type=int, default=10, help="at least this many SIGKILLs per run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="keep workers' logs and state under this dir")
    parser.add_argument("--working", type=float, default=0.0,
                        help="share of kills that wait for the worker to be ready first (on a loaded machine a "
                             "restart can outlast the random wait, and most kills then hit start-up)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results = []
    print("run workers kills (starting) published | lost differing missing-alerts extra-alerts duplicated | "
          "reread | s", flush=True)
    for run in range(args.runs):
        r = asyncio.run(one_run(run, args.seed + run, args.units, args.seconds, args.kills, run % 2 == 1,
                                args.keep, rng, args.working))  # fmt: skip
        results.append(r)
        print(f"{r.run:3} {r.workers:7} {r.kills:5} ({r.kills_starting:2}) {r.published:9} | {r.lost:4} "
              f"{r.differing_units:9} {r.missing_alerts:14} {r.extra_alerts:12} {r.duplicated_alerts:10} | "
              f"{r.reread:6} | {r.seconds}{' STUCK' if r.stuck else ''}", flush=True)  # fmt: skip
    clean = sum(r.lost == 0 and r.differing_units == 0 and r.missing_alerts == 0 and not r.stuck for r in results)
    print(f"{clean} of {len(results)} runs with nothing lost and nothing differing")
    print(orjson.dumps({"runs": [asdict(r) for r in results], "clean_runs": clean}).decode())
    sys.exit(0 if clean == len(results) else 1)
