"""The operations page in headless Chromium (Debian's chromium, driven by Playwright), served by a real worker
on the real embedded broker: search, the unit's timeline on the map and the time axis, its ETA history and
alerts, and the live list of delayed and overdue units updating without a reload; and a shipment searched by its
air waybill: its parts across units, the late delivery and its alerts.

Needs /usr/bin/chromium (`.ci/install-browser`); never downloads a browser."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas import TrackedUnit
from schemas.topics import TopicNames
from streams.io.kafka import OutputReader, Publisher
from tests.integration.conftest import PARTITIONS
from tests.integration.story import OTHER, UNIT, d, plan, tick
from tests.integration.test_api import LOADED, fresh_settings, get, publish_in_steps, publish_story, serving, until
from tests.support.shipment_flows import AWB

playwright_api = pytest.importorskip("playwright.async_api")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium: .ci/install-browser"),
]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
THIRD = TrackedUnit.container("TGHU9876542")
SHOTS = os.environ.get("CORRIDOR_SCREENSHOTS")  # a directory: keep the screenshots taken here


@pytest.fixture(scope="module")
async def site(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("web")
    settings = await fresh_settings(bootstrap, root)
    topics = TopicNames(settings.topic_prefix)
    async with (serving(settings, bootstrap) as (_, base), OutputReader(bootstrap, topics) as reader,
                aiohttp.ClientSession() as http, playwright_api.async_playwright() as pw):
        await publish_story(bootstrap, topics, reader)
        await until(http, f"{base}/api/delayed", lambda s, b: b["total"] == 2)
        await until(http, f"{base}/api/units/{UNIT.id}", lambda s, b: len(b["eta"]["history"]) == 3)
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield {"base": base, "browser": browser, "bootstrap": bootstrap, "topics": topics, "shots": root}
        finally:
            await browser.close()


@pytest.fixture(scope="module")
async def ship_site(site, bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """A second worker, on its own topics, with the split air waybill up to its truck loaded at Liège (its event
    time, 2-5 March, is before the story's)."""
    root = tmp_path_factory.mktemp("web-shipment")
    settings = await fresh_settings(bootstrap, root)
    topics = TopicNames(settings.topic_prefix)
    async with (serving(settings, bootstrap) as (_, base), OutputReader(bootstrap, topics) as reader,
                aiohttp.ClientSession() as http):
        await publish_in_steps(bootstrap, topics, reader, 0, LOADED)
        n = len(reader.of("shipment_eta"))
        await until(http, f"{base}/api/shipments/{AWB}", lambda s, b: s == 200 and len(b["eta"]["history"]) == n)
        yield {**site, "base": base, "shots": root}


@pytest.fixture
async def page(site):
    async for p in _page(site):
        yield p


@pytest.fixture
async def ship_page(ship_site):
    async for p in _page(ship_site):
        yield p


async def _page(site):
    context = await site["browser"].new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Offline: nothing may be fetched from anywhere but the worker.
    outside: list[str] = []

    async def only_the_worker(route: Any) -> None:
        if route.request.url.startswith(site["base"]):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_the_worker)
    yield page
    await context.close()
    assert errors == [], errors
    assert outside == [], outside


async def shot(site, page, name: str) -> None:
    await page.screenshot(path=str(site["shots"] / f"{name}.png"), full_page=True)
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


async def test_search_shows_the_units_timeline_map_eta_and_alerts(site, page):
    await page.goto(site["base"] + "/")
    await page.fill("[data-testid=search-input]", "csqu 305438-3")
    await page.click("[data-testid=search-button]")
    detail = page.locator("[data-testid=unit-detail]")
    await detail.locator("[data-testid=unit-id]", has_text=UNIT.id).wait_for()
    assert await page.evaluate("location.hash") == "#/units/csqu%20305438-3"

    assert "IN TRANSIT" in await detail.inner_text()
    assert await page.inner_text("[data-testid=eta-predicted]") == "21 Mar 2026 08:00 UTC"
    assert await page.inner_text("[data-testid=eta-delay]") == "+2 d 8 h late"
    assert (await page.inner_text("[data-testid=eta-band]")).startswith("80% likely between ")  # p10-p90
    # Timeline: every planned milestone, actual where it happened, predicted where not.
    rows = page.locator("[data-testid=milestones] tbody tr")
    assert await rows.count() == 7
    assert "12 Mar 00:00" in await page.inner_text("tr[data-milestone='DEP:KZDOS:1']")
    assert "19 Mar 00:00 (predicted)" in await page.inner_text("tr[data-milestone='ARR:PLMAL:1']")
    # Map: the four stops (two placed between known neighbours) and the legs; time axis: one bar per leg.
    stops = await page.eval_on_selector_all("[data-testid=map] [data-stop]", "els => els.map(e => e.dataset.stop)")
    assert stops == ["CNCKG", "KZDOS", "PLMAL", "DEDUI"]
    assert "≈ PLMAL" in await page.inner_text("[data-testid=map]")
    assert await page.locator("[data-testid=time-axis] rect[data-leg]").count() == 3
    # ETA and how it moved; alerts.
    history = page.locator("[data-testid=eta-history] tbody tr")
    assert await history.count() == 3
    assert "+2 d 8 h" in await history.first.inner_text()
    alerts = page.locator("[data-testid=alerts]")
    assert "DEP:KZDOS:1" in await alerts.locator("ul.alerts > li").first.inner_text()
    assert "1 closed alert" in await alerts.inner_text()
    await shot(site, page, "unit")


