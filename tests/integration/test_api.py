"""The query API on real workers (Faust web views, aiohttp) over the real embedded broker: what it answers for
the CR Express story, its errors, paging, hubs, health, and request routing between two workers; and for the split
air waybill 580-12345675 (two ULDs, one truck) on two workers, loaded at Liège and then delivered."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas import dumps
from schemas.partitioning import partition_for
from schemas.topics import TopicNames
from streams.api.models import (
    AlertPage,
    DelayedShipments,
    DelayedUnits,
    HubUnits,
    Readiness,
    ShipmentDetail,
    UnitDetail,
)
from streams.api.openapi import PATH as OPENAPI_PATH
from streams.api.openapi import document
from streams.api.routing import HOP_HEADER, WORKER_HEADER
from streams.bootstrap import build_worker
from streams.broker.admin import ensure_topics
from streams.broker.embedded import EmbeddedBroker
from streams.core.history_order import canonical_order
from streams.core.policy import DEFAULT_POLICY
from streams.io.kafka import OutputReader, Publisher
from streams.processing.replay import replay
from streams.settings import Settings
from streams.topology.runner import wait_ready
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, d, journey, plan, tick
from tests.support.shipment_flows import AWB, split_awb

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    """This module's own embedded broker, stopped when the module ends (it starts in well under a second). The
    session's broker would still be running when test_cli.py, next in order, checks that the corridor commands
    leave no child process behind: it counts every child of the test process, the session broker included."""
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


# -- helpers (test_web.py uses them too) ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def fresh_settings(bootstrap: str, root: Path, **update: Any) -> Settings:
    tag = uuid.uuid4().hex[:8]
    root.mkdir(parents=True, exist_ok=True)
    s = Settings(app_id=f"api-{tag}", topic_prefix=f"a{tag}.", partitions=PARTITIONS, store="rocksdb://",
                 data_dir=root / "state", home=root / "home", embedded_broker=True, web_enabled=True,
                 web_port=free_port(), **update)
    await ensure_topics(bootstrap, TopicNames(s.topic_prefix).all, PARTITIONS)
    return s


@contextlib.asynccontextmanager
async def serving_all(bootstrap: str, *settings: Settings) -> AsyncIterator[list[str]]:
    """Workers with the API, started together (so they join the group in one generation, no rebalance);
    yields their base URLs."""
    topologies = [build_worker(s, bootstrap) for s in settings]
    try:
        await asyncio.gather(*(t.app.start() for t in topologies))
        for t in topologies:
            await wait_ready(t)
        yield [f"http://127.0.0.1:{s.web_port}" for s in settings]
    finally:
        for t in topologies:
            await t.app.stop()


@contextlib.asynccontextmanager
async def serving(settings: Settings, bootstrap: str) -> AsyncIterator[tuple[None, str]]:
    async with serving_all(bootstrap, settings) as (base,):
        yield None, base


async def get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, Any]:
    async with http.get(url, **kw) as r:
        return r.status, await r.json(content_type=None), r.headers


async def until(http: aiohttp.ClientSession, url: str, ok: Callable[[int, Any], bool], timeout: float = 30,
                **kw: Any) -> Any:  # fmt: skip
    """Poll `url` (with request options `kw`, e.g. credentials) until ok(status, body): the API reads tables that
    the worker fills asynchronously, and readiness follows the broker."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body, _ = await get(http, url, **kw)
        if ok(status, body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{url} still answers {status} {body}")
        await asyncio.sleep(0.2)


async def publish_story(bootstrap: str, topics: TopicNames, reader: OutputReader) -> None:
    """Plans for UNIT and OTHER; UNIT leaves Chongqing a day late and Dostyk three days late; event time then
    passes while OTHER never departs. Each phase is applied before the next (three topics, no order)."""
    async with Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send_all([plan(), plan(OTHER)])
        await reader.wait_for(lambda r: len(r.of("timeline")) >= 2)
        await pub.send_all(journey()[:3])
        await reader.wait_for(lambda r: any(t["last_milestone"] == "DEPARTED" and t["location"] == "KZDOS"
                                            for t in r.of("timeline")))
        await pub.send_all([tick(d(6, 7))])
        await reader.wait_for(lambda r: any(a["kind"] == "OVERDUE" for a in r.of("alert")))
        await reader.settle(quiet=0.5)


# split_awb() in canonical order; up to LOADED the 10 pieces are in the truck at Liège, not yet departed.
SHIPMENT_RECORDS = canonical_order(split_awb())
LOADED = 44


async def publish_in_steps(bootstrap: str, topics: TopicNames, reader: OutputReader, start: int, stop: int) -> None:
    """SHIPMENT_RECORDS[start:stop], one at a time, each once the outputs replay computes for the records up to it
    are out (plans, events and ticks travel on different topics: only this makes their order the replay's)."""
    async with Publisher(bootstrap, topics, PARTITIONS) as pub:
        for i in range(start, stop):
            want: dict[str, int] = {}
            for o in replay([dumps(r) for r in SHIPMENT_RECORDS[: i + 1]], topics, DEFAULT_POLICY, PARTITIONS).outputs:
                want[o.topic] = want.get(o.topic, 0) + 1
            await pub.send(SHIPMENT_RECORDS[i])
            await pub.flush()
            await reader.wait_for(lambda r, want=want: all(len(r.records[t]) >= n for t, n in want.items()))


def published(reader: OutputReader, role: str, unit: str) -> list[dict]:
    return [r for r in reader.of(role) if r["unit"]["id"] == unit]


# -- one worker, the story -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def story(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    settings = await fresh_settings(bootstrap, tmp_path_factory.mktemp("api"))
    topics = TopicNames(settings.topic_prefix)
    async with (serving(settings, bootstrap) as (_, base), OutputReader(bootstrap, topics) as reader,
                aiohttp.ClientSession() as http):
        await publish_story(bootstrap, topics, reader)
        # The API's own index (alerts, ETA history) follows the output topics.
        await until(http, f"{base}/api/delayed", lambda s, b: b["total"] == 2)
        await until(http, f"{base}/api/units/{UNIT.id}",
                    lambda s, b: len(b["eta"]["history"]) == len(published(reader, "eta", UNIT.id)))
        yield {"base": base, "reader": reader, "http": http}


async def test_unit_answers_timeline_plan_eta_history_and_alerts(story):
    http, base, reader = story["http"], story["base"], story["reader"]
    status, body, headers = await get(http, f"{base}/api/units/{UNIT.id}")
    assert status == 200 and headers[WORKER_HEADER] == base
    detail = UnitDetail.model_validate(body)  # the documented schema
    assert detail.partition == partition_for(UNIT.id.encode(), PARTITIONS)
    # Derived from the stored state at the watermark: the timeline the tracking job last published.
    assert body["timeline"] == published(reader, "timeline", UNIT.id)[-1]
    timeline = body["timeline"]
    assert timeline["status"] == "IN_TRANSIT" and timeline["predicted_arrival"] == "2026-03-21T08:00:00Z"
    assert body["watermark"] == "2026-03-12T00:00:00Z"
    assert body["plan"] == plan().model_dump(mode="json")
    # Every ETA update published for the unit, in order; the current one is the last.
    assert body["eta"]["history"] == published(reader, "eta", UNIT.id)
    assert body["eta"]["current"]["predicted_arrival"] == "2026-03-21T08:00:00Z"
    alerts = published(reader, "alert", UNIT.id)
    assert [a["milestone"] for a in alerts] == ["DEP:CNCKG:1", "DEP:KZDOS:1"]
    assert body["open_alerts"] == [alerts[1]]
    assert body["closed_alerts"] == [{"alert": alerts[0],
                                      "closed_because": f"superseded by the later alert {alerts[1]['alert_id']}"}]


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/api/units/csqu%20305438-3", 200, None),  # the same container, typed loosely
    ("/api/units/CSQU3054384", 400, "ISO 6346"),  # wrong check digit
    ("/api/units/CSQU305438", 400, "ISO 6346"),
    ("/api/units/020-12345676", 400, "air waybill check digit"),
    ("/api/units/MSKU1234570", 404, "no container MSKU1234570 is tracked"),
    ("/api/units/020-12345675", 404, "no awb 020-12345675 is tracked"),
    ("/api/units/CSQU3054383?kind=SHIP", 400, "unknown unit kind"),
    ("/api/shipments/MAEU123456789", 404, "no shipment MAEU123456789 is tracked"),
    ("/api/hubs/DUISBURG/units", 400, "not a UN/LOCODE"),
    ("/api/hubs/XXDUI/units", 404, "unknown hub XXDUI"),
    ("/api/alerts?severity=HIGH", 400, "unknown severity HIGH"),
    ("/api/alerts?limit=0", 400, "limit must be from 1 to 500"),
    ("/api/alerts?cursor=abc", 400, "invalid cursor"),
    ("/api/nothing-here", 404, "no endpoint /api/nothing-here"),
])
async def test_references_and_parameters_are_checked(story, path, status, says):
    got, body, headers = await get(story["http"], story["base"] + path)
    assert got == status, body
    assert headers["Content-Type"].startswith("application/json")
    if says is None:
        assert body["unit"]["id"] == UNIT.id
    else:
        assert body["error"] == {400: "bad_request", 404: "not_found"}[status]
        assert says in body["message"]


