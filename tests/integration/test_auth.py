"""Who may see what, on two real workers over the real embedded broker: two customers' tenants (an API key each,
one of them also as an OIDC token) and operations staff (`*`). Every endpoint is read by each tenant from both
workers (so both the owner's answer and a forwarded one are checked); another tenant's unit or shipment is a 404
that reads like an unknown one; expired, malformed and mis-signed tokens are refused; a forwarded request is
answered only when signed and carrying a tenant; a credential that asks too often is told to wait."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.api import _MARK, register
from streams.api.routing import HOP_HEADER
from streams.bootstrap import build_worker
from streams.broker.embedded import EmbeddedBroker
from streams.io.kafka import OutputReader, Publisher
from streams.security.credentials import key_digest
from streams.security.exposure import OpenExposure
from streams.security.forwarding import ForwardSigner
from streams.security.ratelimit import RateLimiter
from streams.security.tenants import Tenant
from streams.settings import Settings
from streams.topology.app import Topology, create_app
from streams.topology.runner import wait_ready
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, d, plan, tick
from tests.integration.test_api import (
    LOADED,
    SHIPMENT_RECORDS,
    free_port,
    fresh_settings,
    get,
    until,
)
from tests.support.shipment_flows import AWB

pytestmark = pytest.mark.integration

SECRET = "forwarding-secret-for-the-test-group"
KEYS = {"acme": "acme-key-0123456789abcdef", "globex": "globex-key-0123456789abcdef",
        "ops": "ops-key-0123456789abcdef"}
ISSUER, AUDIENCE = "https://login.example.test/", "corridor"
HUB = "PLMAL"  # both units are bound for Malaszewicze


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def _rsa() -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private, json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))


def token(private: Any, kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "globex-user", "iat": now, "exp": now + 300,
            "corridor_customers": ["Globex"], **claims}
    return jwt.encode(body, private, algorithm="RS256", headers={"kid": kid})


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@contextlib.asynccontextmanager
async def serving(bootstrap: str, *settings: Settings) -> AsyncIterator[list[Topology]]:
    """Workers with the API, started together (test_api.serving_all, keeping the topologies)."""
    topologies = [create_app(s, bootstrap) for s in settings]
    for t, s in zip(topologies, settings, strict=True):
        register(t, s)
    try:
        await asyncio.gather(*(t.app.start() for t in topologies))
        for t in topologies:
            await wait_ready(t)
        yield topologies
    finally:
        for t in topologies:
            await t.app.stop()


@pytest.fixture(scope="module")
async def group(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("auth")
    keys_file = root / "keys.yaml"
    keys_file.write_text(yaml.safe_dump({"keys": [
        {"name": "acme", "sha256": key_digest(KEYS["acme"]), "customers": ["ACME", "e-shop"]},
        {"name": "globex", "sha256": key_digest(KEYS["globex"]), "customers": ["Globex"]},
        {"name": "ops", "key": KEYS["ops"], "customers": "*"},
    ]}))
    private, public = _rsa()
    jwks = root / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**public, "kid": "k1", "use": "sig"}]}))
    first = await fresh_settings(bootstrap, root / "a", auth_keys_file=keys_file, auth_jwks=str(jwks),
                                 auth_issuer=ISSUER, auth_audience=AUDIENCE, forward_secret=SECRET,
                                 rate_limit=1000, rate_burst=1000)
    second = first.model_copy(update={"data_dir": root / "b", "web_port": free_port()})
    topics = TopicNames(first.topic_prefix)
    ops = bearer(KEYS["ops"])
    a, b = (f"http://127.0.0.1:{s.web_port}" for s in (first, second))
    async with (serving(bootstrap, first, second) as topologies, OutputReader(bootstrap, topics) as reader,
                aiohttp.ClientSession() as http):
        for base in (a, b):
            await until(http, f"{base}/readyz", lambda s, body: s == 200 and len(body["partitions"]) == 2)
        # The e-shop's split air waybill first (the story's clock tick would make its records late), at once: the
        # jobs take records in timestamp order across topics, and the exact replay order does not matter here.
        async with Publisher(bootstrap, topics, PARTITIONS, stamped=True) as pub:
            await pub.send_all(SHIPMENT_RECORDS[:LOADED])
        await until(http, f"{a}/api/delayed/shipments", lambda s, body: s == 200 and body["total"] == 1,
                    timeout=90, headers=ops)
        async with Publisher(bootstrap, topics, PARTITIONS) as pub:
            await pub.send_all([plan().model_copy(update={"customer": "ACME"}),
                                plan(OTHER).model_copy(update={"customer": "Globex"})])
            await reader.wait_for(lambda r: {UNIT.id, OTHER.id} <= {t["unit"]["id"] for t in r.of("timeline")})
            await pub.send_all([tick(d(6, 7))])  # neither has left Chongqing: both overdue
            await reader.wait_for(lambda r: {UNIT.id, OTHER.id} <= {x["unit"]["id"] for x in r.of("alert")})
        await until(http, f"{a}/api/delayed", lambda s, body: s == 200 and {UNIT.id, OTHER.id} <= {
            r["unit"]["id"] for r in body["items"]}, timeout=90, headers=ops)  # fmt: skip
        await until(http, f"{a}/api/delayed/shipments", lambda s, body: s == 200 and body["total"] == 1, headers=ops)
        yield {"a": a, "b": b, "http": http, "private": private, "workers": (a, b), "topologies": topologies}


def _units(body: dict[str, Any], *keys: str) -> set[str]:
    return {row["unit"]["id"] for k in keys for row in body[k]}


async def _read(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with http.get(url, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def test_each_tenant_reads_its_own_customers_on_every_endpoint(group):
    http = group["http"]
    acme, globex, ops = bearer(KEYS["acme"]), bearer(token(group["private"])), bearer(KEYS["ops"])
    for base in group["workers"]:
        # Unit detail: the owner answers, or the other worker forwards with the tenant; a foreign unit reads exactly
        # like a unit nobody tracks.
        for who, mine, theirs in ((acme, UNIT, OTHER), (globex, OTHER, UNIT)):
            status, body = await _read(http, f"{base}/api/units/{mine.id}", who)
            assert status == 200 and body["unit"]["id"] == mine.id and body["plan"]["customer"] in ("ACME", "Globex")
            status, body = await _read(http, f"{base}/api/units/{theirs.id}", who)
            unknown = "TGHU1234567"
            status_u, body_u = await _read(http, f"{base}/api/units/{unknown}", who)
            assert (status, status_u) == (404, 404)
            assert body["message"] == body_u["message"].replace(unknown, theirs.id)
        # Shipment detail: the e-shop's air waybill is ACME's tenant's (it lists e-shop), not Globex's.
        status, body = await _read(http, f"{base}/api/shipments/{AWB}", acme)
        assert status == 200 and body["timeline"]["customer"] == "e-shop"
        status, body = await _read(http, f"{base}/api/shipments/{AWB}", globex)
        status_u, body_u = await _read(http, f"{base}/api/shipments/020-12345675", globex)
        assert (status, status_u) == (404, 404) and body["message"] == body_u["message"].replace("020-", "580-")
        # Alert lists (units and shipments), delayed lists and hub views are filtered on every worker.
        # Operations staff see both tenants' and more (the air waybill's trailer has its own plan, naming no
        # customer: its alerts are theirs alone).
        for who, units, shipments in ((acme, {UNIT.id}, {AWB}), (globex, {OTHER.id}, set()),
                                      (ops, {UNIT.id, OTHER.id}, {AWB})):  # fmt: skip
            exact = who is not ops
            _, page = await _read(http, f"{base}/api/alerts?limit=100", who)
            assert page["coverage"]["complete"]
            seen = {x["unit"]["id"] for x in page["items"] if x["record"] == "alert"}
            assert seen == units if exact else seen >= units, page
            assert {x["shipment"]["id"] for x in page["items"] if x["record"] == "shipment_alert"} == shipments
            _, closed = await _read(http, f"{base}/api/alerts?open=false", who)
            assert not exact or {x["unit"]["id"] for x in closed["items"] if x["record"] == "alert"} <= units
            _, delayed = await _read(http, f"{base}/api/delayed", who)
            seen = {r["unit"]["id"] for r in delayed["items"]}
            assert seen == units and delayed["total"] == len(units) if exact else seen >= units
            _, delayed = await _read(http, f"{base}/api/delayed/shipments", who)
            assert {r["shipment"]["id"] for r in delayed["items"]} == shipments
            _, risk = await _read(http, f"{base}/api/at-risk", who)
            assert risk["coverage"]["complete"]
            assert not exact or {(r["unit"] or r["shipment"])["id"] for r in risk["items"]} <= units | shipments
            _, hub = await _read(http, f"{base}/api/hubs/{HUB}/units", who)
            seen = _units(hub, "at", "bound")
            assert (seen == units if exact else seen >= units) and hub["coverage"]["complete"]
            status, hubs = await _read(http, f"{base}/api/hubs", who)
            assert status == 200 and hubs["items"]


async def test_without_credentials_only_the_page_probes_and_description_answer(group):
    http = group["http"]
    for base in group["workers"]:
        for path in (f"/api/units/{UNIT.id}", f"/api/shipments/{AWB}", "/api/alerts", "/api/delayed",
                     "/api/delayed/shipments", "/api/at-risk", "/api/hubs", f"/api/hubs/{HUB}/units",
                     "/api/nothing"):
            status, body, headers = await get(http, base + path)
            assert status == 401 and body["error"] == "unauthorized", path
            assert headers["WWW-Authenticate"] == 'Bearer realm="corridor"'
            status, body, headers = await get(http, base + path, headers={"Authorization": "Basic b3BzOm9wcw=="})
            assert status == 401 and "invalid_token" in headers["WWW-Authenticate"], path
        for path in ("/", "/static/app.js", "/healthz", "/api/openapi.json"):
            async with http.get(base + path) as r:
                assert r.status == 200, path
        status, _, _ = await get(http, base + "/readyz")
        assert status == 200


async def test_expired_malformed_and_mis_signed_tokens_are_refused(group):
    http, base, private = group["http"], group["a"], group["private"]
    intruder, _ = _rsa()
    now = int(time.time())
    cases = {
        "expired": (token(private, exp=now - 120, iat=now - 600), "expired"),
        "mis-signed": (token(intruder), "signature does not verify"),
        "unknown key": (token(intruder, kid="k9"), "unknown key"),
        "malformed": ("abc.def.ghi", "malformed token"),
        "tampered": (token(private)[:-4] + "AAAA", "signature"),
        "wrong audience": (token(private, aud="someone-else"), "Audience"),
        "wrong issuer": (token(private, iss="https://evil.example/"), "issuer"),
        "alg none": (jwt.encode({"sub": "x", "exp": now + 60, "corridor_customers": "*"}, None, algorithm="none"),
                     "not accepted"),
        "HS256 with the public key": (jwt.encode({"sub": "x", "exp": now + 60, "corridor_customers": "*"},
                                                 "k" * 32, algorithm="HS256", headers={"kid": "k1"}),
                                      "not accepted"),
        "unknown API key": ("not-a-key-0123456789", "unknown API key"),
    }
    for name, (credential, says) in cases.items():
        status, body, _ = await get(http, f"{base}/api/delayed", headers=bearer(credential))
        assert status == 401 and says in body["message"], (name, body)
    status, body, _ = await get(http, f"{base}/api/delayed", headers=bearer(token(private, corridor_customers=None)))
    assert status == 403 and "corridor_customers" in body["message"]


async def test_forwarded_requests_need_the_group_secret_and_a_tenant(group):
    http, a, b = group["http"], group["a"], group["b"]
    owner = {}
    for base in (a, b):
        _, ready, _ = await get(http, f"{base}/readyz")
        owner.update({p: base for p in ready["partitions"]})
    home = owner[partition_for(UNIT.id.encode(), PARTITIONS)]
    path = f"/api/units/{UNIT.id}"
    # A made-up hop header, with or without a tenant, is refused (it used to be answered).
    status, body, _ = await get(http, home + path, headers={HOP_HEADER: a})
    assert status == 401 and "without a tenant" in body["message"]
    forged = ForwardSigner("another-secret-of-sixteen+").headers("GET", f"{path}?", a, Tenant.of("x", "*"))
    status, body, _ = await get(http, home + path, headers=forged)
    assert status == 401 and "bad signature" in body["message"]
    signer = ForwardSigner(SECRET)
    no_tenant = {k: v for k, v in signer.headers("GET", f"{path}?", a, Tenant.of("x", "*")).items()
                 if k != "X-Corridor-Tenant"}
    status, body, _ = await get(http, home + path, headers=no_tenant)
    assert status == 401 and "without a tenant" in body["message"]
    stale = signer.headers("GET", f"{path}?", a, Tenant.of("x", "*"), now=time.time() - 600)
    status, body, _ = await get(http, home + path, headers=stale)
    assert status == 401 and "too old" in body["message"]
    # Signed for a tenant: answered for that tenant only (and a signature covers its own path only).
    for tenant, expected in ((Tenant.of("g", ["Globex"]), 404), (Tenant.of("a", ["ACME"]), 200)):
        status, _, _ = await get(http, home + path, headers=signer.headers("GET", f"{path}?", a, tenant))
        assert status == expected
    replayed = signer.headers("GET", f"{path}?", a, Tenant.of("x", "*"))
    status, _, _ = await get(http, f"{home}/api/units/{OTHER.id}", headers=replayed)
    assert status == 401


async def test_a_credential_that_asks_too_often_waits(group):
    http, base = group["http"], group["a"]
    api = getattr(group["topologies"][0].app, _MARK)
    saved = api.guard.limiter
    api.guard.limiter = RateLimiter(rate=1.0, burst=3)
    try:
        statuses = []
        for _ in range(5):
            status, body, headers = await get(http, f"{base}/api/hubs", headers=bearer(KEYS["acme"]))
            statuses.append(status)
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        assert body["error"] == "too_many_requests" and int(headers["Retry-After"]) >= 1
        # Per credential: another one is not held back.
        status, _, _ = await get(http, f"{base}/api/hubs", headers=bearer(KEYS["globex"]))
        assert status == 200
        await asyncio.sleep(1.1)
        status, _, _ = await get(http, f"{base}/api/hubs", headers=bearer(KEYS["acme"]))
        assert status == 200
    finally:
        api.guard.limiter = saved


async def test_no_worker_serves_open_beyond_loopback(bootstrap: str, tmp_path: Path):
    settings = await fresh_settings(bootstrap, tmp_path, web_host="0.0.0.0")
    with pytest.raises(OpenExposure, match="refusing to serve the query API"):
        build_worker(settings, bootstrap)
    wide = await fresh_settings(bootstrap, tmp_path / "w", web_bind="0.0.0.0")
    with pytest.raises(OpenExposure):
        build_worker(wide, bootstrap)
    # Said explicitly, it starts (and warns); with credentials it needs no permission.
    build_worker(settings.model_copy(update={"allow_open": True}), bootstrap)
    keys = tmp_path / "keys.yaml"
    keys.write_text(yaml.safe_dump({"keys": [{"name": "ops", "key": KEYS["ops"], "customers": "*"}]}))
    build_worker(settings.model_copy(update={"auth_keys_file": keys}), bootstrap)


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium: .ci/install-browser")
async def test_the_page_signs_in_and_shows_only_the_tenants_units(group):
    playwright_api = pytest.importorskip("playwright.async_api")
    from tests.integration.test_web import CHROMIUM_ARGS

    base = group["b"]
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context()).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(base + "/?refresh=500")
            dialog = page.locator("[data-testid=signin]")
            await dialog.wait_for()
            await page.fill("[data-testid=signin-token]", "wrong-key-0123456789")
            await page.click("[data-testid=signin-button]")
            await page.locator("[data-testid=signin-error]", has_text="unknown API key").wait_for()
            await page.fill("[data-testid=signin-token]", KEYS["acme"])
            await page.click("[data-testid=signin-button]")
            board = page.locator("[data-testid=delayed-list]")
            await board.locator(f"li[data-unit='{UNIT.id}']").wait_for()
            units = await board.locator("li[data-unit]").evaluate_all("els => els.map(e => e.dataset.unit)")
            assert units == [UNIT.id]  # not Globex's container, not the trailer of no customer
            assert await dialog.is_hidden() and await page.locator("[data-testid=signout]").is_visible()
            await page.locator("[data-testid=delayed-shipments-list] li[data-shipment]").first.wait_for()
            # Another customer's container is not found, as if nobody tracked it.
            await page.fill("[data-testid=search-input]", OTHER.id)
            await page.click("[data-testid=search-button]")
            await page.locator("[data-testid=message]", has_text="Not found").wait_for()
            assert f"no container {OTHER.id} is tracked" in await page.inner_text("[data-testid=message]")
            # Signing out forgets the key: the page asks again.
            await page.click("[data-testid=signout]")
            await dialog.wait_for()
            assert await page.evaluate("sessionStorage.getItem('corridor.token')") is None
            assert errors == []
        finally:
            await browser.close()


def test_the_worker_command_refuses_to_serve_open_beyond_loopback(tmp_path: Path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")} | {
        "CORRIDOR_HOME": str(tmp_path / "home"), "CORRIDOR_WEB_HOST": "0.0.0.0"}
    done = subprocess.run([sys.executable, "-m", "streams", "worker"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "refusing to serve" in " ".join(done.stderr.split()), done.stderr
    (tmp_path / "keys.yaml").write_text("keys: []\n")
    done = subprocess.run([sys.executable, "-m", "streams", "worker"], capture_output=True, text=True, timeout=60,
                          env={**env, "CORRIDOR_AUTH_KEYS_FILE": str(tmp_path / "keys.yaml")})
    assert done.returncode == 2 and "lists no key" in " ".join(done.stderr.split()), done.stderr
