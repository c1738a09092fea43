"""Alert delivery on the real embedded broker: a real worker raises the alerts from crafted plans and events,
real HTTP servers (one answering 200, one always 500, one slow) and a real SMTP server receive them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import typer
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from schemas import ShipmentRefs, TrackedUnit
from streams.broker.embedded import free_port
from streams.consumers.common import FAST
from streams.consumers.notify.admin import admin_app, serve
from streams.consumers.notify.delivery import RetryPolicy
from streams.consumers.notify.service import NotifyConfig, NotifyService, dead_letter_topic
from streams.consumers.notify.signing import HEADER, verify
from streams.consumers.notify.subscriptions import SubscriptionBook
from streams.interfaces.consumers_cli import register
from streams.io.kafka import OutputReader, Publisher
from streams.settings import Settings
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, d, event, journey, plan
from tests.integration.test_api import until

pytestmark = pytest.mark.integration

THIRD = TrackedUnit.container("TGHU7654320")
SECRET = "s3cret"
WINDOW = 1.0  # the two alerts of a unit are raised within milliseconds: one message


@dataclass
class Receiver:
    """A webhook endpoint: records every request (path, headers, raw body, when it arrived)."""

    status: int = 200
    delay: float = 0.0
    calls: list[dict[str, Any]] = field(default_factory=list)
    done: list[float] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.calls.append({"path": request.path, "headers": dict(request.headers), "raw": body,
                           "body": json.loads(body), "at": time.monotonic()})
        if self.delay:
            await asyncio.sleep(self.delay)
        self.done.append(time.monotonic())
        return web.Response(status=self.status)

    def on(self, path: str, kind: str = "corridor.delay-alerts") -> list[dict[str, Any]]:
        return [c["body"] for c in self.calls if c["path"] == path and c["body"]["type"] == kind]

    def alert_ids(self, path: str) -> list[str]:
        return [a for b in self.on(path) for a in b["alert_ids"]]


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook name
        self.messages.append(envelope.content.decode())
        return "250 OK"


async def _start(receiver: Receiver) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner, port = await serve(app, "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def endpoints() -> AsyncIterator[dict[str, Any]]:
    good, failing, slow = Receiver(), Receiver(status=500), Receiver(delay=1.0)
    started = [await _start(r) for r in (good, failing, slow)]
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        yield {"good": good, "failing": failing, "slow": slow, "mail": mailbox, "smtp_port": smtp.port,
               "urls": {name: url for name, (_, url) in zip(("good", "failing", "slow"), started, strict=True)}}
    finally:
        smtp.stop()
        for runner, _ in started:
            await runner.cleanup()


def _subscriptions(path: Path, urls: dict[str, str], smtp_port: int) -> None:
    content = {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "corridor@test"},
        "subscriptions": [
            {"id": "all", "webhook": f"{urls['good']}/all", "secret": SECRET},
            {"id": "acme-critical", "webhook": f"{urls['good']}/acme",
             "filters": {"customers": ["acme motors"], "severities": ["CRITICAL"]}},
            {"id": "booking", "webhook": f"{urls['good']}/booking", "filters": {"shipments": ["bk-unit"]}},
            {"id": "failing", "webhook": f"{urls['failing']}/hook", "filters": {"units": [OTHER.id]}},
            {"id": "slow", "webhook": f"{urls['slow']}/hook", "secret": "slow-secret"},
            {"id": "mail", "email": ["ops@example.com"], "filters": {"units": [UNIT.id], "kinds": ["LATE"]}},
        ],
    }
    path.write_text(json.dumps(content))


def _config(tmp_path: Path, group: str, **over: Any) -> NotifyConfig:
    base = dict(subscriptions=tmp_path / "subscriptions.json", store=tmp_path / "notify.sqlite", group=group,
                window=WINDOW, retry=RetryPolicy(attempts=3, base=0.05, max_delay=0.2, timeout=3.0), port=0,
                context_wait=5.0, commit_interval=0.2, tuning=FAST,
                webhook_allow=("127.0.0.0/8",))  # the test receivers are local (webhooks go to public addresses)
    return NotifyConfig(**{**base, **over})  # type: ignore[arg-type]


async def _until(predicate: Any, timeout: float = 30.0, what: str = "", show: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}: {show() if show else ''}")
        await asyncio.sleep(0.05)


async def _read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=700)
            if not batch:
                return out
            out += [orjson.loads(m.value) for msgs in batch.values() for m in msgs]
    finally:
        await consumer.stop()


async def test_alerts_reach_each_subscriber_once_signed_grouped_resolved_and_failures_dead_lettered(
    bootstrap: str, settings: Settings, reader: OutputReader, endpoints: dict[str, Any], tmp_path: Path
) -> None:
    good, failing, slow, mail = (endpoints[k] for k in ("good", "failing", "slow", "mail"))
    _subscriptions(tmp_path / "subscriptions.json", endpoints["urls"], endpoints["smtp_port"])
    plans = [plan(UNIT).model_copy(update={"customer": "Acme Motors"}),
             plan(OTHER).model_copy(update={"lane": "CNCKG-PLMAL", "customer": "Beta GmbH"})]
    unit_events = journey(UNIT)
    unit_events[0] = unit_events[0].model_copy(update={"shipment": ShipmentRefs(booking="BK-UNIT")})
    group = f"{settings.app_id}-notify"

    async with running(settings, bootstrap), Publisher(bootstrap, reader.topics, PARTITIONS) as pub:
        svc = await NotifyService(settings, bootstrap, _config(tmp_path, group)).start()
        try:
            # One subscription comes through the API, persisted to the file.
            async with aiohttp.ClientSession() as http:
                r = await http.put(f"http://127.0.0.1:{svc.admin_port}/subscriptions/lane-other",
                                   json={"webhook": f"{endpoints['urls']['good']}/lane",
                                         "filters": {"lanes": ["CNCKG-PLMAL"]}})
                assert r.status == 201
            saved = json.loads((tmp_path / "subscriptions.json").read_text())
            assert "lane-other" in [s["id"] for s in saved["subscriptions"]]

            await pub.send_all(plans)
            await reader.wait_for(lambda r: len(r.of("timeline")) >= 2)
            await pub.send_all([*unit_events, *journey(OTHER)])
            await reader.wait_for(lambda r: sum(t["status"] == "ARRIVED" for t in r.of("timeline")) == 2)
            # The alert topic is read on its own: its records may come in after the timelines that show them.
            await reader.wait_for(lambda r: len({a["alert_id"] for a in r.of("alert")}) >= 4, timeout=60)
            alerts = {a["alert_id"]: a for a in reader.of("alert")}
            assert len(alerts) == 4
            of = {u.id: sorted(i for i, a in alerts.items() if a["unit"]["id"] == u.id) for u in (UNIT, OTHER)}
            critical_unit = [i for i in of[UNIT.id] if alerts[i]["severity"] == "CRITICAL"]

            def resolved(receiver: Receiver, path: str) -> set[str]:
                return {a for b in receiver.on(path, "corridor.delay-resolved") for a in b["alert_ids"]}

            await _until(lambda: sorted(good.alert_ids("/all")) == sorted(alerts)
                         and resolved(good, "/all") == set(alerts), what="good endpoint",
                         show=lambda: (svc.snapshot(), [(c["path"], c["body"]) for c in good.calls]))
            # The slow endpoint's resolved notices come last; counting before they are all in would race them.
            await _until(lambda: len(slow.alert_ids("/hook")) == 4 and resolved(slow, "/hook") == set(alerts)
                         and len(slow.done) == len(slow.calls), what="slow endpoint")
            await _until(lambda: svc.stats["alerts_dead_lettered"] >= 1 and len(mail.messages) >= 2,
                         what="dead letter and mail")
            await _until(lambda: svc.snapshot()["records_in_flight"] == 0, what="all records done")
            await _notify_metrics_agree(svc, reader)
        finally:
            await svc.stop()

        # Each subscriber got exactly what its filters select, once.
        assert sorted(good.alert_ids("/all")) == sorted(alerts)
        assert good.alert_ids("/acme") == critical_unit
        assert sorted(good.alert_ids("/lane")) == of[OTHER.id]
        assert sorted(good.alert_ids("/booking")) == of[UNIT.id]
        assert sorted(slow.alert_ids("/hook")) == sorted(alerts)
        # Grouping: the two alerts of a unit (same cause: LATE) went as one message listing both.
        assert sorted(len(b["alerts"]) for b in good.on("/all")) == [2, 2]
        # Signatures verify over the raw body; the idempotency key is in a header and in the body.
        for call in [c for c in good.calls if c["path"] == "/all"]:
            assert verify(call["raw"], SECRET, call["headers"][HEADER])
            assert call["headers"]["Idempotency-Key"] == call["body"]["idempotency_key"]
        single = good.on("/acme")[0]
        assert single["idempotency_key"] == f"{critical_unit[0]}:acme-critical"
        assert HEADER not in next(c for c in good.calls if c["path"] == "/acme")["headers"]  # no secret, no signature
        # Resolved: both units arrived, so every delivered alert was closed by a notice.
        assert {b["reason"] for b in good.on("/all", "corridor.delay-resolved")} == {"ARRIVED"}
        # The slow endpoint (1 s per request) held up nobody: the good one had everything first.
        last_good = max(c["at"] for c in good.calls if c["path"] == "/all" and c["body"]["type"].endswith("alerts"))
        assert last_good < sorted(slow.done)[1], "the good endpoint waited for the slow one"
        # Failures: retried, then dead-lettered with the last error; never counted as delivered.
        keys = [c["headers"]["Idempotency-Key"] for c in failing.calls]
        assert keys and all(keys.count(k) == 3 for k in keys)  # each message: 3 attempts, same key
        letters = await _read_all(bootstrap, dead_letter_topic(settings.topic_prefix))
        assert {a for x in letters for a in x["alert_ids"]} == set(of[OTHER.id])
        assert all(x["subscription_id"] == "failing" and x["attempts"] == 3 and "HTTP 500" in x["last_error"]
                   for x in letters)
        assert not failing.on("/hook", "corridor.delay-resolved")  # nothing delivered, nothing to resolve
        # Email: the unit's LATE alerts in one mail, and the resolved notice.
        assert any("2 LATE alerts for CSQU3054383" in m for m in mail.messages)
        assert any("resolved: CSQU3054383 arrived" in m for m in mail.messages)

        counts = {k: len(r.calls) for k, r in (("good", good), ("failing", failing), ("slow", slow))}
        mails = len(mail.messages)

        # Restart with the same group, after a new alert arrived while notify was down: only that one is sent.
        await pub.send_all([plan(THIRD), event(1, "DEPARTED", "CNCKG", d(2), unit=THIRD)])
        await reader.wait_for(lambda r: len(r.of("alert")) == 5)
        new_id = reader.of("alert")[-1]["alert_id"]
        async with NotifyService(settings, bootstrap, _config(tmp_path, group)) as svc:
            await _until(lambda: new_id in good.alert_ids("/all") and new_id in slow.alert_ids("/hook"),
                         what="the new alert")
            await asyncio.sleep(1.0)
        assert good.alert_ids("/all").count(new_id) == 1
        assert len(good.calls) == counts["good"] + 1 and len(slow.calls) == counts["slow"] + 1
        assert len(failing.calls) == counts["failing"] and len(mail.messages) == mails

        # A crash that lost every committed offset (a new group re-reads from the start): the durable record of
        # delivered pairs stops every re-send.
        before = {k: len(r.calls) for k, r in (("good", good), ("failing", failing), ("slow", slow))}
        async with NotifyService(settings, bootstrap, _config(tmp_path, group + "-lost")) as svc:
            await _until(lambda: svc.stats["alerts_read"] >= 5, what="re-read")
            await asyncio.sleep(1.0)
            assert svc.stats["skipped_already_handled"] >= 5
        assert {k: len(r.calls) for k, r in (("good", good), ("failing", failing), ("slow", slow))} == before
        assert len(mail.messages) == mails


async def _notify_metrics_agree(svc: NotifyService, reader: OutputReader) -> None:
    """GET /metrics: what notify read, delivered and dead-lettered, and its lag draining to zero."""
    from prometheus_client.parser import text_string_to_metric_families

    async def scrape() -> dict[tuple[str, tuple], float]:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{svc.admin_port}/metrics") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
        return {(x.name, tuple(sorted(x.labels.items()))): x.value
                for f in text_string_to_metric_families(text) for x in f.samples}

    m = await scrape()
    assert m[("corridor_notify_records_in_total", (("topic", reader.topics.name("alert")),))] == len(
        reader.of("alert"))
    for name, n in svc.stats.items():
        kind, _, outcome = name.partition("_")
        if outcome in ("delivered", "dead_lettered"):
            assert m[("corridor_notify_messages_total", (("kind", kind), ("outcome", outcome)))] == n
    assert m[("corridor_notify_messages_total", (("kind", "alerts"), ("outcome", "dead_lettered")))] >= 1
    lagging = [v for (n, _), v in m.items() if n == "corridor_consumer_lag"]
    assert lagging  # every partition notify owns
    deadline = time.monotonic() + 20
    while any(lagging) and time.monotonic() < deadline:  # committed every 0.2 s here
        await asyncio.sleep(0.3)
        lagging = [v for (n, _), v in (await scrape()).items() if n == "corridor_consumer_lag"]
    assert lagging and not any(lagging)


async def test_subscriptions_api_validates_redacts_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "subs.yaml"
    book = SubscriptionBook(path)
    runner, port = await serve(admin_app(book, token="tok"), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}/subscriptions"
    auth = {"Authorization": "Bearer tok"}
    try:
        async with aiohttp.ClientSession() as http:
            assert (await http.get(base)).status == 401
            # What a scraper and a kubelet call needs no token (and holds no subscription).
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status == 200
            assert (await http.get(f"http://127.0.0.1:{port}/metrics")).status == 404  # this app was given none
            r = await http.put(f"{base}/ops", headers=auth, json={"webhook": "https://93.184.215.14/h", "secret": "x",
                                                                  "filters": {"severities": ["MAJOR"]}})
            assert r.status == 201 and (await r.json())["secret"] == "***"
            r = await http.put(f"{base}/ops", headers=auth, json={"webhook": "https://93.184.215.14/h2"})
            assert r.status == 200
            assert book.get("ops").secret == "x"  # kept when not sent again
            r = await http.put(f"{base}/bad", headers=auth, json={"webhook": "ftp://x", "email": ["a@b"]})
            assert r.status == 400 and (await r.json())["details"]
            r = await http.put(f"{base}/bad", headers=auth, json={"email": ["ops@example.com"],
                                                                  "filters": {"kinds": ["LOST"]}})
            assert r.status == 400
            listed = await (await http.get(base, headers=auth)).json()
            assert [s["id"] for s in listed["subscriptions"]] == ["ops"]
            assert "secret: x" in path.read_text()  # persisted as YAML, secret included
            assert (await http.delete(f"{base}/ops", headers=auth)).status == 204
            assert (await http.delete(f"{base}/ops", headers=auth)).status == 404
            assert (await http.get(f"{base}/ops", headers=auth)).status == 404
        assert SubscriptionBook(path).all() == []
    finally:
        await runner.cleanup()


async def test_notify_command_starts_serves_the_api_and_stops(bootstrap: str, settings: Settings, tmp_path: Path
                                                              ) -> None:
    app = typer.Typer()
    register(app)
    subs = tmp_path / "subs.yaml"
    subs.write_text("subscriptions:\n  - id: ops\n    webhook: http://127.0.0.1:9/hook\n")
    result = await asyncio.to_thread(CliRunner().invoke, app, [
        "notify", "--broker", bootstrap, "--subscriptions", str(subs), "--store", str(tmp_path / "n.sqlite"),
        "--group", f"{settings.app_id}-cli", "--port", "0", "--seconds", "1.5"],
        env={"CORRIDOR_TOPIC_PREFIX": settings.topic_prefix, "CORRIDOR_PARTITIONS": str(PARTITIONS)})
    assert result.exit_code == 0, result.output
    assert "1 subscription(s)" in result.output and "notify stopped" in result.output
    assert dead_letter_topic(settings.topic_prefix) in result.output


async def test_readiness_says_when_the_broker_is_gone(settings: Settings, tmp_path: Path) -> None:
    """GET /readyz: 200 while Kafka is there, 503 with the reason within seconds of it going; /healthz stays 200
    (notify is alive: restarting it would not bring Kafka back)."""
    from schemas.topics import TopicNames
    from streams.broker.admin import ensure_topics
    from streams.broker.embedded import EmbeddedBroker

    (tmp_path / "subscriptions.json").write_text(json.dumps({"subscriptions": []}))
    broker = EmbeddedBroker().start()
    try:
        await ensure_topics(broker.bootstrap, TopicNames(settings.topic_prefix).all, PARTITIONS)
        async with NotifyService(settings, broker.bootstrap, _config(tmp_path, "ready-notify")) as svc, \
                aiohttp.ClientSession() as http:  # fmt: skip
            base = f"http://127.0.0.1:{svc.admin_port}"
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200 and (await r.json()) == {"ready": True, "reason": None}
            broker.stop()
            body = await until(http, f"{base}/readyz", lambda status, _: status == 503, timeout=10)
            assert "unreachable" in body["reason"], body
            assert (await http.get(f"{base}/healthz")).status == 200
    finally:
        broker.stop()