async def test_open_alerts_newest_first_filtered_and_paged(story):
    http, base, reader = story["http"], story["base"], story["reader"]
    late, overdue = published(reader, "alert", UNIT.id)[1], published(reader, "alert", OTHER.id)[0]
    _, body, _ = await get(http, f"{base}/api/alerts?open=true")
    page = AlertPage.model_validate(body)
    assert body["items"] == [late, overdue]  # detected 12 Mar, then 8 Mar
    assert page.coverage.complete and page.next_cursor is None
    _, body, _ = await get(http, f"{base}/api/alerts?severity=MINOR,MAJOR")
    assert body["items"] == []
    _, body, _ = await get(http, f"{base}/api/alerts?open=false")
    assert [a["milestone"] for a in body["items"]] == ["DEP:CNCKG:1"]
    _, first, _ = await get(http, f"{base}/api/alerts?limit=1")
    assert first["items"] == [late] and first["next_cursor"]
    _, second, _ = await get(http, f"{base}/api/alerts", params={"limit": "1", "cursor": first["next_cursor"]})
    assert second["items"] == [overdue] and second["next_cursor"] is None


async def test_delayed_units_and_hubs(story):
    http, base = story["http"], story["base"]
    _, body, _ = await get(http, f"{base}/api/delayed")
    rows = DelayedUnits.model_validate(body).items
    assert [(r.unit.id, r.attention, r.worst_severity) for r in rows] == [
        (OTHER.id, "OVERDUE", "CRITICAL"), (UNIT.id, "DELAYED", "CRITICAL")]
    assert rows[1].location == "KZDOS" and rows[1].minutes_late == 56 * 60

    _, body, _ = await get(http, f"{base}/api/hubs/plmal/units")
    hub = HubUnits.model_validate(body)
    assert hub.hub.locode == "PLMAL" and hub.at == []
    assert [(b.unit.id, b.next_stop) for b in hub.bound] == [(UNIT.id, True), (OTHER.id, False)]
    assert body["bound"][0]["predicted_at_hub"] == "2026-03-19T00:00:00Z"
    _, body, _ = await get(http, f"{base}/api/hubs/CNCKG/units")
    assert [u["unit"]["id"] for u in body["at"]] == [] and body["bound"] == []
    _, body, _ = await get(http, f"{base}/api/hubs")
    assert {"DEDUI", "SGSIN", "BELGG"} <= {h["locode"] for h in body["items"]}


