"""The pure parts of alert delivery: filters, grouping, signing, idempotency keys, the resolved rule,
retries, subscriptions files, the offset tracker and the delivery store."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from pydantic import ValidationError

from streams.consumers.common import OffsetTracker
from streams.consumers.notify.channels import DeliveryError
from streams.consumers.notify.delivery import Dispatcher, Outcome, RetryPolicy
from streams.consumers.notify.grouping import Grouper
from streams.consumers.notify.matching import UnitContext, matches
from streams.consumers.notify.messages import Message, alerts_message, idempotency_key, resolved_message
from streams.consumers.notify.resolve import UnitState, resolution, unit_state
from streams.consumers.notify.signing import sign, verify
from streams.consumers.notify.store import DeliveryStore
from streams.consumers.notify.subscriptions import Filters, Subscription, SubscriptionBook, load_file

TP = TopicPartition("corridor.alerts", 0)


def alert(n: int = 1, unit: str = "CSQU3054383", kind: str = "LATE", severity: str = "MAJOR",
          detected: str = "2026-03-04T00:00:00Z") -> dict[str, Any]:
    return {"alert_id": f"al-{n}", "unit": {"kind": "CONTAINER", "id": unit}, "kind": kind, "severity": severity,
            "message": f"alert {n}", "detected_at": detected}


# -- filters ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("filters", "ctx", "expected"), [
    ({}, UnitContext(), True),
    ({"units": ["csqu3054383"]}, UnitContext(), True),
    ({"units": ["MSKU1234565"]}, UnitContext(), False),
    ({"kinds": ["OVERDUE"]}, UnitContext(), False),
    ({"severities": ["MAJOR", "CRITICAL"]}, UnitContext(), True),
    ({"lanes": ["cnckg-dedui"]}, UnitContext(lane="CNCKG-DEDUI"), True),
    ({"lanes": ["CNCKG-DEDUI"]}, UnitContext(), False),  # lane unknown: no match, never a guess
    ({"customers": ["ACME motors"]}, UnitContext(customer="Acme Motors"), True),
    ({"shipments": ["bk-1"]}, UnitContext(shipments=frozenset({"BK-1", "BL-9"})), True),
    ({"shipments": ["BK-2"]}, UnitContext(shipments=frozenset({"BK-1"})), False),
    ({"units": ["CSQU3054383"], "severities": ["CRITICAL"]}, UnitContext(), False),  # AND across fields
])
def test_filters(filters: dict[str, Any], ctx: UnitContext, expected: bool) -> None:
    assert matches(Filters.model_validate(filters), alert(), ctx) is expected


def test_only_lane_customer_and_shipment_filters_need_plans_and_events() -> None:
    assert not Filters(units=["X"], severities=["MAJOR"], kinds=["LATE"]).needs_context
    assert Filters(customers=["acme"]).needs_context and Filters(lanes=["A-B"]).needs_context


# -- grouping -----------------------------------------------------------------------------------------------

def test_alerts_of_one_unit_and_cause_group_within_the_window() -> None:
    g = Grouper(window=60)
    g.add("ops", alert(1), (TP, 10), now=0)
    g.add("ops", alert(2), (TP, 11), now=30)
    g.add("ops", alert(3, kind="OVERDUE"), (TP, 12), now=31)  # another cause
    g.add("ops", alert(4, unit="MSKU1234565"), (TP, 13), now=32)  # another unit
    g.add("audit", alert(1), (TP, 10), now=33)  # another subscriber
    g.add("ops", alert(1), (TP, 14), now=34)  # the same alert again (re-delivered record)
    assert g.due(now=59) == []
    due = g.due(now=60)
    assert [(x.sub_id, x.alert_ids, [o for _, o in x.refs]) for x in due] == [("ops", ["al-1", "al-2"], [10, 11, 14])]
    assert sorted(x.alert_ids[0] for x in g.due(now=100)) == ["al-1", "al-3", "al-4"]
    assert len(g) == 0


def test_window_zero_sends_at_once() -> None:
    g = Grouper(window=0)
    g.add("ops", alert(1), None, now=5)
    assert [x.alert_ids for x in g.due(now=5)] == [["al-1"]]


def test_grouped_message_lists_the_alerts_worst_severity_first_in_subject() -> None:
    g = Grouper(window=0)
    g.add("ops", alert(2, severity="CRITICAL", detected="2026-03-05T00:00:00Z"), None, now=0)
    g.add("ops", alert(1), None, now=0)
    msg = alerts_message(g.due(0)[0], lane="CNCKG-DEDUI")
    body = json.loads(msg.body)
    assert body["alert_ids"] == ["al-1", "al-2"] and body["count"] == 2 and body["severity"] == "CRITICAL"
    assert body["lane"] == "CNCKG-DEDUI" and body["idempotency_key"] == msg.idempotency_key
    assert msg.subject == "[corridor] CRITICAL LATE: CSQU3054383 (2 alerts)"
    assert msg.detected_at == {"al-1": "2026-03-04T00:00:00Z", "al-2": "2026-03-05T00:00:00Z"}


# -- signing and idempotency --------------------------------------------------------------------------------

def test_signature_is_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"a": 1}'
    # Reference value: printf '{"a": 1}' | openssl dgst -sha256 -hmac secret
    assert sign(body, "secret") == "sha256=9efa14a18410a57a432fbf0ce38d4bc33339036a64e57b8c86da0bb1e122d972"
    assert verify(body, "secret", sign(body, "secret"))
    assert not verify(body + b" ", "secret", sign(body, "secret"))
    assert not verify(body, "other", sign(body, "secret"))
    assert not verify(body, "secret", None)


def test_idempotency_keys_are_stable() -> None:
    assert idempotency_key("ops", ["al-1"]) == "al-1:ops"
    assert idempotency_key("ops", ["al-1", "al-2"]) == idempotency_key("ops", ["al-2", "al-1"])
    assert idempotency_key("ops", ["al-1", "al-2"]) != idempotency_key("audit", ["al-1", "al-2"])
    assert resolved_message("ops", "U1", "ARRIVED", {}, ["al-1"]).idempotency_key.startswith("resolved-")


# -- resolved rule ------------------------------------------------------------------------------------------

def state(status: str = "IN_TRANSIT", late: int | None = 600, as_of: str | None = "2026-03-06T00:00:00Z",
          tolerance: int = 360) -> UnitState:
    return UnitState("U1", 0, 1, "L", status, late, tolerance, as_of)


@pytest.mark.parametrize(("s", "detected", "expected"), [
    (state(late=600), "2026-03-04T00:00:00Z", None),  # still late
    (state(late=360), "2026-03-04T00:00:00Z", "CAUGHT_UP"),  # within the tolerance
    (state(late=-30), "2026-03-04T00:00:00Z", "CAUGHT_UP"),  # early
    (state(late=0), "2026-03-06T00:00:00Z", None),  # the timeline of the alert itself does not resolve it
    (state(late=None), "2026-03-04T00:00:00Z", None),
    (state("ARRIVED", late=4320), "2026-03-06T00:00:00Z", "ARRIVED"),  # arrival closes, late or not
    (state("DELIVERED", late=10), None, "ARRIVED"),
])
def test_resolution(s: UnitState, detected: str | None, expected: str | None) -> None:
    assert resolution(s, detected) == expected


def test_tolerance_comes_from_the_final_legs_mode() -> None:
    timeline = {"unit": {"id": "U1"}, "status": "IN_TRANSIT", "minutes_late": 100, "lane": "A-B", "mode": "AIR",
                "as_of": "2026-03-06T00:00:00Z",
                "milestones": [{"kind": "ARRIVAL", "mode": "AIR"}, {"kind": "ARRIVAL", "mode": "ROAD"}]}
    assert unit_state(timeline, 2, 7) == UnitState("U1", 2, 7, "A-B", "IN_TRANSIT", 100, 120, "2026-03-06T00:00:00Z")


# -- retries ------------------------------------------------------------------------------------------------

def test_backoff_doubles_up_to_the_cap() -> None:
    p = RetryPolicy(base=1.0, max_delay=5.0, jitter=0.0)
    assert [p.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


def _msg(sub: str = "ops") -> Message:
    return Message(sub, "alerts", "U1", f"al-1:{sub}", b"{}", ["al-1"], "s", "t")


async def test_dispatcher_retries_then_delivers_or_gives_up_and_never_blocks_another() -> None:
    subs = {s: Subscription(id=s, webhook=f"http://127.0.0.1/{s}") for s in ("flaky", "dead", "bad", "slow", "ok")}
    calls: dict[str, int] = {}
    results: dict[str, Outcome] = {}

    async def send(sub: Subscription, msg: Message, attempt: int) -> None:
        calls[sub.id] = calls.get(sub.id, 0) + 1
        if sub.id == "flaky" and attempt < 3:
            raise DeliveryError("HTTP 503")
        if sub.id == "dead":
            raise DeliveryError("connection refused")
        if sub.id == "bad":
            raise DeliveryError("HTTP 400", permanent=True)
        if sub.id == "slow":
            await asyncio.sleep(5)

    async def on_result(msg: Message, sub: Subscription | None, outcome: Outcome) -> None:
        results[msg.sub_id] = outcome

    policy = RetryPolicy(attempts=4, base=0.01, max_delay=0.02)
    ds = [Dispatcher(s, subs.get, lambda _: send, policy, on_result) for s in subs]
    for d in ds:
        d.submit(_msg(d.sub_id))
    await asyncio.sleep(0.3)
    for d in ds:
        await d.close()
    assert results["flaky"] == Outcome(True, 3)
    assert results["dead"] == Outcome(False, 4, "connection refused")
    assert results["bad"] == Outcome(False, 1, "HTTP 400") and calls["bad"] == 1
    assert results["ok"] == Outcome(True, 1)
    assert "slow" not in results  # still waiting on its endpoint, and nobody else waited for it


async def test_a_removed_subscription_fails_its_queued_messages() -> None:
    results: list[Outcome] = []

    async def on_result(msg: Message, sub: Subscription | None, outcome: Outcome) -> None:
        results.append(outcome)

    d = Dispatcher("gone", lambda _: None, lambda _: None, RetryPolicy(), on_result)  # type: ignore[arg-type,return-value]
    d.submit(_msg("gone"))
    await asyncio.sleep(0.05)
    await d.close()
    assert results == [Outcome(False, 0, "subscription removed or disabled")]


# -- subscriptions ------------------------------------------------------------------------------------------

def test_a_subscription_has_exactly_one_valid_channel() -> None:
    with pytest.raises(ValidationError, match="exactly one channel"):
        Subscription(id="x", webhook="https://a.example/h", email=["a@b.example"])
    with pytest.raises(ValidationError, match="exactly one channel"):
        Subscription(id="x")
    with pytest.raises(ValidationError, match="http"):
        Subscription(id="x", webhook="file:///etc/passwd")
    with pytest.raises(ValidationError):
        Subscription(id="x", email=["a@b.example"], filters={"severities": ["HUGE"]})
    assert Subscription(id="x", webhook="https://a.example/h", secret="k").public()["secret"] == "***"


@pytest.mark.parametrize("name", ["subs.yaml", "subs.json"])
def test_book_persists_atomically_and_reloads_external_edits(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    book = SubscriptionBook(path)
    assert book.put(Subscription(id="a", webhook="https://a.example/h", secret="k"))
    assert not book.put(Subscription(id="a", webhook="https://a.example/h2"))
    assert load_file(path).subscriptions[0].webhook == "https://a.example/h2"
    assert path.stat().st_mode & 0o777 == 0o600
    other = SubscriptionBook(path)  # another process sharing the file
    other.put(Subscription(id="b", email=["ops@example.com"], enabled=False))
    os.utime(path, ns=(1, 1))  # make sure the mtime differs even on coarse clocks
    assert book.reload_if_changed() and [s.id for s in book.active()] == ["a"] and len(book.all()) == 2
    assert book.delete("a") and not book.delete("a")
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary files left


def test_invalid_file_keeps_the_subscriptions_in_force(tmp_path: Path) -> None:
    path = tmp_path / "subs.json"
    book = SubscriptionBook(path)
    book.put(Subscription(id="a", webhook="https://a.example/h"))
    path.write_text('{"subscriptions": [{"id": "b"}]}')
    os.utime(path, ns=(2, 2))
    with pytest.raises(ValidationError):
        book.reload_if_changed()
    assert [s.id for s in book.all()] == ["a"]
    assert not book.reload_if_changed()  # reported once, not on every poll


# -- offsets and store --------------------------------------------------------------------------------------

def test_offsets_are_committed_only_past_finished_records() -> None:
    t = OffsetTracker()
    for o in (5, 6, 7):
        t.hold(TP, o)
    t.hold(TP, 6)  # record 6 also waits on a delivery
    t.release(TP, 5)
    t.release(TP, 6)
    t.release(TP, 7)
    assert t.commit_points() == {TP: 6}  # 6 still has a delivery in flight
    t.committed({TP: 6})
    assert t.commit_points() == {}
    t.release(TP, 6)
    assert t.commit_points() == {TP: 8}
    t.forget([TP])
    t.release(TP, 9)  # a late result for a revoked partition is ignored
    assert t.commit_points() == {} and t.in_flight() == 0


def test_store_records_pairs_once_and_tracks_open_alerts(tmp_path: Path) -> None:
    store = DeliveryStore(tmp_path / "s.sqlite")
    store.record("ops", "U1", {"al-1": "2026-03-04T00:00:00Z", "al-2": "2026-03-05T00:00:00Z"}, "delivered")
    store.record("ops", "U1", {"al-1": "x"}, "dead")  # a pair keeps its first outcome
    store.record("dlq", "U1", {"al-1": "2026-03-04T00:00:00Z"}, "dead")
    assert store.seen("al-1", "ops") and store.seen("al-1", "dlq") and not store.seen("al-1", "other")
    assert store.open_alerts("U1") == {"ops": {"al-1": "2026-03-04T00:00:00Z", "al-2": "2026-03-05T00:00:00Z"}}
    store.resolve("ops", ["al-1", "al-2"])
    assert store.open_alerts("U1") == {} and store.units_with_open_alerts() == []
    assert store.save_unit(state())
    assert not store.save_unit(UnitState("U1", 0, 0, "L", "PLANNED", None, 0, None))  # older record
    assert store.unit("U1") == state()
    assert store.counts() == {"delivered": 2, "dead": 1}
    store.close()
    assert DeliveryStore(tmp_path / "s.sqlite").seen("al-2", "ops")  # durable
