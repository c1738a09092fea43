"""The notify subscriptions API over real HTTP (aiohttp): who may call it, the Host header, JSON bodies, webhook
targets refused when saved and when sent (DNS rebinding), the refusal to start open beyond loopback, and one quiet
log line for a request line over aiohttp's limit."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from streams.consumers.notify.admin import admin_app, host_names, serve
from streams.consumers.notify.channels import DeliveryError, WebhookChannel
from streams.consumers.notify.messages import Message
from streams.consumers.notify.service import NotifyConfig, NotifyService
from streams.consumers.notify.subscriptions import Subscription, SubscriptionBook
from streams.security.addresses import GuardedResolver, TargetPolicy
from streams.security.credentials import Authenticator, key_digest
from streams.security.exposure import OpenExposure
from streams.security.tenants import Tenant
from streams.settings import Settings

OPS, ACME = "ops-key-0123456789abcdef", "acme-key-0123456789abcdef"


async def _api(tmp_path: Path, **kw: Any) -> tuple[web.AppRunner, str, SubscriptionBook]:
    book = SubscriptionBook(tmp_path / "subs.yaml")
    runner, port = await serve(admin_app(book, **kw), "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}", book


async def test_only_operations_credentials_manage_subscriptions(tmp_path: Path):
    creds = Authenticator({key_digest(OPS): Tenant.of("ops", "*"), key_digest(ACME): Tenant.of("acme", "ACME")})
    runner, base, _ = await _api(tmp_path, credentials=creds)
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/subscriptions", "/stats", "/subscriptions/x"):
                async with http.get(base + path) as r:
                    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
            async with http.get(base + "/subscriptions", headers={"Authorization": f"Bearer {ACME}"}) as r:
                assert r.status == 403 and "operations" in (await r.json())["message"]
            async with http.get(base + "/subscriptions", headers={"Authorization": f"Bearer {OPS}"}) as r:
                assert r.status == 200
            async with http.delete(base + "/subscriptions/x", headers={"Authorization": "Bearer nope-nope-nope"}) as r:
                assert r.status == 401
    finally:
        await runner.cleanup()


async def test_host_header_content_type_and_webhook_targets_are_checked(tmp_path: Path):
    runner, base, book = await _api(tmp_path, token="tok")
    auth = {"Authorization": "Bearer tok"}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/subscriptions", headers={**auth, "Host": "attacker.example"}) as r:
                assert r.status == 421
            async with http.get(base + "/subscriptions", headers={**auth, "Host": "localhost:8089"}) as r:
                assert r.status == 200
            async with http.put(base + "/subscriptions/a", headers={**auth, "Content-Type": "text/plain"},
                                data=b'{"webhook": "https://93.184.215.14/h"}') as r:
                assert r.status == 415
            for url, says in [("http://169.254.169.254/latest/meta-data/", "link-local"),
                              ("http://127.0.0.1:6070/internal", "loopback"), ("http://10.0.0.8/x", "private"),
                              ("http://[::ffff:169.254.169.254]/", "link-local"),
                              ("http://localhost:6066/api/delayed", "loopback"),
                              ("http://no-such-host.invalid/", "cannot resolve")]:
                async with http.put(base + "/subscriptions/a", headers=auth, json={"webhook": url}) as r:
                    body = await r.json()
                    assert r.status == 400 and says in body["details"][0], (url, body)
            assert book.all() == []
            async with http.put(base + "/subscriptions/a", headers=auth,
                                json={"webhook": "https://93.184.215.14/h"}) as r:
                assert r.status == 201
    finally:
        await runner.cleanup()
    # Allowed networks, and the names the API answers to, are configuration.
    runner, base, _ = await _api(tmp_path, token="tok", targets=TargetPolicy.of(["10.0.0.0/8"]),
                                 hosts=host_names("0.0.0.0", ["notify.ops.internal"]))
    try:
        async with aiohttp.ClientSession() as http, http.put(
                base + "/subscriptions/b", headers={**auth, "Host": "notify.ops.internal"},
                json={"webhook": "http://10.0.0.8/x"}) as r:
            assert r.status == 201
    finally:
        await runner.cleanup()


class _Rebinding:
    """DNS (which cannot run here) for one name: it points at the receiver's public face when the subscription is
    saved and at loopback later."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[dict]:
        return [{"hostname": host, "host": self.address, "port": port, "family": 2, "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


async def test_webhooks_are_refused_at_send_time_too(tmp_path: Path):
    hits: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", receive)
    runner, port = await serve(app, "127.0.0.1", 0)
    message = Message(sub_id="s", kind="alerts", unit="U", idempotency_key="i", body=b"{}", alert_ids=[], subject="s",
                      text="s")
    strict = TargetPolicy()
    try:
        # A name that now resolves to loopback (rebinding): the connection is never made.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                resolver=GuardedResolver(strict, _Rebinding("127.0.0.1")))) as session:  # fmt: skip
            channel = WebhookChannel(session, 3.0, strict)
            with pytest.raises(DeliveryError, match="loopback"):
                await channel.send(Subscription(id="s", webhook=f"http://hooks.example:{port}/a"), message, 1)
            with pytest.raises(DeliveryError, match="loopback") as refused:  # an address in the URL itself
                await channel.send(Subscription(id="s", webhook=f"http://127.0.0.1:{port}/b"), message, 1)
            assert refused.value.permanent
        # Allowed by configuration: delivered.
        allowed = TargetPolicy.of(["127.0.0.0/8"])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                resolver=GuardedResolver(allowed, _Rebinding("127.0.0.1")))) as session:  # fmt: skip
            await WebhookChannel(session, 3.0, allowed).send(
                Subscription(id="s", webhook=f"http://hooks.example:{port}/c"), message, 1)
        assert hits == ["/c"]
    finally:
        await runner.cleanup()


async def test_notify_refuses_to_serve_open_beyond_loopback(tmp_path: Path):
    config = NotifyConfig(subscriptions=tmp_path / "s.yaml", store=tmp_path / "n.sqlite", host="0.0.0.0", port=0)
    with pytest.raises(OpenExposure, match="notify subscriptions API"):
        await NotifyService(Settings(), "127.0.0.1:1", config).start()


async def test_an_overlong_request_line_logs_one_quiet_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    runner, base, _ = await _api(tmp_path, token="tok")
    port = int(base.rsplit(":", 1)[1])
    try:
        with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
            for size in (100_000, 1_000_000):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /subscriptions/" + b"A" * size + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                with_status = await reader.read(200)
                assert with_status.split(b"\r\n")[0].endswith(b"400 Bad Request"), with_status
                writer.close()
        records = [r for r in caplog.records if r.name == "aiohttp.server"]
        assert records and all(r.levelno < logging.WARNING and r.exc_info is None for r in records), records
        assert "refused a malformed request" in records[0].getMessage()
    finally:
        await runner.cleanup()