async def test_health_readiness_and_openapi(story):
    http, base = story["http"], story["base"]
    status, body, _ = await get(http, f"{base}/healthz")
    assert (status, body) == (200, {"status": "ok", "worker": base})
    status, body, _ = await get(http, f"{base}/readyz")
    ready = Readiness.model_validate(body)
    assert status == 200 and ready.ready and ready.partitions == list(range(PARTITIONS)) and ready.recovery_completed
    status, body, _ = await get(http, f"{base}/api/openapi.json")
    assert status == 200 and body == document()
    assert OPENAPI_PATH.read_bytes().strip() and body["openapi"] == "3.1.0"
    async with http.get(f"{base}/") as r:
        assert r.status == 200 and "corridor" in await r.text()


# -- two workers: routing ------------------------------------------------------------------------------------


async def test_two_workers_route_each_request_to_the_owner_of_the_key(bootstrap, tmp_path):
    first = await fresh_settings(bootstrap, tmp_path / "a")
    second = first.model_copy(update={"data_dir": tmp_path / "b", "web_port": free_port()})
    topics = TopicNames(first.topic_prefix)
    async with (serving_all(bootstrap, first, second) as (a, b), OutputReader(bootstrap, topics) as reader,
                aiohttp.ClientSession() as http):
        # Wait until each worker has half of the partitions (a late joiner means one more rebalance).
        owns: dict[str, list[int]] = {}
        for base in (a, b):
            body = await until(http, f"{base}/readyz", lambda s, body: s == 200 and len(body["partitions"]) == 2)
            owns[base] = body["partitions"]
        assert sorted(owns[a] + owns[b]) == list(range(PARTITIONS))
        owner = {p: base for base, parts in owns.items() for p in parts}
        units = {u.id: owner[partition_for(u.id.encode(), PARTITIONS)] for u in (UNIT, OTHER)}

        await publish_story(bootstrap, topics, reader)
        for base in (a, b):  # every worker answers for every unit: its own, or forwarded to the owner
            for unit, home in units.items():
                body = await until(http, f"{base}/api/units/{unit}",
                                   lambda s, body: s == 200 and body["eta"]["history"]
                                   and body["open_alerts"])  # fmt: skip
                _, _, headers = await get(http, f"{base}/api/units/{unit}")
                assert headers[WORKER_HEADER] == home and body["unit"]["id"] == unit
            # Lists are gathered from both workers.
            page = await until(http, f"{base}/api/alerts", lambda s, body: len(body["items"]) == 2)
            assert page["coverage"] == {"partitions": list(range(PARTITIONS)), "missing": [], "complete": True}
            assert {x["unit"]["id"] for x in page["items"]} == set(units)
            delayed = await until(http, f"{base}/api/delayed", lambda s, body: body["total"] == 2)
            assert [r["unit"]["id"] for r in delayed["items"]] == [OTHER.id, UNIT.id]
        # A request that was already forwarded is not forwarded again (no ping-pong during a rebalance).
        elsewhere = units[UNIT.id]
        not_owner = a if elsewhere == b else b
        status, body, _ = await get(http, f"{not_owner}/api/units/{UNIT.id}", headers={HOP_HEADER: elsewhere})
        assert status == 503 and "moving between workers" in body["message"]