async def test_bad_and_unknown_references_say_what_is_wrong(site, page):
    await page.goto(site["base"] + "/#/units/CSQU3054384")
    message = page.locator("[data-testid=message]")
    await message.wait_for()
    assert "ISO 6346" in await message.inner_text()
    await page.fill("[data-testid=search-input]", "MSKU1234570")
    await page.click("[data-testid=search-button]")
    await page.locator("[data-testid=message]", has_text="Not found").wait_for()
    assert "no container MSKU1234570 is tracked" in await message.inner_text()
    assert await page.locator("[data-testid=unit-detail]").is_hidden()


async def test_live_list_updates_without_a_reload_and_opens_a_unit(site, page):
    await page.goto(site["base"] + "/?refresh=500")
    board = page.locator("[data-testid=delayed-list]")
    await board.locator(f"li[data-unit='{OTHER.id}']").wait_for()
    units = await board.locator("li[data-unit]").evaluate_all("els => els.map(e => e.dataset.unit)")
    assert units == [OTHER.id, UNIT.id]  # overdue first
    assert "No shipment at risk" in await page.inner_text("[data-testid=delayed-shipments-list]")
    assert await page.inner_text("[data-testid=delayed-shipments-count]") == "0"
    assert "OVERDUE" in await board.locator(f"li[data-unit='{OTHER.id}']").inner_text()
    await page.evaluate("window.__same_page = true")

    # A third unit that never leaves Chongqing: it shows up in the open page by itself.
    async with Publisher(site["bootstrap"], site["topics"], PARTITIONS) as pub:
        await pub.send_all([plan(THIRD)])
        await pub.send_all([tick(d(6, 8))])
    await board.locator(f"li[data-unit='{THIRD.id}']").wait_for(timeout=30_000)
    assert await page.evaluate("window.__same_page === true")  # no reload happened
    assert await page.inner_text("[data-testid=delayed-count]") == "3"
    await shot(site, page, "live-list")

    await board.locator(f"li[data-unit='{THIRD.id}'] button").click()
    await page.locator("[data-testid=unit-id]", has_text=THIRD.id).wait_for()
    assert "OVERDUE" in await page.inner_text("[data-testid=alerts]")


async def test_search_shows_a_shipment_its_parts_late_delivery_and_alerts(ship_site, ship_page):
    page = ship_page
    await page.goto(ship_site["base"] + "/")
    await page.fill("[data-testid=search-input]", AWB)  # any kind: tried as a unit and as a shipment
    await page.click("[data-testid=search-button]")
    detail = page.locator("[data-testid=unit-detail]")
    await detail.locator("[data-testid=shipment-id]", has_text=AWB).wait_for()
    assert await page.evaluate("location.hash") == f"#/shipments/{AWB}"
    assert "AT HUB" in await detail.inner_text()
    assert "10 pieces in 3 parts across 3 units" in await page.inner_text("[data-testid=shipment-pieces]")
    # The late delivery: predicted against planned.
    assert await page.inner_text("[data-testid=eta-predicted]") == "7 Mar 2026 01:00 UTC"
    assert await page.inner_text("[data-testid=eta-delay]") == "+1 d 18 h late"
    assert "AKE10002RU" in await page.inner_text("[data-testid=eta-cause]")
    # Parts across units, on the map (one path each) and on the time axis; the dwell at Liège beyond normal.
    parts = await page.eval_on_selector_all("[data-testid=parts] tbody tr", "els => els.map(e => e.dataset.part)")
    assert parts == ["AKE10001RU", "AKE10002RU", "LGG-MAD 7"]
    assert "aboard" in await page.inner_text("tr[data-part='LGG-MAD 7']")
    paths = await page.eval_on_selector_all("[data-testid=map] path[data-part]", "els => els.map(e => e.dataset.part)")
    assert paths == ["AKE10001RU", "AKE10002RU", "LGG-MAD 7"]
    stops = await page.eval_on_selector_all("[data-testid=map] [data-stop]", "els => els.map(e => e.dataset.stop)")
    assert stops == ["HKHKG", "BELGG", "ESMAD"]
    assert await page.locator("[data-testid=time-axis] rect[data-part-bar]").count() == 3
    assert await page.locator("[data-testid=time-axis] rect[data-dwell-over='BELGG']").count() == 1
    assert "still there" in await page.inner_text("[data-testid=hubs] tr[data-hub='BELGG']")
    # Open alerts, each naming its leg and unit; the superseded and resolved ones folded away.
    alerts = page.locator("[data-testid=alerts] > ul.alerts > li")
    kinds = await alerts.evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds == ["OVERDUE", "LATE", "DWELL"]
    late = await page.inner_text("[data-testid=alerts] > ul.alerts > li[data-kind=LATE]")
    assert "leg 1 air HKHKG → BELGG" in late and "unit AKE10002RU" in late
    assert "unit AKE10001RU" in await page.inner_text("[data-testid=alerts] > ul.alerts > li[data-kind=DWELL]")
    assert "3 closed alerts" in await page.inner_text("[data-testid=alerts]")
    # 9 median moves and one door-to-door band move (the flight's band, carried to the truck leg: issue #25)
    assert await page.locator("[data-testid=eta-history] tbody tr").count() == 10
    await shot(ship_site, page, "shipment")
    # A part's unit opens the unit's own page.
    await page.click("[data-testid=parts] a[data-unit-link='AKE10002RU']")
    await page.locator("[data-testid=unit-id]", has_text="AKE10002RU").wait_for()


