"""The gateway's operations endpoints on the real broker: /metrics counts what it answered and wrote (checked
against the raw and dead-letter topics), /healthz answers while it runs, /readyz turns 503 when Kafka goes."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.topics import TopicNames
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from tests.integration.carriers import T0, event_v30
from tests.integration.connectors_support import INGEST_KEY, V3_KEY, gateway, gateway_config, read_topic
from tests.integration.test_api import until

pytestmark = pytest.mark.integration
SAMPLES = __import__("pathlib").Path(__file__).parents[1] / "unit" / "feeds" / "samples"


async def _scrape(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, frozenset], float]:
    async with http.get(f"{url}/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}  # fmt: skip


def _get(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and frozenset(labels.items()) <= ls)


async def test_gateway_metrics_health_and_readiness_follow_what_it_did():
    names = TopicNames("gwm.")
    broker = EmbeddedBroker().start()
    try:
        await ensure_topics(broker.bootstrap, names.all, 4)
        cfg = gateway_config(publish_timeout_seconds=2.0)
        async with gateway(broker.bootstrap, names, cfg, timeout=2.0) as url, aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{url}/readyz") as r:
                assert r.status == 200 and (await r.json())["ready"]
            before = await _scrape(http, url)
            assert _get(before, "corridor_gateway_requests_total") == 0  # probes and scrapes are not counted
            assert _get(before, "corridor_gateway_kafka_reachable") == 1

            v3 = {"X-API-Key": V3_KEY}
            for i in range(2):
                body = orjson.dumps({"events": [event_v30(60 + i, T0 + timedelta(minutes=i))]})
                async with http.post(f"{url}/v3/events", data=body, headers={**v3, "Idempotency-Key": f"k{i}"}) as r:
                    assert r.status == 202, await r.text()
            async with http.post(f"{url}/v3/events", data=body, headers={**v3, "Idempotency-Key": "k1"}) as r:
                assert r.status == 202 and (await r.json())["duplicate"]  # answered, not written again
            rail = (SAMPLES / "rail-x8017.csv").read_bytes()
            async with http.post(f"{url}/ingest/rail-events", data=rail, headers={"X-API-Key": INGEST_KEY}) as r:
                assert r.status == 202
            async with http.post(f"{url}/v3/events", data=body) as r:
                assert r.status == 401
            async with http.post(f"{url}/ingest/no-such-{i}", data=b"x", headers={"X-API-Key": INGEST_KEY}) as r:
                assert r.status == 415
            async with http.post(f"{url}/ingest/dcsa-tnt-2.2", data=b"{broken", headers={"X-API-Key": INGEST_KEY}) as r:
                assert r.status == 400
            async with http.get(f"{url}/no/such/route") as r:
                assert r.status == 404
            m = await _scrape(http, url)

            requests = {dict(ls)["route"] + " " + dict(ls)["status"]: v
                        for (n, ls), v in m.items() if n == "corridor_gateway_requests_total" and v}  # fmt: skip
            assert requests == {"/v3/events 202": 3, "/v3/events 401": 1, "/ingest/{format} 202": 1,
                                "/ingest/{format} 415": 1, "/ingest/{format} 400": 1, "other 404": 1}, requests
            assert _get(m, "corridor_gateway_request_seconds_count") == sum(requests.values())
            assert _get(m, "corridor_gateway_request_seconds_sum") > 0
            assert _get(m, "corridor_gateway_accepted_total", source="hlcu", format="dcsa-tnt-3.0") == 2
            assert _get(m, "corridor_gateway_accepted_total", source="platform", format="rail-events") == 1
            # Records out: what the raw topics hold; dead letters: what the dead-letter topic holds.
            for fmt in ("dcsa-tnt-3.0", "rail-events"):
                written = await read_topic(broker.bootstrap, names.raw(fmt), at_least=1)
                assert _get(m, "corridor_records_out_total", job="gateway", topic=names.raw(fmt)) == len(written)
            assert _get(m, "corridor_records_out_total", job="gateway", topic=names.raw("dcsa-tnt-3.0")) == 2
            letters = await read_topic(broker.bootstrap, names.name("dead_letter"), at_least=2)
            assert _get(m, "corridor_dead_letters_total", job="gateway") == len(letters) == 2
            assert _get(m, "corridor_dead_letters_total", source_topic="gateway:/ingest/{format}",
                        reason="format_unknown") == 1  # the route template, never the path asked for
            assert _get(m, "corridor_dead_letters_total", reason="unreadable") == 1

            broker.stop()  # Kafka goes: not ready, said within a few seconds, and on /metrics
            body = await until(http, f"{url}/readyz", lambda status, _: status == 503, timeout=10)
            assert "unreachable" in body["reason"], body
            assert _get(await _scrape(http, url), "corridor_gateway_kafka_reachable") == 0
            async with http.get(f"{url}/healthz") as r:
                assert r.status == 200  # alive: not to be restarted for Kafka's absence
    finally:
        broker.stop()