# -- shipments: the split air waybill on two workers -------------------------------------------------------------


def _kinds(alerts: list[dict]) -> list[tuple]:
    return [(a["kind"], a["severity"], a["leg_index"], (a["unit"] or {}).get("id")) for a in alerts]


async def test_shipment_on_two_workers_loaded_then_delivered(bootstrap, tmp_path):
    first = await fresh_settings(bootstrap, tmp_path / "a")
    second = first.model_copy(update={"data_dir": tmp_path / "b", "web_port": free_port()})
    topics = TopicNames(first.topic_prefix)
    async with (serving_all(bootstrap, first, second) as (a, b), OutputReader(bootstrap, topics) as reader,
                aiohttp.ClientSession() as http):
        owns = {base: (await until(http, f"{base}/readyz", lambda s, body: s == 200 and len(body["partitions"]) == 2)
                       )["partitions"] for base in (a, b)}  # fmt: skip
        home = next(base for base, parts in owns.items() if partition_for(AWB.encode(), PARTITIONS) in parts)

        await publish_in_steps(bootstrap, topics, reader, 0, LOADED)
        alerts = reader.of("shipment_alert")
        for base in (a, b):  # the owner answers, the other worker forwards
            body = await until(http, f"{base}/api/shipments/{AWB}", lambda s, body: s == 200 and len(
                body["open_alerts"]) + len(body["closed_alerts"]) == len(alerts) and body["eta"]["history"]
                == reader.of("shipment_eta"))  # fmt: skip
            _, _, headers = await get(http, f"{base}/api/shipments/{AWB}")
            assert headers[WORKER_HEADER] == home
        detail = ShipmentDetail.model_validate(body)  # the documented schema
        tl = body["timeline"]
        assert detail.shipment.id == AWB and tl["status"] == "AT_HUB" and tl["location"] == "BELGG"
        assert [(p["unit"]["id"], p["pieces"], p["leg_index"]) for p in tl["parts"]] == [
            ("AKE10001RU", 6, 0), ("AKE10002RU", 4, 0), ("LGG-MAD 7", 10, 1)]
        assert [(g["units"], g["pieces_departed"], g["actual_arrival"]) for g in tl["legs"]] == [
            (["AKE10001RU", "AKE10002RU"], 10, "2026-03-05T13:00:00Z"), (["LGG-MAD 7"], 0, None)]
        assert (tl["predicted_delivery"], tl["minutes_late"]) == ("2026-03-07T01:00:00Z", 42 * 60)
        assert tl["hubs"][0]["location"] == "BELGG" and tl["hubs"][0]["dwell_minutes"] > tl["hubs"][0]["normal_minutes"]
        assert [r["stops"] for r in body["routes"]] == [["HKHKG", "BELGG"], ["HKHKG", "BELGG"], ["BELGG", "ESMAD"]]
        assert body["plan"] == SHIPMENT_RECORDS[3].model_dump(mode="json")
        assert _kinds(body["open_alerts"]) == [("OVERDUE", "CRITICAL", 1, None), ("LATE", "CRITICAL", 0, "AKE10002RU"),
                                               ("DWELL", "MINOR", 1, "AKE10001RU")]
        # /api/alerts lists shipment alerts with the unit alerts (none here: each unit kept its own plan).
        page = await until(http, f"{a}/api/alerts", lambda s, body: len(body["items"]) == 3)
        assert {x["record"] for x in page["items"]} == {"shipment_alert"} and page["coverage"]["complete"]
        _, units_only, _ = await get(http, f"{b}/api/alerts?about=unit")
        assert units_only["items"] == []
        # The delayed-shipments list, from either worker (each asks the other for its partitions).
        for base in (a, b):
            _, delayed, _ = await get(http, f"{base}/api/delayed/shipments")
            assert DelayedShipments.model_validate(delayed).coverage.complete
            assert [(r["shipment"]["id"], r["status"], r["location"], r["minutes_late"], r["kinds"], r["open_alerts"],
                     r["worst_severity"]) for r in delayed["items"]] == [
                (AWB, "AT_HUB", "BELGG", 42 * 60, ["DWELL", "LATE", "OVERDUE"], 3, "CRITICAL")]  # fmt: skip
            assert delayed["items"][0]["latest_alert"] == body["open_alerts"][0]

        # Errors say what was wrong.
        for path, status, says in [
            ("/api/shipments/580-12345676", 400, "air waybill check digit is wrong"),
            ("/api/shipments/M%20A", 400, "not a shipment reference"),
            ("/api/shipments/580-12345675?kind=PARCEL", 400, "unknown shipment kind"),
            ("/api/shipments/020-12345675", 404, "no air waybill 020-12345675 is tracked"),
            ("/api/shipments/MAEU123456789", 404, "no shipment MAEU123456789 is tracked"),
            ("/api/alerts?about=trains", 400, "about must be unit, shipment or both"),
        ]:
            for base in (a, b):
                got, err, _ = await get(http, base + path)
                assert (got, err["error"]) == (status, {400: "bad_request", 404: "not_found"}[status]), (path, err)
                assert says in err["message"], err

        # The rest: the truck delivers at Madrid 43 h late, and every alert is closed.
        await publish_in_steps(bootstrap, topics, reader, LOADED, len(SHIPMENT_RECORDS))
        body = await until(http, f"{a}/api/shipments/58012345675", lambda s, body: s == 200
                           and body["eta"]["current"]["reason"] == "delivered at ESMAD")  # fmt: skip
        assert body["timeline"]["status"] == "DELIVERED" and body["timeline"]["minutes_late"] == 43 * 60
        assert body["open_alerts"] == [] and {c["closed_because"] for c in body["closed_alerts"]} == {
            "the shipment was delivered at 2026-03-07T02:00:00Z"}
        assert _kinds([c["alert"] for c in body["closed_alerts"]]) == _kinds(
            sorted(reader.of("shipment_alert"), key=lambda x: (x["detected_at"], x["alert_id"]), reverse=True))
        page = await until(http, f"{b}/api/alerts?about=shipment&open=false", lambda s, body: len(body["items"]) > 3)
        assert len(page["items"]) == len(reader.of("shipment_alert"))
        _, delayed, _ = await get(http, f"{b}/api/delayed/shipments")
        assert delayed["items"] == [] and delayed["total"] == 0
