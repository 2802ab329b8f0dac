"""Projects: registration under the first-talk rule, disputes, the race, progress, transfers,
leader assignment and lagging projects, driven through the conversation."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select

from bot.app import App
from bot.core import Reply
from bot.core.db import Database
from models import AuditEntry, Dispute, Enterprise, Member, Project, Unit, User
from services import members, projects
from services import settings as bureau_settings
from services.projects import AlreadyRegistered, ProjectDraft
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, RecordingTransport, heard, zh

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
BUREAU, LIAISON, COUNTY, ZONE, CHAIN_LEAD, DEPARTMENT, SOE, LEADER = 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008


async def all_projects(app: App) -> list[Project]:
    async with app.db.session() as session:
        return list((await session.exec(select(Project).order_by(col(Project.id)))).all())


async def unit_id(app: App, name_zh: str) -> int:
    async with app.db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.name_zh == name_zh))).one()
        assert unit.id is not None
        return unit.id


async def member(db: Database, telegram_id: int) -> Member:
    found = await members.load_member(db, telegram_id, admin_ids=frozenset())
    assert found is not None
    return found


async def register(
    c: Chat,
    enterprise: str = "宁德时代",
    name: str = "储能电池基地项目",
    amount: str = "5亿",
    chain: str = "新能源",
    stage: str = "首谈",
) -> None:
    await c.send("/project")
    await c.send(enterprise)
    if "相近" in c.last_text:
        await c.press(c.labels()[0])
    if "其他单位登记的在谈项目" in c.last_text:
        return
    await c.send(name)
    if "首先登记" in c.last_text or "登记过" in c.last_text:
        return
    await c.press(chain)
    await c.send(amount)
    if stage != "首谈":
        await c.press("改阶段")
        await c.press(stage)
    await c.press("确认登记")


def last_keyboard_to(transport: RecordingTransport, chat_id: int) -> Reply:
    return [i for cid, i in transport.sent if cid == chat_id and isinstance(i, Reply) and i.keyboard][-1]


# -- registration ---------------------------------------------------------------------------
async def test_register_a_first_talk_project(chat: ChatFactory, app: App, transport: RecordingTransport) -> None:
    c = chat(COUNTY)
    mark = len(c.history)
    await c.send("/project")
    assert c.heard("project.ask.enterprise")
    await c.send("宁德时代")
    assert c.heard("project.ask.name")
    await c.send("储能电池基地项目")
    await c.press("新能源")
    await c.send("5亿")
    summary = c.last_text
    # The first-talk date and the stage are shown with their defaults, not asked.
    assert (
        heard(summary, "project.summary.new_enterprise", name="宁德时代")
        and "5亿元" in summary
        and "甘州区" in summary
        and "2026-11-28" in summary
    )
    assert "阶段：首谈" in summary
    await c.press("确认登记")
    assert "#1" in c.last_text
    assert c.touches_since(mark) <= 6

    [project] = await all_projects(app)
    ganzhou = await unit_id(app, "甘州区")
    assert project.first_talk_unit_id == project.executing_unit_id == ganzhou
    assert project.planned_yuan == 500_000_000 and project.funds_in_place_yuan == 0
    assert project.stage == "first_talk" and project.first_talk_date == date(2026, 11, 28)
    assert project.industrial and project.leader_level_needed == "municipal"
    # ≥ 1亿 industrial: the bureau is asked; no municipal leader is registered yet.
    [told] = transport.texts_to(BUREAU)
    assert "包抓" in told and "储能电池基地项目" in told and "/invite" in told
    history = await projects.history(app.db, 1)
    assert [e.action for e in history] == ["registered", "leader_needed"]


async def test_a_project_in_one_message(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    mark = len(c.history)
    await c.send("/project 宁德时代 储能电池基地 投资20亿 新能源 洽谈")
    summary = c.last_text
    assert heard(summary, "project.summary") and "储能电池基地" in summary and "20亿元" in summary and "洽谈" in summary
    await c.press("确认登记")
    assert c.touches_since(mark) <= 2
    [project] = await all_projects(app)
    assert project.name == "储能电池基地" and project.planned_yuan == 2_000_000_000 and project.stage == "negotiation"


async def test_register_bad_inputs_keep_the_draft(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    await c.send("/project")
    await c.send("宁德时代")
    await c.send("   ")
    assert c.heard("core.err.empty") and c.heard("project.ask.name")
    await c.send("项" * 300)
    assert c.heard("core.err.too_long")
    await c.send("储能电池基地项目")
    await c.send("新能源")
    assert "按钮" in c.last_text and "产业链" in c.last_text
    await c.press("新能源")
    for bad, why in (("很多", "没看懂"), ("-5亿", "不能为负数"), ("0", "不能为零")):
        await c.send(bad)
        assert why in c.last_text and c.heard("project.ask.amount")
    await c.send("5亿")
    await c.press("改首谈日期")
    await c.send("下个月")
    assert c.heard("project.err.date")
    await c.send("2027-01-01")
    assert c.heard("project.err.future") and "首谈" in c.last_text
    await c.send("11-20")
    await c.press("改阶段")
    await c.send("首谈")
    assert "按钮" in c.last_text
    await c.press("洽谈")
    await c.press("改简介")
    await c.send_sticker()
    assert c.heard("core.err.want_text")
    await c.send("建设储能电池生产线")
    await c.send("好的")
    assert c.heard("project.err.confirm_buttons") and c.heard("project.summary")
    await c.press("改金额")
    await c.send("一亿二千万")
    assert "1.2亿元" in c.last_text and c.heard("project.summary") and "2026-11-20" in c.last_text
    assert await all_projects(app) == []
    await c.press("确认登记")
    [project] = await all_projects(app)
    assert project.planned_yuan == 120_000_000 and project.stage == "negotiation"
    assert project.description == "建设储能电池生产线"


async def test_second_registration_is_refused_and_can_be_disputed(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    county, zone = chat(COUNTY), chat(ZONE)
    await register(county)
    await zone.send("/project 宁德时代 宁德时代储能电池基地")
    refusal = zone.last_text
    assert "甘州区" in refusal and "2026-11-28 10:00" in refusal and heard(refusal, "project.refused")
    await zone.press("提交市招商局裁定")
    await zone.send("")
    assert zone.heard("core.err.empty")
    await zone.send("我区10月已与企业董事长首谈")
    assert "争议" in zone.last_text
    assert len(await all_projects(app)) == 1
    async with app.db.session() as session:
        [dispute] = (await session.exec(select(Dispute))).all()
    assert dispute.project_id == 1 and dispute.claimant_unit_id == await unit_id(app, "张掖经开区")
    assert dispute.reason == "我区10月已与企业董事长首谈" and dispute.status == "open"
    told = transport.texts_to(BUREAU)[-1]
    assert heard(told, "project.disputed") and "张掖经开区" in told and "甘州区" in told and "董事长" in told
    assert "disputed" in [e.action for e in await projects.history(app.db, 1)]


async def test_a_new_name_for_the_same_enterprise_shows_the_other_units_project(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    county, zone = chat(COUNTY), chat(ZONE)
    await register(county)
    await zone.send("/project")
    await zone.send("宁德时代新能源科技股份有限公司")
    await zone.press("宁德时代")
    shown = zone.last_text
    # Which unit and when: not the other unit's project name.
    assert "甘州区" in shown and "2026-11-28" in shown and "储能电池基地项目" not in shown
    await zone.press("不是，是另一个项目")
    await zone.send("我区谈的是光伏组件，不是储能电池")
    assert zone.heard("project.ask.name")
    await zone.send("光伏组件生产基地")
    await zone.press("新能源")
    await zone.send("3亿")
    await zone.press("确认登记")
    first, second = await all_projects(app)
    assert second.name == "光伏组件生产基地" and second.first_talk_unit_id == await unit_id(app, "张掖经开区")
    told = transport.texts_to(BUREAU)[-2]
    assert "光伏组件" in told and "甘州区" in told and "不是储能电池" in told
    [registered, *_] = await projects.history(app.db, second.id or 0)
    assert registered.detail["different_from"] == [first.id] and "光伏组件" in registered.detail["reason"]


async def test_saying_it_is_the_same_project_makes_a_dispute(chat: ChatFactory, app: App) -> None:
    county, zone = chat(COUNTY), chat(ZONE)
    await register(county)
    await zone.send("/project 宁德时代 光伏组件生产基地")
    assert zone.heard("project.others")
    await zone.press("是同一个")
    await zone.send("我区9月已首谈")
    assert "争议" in zone.last_text
    async with app.db.session() as session:
        [dispute] = (await session.exec(select(Dispute))).all()
    assert dispute.project_id == 1 and len(await all_projects(app)) == 1


async def test_same_unit_registering_again_is_pointed_to_progress(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county)
    await register(county, name="储能电池基地")
    assert county.heard("project.refused.own") and "/progress 1" in county.last_text
    assert zh("project.refused.dispute") not in county.labels()
    # A different phase is a different project.
    await register(county, name="储能电池基地二期项目")
    assert len(await all_projects(app)) == 2


async def test_names_that_are_one_project() -> None:
    assert projects.same_project("储能电池基地项目", "储能电池基地")
    assert projects.same_project("宁德时代储能电池基地", "储能电池基地建设项目")
    assert not projects.same_project("储能电池基地一期", "储能电池基地二期")
    assert not projects.same_project("储能电池基地", "光伏组件工厂")


def draft(name: str = "储能电池基地项目") -> ProjectDraft:
    return ProjectDraft(
        enterprise_id=None,
        enterprise_name="宁德时代",
        credit_code=None,
        name=name,
        chain_id=None,
        planned_yuan=300_000_000,
        first_talk_date=date(2026, 11, 20),
        stage=projects.Stage.FIRST_TALK,
        description="",
    )


async def race(db: Database) -> None:
    """Two units register the same project at the same moment: exactly one wins."""
    county, zone = await member(db, COUNTY), await member(db, ZONE)
    # The enterprise exists already (the usual case: both found it in the register).
    await projects.register(db, member=county, draft=draft("另一个项目"), now=NOW, today=date(2026, 11, 28))
    for attempt in range(3):
        name = f"储能电池基地{attempt + 1}期项目"
        results = await asyncio.gather(
            projects.register(db, member=county, draft=draft(name), now=NOW, today=date(2026, 11, 28)),
            projects.register(db, member=zone, draft=draft(name[:-2]), now=NOW, today=date(2026, 11, 28)),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Project)]
        lost = [r for r in results if isinstance(r, AlreadyRegistered)]
        assert len(won) == 1 and len(lost) == 1, results
        assert lost[0].first.project_id == won[0].id
    # Both name an enterprise the register does not know yet: one creates it, one is refused.
    fresh = replace(draft(), enterprise_name="比亚迪股份有限公司")
    results = await asyncio.gather(
        projects.register(db, member=county, draft=fresh, now=NOW, today=date(2026, 11, 28)),
        projects.register(
            db, member=zone, draft=replace(fresh, enterprise_name="比亚迪"), now=NOW, today=date(2026, 11, 28)
        ),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["AlreadyRegistered", "Project"], results
    async with db.session() as session:
        assert len((await session.exec(select(Project))).all()) == 5
        assert len((await session.exec(select(Enterprise).where(Enterprise.normalized_name == "比亚迪"))).all()) == 1


async def test_race(app: App) -> None:
    await race(app.db)


# -- progress -----------------------------------------------------------------------------
async def test_progress_stage_funds_planned_note(chat: ChatFactory, app: App, clock: Clock) -> None:
    c = chat(COUNTY)
    await register(c, amount="5000万")
    registered_at = (await all_projects(app))[0].last_progress_at
    clock.now += timedelta(days=3)
    await c.send("/progress")
    await c.press("储能电池基地项目")
    assert "要更新什么" in c.last_text and "首谈" in c.last_text
    await c.press("推进阶段")
    await c.press("签约")
    assert c.heard("project.stage.moved", stage="签约")
    await c.press("推进阶段")
    await c.press("洽谈")  # backwards: a reason is needed
    assert "需要说明原因" in c.last_text
    await c.send(" ")
    assert c.heard("core.err.empty")
    await c.send("签约主体变更，需重新谈")
    assert c.heard("project.stage.moved", stage="洽谈")
    await c.press("到位资金")
    await c.send("很多")
    assert c.heard("money.err.unreadable", text="很多") and "累计到位资金" in c.last_text
    await c.send("3000万")
    assert "3000万元" in c.last_text
    await c.press("到位资金")
    await c.send("6000万")  # above the 5000万 plan
    assert c.heard("project.funds.above_plan")
    await c.press("重新输入")
    await c.send("2000万")  # below what was recorded
    assert c.heard("project.funds.lower")
    await c.press("确定，保存")
    assert "2000万元" in c.last_text
    await c.press("添加备注")
    await c.send("企业要求加快环评")
    assert c.heard("project.note.recorded")
    await c.press("推进阶段")
    await c.press("终止")
    await c.send("企业改投他省")
    await c.press("完成")

    [project] = await all_projects(app)
    assert project.stage == "dropped" and project.drop_reason == "企业改投他省"
    assert project.funds_in_place_yuan == 20_000_000 and project.signed_on == date(2026, 12, 1)
    assert project.last_progress_at > registered_at
    actions = [(e.action, e.detail.get("after")) for e in await projects.history(app.db, 1)]
    assert actions == [
        ("registered", None),
        ("stage", "signed"),
        ("task_force_formed", None),
        ("stage", "negotiation"),
        ("funds", 30_000_000),
        ("funds", 20_000_000),
        ("note", None),
        ("stage", "dropped"),
    ]
    async with app.db.session() as session:
        stage_entries = (
            await session.exec(select(AuditEntry).where(AuditEntry.entity == "project", AuditEntry.action == "stage"))
        ).all()
    assert stage_entries[1].detail["reason"] == "签约主体变更，需重新谈"


async def test_progress_within_budget_answers_with_what_changed(chat: ChatFactory, app: App) -> None:
    # Below §17's threshold: signing needs no reviews (tests/test_landing_reviews.py has them).
    await bureau_settings.put(app.db, "major_review_from_yuan", 10_000_000_000)
    c = chat(COUNTY)
    await register(c)
    mark = len(c.history)
    await c.send("/progress")
    await c.press("储能电池基地项目")
    assert c.heard("project.card")  # the card, once, when the project is chosen
    await c.press("推进阶段")
    await c.press("签约")
    assert c.touches_since(mark) <= 4
    assert (
        c.heard("project.stage.moved", stage="签约")
        and "承办单位" not in c.last_text
        and c.heard("project.ask.action_more")
    )
    [project] = await all_projects(app)
    assert project.stage == "signed"


async def test_progress_in_one_message(chat: ChatFactory, app: App) -> None:
    # Below §17's threshold: signing needs no reviews (tests/test_landing_reviews.py has them).
    await bureau_settings.put(app.db, "major_review_from_yuan", 10_000_000_000)
    c = chat(COUNTY)
    await register(c)
    mark = len(c.history)
    await c.send("/progress 1 签约 到位3000万 企业董事会已批准")
    shown = c.last_text
    assert "首谈 → 签约" in shown and "0元 → 3000万元" in shown and "企业董事会已批准" in shown
    [project] = await all_projects(app)
    assert project.stage == "first_talk"  # nothing recorded before "save"
    await c.press("保存")
    assert c.touches_since(mark) <= 2
    assert "签约" in c.last_text and "3000万元" in c.last_text and "承办单位" not in c.last_text
    [project] = await all_projects(app)
    assert project.stage == "signed" and project.funds_in_place_yuan == 30_000_000
    actions = [e.action for e in await projects.history(app.db, 1)]
    # Reaching 签约 also forms the task force (§15), recorded between the stage and the funds.
    assert [a for a in actions if a != "task_force_formed"][-3:] == ["stage", "funds", "note"]
    assert "task_force_formed" in actions
    # Going back a stage needs a reason, in one message too.
    await c.send("/progress 1 洽谈")
    await c.press("保存")
    assert c.heard("project.ask.back_reason")
    await c.send("签约主体变更")
    [project] = await all_projects(app)
    assert project.stage == "negotiation"
    # Another unit's project is not found, whatever the message says.
    zone = chat(ZONE)
    await zone.send("/progress 1 投产")
    assert zone.heard("project.err.not_found")
    assert (await all_projects(app))[0].stage == "negotiation"


async def test_progress_needs_a_project_of_ones_own(chat: ChatFactory, app: App) -> None:
    zone = chat(ZONE)
    await zone.send("/progress")
    assert "/project" in zone.last_text
    await register(chat(COUNTY))
    await zone.send("/progress 1")
    assert zone.heard("project.err.not_found")
    await register(zone, enterprise="比亚迪", name="电池厂")
    await zone.send("/progress")
    assert [label for label in zone.labels() if "#1 " in label] == []
    await zone.send("1")
    assert zone.heard("project.err.not_found") and zone.heard("project.ask.pick")
    await zone.send("2")
    assert zone.heard("project.ask.action")


# -- transfers --------------------------------------------------------------------------------
async def test_transfer_keeps_first_talk_and_shows_in_history(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    county, zone, bureau = chat(COUNTY), chat(ZONE), chat(BUREAU)
    await register(county)
    await bureau.send("/transfer")
    await bureau.send("储能电池")
    assert bureau.heard("project.ask.unit") and "甘州区" not in bureau.labels()
    await bureau.press("张掖经开区")
    await bureau.send("甘州区用地指标不足")
    assert "首谈单位仍为：甘州区" in bureau.last_text
    await bureau.press("确认流转")
    assert bureau.heard("project.transfer.done")

    [project] = await all_projects(app)
    assert project.first_talk_unit_id == await unit_id(app, "甘州区")
    assert project.executing_unit_id == await unit_id(app, "张掖经开区")
    assert any(heard(t, "project.transferred") and "用地指标不足" in t for t in transport.texts_to(COUNTY))
    assert any(heard(t, "project.transferred") for t in transport.texts_to(ZONE))

    # Executing unit now works on it; the first-talk unit still sees it but cannot move it.
    await zone.send("/progress 1")
    assert zone.heard("project.ask.action")
    await county.send("/progress 1")
    assert county.heard("project.err.not_found")
    await county.send("/projects 1")
    assert county.heard(
        "project.event.transferred", from_unit="甘州区", to_unit="张掖经开区", reason="甘州区用地指标不足"
    )

    await bureau.send("/transfer 1")
    await bureau.press("临泽县")
    await bureau.send("经开区无合适地块")
    await bureau.press("确认流转")
    transfers = [e for e in await projects.history(app.db, 1) if e.action == "transferred"]
    assert [(e.detail["reason"], e.actor) for e in transfers] == [
        ("甘州区用地指标不足", "王局长"),
        ("经开区无合适地块", "王局长"),
    ]
    await bureau.send("/projects 1")
    assert bureau.last_text.count("流转：") == 2


async def test_transfer_is_the_bureaus(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county)
    await county.send("/transfer 1")
    assert "/transfer" in county.last_text
    [project] = await all_projects(app)
    assert project.executing_unit_id == await unit_id(app, "甘州区")


# -- leader assignment ------------------------------------------------------------------------
async def test_leader_assignment_for_a_billion(chat: ChatFactory, app: App, transport: RecordingTransport) -> None:
    county, bureau, leader = chat(COUNTY), chat(BUREAU), chat(LEADER)
    await register(county, amount="12亿")
    assert county.heard("project.leader.asked")
    ask = last_keyboard_to(transport, BUREAU)
    assert "包抓" in ask.text and "12亿元" in ask.text
    await bureau.press("郑市长", keyboard=ask.keyboard)
    assert "郑市长" in bureau.last_text
    [project] = await all_projects(app)
    async with app.db.session() as session:
        zheng = (await session.exec(select(User).where(User.telegram_id == LEADER))).one()
    assert project.leader_user_id == zheng.id and project.leader_level_needed == "principal"
    assert any("包抓领导" in t and "储能电池基地项目" in t for t in transport.texts_to(LEADER))
    await leader.send("/projects")
    assert "储能电池基地项目" in leader.last_text
    # Only the bureau assigns.
    await county.press("郑市长", keyboard=ask.keyboard)
    assert county.heard("core.expired")


async def test_revised_amount_across_a_threshold_asks_again(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await register(county, amount="5000万")
    assert transport.texts_to(BUREAU) == []
    await county.send("/progress 1")
    await county.press("修改计划投资")
    await county.send("3亿")
    assert county.heard("project.leader.asked")
    assert "市级领导" in transport.texts_to(BUREAU)[-1] or "包抓" in transport.texts_to(BUREAU)[-1]
    await county.press("修改计划投资")
    await county.send("4亿")  # the same level: no new question
    assert len(transport.texts_to(BUREAU)) == 1
    await county.press("修改计划投资")
    await county.send("15亿")
    assert len(transport.texts_to(BUREAU)) == 2
    ask = last_keyboard_to(transport, BUREAU)
    assert "郑市长" in [b.label for b in ask.keyboard.buttons()] if ask.keyboard else False
    [project] = await all_projects(app)
    assert project.leader_level_needed == "principal"


async def test_a_non_industrial_project_needs_a_leader_only_from_a_billion(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county, enterprise="张掖文旅集团", name="丹霞景区提升项目", amount="5亿", chain="文化旅游")
    [project] = await all_projects(app)
    assert not project.industrial and project.leader_level_needed is None


# -- lagging ----------------------------------------------------------------------------------
async def test_lagging_projects(chat: ChatFactory, app: App, clock: Clock) -> None:
    county, zone = chat(COUNTY), chat(ZONE)
    await register(county)
    await register(zone, enterprise="比亚迪", name="电池厂")
    clock.now += timedelta(days=31)
    days = await projects.lagging_days(app.db)
    assert days == 30
    assert [r.id for r in await projects.lagging(app.db, clock.now, days)] == [1, 2]
    await zone.send("/progress 2")
    await zone.press("到位资金")
    await zone.send("1000万")
    assert [r.id for r in await projects.lagging(app.db, clock.now, days)] == [1]
    await county.send("/lagging")
    assert "储能电池基地项目" in county.last_text and "31天" in county.last_text
    await zone.send("/lagging")
    assert zone.heard("project.lagging.none")
    assert [r.id for r in await projects.lagging(app.db, clock.now - timedelta(days=5), days)] == []


def test_dynamic_keys_are_complete() -> None:
    import re
    from pathlib import Path

    from bot.core.i18n import catalog
    from handlers import progress, project

    source = (Path(__file__).resolve().parent.parent / "services" / "projects.py").read_text(encoding="utf-8")
    errors = set(re.findall(r'ProjectError\("(\w+)"\)', source))
    assert {"not_found", "reason_needed", "same_stage"} <= errors
    actions = set(re.findall(r'action="(\w+)"', source))
    assert {"registered", "stage", "funds", "transferred", "leader_assigned"} <= actions
    keys = [f"stage.{s.value}" for s in projects.Stage]
    keys += [f"project.err.{code}" for code in errors]
    keys += [f"project.event.{action}" for action in actions]
    keys += [f"project.edit.{name}" for name in project.FIELDS]
    keys += [f"project.progress.{name}" for name in progress.ACTIONS]
    for locale in ("zh", "en"):
        missing = [key for key in keys if not catalog(locale).get(key)]
        assert not missing, (locale, missing)


async def test_a_municipal_leader_is_offered_for_a_hundred_million(
    chat: ChatFactory, admin: Chat, app: App, transport: RecordingTransport
) -> None:
    await admin.send("/invite")
    await admin.press("市级领导")  # the unit
    await admin.press("市级领导")  # the role
    await admin.press("亿元以上产业项目")
    code = admin.last_text.split("start=")[1].split()[0]
    newcomer = chat(700_000_000_077, full_name="钱副市长")
    await newcomer.send(f"/start {code}")
    county = chat(COUNTY)
    await register(county, amount="3亿")
    ask = last_keyboard_to(transport, BUREAU)
    assert ask.keyboard is not None and [b.label for b in ask.keyboard.buttons()] == ["钱副市长"]
    await chat(BUREAU).press("钱副市长", keyboard=ask.keyboard)
    await newcomer.send("/projects")
    assert "储能电池基地项目" in newcomer.last_text
    principal = chat(LEADER)
    await principal.send("/projects")
    assert "储能电池基地项目" not in principal.last_text
