"""The dashboard's pages per role, over HTTP: the figures are the database's, the scope is the chat's."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import App
from bot.core.config import Settings
from bot.core.db import Database
from bot.web.server import INIT_HEADER, SESSION_COOKIE, build_web_app
from models import Member
from services import dashboard, digests, targets, webauth
from services.dashboard import Span
from services.money import format_money
from services.periods import Period, month_of
from tests import deskkit as k
from tests.kit import zh
from tests.webkit import ROLES, City, init_data, small_city, today_of, web_settings


@pytest.fixture
def settings(database_url: str) -> Settings:
    return web_settings(database_url)


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient[object, object]]:
    async with TestClient(TestServer(build_web_app(app))) as test_client:
        yield test_client


@pytest.fixture
async def city(app: App) -> City:
    return await small_city(app)


def signed(app: App, who: str) -> dict[str, str]:
    return {INIT_HEADER: init_data(ROLES[who], at=app.now() - timedelta(minutes=1))}


async def page(client: TestClient[object, object], app: App, who: str, path: str) -> str:
    response = await client.get(path, headers=signed(app, who))
    assert response.status == 200, (who, path, response.status)
    return await response.text()


def cell(html: str, row: str, cls: str) -> str:
    """The text of the ``cls`` cell in the row marked ``row`` (``data-unit="3"`` …)."""
    found = re.search(rf"<tr {row}[^>]*>.*?class=\"n {cls}\">([^<]*)<", html, re.S)
    assert found is not None, (row, cls)
    return found.group(1).strip()


async def test_the_bureau_reads_every_county_against_the_database(
    client: TestClient[object, object], app: App, city: City
) -> None:
    html = await page(client, app, "bureau", "/overview?span=year")
    today = today_of(app)
    rows = await digests.county_rows(app.db, dashboard.span_period(Span.YEAR, today), today + timedelta(days=1))
    ganzhou = next(r for r in rows if r.unit_id == city.ganzhou_project.first_talk_unit_id)
    zone = next(r for r in rows if r.unit_id == city.zone_project.first_talk_unit_id)
    assert ganzhou.funds_year == 120_000_000 and zone.funds_year == 50_000_000
    assert cell(html, f'data-unit="{ganzhou.unit_id}"', "funds") == format_money(120_000_000, "zh")
    assert cell(html, f'data-unit="{ganzhou.unit_id}"', "big") == str(ganzhou.big_projects) == "1"
    assert cell(html, f'data-unit="{zone.unit_id}"', "funds") == format_money(50_000_000, "zh")
    assert cell(html, 'class="total"', "funds") == format_money(sum(r.funds_year for r in rows), "zh")
    assert len(re.findall(r'<tr data-unit="\d+"><td>', html)) == len(rows) == 7
    assert zh("digest.rank.funds") in html
    assert "<svg" in html


async def test_a_county_sees_its_own_county_and_never_anothers_project(
    client: TestClient[object, object], app: App, city: City
) -> None:
    html = await page(client, app, "county", "/overview?span=year")
    own, other = city.ganzhou_project.first_talk_unit_id, city.zone_project.first_talk_unit_id
    assert cell(html, f'data-unit="{own}"', "funds") == format_money(120_000_000, "zh")
    assert f'<tr data-unit="{other}">' not in html and 'class="total"' not in html
    projects = await page(client, app, "county", "/projects")
    assert city.ganzhou_project.name in projects and city.lagging_project.name in projects
    assert city.zone_project.name not in projects
    assert cell(projects, 'data-stage="signed"', "count") == "1"
    assert cell(projects, 'data-stage="negotiation"', "count") == "0"  # the zone's is not counted
    card = await client.get(f"/projects/{city.zone_project.id}", headers=signed(app, "county"))
    assert card.status == 404 and city.zone_project.name not in await card.text()
    mine = await page(client, app, "county", f"/projects/{city.ganzhou_project.id}")
    assert city.ganzhou_project.name in mine and format_money(120_000_000, "zh") in mine
    assert zh("stage.signed") in mine
    the_map = await page(client, app, "county", "/map")
    assert the_map.count('class="visit"') == 1  # its own located visit, not the zone's
    assert city.zone_project.name not in the_map


async def test_the_projects_page_shows_what_is_stuck(client: TestClient[object, object], app: App, city: City) -> None:
    html = await page(client, app, "bureau", "/projects")
    lagging = html.split('id="lagging"')[1].split("</section>")[0]
    assert city.lagging_project.name in lagging and city.ganzhou_project.name not in lagging
    assert cell(html, 'data-stage="negotiation"', "count") == "1"
    waiting = html.split('id="waiting"')[1].split("</section>")[0]
    assert zh("web.projects.waiting_leader", count=1) in waiting and city.zone_project.name in waiting
    county = await page(client, app, "county", "/projects")
    assert zh("web.projects.waiting_leader", count=0) in county
    card = await page(client, app, "bureau", f"/projects/{city.zone_project.id}")
    assert city.zone_project.name in card


async def test_a_leader_reads_the_whole_city(client: TestClient[object, object], app: App, city: City) -> None:
    html = await page(client, app, "leader", "/projects")
    assert city.zone_project.name in html and city.ganzhou_project.name in html
    overview = await page(client, app, "leader", "/overview?span=year")
    assert 'class="total"' in overview


async def test_a_chain_lead_sees_its_chains_library(client: TestClient[object, object], app: App, city: City) -> None:
    html = await page(client, app, "chain_lead", "/chains")
    sections = await dashboard.chains_page(app.db, await _member(app, "chain_lead"), today_of(app), app.tz)
    assert [s.chain_id for s in sections] and all(f'data-chain="{s.chain_id}"' in html for s in sections)
    ours = next(s for s in sections if s.chain_id == city.chain_id)
    assert ours.library_size == 3
    shown = cell(html, f'data-chain="{city.chain_id}"', "size")
    assert shown == f"3/{ours.library_target}" if ours.library_target else shown == "3"
    county = await page(client, app, "county", "/chains")
    assert f'data-chain="{city.chain_id}"' not in county


async def test_the_leads_funnel_per_liaison_office(client: TestClient[object, object], app: App, city: City) -> None:
    html = await page(client, app, "liaison", "/leads")
    office = (await k.user(app, k.LIAISON)).unit_id
    row = f'class="office" data-unit="{office}"'
    block = html.split(row)[1].split("</section>")[0]
    figures = {c: re.search(rf'class="n {c}">(\d+)<', block) for c in ("submitted", "effective", "visited", "project")}
    assert {c: m.group(1) for c, m in figures.items() if m} == {
        "submitted": "3", "effective": "2", "visited": "2", "project": "2",
    }  # fmt: skip
    # The effective count is the liaison office's target count (services.targets), not a second reckoning.
    lines = await targets.progress(app.db, today=today_of(app), tz=app.tz, unit_ids=[office or 0])
    assert next(x.actual for x in lines[office or 0] if x.metric == "effective_leads") == 2
    assert month_of(today_of(app)).key == "2026-11"
    department = await page(client, app, "department", "/leads")
    assert row not in department


async def test_the_download_is_the_export_with_its_scope(
    client: TestClient[object, object], app: App, city: City
) -> None:
    from openpyxl import load_workbook

    response = await client.get("/export.xlsx?what=projects&period=this_year", headers=signed(app, "county"))
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(await response.read()))
    cells = {str(c.value) for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value}
    assert city.ganzhou_project.name in cells and city.zone_project.name not in cells
    bad = await client.get("/export.xlsx?what=everything", headers=signed(app, "county"))
    assert bad.status == 400


@pytest.mark.parametrize("path", ["/overview", "/map", "/projects", "/leads", "/chains", "/export", "/export.xlsx"])
async def test_no_signature_no_data(client: TestClient[object, object], app: App, city: City, path: str) -> None:
    stale = init_data(k.BUREAU, at=app.now() - timedelta(hours=2))
    forged = init_data(k.BUREAU, at=app.now(), token="1:someone-else")
    for headers in ({}, {INIT_HEADER: stale}, {INIT_HEADER: forged}, {INIT_HEADER: "user=1&hash=0"}):
        response = await client.get(path, headers=headers)
        body = await response.text()
        assert response.status == 401, (path, headers)
        assert city.ganzhou_project.name not in body and "¥" not in body and "<svg" not in body
        assert zh("web.denied.signin") in body
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: "guessed"})
    assert (await client.get(path)).status == 401


async def test_a_stranger_with_a_good_signature_gets_nothing(client: TestClient[object, object], app: App) -> None:
    stranger = init_data(800_000_000_404, at=app.now())
    assert (await client.get("/overview", headers={INIT_HEADER: stranger})).status == 401
    posted = await client.post("/auth/telegram", data={"initData": stranger})
    assert posted.status == 403


async def test_signing_in_from_telegram_and_by_link(client: TestClient[object, object], app: App, city: City) -> None:
    posted = await client.post("/auth/telegram", data={"initData": signed(app, "county")[INIT_HEADER]})
    assert posted.status == 204 and SESSION_COOKIE in posted.cookies
    assert city.ganzhou_project.name in await (await client.get("/projects")).text()
    client.session.cookie_jar.clear()
    refused = await client.post("/auth/telegram", data={"initData": "auth_date=1&hash=00"})
    assert refused.status == 401 and SESSION_COOKIE not in refused.cookies
    user = await k.user(app, k.BUREAU)
    token = await webauth.issue_link(app.db, user.id or 0, now=app.now())
    opened = await client.get(f"/login/{token}", allow_redirects=False)
    assert opened.status == 302 and opened.headers["Location"] == "/overview"
    assert (await client.get("/overview")).status == 200
    client.session.cookie_jar.clear()
    again = await client.get(f"/login/{token}", allow_redirects=False)
    assert again.status == 403 and zh("web.denied.link") in await again.text()


async def test_english_on_request(client: TestClient[object, object], app: App, city: City) -> None:
    html = await page(client, app, "bureau", "/overview?span=year&lang=en")
    assert "Core indicators" in html and format_money(120_000_000, "en") in html


async def _member(app: App, who: str) -> dashboard.Member:
    from services import members

    member = await members.load_member(app.db, ROLES[who], admin_ids=frozenset())
    assert member is not None
    return member


async def test_a_kept_page_is_never_anothers(client: TestClient[object, object], app: App, city: City) -> None:
    """Pages are kept a minute per person: the bureau's page is never served to a county."""
    assert city.zone_project.name in await page(client, app, "bureau", "/projects")
    assert city.zone_project.name not in await page(client, app, "county", "/projects")
    assert city.zone_project.name in await page(client, app, "bureau", "/projects")  # the kept one
    assert (await client.get("/projects")).status == 401


