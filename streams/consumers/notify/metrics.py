"""Prometheus metrics of `corridor notify`, served at `GET /metrics` by its HTTP API.

Records read are counted as they are read (`NotifyMetrics.read`); everything else is the service's own
bookkeeping (its `stats` counters, offsets, backlogs), read when Prometheus scrapes, so delivering costs no
more than it did."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

_OUTCOMES = ("delivered", "dead_lettered")


class NotifyMetrics(Collector):
    def __init__(self, service: Any) -> None:
        """`service`: the NotifyService it reads (typed loosely: the service imports this module)."""
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.records_in = Counter("corridor_notify_records_in", "Records notify read, by topic", ["topic"],
                                  registry=self.registry)  # fmt: skip
        self.registry.register(self)

    def read(self, records: Iterable[tuple[Any, Any]]) -> None:
        """Count a batch of (TopicPartition, ConsumerRecord) as read."""
        counts: dict[str, int] = {}
        for tp, _ in records:
            counts[tp.topic] = counts.get(tp.topic, 0) + 1
        for topic, n in counts.items():
            self.records_in.labels(topic).inc(n)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except Exception:  # a scrape must answer, even while the service starts or stops
            log.exception("collecting notify's metrics failed")

    def _collect(self) -> Iterator[Metric]:
        svc = self.service
        messages = CounterMetricFamily("corridor_notify_messages", "Messages (grouped alerts, resolved notices) "
                                       "that reached an end, by kind and outcome: delivered, or dead-lettered to "
                                       f"{svc.dead_letter_topic} after the last attempt",
                                       labels=["kind", "outcome"])  # fmt: skip
        other = CounterMetricFamily("corridor_notify_events", "Other events of the service (e.g. records skipped "
                                    "as malformed), by name", labels=["event"])  # fmt: skip
        for name, n in sorted(svc.stats.items()):
            kind, _, outcome = name.partition("_")
            if outcome in _OUTCOMES:
                messages.add_metric([kind, outcome], n)
            else:
                other.add_metric([name], n)
        yield messages
        yield other
        yield self._lag()
        backlog = GaugeMetricFamily("corridor_notify_backlog", "Messages waiting to be sent or retried, by "
                                    "subscription", labels=["subscription"])  # fmt: skip
        started = getattr(svc, "store", None) is not None  # the registry also collects once when it is built
        for sub, n in sorted(svc.snapshot()["backlog"].items() if started else ()):
            backlog.add_metric([sub], n)
        yield backlog
        yield GaugeMetricFamily("corridor_notify_records_in_flight", "Records read and not yet done with (their "
                                "offsets cannot be committed yet)", value=svc._tracker.in_flight())  # fmt: skip
        yield GaugeMetricFamily("corridor_notify_open_groups", "Alert groups waiting for their window to close",
                                value=len(svc._grouper))  # fmt: skip

    def _lag(self) -> Metric:
        lag = GaugeMetricFamily("corridor_consumer_lag", "Records in a partition after the consumer group's "
                                "committed offset (high-water mark minus committed offset), for the partitions "
                                "this instance owns", labels=["topic", "partition"])  # fmt: skip
        consumer = getattr(self.service, "_consumer", None)
        if consumer is None:
            return lag
        tracker = self.service._tracker
        for tp in sorted(consumer.assignment()):
            end = consumer.highwater(tp)
            # Committed by this instance, else (nothing to commit yet since it got the partition) what it has read.
            done = tracker._committed.get(tp, tracker._next.get(tp))
            if end is None or done is None:  # no fetch answered yet
                continue
            lag.add_metric([tp.topic, str(tp.partition)], max(0, end - done))
        return lag