def _shown(iso: str) -> str:
    """An instant as the page prints it (fmtTime): '7 Mar 01:00'."""
    t = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)
    return f"{t.day} {t:%b} {t:%H:%M}"


async def test_a_shipment_shows_its_door_to_door_band(ship_site, ship_page):
    """The API serves the door delivery's band (p10 <= median <= p90) in the timeline, each leg's while it has not
    arrived, and in the ETA history; the page draws it as it draws a unit's: the sentence, the band behind the ETA
    chart, and here also on the time axis and in the legs table (issue #25)."""
    async with aiohttp.ClientSession() as http:
        status, body, _ = await get(http, f"{ship_site['base']}/api/shipments/{AWB}")
    assert status == 200
    t = body["timeline"]
    p10, p50, p90 = t["predicted_delivery_p10"], t["predicted_delivery"], t["predicted_delivery_p90"]
    assert p10 and p90 and p10 < p50 < p90, (p10, p50, p90)
    open_legs = [g for g in t["legs"] if not g["actual_arrival"]]
    assert open_legs and all(g["predicted_arrival_p10"] <= g["predicted_arrival"] <= g["predicted_arrival_p90"]
                             for g in open_legs)
    assert open_legs[-1]["predicted_arrival_p90"] == p90  # door to door: the last leg's band
    banded = [e for e in body["eta"]["history"] if e["predicted_delivery_p10"] and e["predicted_delivery_p90"]]
    assert banded and banded[-1]["predicted_delivery_p90"] == p90

    page = ship_page
    await page.goto(f"{ship_site['base']}/#/shipments/{AWB}")
    await page.locator("[data-testid=shipment-id]", has_text=AWB).wait_for()
    assert await page.inner_text("[data-testid=eta-band]") == f"80% likely between {_shown(p10)} and {_shown(p90)}"
    assert await page.locator("[data-testid=eta-chart] [data-testid=eta-band-area]").count() == 1
    assert await page.locator("[data-testid=time-axis] [data-testid=delivery-band]").count() == 1
    last = open_legs[-1]
    assert await page.inner_text(f"[data-testid=legs] [data-leg-band='{last['leg_index']}']") == (
        f"80% likely {_shown(last['predicted_arrival_p10'])} to {_shown(last['predicted_arrival_p90'])}")
    await shot(ship_site, page, "shipment-band")


async def test_live_shipment_list_shows_the_late_air_waybill_and_opens_it(ship_site, ship_page):
    page = ship_page
    await page.goto(ship_site["base"] + "/?refresh=500")
    board = page.locator("[data-testid=delayed-shipments-list]")
    row = board.locator(f"li[data-shipment='{AWB}']")
    await row.wait_for()
    assert await board.locator("li[data-shipment]").count() == 1
    assert await page.inner_text("[data-testid=delayed-shipments-count]") == "1"
    assert await row.get_attribute("class") == "OVERDUE"  # its cargo at Liège has not left
    text = await row.inner_text()
    for says in ("AT HUB", "CRITICAL", "dwell · late · overdue", "+1 d 18 h", "BELGG → ESMAD",
                 "delivery 7 Mar 01:00 (planned 5 Mar 07:00, promised 6 Mar 07:00)"):
        assert says in text, (says, text)
    await row.locator("button").click()
    await page.locator("[data-testid=shipment-id]", has_text=AWB).wait_for()
    assert await page.evaluate("location.hash") == f"#/shipments/{AWB}?kind=AIR_WAYBILL"
    await page.locator(f"[data-testid=delayed-shipments-list] li.selected[data-shipment='{AWB}']").wait_for()
    await shot(ship_site, page, "shipment-list")


async def test_a_malformed_air_waybill_says_so(ship_site, ship_page):
    page = ship_page
    await page.goto(ship_site["base"] + "/")
    await page.fill("[data-testid=search-input]", "580-12345676")
    await page.click("[data-testid=search-button]")
    message = page.locator("[data-testid=message]")
    await message.wait_for()
    assert "air waybill check digit is wrong" in await message.inner_text()