async def test_the_figures_are_counted_once_a_scope(
    client: TestClient[object, object], app: App, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bureau's figures serve a city leader within the minute; a county's are its own."""
    counted: list[str] = []
    real = dashboard.projects_page

    async def counting(db: Database, member: Member, now: datetime, today: date) -> dashboard.ProjectsPage:
        counted.append(member.full_name)
        return await real(db, member, now, today)

    monkeypatch.setattr(dashboard, "projects_page", counting)
    names = {who: (await k.user(app, ROLES[who])).full_name for who in ("bureau", "leader", "county", "zone")}
    bureau = await page(client, app, "bureau", "/projects")
    leader = await page(client, app, "leader", "/projects")
    assert counted == [names["bureau"]]
    assert city.zone_project.name in leader and cell(leader, 'data-stage="negotiation"', "count") == "1"
    # Each page names its own reader: only the figures were kept, not the page.
    assert names["leader"] in leader.split('class="who"')[1].split("</div>")[0]
    assert names["bureau"] in bureau.split('class="who"')[1].split("</div>")[0]
    county = await page(client, app, "county", "/projects")
    assert counted == [names["bureau"], names["county"]]
    assert city.zone_project.name not in county and cell(county, 'data-stage="negotiation"', "count") == "0"
    await page(client, app, "zone", "/projects")
    assert counted == [names["bureau"], names["county"], names["zone"]]


async def test_what_is_stuck_is_counted_whole_and_listed_in_part(
    client: TestClient[object, object], app: App, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lists stop at what a phone shows; their counts are of every one the person may see."""
    from models import ApprovalItem, ApprovalKind, ElementNeed

    monkeypatch.setattr(dashboard, "STUCK_SHOWN", 1)
    today = today_of(app)
    county, zone, department = await k.user(app, k.GANZHOU), await k.user(app, k.ZONE), await k.user(app, k.CZJ)
    ours, theirs = city.ganzhou_project.id or 0, city.zone_project.id or 0
    async with app.db.session() as session:
        for code in ("land", "power", "water"):
            session.add(ApprovalKind(code=f"web_{code}", name_zh=f"审批{code}", name_en=code))
        overdue = [(ours, "web_land", 9), (ours, "web_power", 3), (theirs, "web_land", 5), (theirs, "web_water", 1)]
        for project_id, kind, days in overdue:
            session.add(ApprovalItem(project_id=project_id, kind_code=kind, due_on=today - timedelta(days=days)))
        session.add(ApprovalItem(project_id=ours, kind_code="web_water", due_on=today + timedelta(days=3)))
        for project_id, who, days in ((ours, county, 20), (ours, county, 10), (theirs, zone, 5)):
            session.add(
                ElementNeed(
                    project_id=project_id, kind="land", size="200亩", needed_by=today + timedelta(days=days),
                    department_unit_id=department.unit_id or 0, raised_by=who.id or 0, raised_unit_id=who.unit_id or 0,
                )
            )  # fmt: skip
        await session.commit()

    def stuck(html: str) -> str:
        return html.split('id="waiting"')[1].split("</section>")[0]

    bureau = stuck(await page(client, app, "bureau", "/projects"))
    assert zh("web.projects.waiting_taskforce", count=4) in bureau
    # One line of each: the longest overdue approval, the need wanted soonest.
    assert bureau.count('muted">审批') == 1 and (today - timedelta(days=9)).isoformat() in bureau
    assert zh("web.projects.waiting_need", count=3) in bureau
    assert bureau.count("市财政局") == 1 and city.zone_project.name in bureau
    mine = stuck(await page(client, app, "county", "/projects"))
    assert zh("web.projects.waiting_taskforce", count=2) in mine
    assert zh("web.projects.waiting_need", count=2) in mine
    assert city.zone_project.name not in mine and (today - timedelta(days=9)).isoformat() in mine


async def test_the_citys_rows_and_rankings_are_counted_once_for_every_scope(
    client: TestClient[object, object], app: App, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = 0
    real = digests.county_rows

    async def counting(db: Database, period: Period, until: date) -> list[digests.UnitRow]:
        nonlocal counted
        counted += 1
        return await real(db, period, until)

    monkeypatch.setattr(digests, "county_rows", counting)
    bureau = await page(client, app, "bureau", "/overview?span=year")
    county = await page(client, app, "county", "/overview?span=year")
    assert counted == 1
    own, other = city.ganzhou_project.first_talk_unit_id, city.zone_project.first_talk_unit_id
    assert cell(county, f'data-unit="{own}"', "funds") == cell(bureau, f'data-unit="{own}"', "funds")
    assert f'<tr data-unit="{other}">' in bureau and f'<tr data-unit="{other}">' not in county
    await page(client, app, "county", "/overview?span=month")  # another period is its own count
    assert counted == 2
