"""The gateway on the real broker with a real worker: DCSA 2.2 callbacks (signed, rotated, mis-signed), a DCSA 3.0
push, /ingest, refusals, idempotent re-sends; the events on corridor.events, the rejects in the dead-letter topic."""

from __future__ import annotations

import base64

import aiohttp
import orjson
import pytest

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.connectors.signatures import sign
from streams.topology.runner import running
from tests.integration.carriers import T0, container, event_v22, event_v30
from tests.integration.connectors_support import (
    INGEST_KEY,
    NEW_SECRET,
    OLD_SECRET,
    V3_KEY,
    gateway,
    gateway_config,
    read_topic,
)

pytestmark = pytest.mark.integration
SAMPLES = __import__("pathlib").Path(__file__).parents[1] / "unit" / "feeds" / "samples"


async def test_pushes_reach_corridor_events_and_rejects_the_dead_letter_topic(bootstrap, settings, topics, reader):
    from datetime import timedelta

    v22 = orjson.dumps([event_v22(i, T0 + timedelta(minutes=i)) for i in range(3)])
    v30 = orjson.dumps({"events": [event_v30(10 + i, T0 + timedelta(minutes=i)) for i in range(2)]})
    rail = (SAMPLES / "rail-x8017.csv").read_bytes()
    async with running(settings, bootstrap), gateway(bootstrap, topics) as url, aiohttp.ClientSession() as http:
        cb = f"{url}/v2/notifications/maeu-sub"
        async with http.head(cb) as r:
            assert r.status == 204
        async with http.head(f"{url}/v2/notifications/nobody") as r:
            assert r.status == 404
        # signed with the secret being retired: still valid during the rotation
        async with http.post(cb, data=v22, headers={"Notification-Signature": sign(v22, OLD_SECRET)}) as r:
            assert r.status == 202, await r.text()
            first = await r.json()
        assert first["topic"] == topics.raw("dcsa-tnt-2.2") and first["offset"] >= 0 and not first["duplicate"]
        async with http.post(cb, data=v22, headers={"Notification-Signature": sign(v22, NEW_SECRET)}) as r:
            again = await r.json()  # the publisher's retry: same events, answered, not published twice
        assert r.status == 202 and again["duplicate"] and again["offset"] == first["offset"]
        tampered = v22.replace(b"LOAD", b"DISC")
        async with http.post(cb, data=tampered, headers={"Notification-Signature": sign(v22, NEW_SECRET)}) as r:
            assert r.status == 403
        async with http.post(cb, data=tampered) as r:
            assert r.status == 401

        async with http.post(f"{url}/v3/events", data=v30, headers={"Authorization": f"Bearer {V3_KEY}"}) as r:
            assert r.status == 202, await r.text()
            assert (await r.json())["topic"] == topics.raw("dcsa-tnt-3.0")
        async with http.post(f"{url}/v3/events", data=v30) as r:
            assert r.status == 401 and "WWW-Authenticate" in r.headers
        async with http.post(f"{url}/v3/events", data=v30, headers={"X-API-Key": "x" * 20}) as r:
            assert r.status == 403
        async with http.post(f"{url}/v3/events", data=v22, headers={"X-API-Key": V3_KEY}) as r:
            assert r.status == 400  # a 2.2 body at the 3.0 endpoint: dead-lettered
        async with http.post(f"{url}/ingest/rail-events", data=rail, headers={"X-API-Key": V3_KEY}) as r:
            assert r.status == 403  # this source may send DCSA 3.0 only

        key = {"X-API-Key": INGEST_KEY}
        async with http.post(f"{url}/ingest", data=rail, headers={**key, "Idempotency-Key": "rail-1"}) as r:
            assert r.status == 202 and (await r.json())["format"] == "rail-events"
        async with http.post(f"{url}/ingest", data=rail, headers={**key, "Idempotency-Key": "rail-1"}) as r:
            assert r.status == 202 and (await r.json())["duplicate"]
        async with http.post(f"{url}/ingest", data=rail + b"\n", headers={**key, "Idempotency-Key": "rail-1"}) as r:
            assert r.status == 422  # the key re-used for another body: refused, not silently answered
        async with http.post(f"{url}/ingest/no-such-format", data=b"hello", headers=key) as r:
            assert r.status == 415 and (await r.json())["dead_letter"]["topic"] == topics.name("dead_letter")
        async with http.post(f"{url}/ingest", data=b"neither here nor there", headers=key) as r:
            assert r.status == 415
        async with http.post(f"{url}/ingest/dcsa-tnt-2.2", data=b"{broken", headers=key) as r:
            assert r.status == 400
        async with http.post(f"{url}/ingest/edifact", data=b"X" * 20_000_000, headers=key) as r:
            assert r.status == 413

        await reader.wait_for(lambda rd: len(rd.of("timeline")) >= 5, timeout=40)
        events = [orjson.loads(m.value) for m in await read_topic(bootstrap, topics.name("event"), at_least=15)]

    units = {e["unit"]["id"] for e in events}
    assert {container(i) for i in (0, 1, 2, 10, 11)} <= units, units
    assert not any(e["milestone"] == "DISCHARGED" for e in events)  # the tampered body never got in
    # exactly what was accepted is on the raw topics: one 2.2 body, one 3.0 body, one rail file
    raw22 = await read_topic(bootstrap, topics.raw("dcsa-tnt-2.2"))
    raw30 = await read_topic(bootstrap, topics.raw("dcsa-tnt-3.0"))
    rails = await read_topic(bootstrap, topics.raw("rail-events"))
    assert [m.value for m in raw22] == [v22] and [m.value for m in raw30] == [v30]
    assert [m.value for m in rails] == [rail]
    assert raw22[0].key == b"maeu-sub" and dict(raw22[0].headers)["corridor-source"] == b"gateway:maeu-sub"
    letters = [orjson.loads(m.value) for m in await read_topic(bootstrap, topics.name("dead_letter"), at_least=4)]
    mine = {x["source_topic"]: x for x in letters if x["source_topic"].startswith("gateway:")}
    assert set(mine) == {"gateway:/ingest/no-such-format", "gateway:/ingest", "gateway:/ingest/dcsa-tnt-2.2",
                         "gateway:/v3/events"}, set(mine)
    assert base64.urlsafe_b64decode(mine["gateway:/ingest/no-such-format"]["original"]) == b"hello"
    assert "unknown format" in mine["gateway:/ingest/no-such-format"]["reason"]
    assert "not JSON" in mine["gateway:/ingest/dcsa-tnt-2.2"]["reason"]
    assert base64.urlsafe_b64decode(mine["gateway:/v3/events"]["original"]) == v22


