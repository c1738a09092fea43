"""GET /metrics on a real worker over the embedded broker, scraped while a simulated run goes through it: every
counter agrees with what the worker actually wrote (read back from its output topics) and what was sent, the
batch histograms add up to the records taken in, lag drains to zero, state and watermark delay are there."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas import ClockTick, TrackingEvent
from schemas.events import Classifier
from schemas.topics import TopicNames
from streams.io.kafka import OutputReader, Publisher
from streams.sim.scenario import generate
from streams.topology.metrics import reason_class
from tests.integration.conftest import PARTITIONS
from tests.integration.test_api import fresh_settings, serving

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(http: aiohttp.ClientSession, base: str) -> Samples:
    async with http.get(f"{base}/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def by(samples: Samples, name: str, *keys: str) -> Counter:
    out: Counter = Counter()
    for (n, ls), v in samples.items():
        if n == name and v:
            d = dict(ls)
            out[tuple(d[k] for k in keys)] += v
    return out


def labelsets(samples: Samples, name: str, *keys: str) -> set[tuple[str, ...]]:
    return {tuple(dict(ls)[k] for k in keys) for (n, ls) in samples if n == name}


async def until_scraped(http: aiohttp.ClientSession, base: str, ok: Callable[[Samples], bool],
                        timeout: float = 30) -> Samples:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = await scrape(http, base)
        if ok(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.3)


async def test_metrics_follow_a_simulated_run(bootstrap, tmp_path):
    settings = await fresh_settings(bootstrap, tmp_path, input_sync_idle_ms=200)
    topics = TopicNames(settings.topic_prefix)
    scenario = generate(seed=5, units_per_corridor=1, shipments=1)
    records = [r.record for r in scenario.records]
    half = len(records) // 2
    async with OutputReader(bootstrap, topics) as reader, serving(settings, bootstrap) as (_, base), \
            aiohttp.ClientSession() as http:  # fmt: skip
        before = await scrape(http, base)
        assert total(before, "corridor_records_in_total") == 0
        wanted = {(t, str(p)) for t in topics.inputs for p in range(PARTITIONS)}
        await until_scraped(http, base, lambda m: wanted <= labelsets(m, "corridor_consumer_lag", "topic", "partition"))

        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
            await pub.send_all(records[:half])
            await reader.settle(quiet=1.0)
            mid = await scrape(http, base)
            # Lag moves: scraped while the second half arrives, it rises above zero (offsets are committed every
            # commit_interval, 2.8 s) before it drains to zero below.
            peak_lag = 0.0

            async def watch_lag() -> None:
                nonlocal peak_lag
                while True:
                    peak_lag = max(peak_lag, total(await scrape(http, base), "corridor_consumer_lag"))
                    await asyncio.sleep(0.1)

            watching = asyncio.create_task(watch_lag())
            await pub.send_all(records[half:])
            # Bad input: not JSON, a plan keyed by the wrong unit, a carrier message that is not its format.
            await pub.send_raw(topics.name("event"), b"{not json", b"CSQU3054383")
            plan = next(r for r in records if r.record == "plan")
            await pub.send_raw(topics.name("plan"), plan.model_dump_json().encode(), b"WRONG-KEY")
            await pub.send_raw(topics.raw("dcsa-tnt-3.0"), b"<not dcsa/>", b"x")
            await pub.flush()
        await reader.wait_for(lambda r: len(r.of("dead_letter")) >= 3)
        await reader.settle(quiet=1.5)
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        end = await scrape(http, base)
        assert peak_lag > 0

        # Counters move forward during the run.
        for name in ("corridor_records_in_total", "corridor_records_out_total", "corridor_batch_records_count"):
            assert 0 < total(mid, name) < total(end, name), name

        # Records in: every record on the job's inputs, once (each job reads the clock topic).
        kinds = Counter(r.record for r in records)
        sent = {topics.name("plan"): kinds["plan"] + 1, topics.name("event"): kinds["event"] + 1,
                topics.name("clock"): kinds["clock"] * PARTITIONS, topics.name("shipment_plan"): kinds["shipment_plan"]}
        for topic in topics.inputs:
            assert total(end, "corridor_records_in_total", job="track", topic=topic) == sent[topic], topic
        for topic in (topics.name("shipment_plan"), topics.name("clock")):
            assert total(end, "corridor_records_in_total", job="ship", topic=topic) == sent[topic], topic
        assert total(end, "corridor_records_in_total", job="ingest", topic=topics.raw("dcsa-tnt-3.0")) == 1

        # Records out, ETA updates, alerts and dead letters: what the output topics hold.
        for role in ("timeline", "alert", "eta", "shipment_timeline", "shipment_alert", "shipment_eta",
                     "dead_letter", "shipment_feed"):  # fmt: skip
            topic = topics.name(role)
            assert total(end, "corridor_records_out_total", topic=topic) == len(reader.records[topic]), role
        assert total(end, "corridor_eta_updates_total", topic=topics.name("eta")) == len(reader.of("eta")) > 0
        assert total(end, "corridor_eta_updates_total", topic=topics.name("shipment_eta")) == len(
            reader.of("shipment_eta")) > 0
        alerts = Counter((topics.name(role), a["kind"], a["severity"])
                         for role in ("alert", "shipment_alert") for a in reader.of(role))  # fmt: skip
        assert alerts and by(end, "corridor_alerts_total", "topic", "kind", "severity") == alerts
        letters = Counter((d["source_topic"], reason_class(d["reason"])) for d in reader.of("dead_letter"))
        assert by(end, "corridor_dead_letters_total", "source_topic", "reason") == letters
        assert {("not_json", topics.name("event")), ("wrong_key", topics.name("plan")),
                ("feed_rejected", topics.raw("dcsa-tnt-3.0"))} <= {(r, s) for s, r in letters}

        # Batches: every record taken in by a job is in exactly one completed, timed batch.
        for job in ("track", "ship"):
            taken = total(end, "corridor_records_in_total", job=job)
            assert total(end, "corridor_batch_records_sum", job=job) == taken
            batches = total(end, "corridor_batch_records_count", job=job)
            assert 0 < batches <= taken
            assert total(end, "corridor_batch_seconds_count", job=job) == batches
            assert total(end, "corridor_batch_seconds_sum", job=job) > 0

        # State: the units and shipments tables hold keys and bytes on this worker's partitions.
        units = len({r.unit.id for r in records if r.record == "plan"})
        assert total(end, "corridor_state_keys", table="units") >= units
        assert total(end, "corridor_state_bytes", table="units") > 0
        assert total(end, "corridor_state_keys", table="shipments") > 0
        # RocksDB's shared budget: the tables' memtables are counted, and charged to the one block cache.
        assert 0 < total(end, "corridor_rocksdb_memory_bytes", kind="memtables") <= total(
            end, "corridor_rocksdb_memory_bytes", kind="cache")

        # Watermark delay: wall clock minus the event time the run reached, on every partition of both jobs.
        ticks = [r.time for r in records if isinstance(r, ClockTick)]
        actual = [min(r.event_time, r.received_time) for r in records
                  if isinstance(r, TrackingEvent) and r.classifier is Classifier.ACTUAL]  # fmt: skip
        now = datetime.now(UTC)
        low, high = (now - max([*ticks, *actual])).total_seconds(), (now - max(ticks)).total_seconds()
        delays = by(end, "corridor_watermark_delay_seconds", "job", "partition")
        for job in ("track", "ship"):
            for p in range(PARTITIONS):
                assert low - 60 <= delays[(job, str(p))] <= high + 60, (job, p)

        # Lag: drains to zero once the worker has committed what it processed.
        lag = await until_scraped(http, base, lambda m: not total(m, "corridor_consumer_lag") and wanted <= labelsets(
            m, "corridor_consumer_lag", "topic", "partition"))
        assert total(lag, "corridor_consumer_lag") == 0
