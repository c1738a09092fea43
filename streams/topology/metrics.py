"""Prometheus metrics of a worker, served at `GET /metrics` by its web server.

Hooked where the records already flow, without touching the engines or the batcher's code:
- each job's engine is wrapped (`MeteredEngine`): what a batch took in and caused is counted as the batch is
  flushed, so a batch dropped on a rebalance (its records are read again) is not counted twice;
- each batcher's batch completion is timed (`meter_batches`): size, and the time from its first record taken to
  its input acknowledged (outputs and state written);
- the ingest agent's adapter is wrapped (`MeteredIngestor`): it writes record by record, not in batches;
- what is a state rather than an event (consumer lag, state size, watermark delay) is read when Prometheus
  scrapes (`WorkerCollector`), so it costs nothing between scrapes.

Every worker has its own registry (tests run several in one process); metric names follow Prometheus' naming
(`corridor_` prefix, `_total` counters, base units: seconds, bytes)."""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.topics import TopicNames
from streams.processing.engine import OutRecord

log = logging.getLogger(__name__)

BATCH_RECORDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)  # the batcher's max_records is 1000
BATCH_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# Dead-letter reasons are sentences written for a person (they name the key, the field, the size): the metric
# keeps their class, so its label values stay few. First match wins; `reason_class` is tested on each.
_REASONS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("not_json", lambda r: r.startswith("not JSON")),
    ("too_large", lambda r: "a record may hold" in r),
    ("history_full", lambda r: "days of history" in r),
    ("processing_failed", lambda r: r.startswith("processing failed")),
    ("wrong_key", lambda r: r.startswith("record key")),
    ("wrong_topic", lambda r: r.startswith("topic ") or "is not a raw feed topic" in r),
    ("wrong_record_type", lambda r: r.startswith(("expected a", "expected an", "unknown record type"))),
    ("invalid_record", lambda r: r.startswith("invalid ")),
    ("no_timestamp", lambda r: r.startswith("message has no timestamp")),
    ("bad_ping", lambda r: r.startswith("not a re-keyed ping")),
)


def reason_class(reason: str) -> str:
    """The class of a dead letter's reason; a carrier feed's rejection ("<format>: ...") is `feed_rejected`."""
    for name, matches in _REASONS:
        if matches(reason):
            return name
    from streams.feeds.registry import FORMATS

    if reason.partition(": ")[0] in FORMATS:
        return "feed_rejected"
    return "other"


class WorkerMetrics:
    """The worker's metrics and their registry."""

    def __init__(self, topics: TopicNames) -> None:
        self.topics = topics
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records_in = Counter("corridor_records_in", "Input records a job processed, by job and topic",
                                  ["job", "topic"], registry=r)  # fmt: skip
        self.records_out = Counter("corridor_records_out", "Records a job wrote, by job and topic",
                                   ["job", "topic"], registry=r)  # fmt: skip
        self.dead_letters = Counter("corridor_dead_letters", "Records refused to the dead-letter topic, by job, "
                                    "the topic the input came from, and the reason's class",
                                    ["job", "source_topic", "reason"], registry=r)  # fmt: skip
        self.eta_updates = Counter("corridor_eta_updates", "ETA updates published, by topic (units, shipments)",
                                   ["topic"], registry=r)  # fmt: skip
        self.alerts = Counter("corridor_alerts", "Alerts published, by topic, kind and severity",
                              ["topic", "kind", "severity"], registry=r)  # fmt: skip
        self.batch_records = Histogram("corridor_batch_records", "Input records per batch, by job", ["job"],
                                       buckets=BATCH_RECORDS, registry=r)  # fmt: skip
        self.batch_seconds = Histogram("corridor_batch_seconds", "Time from a batch's first record taken to its "
                                       "input acknowledged (outputs and state written), by job", ["job"],
                                       buckets=BATCH_SECONDS, registry=r)  # fmt: skip
        self._eta = {topics.name("eta"), topics.name("shipment_eta")}
        self._alert = {topics.name("alert"), topics.name("shipment_alert")}
        self._dead = topics.name("dead_letter")

    def count(self, job: str, inputs: Tally[str], outputs: Iterable[OutRecord]) -> None:
        """Count what one batch (or one ingested record) took in and caused."""
        for topic, n in inputs.items():
            self.records_in.labels(job, topic).inc(n)
        out: Tally[str] = Tally()
        for rec in outputs:
            out[rec.topic] += 1
            if rec.topic == self._dead:
                source, reason = _letter(rec.value)
                self.dead_letters.labels(job, source, reason).inc()
            elif rec.topic in self._alert:
                kind, severity = _alert(rec.value)
                self.alerts.labels(rec.topic, kind, severity).inc()
        for topic, n in out.items():
            self.records_out.labels(job, topic).inc(n)
            if topic in self._eta:
                self.eta_updates.labels(topic).inc(n)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _letter(value: bytes) -> tuple[str, str]:
    try:
        d = orjson.loads(value)
        return str(d.get("source_topic", "unknown")), reason_class(str(d.get("reason", "")))
    except (orjson.JSONDecodeError, AttributeError):
        return "unknown", "other"