async def test_503_with_retry_after_while_kafka_is_down_then_accepted():
    names = TopicNames("down.")
    body = orjson.dumps({"events": [event_v30(1, T0)]})
    headers = {"X-API-Key": V3_KEY}
    broker = EmbeddedBroker().start()
    try:
        await ensure_topics(broker.bootstrap, names.all, 4)
        cfg = gateway_config(retry_after_seconds=3, publish_timeout_seconds=2.0)
        async with gateway(broker.bootstrap, names, cfg, timeout=2.0) as url, aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v3/events", data=body, headers=headers) as r:
                assert r.status == 202
            broker.stop()
            other = orjson.dumps({"events": [event_v30(2, T0)]})
            async with http.post(f"{url}/v3/events", data=other, headers=headers) as r:
                assert r.status == 503 and r.headers["Retry-After"] == "3", await r.text()
            async with http.post(f"{url}/ingest/no-such-format", data=b"x", headers={"X-API-Key": INGEST_KEY}) as r:
                assert r.status == 503  # a dead letter that cannot be written is not a silent drop either
    finally:
        broker.stop()


async def test_a_gateway_started_without_kafka_answers_503():
    from streams.broker.embedded import free_port

    cfg = gateway_config(publish_timeout_seconds=1.0)
    async with gateway(f"127.0.0.1:{free_port()}", TopicNames("none."), cfg, timeout=1.0) as url, \
            aiohttp.ClientSession() as http:  # fmt: skip
        async with http.post(f"{url}/v3/events", data=orjson.dumps({"events": [event_v30(1, T0)]}),
                             headers={"X-API-Key": V3_KEY}) as r:  # fmt: skip
            assert r.status == 503 and "Retry-After" in r.headers
        async with http.get(f"{url}/health") as r:
            assert (await r.json())["kafka"] == "not connected"


async def test_the_worker_runs_the_gateway_in_its_process(bootstrap, settings, topics, tmp_path):
    """`corridor worker --gateway gateway.yaml --watch DIR`: the connectors start with the worker, a push
    arrives through the gateway and a dropped file through the folder, both become events."""
    from datetime import timedelta

    from streams.broker.embedded import free_port
    from streams.connectors.service import attach
    from streams.topology.app import create_app
    from streams.topology.runner import wait_ready

    port = free_port()
    drop = tmp_path / "drop"
    drop.mkdir()
    topology = create_app(settings, bootstrap)
    attach(topology.app, settings, bootstrap, gateway=gateway_config(), gateway_port=port, watch=drop,
           watch_settle=0.0)  # fmt: skip
    await topology.app.start()
    try:
        await wait_ready(topology)
        (drop / "rail.csv").write_bytes((SAMPLES / "rail-x8017.csv").read_bytes())
        body = orjson.dumps({"events": [event_v30(40 + i, T0 + timedelta(minutes=i)) for i in range(2)]})
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # the gateway starts once the worker is ready
                try:
                    async with http.post(f"http://127.0.0.1:{port}/v3/events", data=body,
                                         headers={"X-API-Key": V3_KEY}) as r:  # fmt: skip
                        assert r.status == 202, await r.text()
                        break
                except aiohttp.ClientConnectionError:
                    import asyncio

                    await asyncio.sleep(0.1)
        events = [orjson.loads(m.value) for m in await read_topic(bootstrap, topics.name("event"), at_least=12)]
    finally:
        await topology.app.stop()
    units = {e["unit"]["id"] for e in events}
    assert {container(40), container(41)} <= units and {e["source"] for e in events} >= {"dcsa", "rail"}
    assert (drop / "archive" / "rail.csv").exists()
