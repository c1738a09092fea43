"""The subscriptions API: GET/PUT/DELETE /subscriptions[/id], GET /stats. Changes are written to the
subscriptions file before the response. Secrets are accepted, never returned.

Who may call it: the admin token (--admin-token / CORRIDOR_NOTIFY_TOKEN), or an operations credential (`*`) from
the installation's API keys or OIDC tokens (docs/security.md); a customer's credential is refused (403), because a
subscription sees every customer's alerts. Without any credentials it is served on loopback only. Requests must
name this service in their Host header (a web page cannot reach it by DNS rebinding), a PUT must be JSON, and a
webhook must point at a public address unless its network is allowed (streams/security/addresses.py).
`GET /metrics` (Prometheus), `GET /healthz` (liveness) and `GET /readyz` (503 while the Kafka broker is unreachable)
need neither: they hold no subscription and no secret."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from streams.consumers.notify.subscriptions import Subscription, SubscriptionBook
from streams.security.addresses import TargetPolicy, TargetRefused
from streams.security.credentials import Authenticator, Forbidden, Unauthorized
from streams.security.ratelimit import RateLimiter, retry_after

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OPEN = frozenset({"/metrics", "/healthz", "/readyz"})  # no bearer token: what a scraper and a kubelet call


def _errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)]


LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def host_names(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host header values (without port) the API answers: loopback names, the address it binds (unless a
    wildcard), and those configured."""
    names = {*LOCAL_NAMES, *(h.strip().lower().strip("[]") for h in extra if h.strip())}
    if bound not in ("0.0.0.0", "::", ""):
        names.add(bound.lower().strip("[]"))
    return frozenset(names)


def _host_of(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def admin_app(book: SubscriptionBook, token: str | None = None,
              stats: Callable[[], dict[str, Any]] | None = None, *, credentials: Authenticator | None = None,
              targets: TargetPolicy | None = None, hosts: frozenset[str] = LOCAL_NAMES,
              limiter: RateLimiter | None = None,
              metrics: Callable[[], tuple[bytes, str]] | None = None,
              not_ready: Callable[[], str | None] | None = None) -> web.Application:  # fmt: skip
    targets = targets if targets is not None else TargetPolicy()
    open_ = not token and (credentials is None or not credentials.configured)

    def unauthorized(message: str) -> web.Response:
        return web.json_response({"error": "unauthorized", "message": message}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="corridor-notify"'})

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in _OPEN:  # a scraper's or a kubelet's call, by pod address: holds nothing to protect
            return await handler(request)
        if _host_of(request.headers.get("Host", "")) not in hosts:
            return web.json_response({"error": "misdirected", "message": "unexpected Host header"}, status=421)
        if open_:
            return await handler(request)
        given = request.headers.get("Authorization", "")
        who = "admin-token"
        if not (token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())):
            if credentials is None or not credentials.configured:
                return unauthorized("credentials required: `Authorization: Bearer <admin token>`")
            try:
                tenant = await credentials.tenant(given)
            except Unauthorized as exc:
                return unauthorized(str(exc))
            except Forbidden as exc:
                return web.json_response({"error": "forbidden", "message": str(exc)}, status=403)
            if not tenant.every_customer:
                return web.json_response({"error": "forbidden", "message": "subscriptions see every customer's "
                                          "alerts: operations credentials ('*') only"}, status=403)
            who = tenant.subject
        if limiter is not None and (wait := limiter.take(who)):
            return web.json_response({"error": "too_many_requests", "message": f"retry in {wait:.1f} s"},
                                     status=429, headers={"Retry-After": retry_after(wait)})
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
        if request.content_type != "application/json":
            return web.json_response({"error": "the body must be JSON (Content-Type: application/json)"}, status=415)
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
        if sub.webhook:
            try:
                await targets.check_url(sub.webhook)
            except TargetRefused as exc:
                return web.json_response({"error": "invalid subscription", "details": [f"webhook: {exc}"]},
                                         status=400)
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

    async def readyz(_: web.Request) -> web.Response:
        reason = not_ready() if not_ready else None  # why not, e.g. the Kafka broker is unreachable
        return web.json_response({"ready": reason is None, "reason": reason}, status=200 if reason is None else 503)

    app = web.Application(middlewares=[guard], client_max_size=256 * 1024)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/subscriptions", list_all)
    app.router.add_get("/subscriptions/{id}", get_one)
    app.router.add_put("/subscriptions/{id}", put_one)
    app.router.add_delete("/subscriptions/{id}", delete_one)
    app.router.add_get("/stats", get_stats)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start the API; returns the runner (to clean up) and the bound port (port 0 = any free one)."""
    from streams.security import quietlog

    quietlog.install()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    bound = server.sockets[0].getsockname()[1] if server and server.sockets else port  # type: ignore[union-attr]
    return runner, bound