def _alert(value: bytes) -> tuple[str, str]:
    try:
        d = orjson.loads(value)
        return str(d.get("kind") or "none"), str(d.get("severity") or "none")
    except (orjson.JSONDecodeError, AttributeError):
        return "unknown", "unknown"


class MeteredEngine:
    """An engine as the batcher sees it (`process`, `flush`), counting what passes. The counts of a batch are
    published when it is flushed; `discard()` (partitions revoked) drops those of a batch that never will be."""

    def __init__(self, engine: Any, job: str, metrics: WorkerMetrics) -> None:
        self.engine, self.job, self.metrics = engine, job, metrics
        self._inputs: Tally[str] = Tally()
        self._outputs: list[OutRecord] = []
        self.started: float | None = None  # perf_counter of the batch's first record
        self.flushed_started: float | None = None  # that of the batch last flushed

    def process(self, topic: str, partition: int, offset: int | None, key: bytes | None,
                value: bytes | None) -> list[OutRecord]:  # fmt: skip
        out = self.engine.process(topic, partition, offset, key, value)
        if self.started is None:
            self.started = time.perf_counter()
        self._inputs[topic] += 1
        self._outputs += out
        return out

    def flush(self, scope: Any = None) -> int:
        written = self.engine.flush(scope)
        self.metrics.count(self.job, self._inputs, self._outputs)
        # The agent may take the next batch's records while this one is written: they start the next.
        self._inputs, self._outputs, self.flushed_started, self.started = Tally(), [], self.started, None
        return written

    def discard(self) -> None:
        self._inputs, self._outputs, self.started = Tally(), [], None

    def reindex(self, partition: int) -> int:
        reindex = getattr(self.engine, "reindex", None)
        return reindex(partition) if reindex is not None else 0


def meter_batches(batcher: Any, engine: MeteredEngine, metrics: WorkerMetrics) -> None:
    """Time each batch the batcher completes (its `_complete`: outputs, state, acknowledgement)."""
    complete = batcher._complete  # fails here, at build time, if the batcher changes shape
    size, seconds = metrics.batch_records.labels(engine.job), metrics.batch_seconds.labels(engine.job)

    async def timed(stream: Any) -> None:
        n = len(batcher._events)
        engine.flushed_started = None
        await complete(stream)  # flushes the engine first, then writes and acknowledges
        size.observe(n)
        if engine.flushed_started is not None:
            seconds.observe(time.perf_counter() - engine.flushed_started)

    batcher._complete = timed


class MeteredIngestor:
    """The ingest agent's adapter, counting each raw message and ping and what it became."""

    def __init__(self, ingestor: Any, metrics: WorkerMetrics) -> None:
        self.ingestor, self.metrics = ingestor, metrics

    def process_raw(self, topic: str, *args: Any) -> list[OutRecord]:
        out = self.ingestor.process_raw(topic, *args)
        self.metrics.count("ingest", Tally({topic: 1}), out)
        return out

    def process_ping(self, states: Any, topic: str, *args: Any) -> list[OutRecord]:
        out = self.ingestor.process_ping(states, topic, *args)
        self.metrics.count("geofence", Tally({topic: 1}), out)
        return out


