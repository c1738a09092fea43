"""The worker's metrics pieces on their own: dead-letter reason classes, and what the scrape-time collector
reads (lag, watermark delay) from a consumer and an engine."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import orjson
import pytest
from faust.types import TP

from schemas import DeadLetter
from schemas.topics import TopicNames
from streams.processing.engine import OutRecord
from streams.topology.metrics import MeteredEngine, WorkerCollector, WorkerMetrics, meter_batches, reason_class


@pytest.mark.parametrize(("reason", "cls"), [
    ("not JSON: unexpected character: line 1 column 1 (char 0)", "not_json"),
    ("invalid TrackingEvent: event_time: input should be a valid datetime", "invalid_record"),
    ("expected a plan record, got 'event'", "wrong_record_type"),
    ("unknown record type 'x'; expected one of ['clock', 'event', 'plan']", "wrong_record_type"),
    ("record key b'X' is not the unit id 'CSQU3054383': per-unit topics must be keyed by unit", "wrong_key"),
    ("topic 'c.timelines' is not an input of the tracking job", "wrong_topic"),
    ("c.raw.fax is not a raw feed topic", "wrong_topic"),
    ("the timeline would be 1,200,000 bytes, over the 1,000,000 a record may hold", "too_large"),
    ("unit CSQU3054383 keeps 1000 events, none older than the 90 days of history it keeps: event e1", "history_full"),
    ("processing failed: KeyError('x')", "processing_failed"),
    ("message has no timestamp (time received)", "no_timestamp"),
    ("not a re-keyed ping: 'vehicle'", "bad_ping"),
    ("dcsa-tnt-3.0: events[0].eventType: unknown value 'X'", "feed_rejected"),
    ("edifact: segment STS missing", "feed_rejected"),
    ("something nobody foresaw", "other"),
])
def test_dead_letter_reasons_fall_into_few_classes(reason: str, cls: str) -> None:
    assert reason_class(reason) == cls


def test_a_batch_is_counted_when_flushed_and_a_dropped_one_never() -> None:
    topics = TopicNames("c.")
    letter = DeadLetter(source_topic="c.events", reason="not JSON: x", original=b"x").model_dump_json().encode()
    alert = orjson.dumps({"kind": "LATE", "severity": "MAJOR"})
    outputs = [OutRecord("c.timelines", b"u", b"{}"), OutRecord("c.dead-letters", b"u", letter),
               OutRecord("c.alerts", b"u", alert), OutRecord("c.eta", b"u", b"{}")]
    engine = SimpleNamespace(process=lambda *a: outputs, flush=lambda scope=None: 1)
    metrics = WorkerMetrics(topics)
    metered = MeteredEngine(engine, "track", metrics)
    metered.process("c.events", 0, 1, b"u", b"{}")
    metered.discard()  # partitions revoked: this batch is read again, by whoever owns it next
    for _ in range(2):
        metered.process("c.events", 0, 1, b"u", b"{}")
    got = lambda name, **labels: metrics.registry.get_sample_value(name, labels)  # noqa: E731
    assert got("corridor_records_in_total", job="track", topic="c.events") is None  # not flushed yet
    metered.flush()
    assert got("corridor_records_in_total", job="track", topic="c.events") == 2
    assert got("corridor_records_out_total", job="track", topic="c.timelines") == 2
    assert got("corridor_dead_letters_total", job="track", source_topic="c.events", reason="not_json") == 2
    assert got("corridor_alerts_total", topic="c.alerts", kind="LATE", severity="MAJOR") == 2
    assert got("corridor_eta_updates_total", topic="c.eta") == 2


def test_lag_is_high_water_minus_committed_on_public_topics_and_delay_is_wall_clock_minus_watermark() -> None:
    topics = TopicNames("c.")
    ends = {TP("c.events", 0): 10, TP("c.events", 1): 5, TP("app-units-changelog", 0): 99, TP("c.plans", 0): None}
    consumer = SimpleNamespace(assignment=lambda: set(ends), highwater=ends.__getitem__,
                               _committed_offset={TP("c.events", 0): 7})
    app = SimpleNamespace(consumer=consumer, tables={})
    now = datetime(2026, 3, 10, tzinfo=UTC)
    wm = {0: now - timedelta(hours=2), 3: now + timedelta(minutes=1)}
    collector = WorkerCollector(app, topics, {"track": lambda: wm}, now=lambda: now)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for m in collector.collect() for s in m.samples}
    lag = {k: v for k, v in samples.items() if k[0] == "corridor_consumer_lag"}
    assert lag == {("corridor_consumer_lag", (("partition", "0"), ("topic", "c.events"))): 3,
                   ("corridor_consumer_lag", (("partition", "1"), ("topic", "c.events"))): 5}  # never committed
    delay = Counter({dict(k[1])["partition"]: v for k, v in samples.items()
                     if k[0] == "corridor_watermark_delay_seconds"})
    assert delay == {"0": 7200, "3": -60}


async def test_each_batch_is_timed_from_its_own_first_record_while_the_next_one_starts() -> None:
    metrics = WorkerMetrics(TopicNames("c."))
    metered = MeteredEngine(SimpleNamespace(process=lambda *a: [], flush=lambda scope=None: 0), "track", metrics)

    class Batcher:  # the shape meter_batches relies on: `_events`, and `_complete` flushing the engine first
        _events: list[int] = []

        async def _complete(self, stream: object) -> None:
            self._events = []
            metered.flush()
            metered.process("c.events", 0, 9, b"u", b"{}")  # the agent takes the next record during the write
            self._events.append(9)
            await asyncio.sleep(0.02)

    batcher = Batcher()
    meter_batches(batcher, metered, metrics)
    metered.process("c.events", 0, 1, b"u", b"{}")
    batcher._events = [1]
    await batcher._complete(None)
    await batcher._complete(None)  # the record taken meanwhile: its batch is timed from when it was taken
    got = lambda name: metrics.registry.get_sample_value(name, {"job": "track"})  # noqa: E731
    assert got("corridor_batch_records_count") == got("corridor_batch_seconds_count") == 2
    taken = metrics.registry.get_sample_value("corridor_records_in_total", {"job": "track", "topic": "c.events"})
    assert got("corridor_batch_records_sum") == taken == 2  # the record taken during the last write: not yet
    assert got("corridor_batch_seconds_sum") >= 0.04


def test_the_jobs_bounded_caches_are_reported_with_their_bounds() -> None:
    from streams.core.state import from_micros, to_micros
    from streams.topology.metrics import lru_caches

    caches = lru_caches()
    assert caches["streams.core.state.to_micros"] is to_micros  # imported into several modules: reported once
    assert sum(c is to_micros for c in caches.values()) == 1
    to_micros(datetime(2026, 3, 10, tzinfo=UTC))
    from_micros(1)
    app = SimpleNamespace(consumer=SimpleNamespace(assignment=set, _committed_offset={}), tables={})
    samples = {(s.name, s.labels.get("cache")): s.value
               for m in WorkerCollector(app, TopicNames("c."), {}).collect() for s in m.samples}  # fmt: skip
    name = "streams.core.state.to_micros"
    assert samples[("corridor_cache_entries", name)] == to_micros.cache_info().currsize >= 1
    assert samples[("corridor_cache_max_entries", name)] == 1 << 17
    assert ("corridor_cache_max_entries", "streams.core.routes.table") not in samples  # unbounded: no bound


def test_the_engines_decoded_state_caches_are_reported_beside_the_lru_caches() -> None:
    from streams.core.policy import TrackingPolicy
    from streams.processing.engine import Engine
    from streams.sim.scenario import generate
    from tests.support.factories import raw

    topics = TopicNames("c.")
    engine = Engine({}, {}, topics, TrackingPolicy(), write_behind=True, cached_units=100)
    plans = generate(seed=3, units_per_corridor=40).plans
    for plan in plans:
        key = plan.unit.id.encode()
        engine.process(topics.name("plan"), 0, None, key, raw(plan))
    engine.flush()
    units = len({p.unit.id for p in plans})
    assert units > 100 and engine.cache_fill() == (100, 100)  # filled to its bound, and no further
    app = SimpleNamespace(consumer=SimpleNamespace(assignment=set, _committed_offset={}), tables={})
    collector = WorkerCollector(app, topics, {}, caches={"units": engine.cache_fill, "rides": lambda: (7, 200)})
    samples = {(s.name, s.labels.get("cache")): s.value for m in collector.collect() for s in m.samples}
    assert samples[("corridor_cache_entries", "units")] == 100
    assert samples[("corridor_cache_max_entries", "units")] == 100
    assert samples[("corridor_cache_entries", "rides")] == 7 and samples[("corridor_cache_max_entries", "rides")] == 200
