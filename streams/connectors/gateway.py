"""`corridor gateway`: carriers push, the gateway writes what they send, unchanged, to the format's raw topic.

Routes (the OpenAPI document is `streams/connectors/openapi.py`, served at /openapi.json):
- `POST /ingest/{format}` and `POST /ingest` (format detected from the content): any format corridor reads,
  authenticated by the source's API key (`Authorization: Bearer <key>` or `X-API-Key`);
- `POST /v3/events`: the DCSA Track & Trace 3.0 subscriber endpoint, API key as above;
- `POST /v2/notifications/{source}`: a DCSA 2.2 subscription's callback URL, authenticated by its
  `Notification-Signature`; `HEAD` on it answers the publisher's check that the callback exists;
- `GET /healthz` (liveness), `GET /readyz` (503 while Kafka is unreachable), `GET /metrics` (Prometheus,
  streams/connectors/metrics.py), `GET /health` (answers by status), `GET /openapi.json`.

Answers: 202 once Kafka acknowledged the record (naming topic, partition, offset); 401 without credentials, 403
with wrong ones (logged, never published); 413 over the size limit; 415 for an unknown format and 400 for an
unreadable body, whose bytes then go to the dead-letter topic with the reason; 503 with Retry-After while Kafka
does not acknowledge. A re-send within the idempotency window is answered with the first answer, unpublished."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

import orjson
from aiohttp import web

from streams.broker.watch import BrokerWatch
from streams.connectors.config import GatewayConfig, Source
from streams.connectors.idempotency import Ack, IdempotencyWindow, dcsa_key
from streams.connectors.metrics import GatewayMetrics, route_of
from streams.connectors.readable import dcsa_version_problem, unreadable
from streams.connectors.signatures import HEADER as SIGNATURE_HEADER
from streams.connectors.signatures import Verdict, key_matches, verify
from streams.connectors.sink import RawSink, Unavailable, digest
from streams.connectors.splitting import Unsplittable, split
from streams.feeds.registry import FORMATS, detect

log = logging.getLogger(__name__)
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SINK = web.AppKey("sink", RawSink)
_GATEWAY = web.AppKey("gateway", object)
_WATCH = web.AppKey("broker_watch", asyncio.Task)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json", headers=headers)


class Gateway:
    def __init__(self, config: GatewayConfig, sink: RawSink) -> None:
        self.config = config
        self.sink = sink
        # key -> (digest of the body, where it went): a key re-used for another body is refused, not answered
        self.window: IdempotencyWindow[tuple[str, list[Ack]]] = IdempotencyWindow(config.idempotency_window_seconds)
        self.counts: Counter[str] = Counter()  # answers by status, for /health
        self.metrics = GatewayMetrics()
        # Readiness: a TCP probe of the bootstrap servers each second (the producer connects only when it sends)
        self.watch = BrokerWatch(sink.bootstrap, subject="the gateway")
        self.metrics.watch(lambda: self.watch.reachable)

    # -- authentication ------------------------------------------------------------------------------------

    def _by_key(self, request: web.Request) -> Source | web.Response:
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("X-API-Key", "").strip()
        if not given:
            return self._refuse(request, 401, "no API key: send Authorization: Bearer <key> or X-API-Key",
                                {"WWW-Authenticate": 'Bearer realm="corridor-gateway"'})
        found = None
        for s in self.config.sources:  # every source is checked: the time taken does not depend on which matched
            if key_matches(given, s.api_keys):
                found = s
        if found is None:
            return self._refuse(request, 403, "API key not recognised")
        return found

    def _refuse(self, request: web.Request, status: int, why: str, headers: dict[str, str] | None = None,
                ) -> web.Response:  # fmt: skip
        log.warning("gateway: %s %s from %s refused (%d): %s", request.method, request.path, request.remote,
                    status, why)  # fmt: skip
        self.counts[str(status)] += 1
        return _json(status, {"error": why}, headers)

    async def _body(self, request: web.Request) -> bytes | web.Response:
        if (request.content_length or 0) > self.config.max_body_bytes:
            return self._refuse(request, 413, f"the body is over {self.config.max_body_bytes:,} bytes")
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(request, 413, f"the body is over {self.config.max_body_bytes:,} bytes")

    # -- routes --------------------------------------------------------------------------------------------

    async def _keyed_body(self, request: web.Request) -> tuple[Source, bytes] | web.Response:
        """The source an API key names and the request's body, or the refusal of either."""
        source = self._by_key(request)
        if isinstance(source, web.Response):
            return source
        body = await self._body(request)
        return body if isinstance(body, web.Response) else (source, body)

    async def ingest(self, request: web.Request) -> web.Response:
        got = await self._keyed_body(request)
        if isinstance(got, web.Response):
            return got
        source, body = got
        where = f"gateway:{request.path}"
        fmt = request.match_info.get("format")
        if fmt is None:  # POST /ingest: the format from the content, as `corridor publish` does
            found = detect(body)
            if found is None:
                return await self._reject(request, source, 415, "format not recognised from the content; POST to "
                                          "/ingest/{format}", where, body)  # fmt: skip
            fmt = found.name
        if fmt not in FORMATS:
            return await self._reject(request, source, 415, f"unknown format {fmt!r} (known: {', '.join(FORMATS)})",
                                      where, body)  # fmt: skip
        if source.formats is not None and fmt not in source.formats:
            return self._refuse(request, 403, f"source {source.name} may not send {fmt}")
        if (problem := unreadable(fmt, body)) is not None:
            return await self._reject(request, source, 400, f"{fmt}: {problem}", where, body)
        return await self._publish(request, source, fmt, body, where)

    async def dcsa_v3(self, request: web.Request) -> web.Response:
        got = await self._keyed_body(request)
        if isinstance(got, web.Response):
            return got
        source, body = got
        where = f"gateway:{request.path}"
        if (problem := dcsa_version_problem("dcsa-tnt-3.0", body)) is not None:
            return await self._reject(request, source, 400, problem, where, body)
        return await self._publish(request, source, "dcsa-tnt-3.0", body, where)

    async def dcsa_v2_check(self, request: web.Request) -> web.Response:
        """The publisher's HEAD check of a callback URL when a subscription is created: 204 if it is ours."""
        source = self.config.source(request.match_info["source"])
        return web.Response(status=204 if source is not None and source.secrets else 404)

    async def dcsa_v2(self, request: web.Request) -> web.Response:
        source = self.config.source(request.match_info["source"])
        if source is None or not source.secrets:
            return self._refuse(request, 404, "no DCSA 2.2 subscription is configured at this URL")
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        verdict = verify(body, request.headers.get(SIGNATURE_HEADER), source.secret_keys())
        if verdict is Verdict.MISSING:
            return self._refuse(request, 401, f"no {SIGNATURE_HEADER} header")
        if verdict is not Verdict.VALID:
            return self._refuse(request, 403, f"{SIGNATURE_HEADER} is {verdict.value}")
        where = f"gateway:{request.path}"
        if (problem := dcsa_version_problem("dcsa-tnt-2.2", body)) is not None:
            return await self._reject(request, source, 400, problem, where, body)
        return await self._publish(request, source, "dcsa-tnt-2.2", body, where)

    async def health(self, request: web.Request) -> web.Response:
        return _json(200, {"kafka": "connected" if self.sink.connected else "not connected",
                           "answers": dict(self.counts), "sources": [s.name for s in self.config.sources]})

    async def healthz(self, request: web.Request) -> web.Response:
        """Liveness: the process answers HTTP."""
        return _json(200, {"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        """Readiness: 503 while no Kafka bootstrap server accepts a connection (every POST would be a 503)."""
        reason = self.watch.reason()
        return _json(200 if reason is None else 503, {"ready": reason is None, "reason": reason})

    async def prometheus(self, request: web.Request) -> web.Response:
        body, content_type = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def openapi(self, request: web.Request) -> web.Response:
        from streams.connectors.openapi import document

        return _json(200, document(list(FORMATS)))

    # -- writing -------------------------------------------------------------------------------------------

    def _unavailable(self, request: web.Request, exc: Unavailable) -> web.Response:
        log.warning("gateway: %s %s answered 503: %s", request.method, request.path, exc)
        self.counts["503"] += 1
        return _json(503, {"error": f"not accepted, send again later: {exc}"},
                     {"Retry-After": str(self.config.retry_after_seconds)})

    async def _reject(self, request: web.Request, source: Source, status: int, reason: str, where: str,
                      body: bytes) -> web.Response:  # fmt: skip
        """An authenticated sender's unusable body: to the dead-letter topic, then the error answer."""
        try:
            ack = await self.sink.dead_letter(where, source.name.encode(), body, f"gateway: {reason}",
                                              f"gateway:{source.name}")  # fmt: skip
        except Unavailable as exc:
            return self._unavailable(request, exc)
        log.info("gateway: %s from %s dead-lettered (%d): %s", request.path, source.name, status, reason)
        self.counts[str(status)] += 1
        self.metrics.dead_letter(route_of(request), status)
        return _json(status, {"error": reason, "dead_letter": ack.as_dict()})

    async def _publish(self, request: web.Request, source: Source, fmt: str, body: bytes,
                       where: str) -> web.Response:  # fmt: skip
        key_bytes = source.name.encode()
        try:  # a body bigger than a record is cut at its messages' boundaries (streams.connectors.splitting)
            parts = split(fmt, body, self.sink.max_record_bytes - len(key_bytes))
        except Unsplittable as exc:
            return await self._reject(request, source, 413, f"{exc}; send it in smaller messages", where, body)
        given = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if len(given) > 255:
            return await self._reject(request, source, 400, f"{IDEMPOTENCY_HEADER} is over 255 characters", where,
                                      body)  # fmt: skip
        key = f"{source.name}:key:{given}" if given else None
        if key is None and fmt.startswith("dcsa-") and (ids := dcsa_key(body)) is not None:
            key = f"{source.name}:{fmt}:{ids}"
        topic = self.sink.topics.raw(fmt)
        body_digest = digest(body)

        def late(ack: Ack) -> None:  # acknowledged after we answered 503: the sender's retry gets this answer
            self.metrics.records_out.labels("gateway", ack.topic).inc()
            if key is not None:
                self.window.remember(key, (body_digest, [ack]))

        async def publish() -> tuple[str, list[Ack]]:
            # A body in several parts that fails half-way is answered 503 and sent whole again: the parts already
            # written come twice, and the worker's de-duplication by event id absorbs them.
            return body_digest, [await self.sink.send(topic, part, key_bytes, f"gateway:{source.name}",
                                                      late if len(parts) == 1 else None) for part in parts]  # fmt: skip

        try:
            (first_digest, acks), duplicate = await self.window.once(key, publish)
        except Unavailable as exc:
            return self._unavailable(request, exc)
        if first_digest != body_digest:  # draft-ietf-httpapi-idempotency-key-header: 422 for a re-used key
            return self._refuse(request, 422, f"{IDEMPOTENCY_HEADER} {given!r} was used within the window for "
                                "another body; send this one with a key of its own")
        self.counts["202"] += 1
        if not duplicate:
            self.metrics.accepted.labels(source.name, fmt).inc()
            self.metrics.records_out.labels("gateway", topic).inc(len(acks))
        answer = {"status": "accepted", "format": fmt, "bytes": len(body), "duplicate": duplicate, **acks[0].as_dict()}
        if len(acks) > 1:
            answer["parts"] = [a.as_dict() for a in acks]
        return _json(202, answer)


def create_app(config: GatewayConfig, sink: RawSink) -> web.Application:
    gw = Gateway(config, sink)
    # aiohttp enforces the size while reading, so an oversized chunked body is cut off too
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=[gw.metrics.middleware])
    app[_SINK] = sink
    app[_GATEWAY] = gw
    app.router.add_post("/ingest/{format}", gw.ingest)
    app.router.add_post("/ingest", gw.ingest)
    app.router.add_post("/v3/events", gw.dcsa_v3)
    app.router.add_route("HEAD", "/v2/notifications/{source}", gw.dcsa_v2_check)
    app.router.add_post("/v2/notifications/{source}", gw.dcsa_v2)
    app.router.add_get("/health", gw.health, allow_head=False)
    app.router.add_get("/healthz", gw.healthz, allow_head=False)
    app.router.add_get("/readyz", gw.readyz, allow_head=False)
    app.router.add_get("/metrics", gw.prometheus, allow_head=False)
    app.router.add_get("/openapi.json", gw.openapi, allow_head=False)

    async def start_watch(_: web.Application) -> None:
        await gw.watch.check()  # ready or not from the first answer on, not a second later
        app[_WATCH] = asyncio.get_running_loop().create_task(gw.watch.run())

    async def close(_: web.Application) -> None:
        if (task := app.get(_WATCH)) is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await sink.close()

    app.on_startup.append(start_watch)
    app.on_cleanup.append(close)
    return app

