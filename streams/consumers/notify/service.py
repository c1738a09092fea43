"""The notify consumer: reads corridor.alerts and corridor.timelines as the consumer group `group`, routes
each alert to the matching subscriptions, groups, delivers through per-subscription dispatchers, and commits
a record's offset only once every message it contributed to is delivered or dead-lettered.

Once per subscriber: a (alert, subscription) pair recorded in the store is never sent again, whatever is
re-read; see docs/notify.md for the exact guarantee."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from schemas import dumps
from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.watch import BrokerWatch
from streams.consumers.common import ConsumerTuning, OffsetTracker, group_consumer, stop_consumer
from streams.consumers.notify.admin import admin_app, host_names, serve
from streams.consumers.notify.channels import EmailChannel, WebhookChannel
from streams.consumers.notify.context import ContextReader
from streams.consumers.notify.delivery import Dispatcher, Outcome, RetryPolicy, Send
from streams.consumers.notify.grouping import Grouper, PendingGroup, Ref
from streams.consumers.notify.matching import UnitContext, matches
from streams.consumers.notify.messages import Message, NotifyDeadLetter, alerts_message, resolved_message
from streams.consumers.notify.metrics import NotifyMetrics
from streams.consumers.notify.resolve import resolution, unit_state
from streams.consumers.notify.store import DeliveryStore
from streams.consumers.notify.subscriptions import Subscription, SubscriptionBook
from streams.security.addresses import GuardedResolver, TargetPolicy
from streams.security.exposure import check_exposure
from streams.security.setup import HOW, authenticator, limiters
from streams.settings import Settings

log = logging.getLogger(__name__)


def dead_letter_topic(prefix: str) -> str:
    return f"{prefix}notify.dead-letters"


@dataclass(frozen=True)
class NotifyConfig:
    subscriptions: Path
    store: Path
    group: str = "corridor-notify"
    window: float = 60.0  # seconds an alert group stays open
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    host: str = "127.0.0.1"
    port: int | None = 8089  # subscriptions API; None = off, 0 = any free port
    admin_token: str | None = None
    webhook_allow: tuple[str, ...] = ()  # networks webhooks may reach besides public addresses (e.g. 10.0.0.0/8)
    allowed_hosts: tuple[str, ...] = ()  # Host header names the API answers besides loopback and its address
    context_wait: float = 10.0  # longest wait for a unit's plan when a filter needs lane/customer/shipment
    commit_interval: float = 1.0
    max_in_flight: int = 10_000  # records held back before the consumer pauses
    tuning: ConsumerTuning = field(default_factory=ConsumerTuning)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: NotifyService) -> None:
        self._svc = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._svc._commit(only=set(revoked))
        self._svc._tracker.forget(revoked)  # messages still in flight finish; the new owner skips them by store

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._svc._context.assign({tp.partition for tp in assigned})


class NotifyService:
    def __init__(self, settings: Settings, bootstrap: str, config: NotifyConfig) -> None:
        self.settings, self.bootstrap, self.config = settings, bootstrap, config
        topics = TopicNames(settings.topic_prefix)
        self.alerts_topic, self.timelines_topic = topics.name("alert"), topics.name("timeline")
        self.dead_letter_topic = dead_letter_topic(settings.topic_prefix)
        self._all_topics = [*topics.all, self.dead_letter_topic]
        self.book = SubscriptionBook(config.subscriptions)
        self.stats: Counter[str] = Counter()
        self.admin_port: int | None = None
        self._tracker = OffsetTracker()
        self._grouper = Grouper(config.window)
        self._dispatchers: dict[str, Dispatcher] = {}
        self._inflight: set[tuple[str, str]] = set()  # (alert id, subscription) grouped or being sent
        self._resolving: set[tuple[str, str]] = set()  # (subscription, unit) with a resolved notice in flight
        self._lanes: dict[str, str | None] = {}
        self.security = settings.kafka_security()
        self._context = ContextReader(bootstrap, topics.name("plan"), topics.name("event"), self.security)
        self._tasks: list[asyncio.Task] = []
        self._runner: Any = None
        self.metrics = NotifyMetrics(self)  # GET /metrics on the API
        self.broker_watch = BrokerWatch(bootstrap, subject="notify")  # GET /readyz on the API

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> NotifyService:
        try:
            return await self._start()
        except BaseException:
            await self.stop()  # whatever did start is closed again
            raise

    async def _start(self) -> NotifyService:
        s = self.settings
        credentials = authenticator(s)  # ConfigError: a bad keys file or JWKS stops the start
        if self.config.port is not None:  # OpenExposure: no credentials beyond loopback unless allowed
            check_exposure("the notify subscriptions API", self.config.host,
                           bool(self.config.admin_token) or credentials.configured, s.allow_open,
                           "--admin-token, or operations credentials: " + HOW)
        targets = TargetPolicy.of(self.config.webhook_allow)
        await ensure_topics(self.bootstrap, self._all_topics, s.partitions, s.replication, security=self.security)
        self.store = DeliveryStore(self.config.store)
        # Every connection a webhook makes goes through the resolver that refuses non-public addresses.
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=GuardedResolver(targets)))
        self._webhook = WebhookChannel(self._session, self.config.retry.timeout, targets)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5,
                                          **self.security.client_kwargs())
        await self._producer.start()
        await self._context.start()
        self._consumer = group_consumer(self.bootstrap, [self.alerts_topic, self.timelines_topic], self.config.group,
                                        self.config.tuning, _Rebalance(self), security=self.security)
        await self._consumer.start()
        if self.config.port is not None:
            app = admin_app(self.book, self.config.admin_token, self.snapshot, credentials=credentials,
                            targets=targets, hosts=host_names(self.config.host, self.config.allowed_hosts),
                            limiter=limiters(s)[0], metrics=self.metrics.exposition,
                            not_ready=self.broker_watch.reason)
            self._runner, self.admin_port = await serve(app, self.config.host, self.config.port)
        for unit in self.store.units_with_open_alerts():  # resolved notices a crash left unsent
            self._check_unit(unit)
        self._tasks = [asyncio.create_task(c, name=n) for n, c in (
            ("notify-consume", self._consume()), ("notify-groups", self._tick()),
            ("notify-commit", self._commit_loop()), ("notify-watch", self._watch_file()),
            ("notify-broker-watch", self.broker_watch.run()))]
        return self

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for d in self._dispatchers.values():
            await d.close()
        consumer = getattr(self, "_consumer", None)
        if consumer is not None:
            with contextlib.suppress(Exception):
                await self._commit()
            await stop_consumer(consumer)
        await self._context.stop()
        producer, session = getattr(self, "_producer", None), getattr(self, "_session", None)
        if producer is not None:
            await producer.stop()
        if session is not None:
            await session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if hasattr(self, "store"):
            self.store.close()

    async def __aenter__(self) -> NotifyService:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def snapshot(self) -> dict[str, Any]:
        return {
            "counters": dict(self.stats),
            "store": self.store.counts(),
            "backlog": {k: d.backlog for k, d in self._dispatchers.items()},
            "records_in_flight": self._tracker.in_flight(),
            "open_groups": len(self._grouper),
        }

    # -- reading -----------------------------------------------------------------------------------------

    async def _consume(self) -> None:
        c, paused = self._consumer, False
        while True:
            if self._tracker.in_flight() > self.config.max_in_flight and not paused:
                c.pause(*c.assignment())  # still polling, so the group keeps us; nothing new is fetched
                paused = True
            elif paused and self._tracker.in_flight() <= self.config.max_in_flight // 2:
                c.resume(*c.assignment())
                paused = False
            batch = await c.getmany(timeout_ms=200, max_records=500)
            records = [(tp, m) for tp, msgs in batch.items() for m in msgs]
            self.metrics.read(records)
            for tp, m in records:
                self._tracker.hold(tp, m.offset)  # "being read"; released below, after routing
            try:
                await self._handle(records)
            finally:
                for tp, m in records:
                    self._tracker.release(tp, m.offset)
            self._flush_groups(self._grouper.due(asyncio.get_running_loop().time()))

    async def _handle(self, records: list[tuple[TopicPartition, ConsumerRecord]]) -> None:
        alerts = []
        for tp, m in records:
            try:
                value = orjson.loads(m.value) if m.value else None
            except orjson.JSONDecodeError:
                value = None
            if not isinstance(value, dict) or "unit" not in value:
                self.stats["skipped_malformed"] += 1
                continue
            if tp.topic == self.timelines_topic:
                state = unit_state(value, tp.partition, m.offset)
                if self.store.save_unit(state):
                    self._check_unit(state.unit, (tp, m.offset))
            elif "alert_id" in value:
                alerts.append((tp, m.offset, value))
        if not alerts:
            return
        subs = self.book.active()
        needs_context = any(s.filters.needs_context for s in subs)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.context_wait
        if needs_context and not await self._context.catch_up(self.config.context_wait):
            log.warning("plans/events context not caught up in %.1f s; filtering with what is known",
                        self.config.context_wait)
        for tp, offset, alert in alerts:
            unit = alert["unit"]["id"]
            if needs_context and not self._context.knows(unit):
                await self._context.wait_for_unit(unit, max(0.0, deadline - loop.time()))
            self._route(subs, alert, self._unit_context(unit), (tp, offset), loop.time())

    def _unit_context(self, unit: str) -> UnitContext:
        ctx = self._context.get(unit)
        if ctx.lane is None:  # no plan seen: fall back on the lane of the unit's timeline
            state = self.store.unit(unit)
            if state and state.lane:
                ctx = UnitContext(state.lane, ctx.customer, ctx.shipments)
        return ctx

    def _route(self, subs: list[Subscription], alert: dict[str, Any], ctx: UnitContext, ref: Ref, now: float) -> None:
        self.stats["alerts_read"] += 1
        self._lanes[alert["unit"]["id"]] = ctx.lane
        for sub in subs:
            if not matches(sub.filters, alert, ctx):
                continue
            pair = (alert["alert_id"], sub.id)
            if pair in self._inflight or self.store.seen(*pair):
                self.stats["skipped_already_handled"] += 1
                continue
            self._inflight.add(pair)
            self._tracker.hold(*ref)
            self._grouper.add(sub.id, alert, ref, now)

    # -- sending -----------------------------------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            self._flush_groups(self._grouper.due(asyncio.get_running_loop().time()))

    def _flush_groups(self, groups: list[PendingGroup]) -> None:
        for g in groups:
            self._dispatcher(g.sub_id).submit(alerts_message(g, self._lanes.get(g.unit)))

    def _dispatcher(self, sub_id: str) -> Dispatcher:
        d = self._dispatchers.get(sub_id)
        if d is None:
            d = self._dispatchers[sub_id] = Dispatcher(sub_id, self.book.get, self._send_for, self.config.retry,
                                                       self._on_result)
        return d

    def _send_for(self, sub: Subscription) -> Send:
        return self._webhook.send if sub.channel == "webhook" else EmailChannel(self.book.smtp).send

    async def _on_result(self, msg: Message, sub: Subscription | None, outcome: Outcome) -> None:
        # Delivered: recorded before any await, so no cancellation can fall between sending and recording.
        if not outcome.delivered:
            await self._dead_letter(msg, sub, outcome)
        if msg.kind == "alerts":
            self.store.record(msg.sub_id, msg.unit, msg.detected_at, "delivered" if outcome.delivered else "dead")
            self._inflight.difference_update((a, msg.sub_id) for a in msg.alert_ids)
        else:
            self.store.resolve(msg.sub_id, msg.alert_ids)
            self._resolving.discard((msg.sub_id, msg.unit))
        self.stats[f"{msg.kind}_{'delivered' if outcome.delivered else 'dead_lettered'}"] += 1
        for tp, offset in msg.refs:
            self._tracker.release(tp, offset)
        if msg.kind == "alerts" and outcome.delivered:
            self._check_unit(msg.unit)  # the unit may have caught up already (timelines read first)

    async def _dead_letter(self, msg: Message, sub: Subscription | None, outcome: Outcome) -> None:
        letter = NotifyDeadLetter(
            subscription_id=msg.sub_id, channel=sub.channel if sub else None, target=sub.target if sub else None,
            message_kind=msg.kind, unit=msg.unit, idempotency_key=msg.idempotency_key, alert_ids=msg.alert_ids,
            attempts=outcome.attempts, last_error=outcome.last_error or "unknown", failed_at=datetime.now(UTC),
            body=orjson.loads(msg.body),
        )
        await self._producer.send_and_wait(self.dead_letter_topic, key=msg.unit.encode(), value=dumps(letter))
        log.warning("dead-lettered %s for %s after %d attempts: %s", msg.idempotency_key, msg.sub_id,
                    outcome.attempts, outcome.last_error)

    # -- resolved notices --------------------------------------------------------------------------------

    def _check_unit(self, unit: str, ref: Ref | None = None) -> None:
        state = self.store.unit(unit)
        if state is None:
            return
        for sub_id, open_alerts in self.store.open_alerts(unit).items():
            if (sub_id, unit) in self._resolving:
                continue
            detected = max((d for d in open_alerts.values() if d), default=None)
            reason = resolution(state, detected)
            if reason is None:
                continue
            sub = self.book.get(sub_id)
            if sub is None or not sub.resolved:
                self.store.resolve(sub_id, list(open_alerts))  # nobody to tell: close quietly
                continue
            msg = resolved_message(sub_id, unit, reason, state.public(), list(open_alerts), [ref] if ref else [])
            if ref is not None:
                self._tracker.hold(*ref)
            self._resolving.add((sub_id, unit))
            self._dispatcher(sub_id).submit(msg)

    # -- offsets and housekeeping ------------------------------------------------------------------------

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        points = self._tracker.commit_points()
        if only is not None:
            points = {tp: o for tp, o in points.items() if tp in only}
        if not points:
            return
        try:
            await self._consumer.commit(points)
            self._tracker.committed(points)
        except KafkaError as exc:  # a rebalance in between: the records are re-read and skipped by the store
            log.warning("offset commit failed: %s", exc)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.commit_interval)
            await self._commit()

    async def _watch_file(self) -> None:
        while True:
            await asyncio.sleep(2.0)
            try:
                if self.book.reload_if_changed():
                    log.info("subscriptions reloaded from %s", self.book.path)
            except Exception as exc:
                log.error("subscriptions file %s is invalid, keeping the previous ones: %s", self.book.path, exc)


    async def wait(self, stop: asyncio.Event) -> None:
        """Until `stop` is set; raises if one of the service's tasks died (a bug: better to exit and be
        restarted than to sit there reading nothing)."""
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopping, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        for t in self._tasks:
            if t.done() and not t.cancelled() and t.exception():
                raise RuntimeError(f"notify task {t.get_name()} failed") from t.exception()


async def run_notify(settings: Settings, bootstrap: str, config: NotifyConfig, stop: asyncio.Event,
                     on_ready: Any = None) -> dict[str, Any]:
    """Run until `stop` is set; returns the final stats."""
    async with NotifyService(settings, bootstrap, config) as svc:
        if on_ready is not None:
            on_ready(svc)
        await svc.wait(stop)
        return svc.snapshot()
