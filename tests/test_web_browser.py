"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, at phone width.

Each role opens the Mini App as Telegram does (``#tgWebAppData=…`` on the address), is
signed in by the page's own script, and reads every page; the figures are checked against
the database and a screenshot of each page goes to ``tests/report/``. A bad, stale or
missing signature gets the sign-in help and no figure. Without /usr/bin/chromium these
tests skip, and the run says so at its end.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.app import App
from bot.core.config import Settings
from bot.web.server import WebServer
from services import digests
from services.dashboard import Span, span_period
from services.money import format_money
from tests import deskkit as k
from tests.kit import zh
from tests.webkit import ROLES, init_data, small_city, today_of, web_settings

CHROMIUM = Path("/usr/bin/chromium")
REPORT = Path(__file__).resolve().parent / "report"
PHONE = {"width": 390, "height": 844}
PAGES = ("overview", "map", "projects", "leads", "chains", "export")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"browser tests skip: no Chromium at {CHROMIUM}")


@pytest.fixture
def backend() -> str:
    # The pages' queries are proven on both databases over HTTP (test_web_pages); one is enough here.
    return "sqlite"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return web_settings(database_url)


@pytest.fixture
async def server(app: App) -> AsyncIterator[str]:
    web = WebServer(app, host="127.0.0.1", port=0)
    await web.start()
    yield f"http://127.0.0.1:{web.port}"
    await web.stop()


def fonts_with_the_packaged_cjk_font(folder: Path) -> dict[str, str]:
    """Chromium's environment with the chart font our install ships added to fontconfig.

    The machine need not have a CJK font of its own (the charts don't either), so the
    screenshots show Chinese from the same ``noto-cjk-sans-otc`` package the charts use.
    """
    from noto_cjk_sans_otc import FONT_PATH

    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{Path(FONT_PATH).parent}</dir><cachedir>{folder}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        chromium = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], env=fonts_with_the_packaged_cjk_font(tmp_path)
        )
        yield chromium
        await chromium.close()


async def open_as(browser: Any, server: str, data: str) -> Any:
    """A phone-sized tab opened the way Telegram opens a Mini App."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN")
    tab = await context.new_page()
    await tab.goto(f"{server}/#tgWebAppData={quote(data)}&tgWebAppVersion=8.0&tgWebAppPlatform=ios")
    return tab


async def shoot(tab: Any, name: str) -> None:
    REPORT.mkdir(exist_ok=True)
    await tab.screenshot(path=str(REPORT / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("who", ["bureau", "leader", "county", "chain_lead", "liaison"])
async def test_each_role_reads_every_page(browser: Any, server: str, app: App, who: str) -> None:
    city = await small_city(app)
    tab = await open_as(browser, server, init_data(ROLES[who], at=app.now() - timedelta(minutes=1)))
    await tab.wait_for_url("**/overview")
    today = today_of(app)
    rows = {
        r.unit_id: r
        for r in await digests.county_rows(app.db, span_period(Span.YEAR, today), today + timedelta(days=1))
    }
    ganzhou, zone = city.ganzhou_project.first_talk_unit_id, city.zone_project.first_talk_unit_id
    await tab.goto(f"{server}/overview?span=year")
    counties = tab.locator("#counties tr[data-unit]")
    if who in ("bureau", "leader"):
        assert await counties.count() == len(rows)
        shown = await tab.locator(f'#counties tr[data-unit="{zone}"] td.funds').inner_text()
        assert shown == format_money(rows[zone].funds_year, "zh") == format_money(50_000_000, "zh")
    elif who == "county":
        assert await counties.count() == 1
        shown = await tab.locator(f'#counties tr[data-unit="{ganzhou}"] td.funds').inner_text()
        assert shown == format_money(rows[ganzhou].funds_year, "zh")
    else:
        assert await counties.count() == 0
    await shoot(tab, f"{who}-overview")
    for name in PAGES[1:]:
        await tab.click(f'nav a[href="/{name}"]')
        await tab.wait_for_url(f"**/{name}")
        assert await tab.locator("main section").count() >= 1
        await shoot(tab, f"{who}-{name}")

    await tab.goto(f"{server}/projects")
    names = await tab.locator("#list").inner_text()
    if who in ("bureau", "leader"):
        assert city.zone_project.name in names and city.ganzhou_project.name in names
    elif who == "county":
        assert city.ganzhou_project.name in names and city.zone_project.name not in names
    elif who == "chain_lead":
        assert city.ganzhou_project.name in names  # its chain's project
        assert city.zone_project.name not in names
    else:
        assert names.strip() == zh("web.projects.all")
    if who != "liaison":
        await tab.click(f'a[href="/projects/{city.ganzhou_project.id}"] >> nth=0')
        await tab.wait_for_url(f"**/projects/{city.ganzhou_project.id}")
        assert await tab.locator("#card td.funds").inner_text() == format_money(120_000_000, "zh")
        await shoot(tab, f"{who}-project-card")

    await tab.goto(f"{server}/map")
    assert await tab.locator("svg.map path[data-county]").count() == 6
    visits = await tab.locator("svg.map .visit").count()
    assert visits == {"bureau": 2, "leader": 2, "county": 1, "chain_lead": 1, "liaison": 0}[who]

    await tab.click("#lang")
    assert "Overview" in await tab.locator("nav").inner_text()
    await shoot(tab, f"{who}-map-en")
    await tab.context.close()


@pytest.mark.parametrize("case", ["forged", "stale", "stranger", "missing"])
async def test_a_bad_signature_gets_nothing(browser: Any, server: str, app: App, case: str) -> None:
    city = await small_city(app)
    data = {
        "forged": init_data(k.BUREAU, at=app.now(), token="1:not-this-bot"),
        "stale": init_data(k.BUREAU, at=app.now() - timedelta(days=2)),
        "stranger": init_data(800_000_000_404, at=app.now()),
        "missing": "",
    }[case]
    tab = await open_as(browser, server, data)
    help_text = tab.locator("#help")
    await help_text.wait_for(state="visible")
    assert "/web" in await help_text.inner_text()
    if case != "missing":
        assert await tab.locator("#status").inner_text() == zh("web.signin.refused")
    await shoot(tab, f"refused-{case}")
    for name in PAGES:
        response = await tab.goto(f"{server}/{name}")
        assert response is not None and response.status == 401
        body = await tab.locator("body").inner_text()
        assert city.ganzhou_project.name not in body and zh("web.denied.signin") in body
        assert await tab.locator("svg").count() == 0
    await tab.context.close()


async def test_a_link_from_the_chat_opens_a_browser_once(browser: Any, server: str, app: App) -> None:
    from services import webauth

    await small_city(app)
    user = await k.user(app, k.GANZHOU)
    token = await webauth.issue_link(app.db, user.id or 0, now=app.now())
    context = await browser.new_context(viewport=PHONE)
    tab = await context.new_page()
    await tab.goto(f"{server}/login/{token}")
    assert tab.url.endswith("/overview")
    assert await tab.locator("#counties tr[data-unit]").count() == 1
    other = await (await browser.new_context(viewport=PHONE)).new_page()
    response = await other.goto(f"{server}/login/{token}")
    assert response is not None and response.status == 403
    assert zh("web.denied.link") in await other.locator("body").inner_text()
    await context.close()
    await other.context.close()
