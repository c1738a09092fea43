"""Prometheus metrics of `corridor gateway`, served at `GET /metrics`.

Counted as the gateway answers (an aiohttp middleware for requests and their time, the gateway itself for what it
wrote), so nothing is read from Kafka at scrape time. The series the worker also has keep its names, with
`job="gateway"`: `corridor_records_out_total` (records written to the raw topics) and
`corridor_dead_letters_total` (bodies refused to the dead-letter topic), so the dashboard's panels take them in.
Label values are bounded: routes are the route templates (`/ingest/{format}`, never the path asked for), sources
are the configured ones, formats the known ones."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# What the probes and Prometheus itself ask: not carrier traffic, left out of the request series.
UNCOUNTED = frozenset({"/metrics", "/healthz", "/readyz", "/health"})
# A dead letter's class, from the answer that went with it (streams/connectors/gateway.py: _reject).
DEAD_LETTER_REASONS = {400: "unreadable", 413: "too_large", 415: "format_unknown"}


def route_of(request: web.Request) -> str:
    """The route template that matched (`/v2/notifications/{source}`), or `other` (404, 405)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "other"


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.requests = Counter("corridor_gateway_requests", "HTTP requests the gateway answered, by route template "
                                "and status", ["route", "status"], registry=r)  # fmt: skip
        self.seconds = Histogram("corridor_gateway_request_seconds", "Time to answer a request, by route template "
                                 "(a 202 waits for Kafka's acknowledgement)", ["route"], buckets=REQUEST_SECONDS,
                                 registry=r)  # fmt: skip
        self.accepted = Counter("corridor_gateway_accepted", "Bodies accepted (202, re-sends within the "
                                "idempotency window not counted), by source and format", ["source", "format"],
                                registry=r)  # fmt: skip
        self.records_out = Counter("corridor_records_out", "Records a job wrote, by job and topic", ["job", "topic"],
                                   registry=r)  # fmt: skip
        self.dead_letters = Counter("corridor_dead_letters", "Records refused to the dead-letter topic, by job, "
                                    "where the input came from, and the reason's class",
                                    ["job", "source_topic", "reason"], registry=r)  # fmt: skip
        self.kafka_reachable = Gauge("corridor_gateway_kafka_reachable", "1 while a bootstrap server accepts "
                                     "connections, else 0", registry=r)  # fmt: skip

    def watch(self, reachable: Callable[[], bool]) -> None:
        self.kafka_reachable.set_function(lambda: 1.0 if reachable() else 0.0)

    def dead_letter(self, route: str, status: int) -> None:
        self.dead_letters.labels("gateway", f"gateway:{route}", DEAD_LETTER_REASONS.get(status, "other")).inc()

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in UNCOUNTED:
            return await handler(request)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:  # aiohttp's own answers: 404, 405, 413 while reading the body
            status = exc.status
            raise
        finally:
            route = route_of(request)
            self.requests.labels(route, str(status)).inc()
            self.seconds.labels(route).observe(time.perf_counter() - started)
