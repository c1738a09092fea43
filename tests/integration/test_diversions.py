"""A container diverted round the Cape of Good Hope on a Suez plan, through the real broker and a real worker:
one DIVERTED alert, its ETA and CO2e change, and what the worker emits equals the replay (the engine's own
outputs for the same records)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from schemas import Leg, Plan, TrackedUnit, TrackingEvent
from streams.io.kafka import Publisher
from streams.topology.runner import running
from tests.integration.conftest import PARTITIONS
from tests.integration.story import T0, d, expected

pytestmark = pytest.mark.integration

BOX = TrackedUnit.container("MSKU1234565")


def sea_plan() -> Plan:
    return Plan(unit=BOX, issued_time=T0, lane="CNSHA-NLRTM", cargo_tonnes=12.0, promised_delivery=d(36), legs=[
        Leg(mode="SEA", carrier="COSCO", origin="CNSHA", destination="SGSIN", planned_departure=d(1),
            planned_arrival=d(6, 12), reference="AEX 101S"),
        Leg(mode="SEA", carrier="COSCO", origin="SGSIN", destination="NLRTM", planned_departure=d(9, 12),
            planned_arrival=d(32, 12), reference="AEU 101W")])  # fmt: skip


def ev(n: int, milestone: str, loc: str, at) -> TrackingEvent:  # type: ignore[no-untyped-def]
    return TrackingEvent(event_id=f"cosco-{BOX.id}-{n}", source="cosco-dcsa", unit=BOX, mode="SEA",
                         milestone=milestone, classifier="ACTUAL", location=loc, event_time=at,
                         received_time=at + timedelta(minutes=10))  # fmt: skip


VOYAGE = [
    ev(1, "DEPARTED", "CNSHA", d(1)),
    ev(2, "ARRIVED", "SGSIN", d(6, 10)),
    ev(3, "DEPARTED", "SGSIN", d(9, 12)),
    ev(4, "ARRIVED", "ZACPT", d(24, 12)),  # Cape Town: not on the plan (it goes through Suez)
    ev(5, "DEPARTED", "ZACPT", d(25, 8)),
    ev(6, "ARRIVED", "NLRTM", d(42, 12)),
]


async def test_a_cape_diversion_is_alerted_once_and_moves_eta_and_co2e(bootstrap, settings, topics, reader):
    records = [sea_plan(), *VOYAGE]
    async with running(settings, bootstrap), Publisher(bootstrap, topics, PARTITIONS) as pub:
        await pub.send(records[0])
        await pub.flush()
        await reader.wait_for(lambda r: len(r.of("timeline")) >= 1)
        await pub.send_all(records[1:])  # one topic, one key: Kafka keeps their order
        await reader.wait_for(lambda r: any(t["status"] == "ARRIVED" for t in r.of("timeline")))
        await reader.settle()

    want = expected(records, topics, PARTITIONS)  # live equals replay
    assert reader.of("timeline") == want[topics.name("timeline")]
    assert reader.of("alert") == want[topics.name("alert")]
    assert reader.of("eta") == want[topics.name("eta")]
    assert reader.of("dead_letter") == []

    diverted = [a for a in reader.of("alert") if a["kind"] == "DIVERTED"]
    assert len(diverted) == 1
    assert diverted[0]["location"] == "ZACPT" and diverted[0]["milestone"] == "ARR:NLRTM:1"

    timelines = reader.of("timeline")
    suez = next(t for t in timelines if t.get("diversion") is None and t["co2e"])
    cape = next(t for t in timelines if t.get("diversion"))
    assert cape["diversion"]["route"] == ["ZACPT", "NLRTM"] and cape["diversion"]["route_names"] == ["Cape"]
    # 12 t at 8.94 g/tkm: Suez 2,200 + 8,250 nm, Cape 2,200 + 5,600 + 6,150 nm.
    assert suez["co2e"]["kg"] == pytest.approx(10450 * 1.852 * 12 * 8.94 / 1000, abs=0.5)
    assert cape["co2e"]["kg"] == pytest.approx(13950 * 1.852 * 12 * 8.94 / 1000, abs=0.5)
    assert cape["predicted_arrival"] > suez["predicted_arrival"]

    etas = reader.of("eta")
    at_cape = next(e for e in etas if e["reason"].startswith("ARRIVED ZACPT"))
    assert "diverted: seen at ZACPT" in at_cape["reason"] and "Cape" in at_cape["reason"]
    assert at_cape["predicted_arrival"] > at_cape["previous_prediction"]
    assert timelines[-1]["diversion"]["rejoined"] is True


async def test_the_api_and_the_page_show_the_diversion_co2e_and_the_unit_at_risk(bootstrap, tmp_path):
    import aiohttp

    from schemas.topics import TopicNames
    from streams.io.kafka import OutputReader
    from tests.integration.test_api import fresh_settings, serving, until

    settings = await fresh_settings(bootstrap, tmp_path)
    topics = TopicNames(settings.topic_prefix)
    async with (serving(settings, bootstrap) as (_, base), OutputReader(bootstrap, topics) as reader,
                Publisher(bootstrap, topics, PARTITIONS) as pub, aiohttp.ClientSession() as http):
        await pub.send(sea_plan())
        await pub.flush()
        await reader.wait_for(lambda r: len(r.of("timeline")) >= 1)
        await pub.send_all(VOYAGE[:5])  # round the Cape, not arrived yet
        await reader.wait_for(lambda r: any(a["kind"] == "DIVERTED" for a in r.of("alert")))
        body = await until(http, f"{base}/api/at-risk", lambda s, b: s == 200 and b["total"] == 1)
        row = body["items"][0]
        assert row["record"] == "unit" and row["unit"]["id"] == BOX.id and row["diverted"] is True
        assert row["minutes_late"] > 9 * 24 * 60 and "ZACPT" in row["reason"]
        detail = await until(http, f"{base}/api/units/{BOX.id}", lambda s, b: s == 200 and any(
            a["kind"] == "DIVERTED" for a in b["open_alerts"]))  # the alerts table fills asynchronously
        assert detail["timeline"]["diversion"]["route_names"] == ["Cape"]
        assert detail["timeline"]["co2e"]["legs"][1]["stops"] == ["SGSIN", "ZACPT", "NLRTM"]

        playwright_api = pytest.importorskip("playwright.async_api")
        from pathlib import Path

        if not Path("/usr/bin/chromium").exists():
            return
        from tests.integration.test_web import CHROMIUM_ARGS

        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                await page.goto(base + "/")
                risk = page.locator(f"[data-testid=at-risk-list] li[data-unit='{BOX.id}']")
                await risk.wait_for()
                assert "DIVERTED" in await risk.inner_text()
                await risk.click()
                await page.locator("[data-testid=diversion]").wait_for()
                assert "Cape" in await page.inner_text("[data-testid=diversion]")
                assert "SGSIN → ZACPT → NLRTM" in await page.inner_text("[data-testid=co2e]")
                assert errors == []
            finally:
                await browser.close()
