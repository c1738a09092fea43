"""The subscriptions API, on 127.0.0.1 unless told otherwise (--host): GET/PUT/DELETE /subscriptions[/id],
GET /stats. Changes are written to the subscriptions file before the response. Secrets are accepted, never
returned. An optional bearer token guards it (--admin-token / CORRIDOR_NOTIFY_TOKEN), except `GET /metrics`
(Prometheus) and `GET /healthz` (liveness), which hold no subscription and no secret."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from streams.consumers.notify.subscriptions import Subscription, SubscriptionBook

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OPEN = frozenset({"/metrics", "/healthz"})  # no bearer token: what a scraper and a kubelet call


def _errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)]


def admin_app(book: SubscriptionBook, token: str | None = None,
              stats: Callable[[], dict[str, Any]] | None = None,
              metrics: Callable[[], tuple[bytes, str]] | None = None) -> web.Application:
    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and request.path not in _OPEN:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.json_response({"error": "unauthorized"}, status=401)
        return await handler(request)

    async def list_all(_: web.Request) -> web.Response:
        return web.json_response({"subscriptions": [s.public() for s in book.all()]})

    async def get_one(request: web.Request) -> web.Response:
        sub = book.get(request.match_info["id"])
        if sub is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(sub.public())

    async def put_one(request: web.Request) -> web.Response:
        sub_id = request.match_info["id"]
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        if body.get("id", sub_id) != sub_id:
            return web.json_response({"error": "id in the body differs from the path"}, status=400)
        existing = book.get(sub_id)
        if "secret" not in body and existing is not None:
            body["secret"] = existing.secret  # a PUT without the secret keeps it (GET never shows it)
        try:
            sub = Subscription.model_validate({**body, "id": sub_id})
        except ValidationError as exc:
            return web.json_response({"error": "invalid subscription", "details": _errors(exc)}, status=400)
        created = book.put(sub)
        return web.json_response(sub.public(), status=201 if created else 200)

    async def delete_one(request: web.Request) -> web.Response:
        if not book.delete(request.match_info["id"]):
            return web.json_response({"error": "not found"}, status=404)
        return web.Response(status=204)

    async def get_stats(_: web.Request) -> web.Response:
        return web.json_response(stats() if stats else {})

    async def get_metrics(_: web.Request) -> web.Response:
        if metrics is None:
            return web.json_response({"error": "no metrics"}, status=404)
        body, content_type = metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[auth])
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/subscriptions", list_all)
    app.router.add_get("/subscriptions/{id}", get_one)
    app.router.add_put("/subscriptions/{id}", put_one)
    app.router.add_delete("/subscriptions/{id}", delete_one)
    app.router.add_get("/stats", get_stats)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start the API; returns the runner (to clean up) and the bound port (port 0 = any free one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port  # type: ignore[union-attr]
    return runner, bound