class WorkerCollector(Collector):
    """What is read at scrape time: consumer lag, state size and watermark delay."""

    def __init__(self, app: Any, topics: TopicNames, watermarks: dict[str, Callable[[], dict[int, datetime]]],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 caches: dict[str, Callable[[], tuple[int, int]]] | None = None) -> None:  # fmt: skip
        """`watermarks`: by job, its engine's event-time watermark per partition (as far as this worker has seen
        it move since it was given the partition). `caches`: the engines' caches of decoded state by name
        ("units"...), each read as (entries, bound), reported beside the lru caches."""
        self.app, self.topics, self.watermarks, self.now = app, topics, watermarks, now
        self.caches = caches or {}

    def collect(self) -> Iterator[Metric]:
        try:
            yield from (self._lag(), *self._state(), self._watermarks(), self._rocksdb(), *self._caches())
        except Exception:  # a scrape must answer: a worker stopping or rebalancing may have nothing to say
            log.exception("collecting the worker's metrics failed")

    def _lag(self) -> Metric:
        lag = GaugeMetricFamily("corridor_consumer_lag", "Records in a partition after the consumer group's "
                                "committed offset (high-water mark minus committed offset), for the partitions "
                                "this worker owns", labels=["topic", "partition"])  # fmt: skip
        consumer = self.app.consumer
        public = set(self.topics.all)
        committed = getattr(consumer, "_committed_offset", {})  # Faust's: the next offset to read, once committed
        try:
            assigned = consumer.assignment()
        except Exception:  # not started yet
            assigned = set()
        for tp in sorted(assigned):
            if tp.topic not in public:  # changelogs: their lag is the tables' recovery, not this job's
                continue
            try:
                end = consumer.highwater(tp)
            except Exception:
                continue
            if end is None or end < 0:  # no fetch answered yet
                continue
            lag.add_metric([tp.topic, str(tp.partition)], max(0, end - (committed.get(tp) or 0)))
        return lag

    def _state(self) -> tuple[Metric, Metric]:
        keys = GaugeMetricFamily("corridor_state_keys", "Keys in a table's local store (RocksDB's estimate), "
                                 "by table and partition", labels=["table", "partition"])  # fmt: skip
        size = GaugeMetricFamily("corridor_state_bytes", "Bytes of a table's local RocksDB store (SST files "
                                 "and memtables), by table and partition", labels=["table", "partition"])  # fmt: skip
        for name, table in sorted(self.app.tables.items()):
            store = table.data
            dbs = getattr(store, "_dbs", None)
            if dbs is None:  # memory://: one mapping for every partition
                keys.add_metric([name, "all"], len(store))
                continue
            for partition, db in sorted(dict(dbs).items()):
                prop = getattr(db, "property_int_value", None)
                if prop is None:
                    continue
                keys.add_metric([name, str(partition)], prop("rocksdb.estimate-num-keys") or 0)
                size.add_metric([name, str(partition)], (prop("rocksdb.total-sst-files-size") or 0)
                                + (prop("rocksdb.cur-size-all-mem-tables") or 0))  # fmt: skip
        return keys, size

    def _rocksdb(self) -> Metric:
        from streams.topology import rocksdb_memory

        memory = GaugeMetricFamily("corridor_rocksdb_memory_bytes", "Memory of the RocksDB stores' shared budget "
                                   "in use: the block cache (memtables charged to it included) and the memtables "
                                   "alone", labels=["kind"])  # fmt: skip
        for kind, used in rocksdb_memory.usage().items():
            memory.add_metric([kind], used)
        return memory

    def _caches(self) -> tuple[Metric, Metric]:
        entries = GaugeMetricFamily("corridor_cache_entries", "Entries in a bounded in-memory cache of the jobs "
                                    "(functools.lru_cache, by function; the engines' decoded units, shipments and "
                                    "rides): they fill towards their bound and stay there (docs/soak.md has what "
                                    "each costs full)", labels=["cache"])  # fmt: skip
        bound = GaugeMetricFamily("corridor_cache_max_entries", "The bound of a bounded in-memory cache of the jobs",
                                  labels=["cache"])  # fmt: skip
        for name, cache in lru_caches().items():
            info = cache.cache_info()
            entries.add_metric([name], info.currsize)
            if info.maxsize is not None:  # unbounded: a table loaded once (one entry)
                bound.add_metric([name], info.maxsize)
        for name, fill in self.caches.items():
            held, most = fill()
            entries.add_metric([name], held)
            bound.add_metric([name], most)
        return entries, bound

    def _watermarks(self) -> Metric:
        delay = GaugeMetricFamily("corridor_watermark_delay_seconds", "Wall clock minus the event-time "
                                  "watermark, by job and partition (negative: event time ahead of the wall clock)",
                                  labels=["job", "partition"])  # fmt: skip
        now = self.now()
        for job, of in self.watermarks.items():
            for partition, wm in sorted(dict(of()).items()):
                delay.add_metric([job, str(partition)], (now - wm).total_seconds())
        return delay


def lru_caches() -> dict[str, Any]:
    """The `functools.lru_cache`s of corridor's modules loaded in this process, by module and name where each is
    defined (one function imported into several modules is one cache)."""
    found: dict[int, tuple[str, Any]] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith(("streams.", "schemas.")):
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, functools._lru_cache_wrapper) and id(obj) not in found:
                wrapped = getattr(obj, "__wrapped__", obj)
                found[id(obj)] = (f"{wrapped.__module__}.{wrapped.__qualname__}", obj)
    return dict(sorted(found.values(), key=lambda item: item[0]))


def install(app: Any, metrics: WorkerMetrics, collector: WorkerCollector) -> None:
    """Register the collector and add `GET /metrics` to the worker's web server (when it has one)."""
    metrics.registry.register(collector)
    if not app.conf.web_enabled:
        return
    from faust.web import View

    class MetricsView(View):
        async def get(self, request: Any) -> Any:
            body, content_type = metrics.exposition()
            return self.bytes(body, headers={"Content-Type": content_type})

    app.page("/metrics", name="corridor-metrics")(MetricsView)
