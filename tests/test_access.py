"""Who sees what: every role against every listing and action of visits and projects.

county/zone: its own visits, and projects it executes or registered first; chain lead: its
chains' projects and visits to its chains' enterprises; bureau: everything; city leader:
the projects assigned to them. A project id one may not see reads as one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.app import App
from bot.core.conversation import action_data
from models import Chain, Member, Project, Stage, User
from services import members, projects, visits
from services.access import Purpose
from services.projects import ProjectDraft
from services.visits import VisitDraft
from tests.conftest import ChatFactory, Clock

BUREAU, LIAISON, COUNTY, ZONE, CHAIN_LEAD, DEPARTMENT, SOE, LEADER = 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008
EVERYONE = (BUREAU, LIAISON, COUNTY, ZONE, CHAIN_LEAD, DEPARTMENT, SOE, LEADER)
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

# Projects: 1 甘州区 新能源 (led by 市工信局, assigned to 郑市长), 2 经开区 玉米制种, 3 市财政局.
SEES_PROJECTS = {
    BUREAU: {1, 2, 3},
    LIAISON: None,  # no /projects at all
    COUNTY: {1},
    ZONE: {2},
    CHAIN_LEAD: {1},
    DEPARTMENT: {3},
    SOE: set(),
    LEADER: {1},
}
WORKS_ON = {COUNTY: {1}, ZONE: {2}, DEPARTMENT: {3}, SOE: set()}
# Visits: 1 甘州区 to 宁德时代 (a 新能源 enterprise), 2 经开区 to 比亚迪 (no chain).
SEES_VISITS = {
    BUREAU: {1, 2},
    LIAISON: set(),
    COUNTY: {1},
    ZONE: {2},
    CHAIN_LEAD: {1},
    DEPARTMENT: set(),
    SOE: set(),
    LEADER: None,  # no /visits
}
NAMES = {1: "储能电池基地项目", 2: "玉米种子加工项目", 3: "产业基金合作项目"}
VISITED = {1: "宁德时代", 2: "比亚迪"}


async def member(app: App, telegram_id: int) -> Member:
    found = await members.load_member(app.db, telegram_id, admin_ids=frozenset())
    assert found is not None
    return found


async def chain_id(app: App, name_zh: str) -> int:
    async with app.db.session() as session:
        chain = (await session.exec(select(Chain).where(Chain.name_zh == name_zh))).one()
        assert chain.id is not None
        return chain.id


@pytest.fixture
async def records(app: App) -> None:
    async def project(who: int, enterprise: str, name: str, chain: str | None, planned: int) -> Project:
        return await projects.register(
            app.db,
            member=await member(app, who),
            draft=ProjectDraft(
                enterprise_id=None,
                enterprise_name=enterprise,
                credit_code=None,
                name=name,
                chain_id=await chain_id(app, chain) if chain else None,
                planned_yuan=planned,
                first_talk_date=date(2026, 11, 1),
                stage=Stage.NEGOTIATION,
                description="",
            ),
            now=NOW,
            today=date(2026, 11, 28),
        )

    await project(COUNTY, "宁德时代", NAMES[1], "新能源", 1_200_000_000)
    await project(ZONE, "张掖种业公司", NAMES[2], "玉米制种", 50_000_000)
    await project(DEPARTMENT, "张掖产业基金", NAMES[3], None, 20_000_000)
    async with app.db.session() as session:
        leader = (await session.exec(select(User).where(User.telegram_id == LEADER))).one()
    assert leader.id is not None
    await projects.assign_leader(app.db, member=await member(app, BUREAU), project_id=1, leader_user_id=leader.id)
    for who, enterprise in ((COUNTY, VISITED[1]), (ZONE, VISITED[2])):
        await visits.create_visit(
            app.db,
            member=await member(app, who),
            draft=VisitDraft(
                enterprise_id=None,
                enterprise_name=enterprise,
                credit_code=None,
                visit_date=date(2026, 11, 27),
                follow_up_date=date(2026, 12, 5),
                place="企业",
                no_location_reason="补录",
            ),
            go_ahead=True,
        )


@pytest.mark.usefixtures("records")
async def test_services_follow_the_rule(app: App) -> None:
    for who in EVERYONE:
        person = await member(app, who)
        seen = {r.id for r in await projects.visible(app.db, person)}
        assert seen == (SEES_PROJECTS[who] or set()), who
        for project_id in (1, 2, 3):
            assert (await projects.get(app.db, person, project_id) is not None) == (project_id in seen), who
            works = project_id in WORKS_ON.get(who, set()) or who == BUREAU
            assert (await projects.get(app.db, person, project_id, Purpose.WORK) is not None) == works, who
            decides = await projects.get(app.db, person, project_id, Purpose.DECIDE) is not None
            assert decides == (who == BUREAU), who
        for project_id in (1, 2, 3):
            if who != BUREAU:
                with pytest.raises(projects.ProjectError):
                    await projects.transfer(app.db, member=person, project_id=project_id, to_unit_id=1, reason="x")
        seen_visits = {r.visit.id for r in await visits.visible(app.db, person)}
        assert seen_visits == (SEES_VISITS[who] or set()), who


@pytest.mark.usefixtures("records")
async def test_project_listings_and_cards(chat: ChatFactory, app: App) -> None:
    for who in EVERYONE:
        c = chat(who)
        await c.send("/projects")
        expected = SEES_PROJECTS[who]
        if expected is None:
            assert "/projects" in c.last_text and not any(n in c.last_text for n in NAMES.values())
            continue
        for project_id, name in NAMES.items():
            assert (name in c.last_text) == (project_id in expected), (who, project_id)
        for project_id, name in NAMES.items():
            await c.send(f"/projects {project_id}")
            assert (name in c.last_text) == (project_id in expected), (who, project_id)
            if project_id not in expected:
                assert "没有找到" in c.last_text
            await c.press_data(action_data("pj", project_id))
            assert (name in c.last_text) == (project_id in expected), (who, project_id)


@pytest.mark.usefixtures("records")
async def test_progress_and_transfer_actions(chat: ChatFactory, app: App) -> None:
    for who in EVERYONE:
        c = chat(who)
        for project_id, name in NAMES.items():
            await c.send(f"/progress {project_id}")
            if who not in WORKS_ON:
                assert "不能使用" in c.last_text or "/progress" in c.last_text, who
                assert name not in c.last_text
            elif project_id in WORKS_ON[who]:
                assert "要更新什么" in c.last_text and name in c.last_text
            else:
                assert "没有找到" in c.last_text and name not in c.last_text
            await c.send("/cancel")
            await c.send(f"/transfer {project_id}")
            if who == BUREAU:
                assert c.heard("project.ask.unit")
            else:
                assert not c.heard("project.ask.unit") and name not in c.last_text
            await c.send("/cancel")
    async with app.db.session() as session:
        rows = (await session.exec(select(Project))).all()
    assert {p.id: p.stage for p in rows} == {1: "negotiation", 2: "negotiation", 3: "negotiation"}


@pytest.mark.usefixtures("records")
async def test_lagging_for_each_role(chat: ChatFactory, clock: Clock) -> None:
    clock.now = NOW + timedelta(days=40)
    for who in EVERYONE:
        c = chat(who)
        await c.send("/lagging")
        expected = SEES_PROJECTS[who]
        for project_id, name in NAMES.items():
            assert (name in c.last_text) == (expected is not None and project_id in expected), (who, project_id)


@pytest.mark.usefixtures("records")
async def test_visit_listings_and_buttons(chat: ChatFactory, app: App) -> None:
    for who in EVERYONE:
        c = chat(who)
        await c.send("/visits")
        expected = SEES_VISITS[who]
        for visit_id, enterprise in VISITED.items():
            assert (f"#{visit_id} " in c.last_text and enterprise in c.last_text) == (
                expected is not None and visit_id in expected
            ), (who, visit_id)
        # The reminder's buttons work for the person it was sent to, the visit's filer.
        await c.press_data(action_data("vpush", "1.7"))
        expired = c.heard("core.expired")
        assert ("2026-12-05" in c.last_text or expired) and (who == COUNTY) == (not expired)
        await c.press_data(action_data("vnext", 1))
        assert c.heard("visit.prefilled") == (who == COUNTY), who
        await c.send("/cancel")


@pytest.mark.usefixtures("records")
async def test_only_the_bureau_assigns_leaders(chat: ChatFactory, app: App) -> None:
    async with app.db.session() as session:
        leader = (await session.exec(select(User).where(User.telegram_id == LEADER))).one()
    for who in EVERYONE:
        if who == BUREAU:
            continue
        c = chat(who)
        await c.press_data(action_data("asg", f"2.{leader.id}"))
        assert c.heard("core.expired")
    async with app.db.session() as session:
        project = await session.get(Project, 2)
    assert project is not None and project.leader_user_id is None
