"""The field and desk work end to end over Telegram: a project from registration to signing,
the weekly chain digest with its chart from the scheduled job, a spreadsheet in and an export out.

Each runs the real bot (our runner, PTB or aiogram) against the fake Bot API server, on
SQLite and on PostgreSQL, with the seeded demo people.
"""

from __future__ import annotations

import asyncio
import io
import struct
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook, load_workbook
from sqlmodel import col, select, update

from bot.app import App
from bot.core.config import Settings
from models import AuditEntry, Chain, Delivery, Enterprise, LibraryEntry, Project, User
from services import library, members, projects, schedule, signing
from services.credit_code import make_credit_code
from services.periods import week_of
from services.schedule import CHAIN_DIGEST
from tests import telegram_kit
from tests.botapi import BotAPIError, BotMessage
from tests.kit import heard
from tests.telegram_kit import Bot, Person, running_bot

BUREAU, LIAISON, COUNTY, CHAIN_LEAD, LEADER = 1001, 1002, 1003, 1005, 1008
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Zhangye
bot = telegram_kit.bot
framework = telegram_kit.framework
pytest_generate_tests = telegram_kit.pair_frameworks_with_backends


async def press(person: Person, label: str) -> BotMessage:
    """Press ``label`` on the latest keyboard; returns the pressed message (as it is now)."""
    message = person.keyboard_message()
    await person.press(label, message)
    return person.api.message(person.user_id, message.message_id)


def all_answered(person: Person) -> bool:
    return bool(person.queries) and all(q in person.api.answered_callbacks for q in person.queries)


# -- issue 4: a project from registration to signing ---------------------------------------
async def test_a_project_from_registration_to_signing(bot: Bot) -> None:
    api = bot.api
    bot.app.clock = lambda: NOW
    county = bot.person(COUNTY, first_name="赵干事")
    await county.send("/project")
    assert heard(county.last_text, "project.ask.enterprise")
    await county.send("宁德时代新能源科技股份有限公司")
    assert "叫什么名字" in county.last_text
    await county.send("储能电池基地项目")
    chains = await press(county, "新能源")
    assert chains.edited and chains.buttons() == [] and "新能源" in chains.text
    await county.send("12亿")
    description = await press(county, "改简介")
    assert description.edited and description.buttons() == []
    await county.send("建设年产10GWh储能电池生产线")
    summary = county.last_text
    for shown in ("宁德时代新能源科技股份有限公司", "储能电池基地项目", "新能源", "12亿元", "2026-11-27", "首谈"):
        assert shown in summary, shown
    assert "甘州区" in summary
    confirm = await press(county, "确认登记")
    assert confirm.edited and confirm.buttons() == []
    assert any("#1" in t for t in county.texts()) and heard(county.last_text, "project.leader.asked")

    # ≥ 10亿 of industry: the bureau is asked for a principal leader, with a button per leader.
    ask = await api.wait_for_message(BUREAU, contains="包抓")
    assert "储能电池基地项目" in ask.text and "12亿元" in ask.text
    bureau = bot.person(BUREAU, first_name="王局长")
    await bureau.press("郑市长", ask)
    assert api.message(BUREAU, ask.message_id).edited and "郑市长" in api.message(BUREAU, ask.message_id).text
    told = await api.wait_for_message(LEADER, contains="包抓领导")
    assert "储能电池基地项目" in told.text
    assert all_answered(bureau)

    await county.send("/progress")
    pick = await press(county, "储能电池基地项目")
    assert pick.edited and pick.buttons() == []
    assert "要更新什么" in county.last_text and "首谈" in county.last_text
    await press(county, "推进阶段")
    await press(county, "洽谈")
    moved, menu = county.texts()[-2:]
    # What changed, and the menu: not the whole card again.
    assert moved == "阶段已更新为：洽谈。" and heard(menu, "project.ask.action_more") and "承办单位" not in menu
    await press(county, "推进阶段")
    await press(county, "签约")
    # §17: 12亿 is a major project, signed only after its reviews or the bureau's exception.
    assert "合法性审查" in county.texts()[-2] and "/reviews 1" in county.texts()[-2]
    director = await members.load_member(bot.app.db, BUREAU, admin_ids=frozenset())
    assert director is not None
    await signing.grant_exception(bot.app.db, member=director, project_id=1, reason="市政府常务会议同意", now=NOW)
    await press(county, "推进阶段")
    await press(county, "签约")
    assert county.texts()[-2] == "阶段已更新为：签约。"
    await press(county, "完成")
    assert all_answered(county)
    # Every pressed message lost its keyboard: nothing old is left to press.
    assert [m.message_id for m in county.messages if m.buttons()] == []

    async with bot.app.db.session() as session:
        [project] = (await session.exec(select(Project))).all()
        leader = (await session.exec(select(User).where(User.telegram_id == LEADER))).one()
        county_user = (await session.exec(select(User).where(User.telegram_id == COUNTY))).one()
        entries = (
            await session.exec(select(AuditEntry).where(AuditEntry.entity == "project").order_by(col(AuditEntry.id)))
        ).all()
    assert project.stage == "signed" and project.planned_yuan == 1_200_000_000
    assert project.first_talk_date == project.signed_on == date(2026, 11, 27)
    assert project.leader_user_id == leader.id and project.leader_level_needed == "principal"
    assert [(e.action, e.detail.get("after")) for e in entries] == [
        ("registered", None),
        ("leader_needed", None),
        ("leader_assigned", leader.id),
        ("stage", "negotiation"),
        ("task_force_formed", None),
        ("signing_exception", None),
        ("stage", "signed"),
    ]
    assert {e.actor_id for e in entries if e.action == "stage"} == {county_user.id}
    assert [e.action for e in await projects.history(bot.app.db, project.id or 0)][-2:] == [
        "signing_exception",
        "stage",
    ]


# -- issue 5: the weekly chain digest and its chart, from the scheduled job -----------------
def quiet_monday(times: schedule.Times, tz: ZoneInfo, after: date) -> datetime:
    """A chain-digest morning after ``after`` when nothing else is due, so only the digest goes out."""
    day = after + timedelta(days=(times.chain_weekday - after.weekday()) % 7 or 7)
    while True:
        moment = (datetime.combine(day, times.chain_time, tz) + timedelta(minutes=5)).astimezone(UTC)
        if [o.kind for o in schedule.occurrences(times, moment, tz)] == [CHAIN_DIGEST]:
            return moment
        day += timedelta(days=7)


async def retrying(app: App, key: str) -> Delivery:
    """The queued row under ``key`` once a failed send has put it back to wait for its retry."""
    async with asyncio.timeout(10):
        while True:
            async with app.db.session() as session:
                row = (await session.exec(select(Delivery).where(Delivery.dedupe_key == key))).first()
            if row is not None and row.status == "pending" and row.attempts:
                return row
            await asyncio.sleep(0.05)


async def test_the_weekly_chain_digest_arrives_with_its_chart(settings: Settings, framework: str) -> None:
    async with running_bot(settings, framework, scheduler=True) as bot:
        app, api = bot.app, bot.api
        leadership = bot.runner.leadership
        assert leadership is not None
        jobs = await api.wait_for(lambda: leadership.jobs, what="the scheduled jobs")
        tz = app.tz
        # After today: the demo people must exist before the digest falls due to reach them.
        due = quiet_monday(await schedule.load_times(app.db), tz, datetime.now(tz).date() + timedelta(days=1))
        monday = due.astimezone(tz).date()
        start, last_day = monday - timedelta(days=7), monday - timedelta(days=1)

        # In that week: a liaison's lead in 新能源, and the chain lead puts the enterprise in its library.
        app.clock = lambda: datetime.combine(start + timedelta(days=2), time(10), tz).astimezone(UTC)
        liaison = bot.person(LIAISON)
        await liaison.send("/lead 比亚迪 拟在张掖建设电池回收工厂 投资约5亿 新能源")
        await liaison.press("确认保存")
        member = await members.load_member(app.db, CHAIN_LEAD, admin_ids=frozenset())
        assert member is not None
        async with app.db.session() as session:
            energy = (await session.exec(select(Chain).where(Chain.code == "new_energy"))).one()
            byd = (await session.exec(select(Enterprise).where(Enterprise.name == "比亚迪"))).one()
        await library.add(
            app.db, member=member, chain_id=energy.id or 0, enterprise_id=byd.id, name=byd.name, credit_code=None
        )
        async with app.db.session() as session:
            lead_user = (await session.exec(select(User).where(User.telegram_id == CHAIN_LEAD))).one()
        key = f"{CHAIN_DIGEST}:{week_of(start).key}:{lead_user.id}"
        # Only what this digest sends counts (a real Monday morning may have sent the real week's).
        before = len(api.messages(CHAIN_LEAD))

        # Monday morning: the chain digest's own job fires (APScheduler, in the process holding the lock).
        # The first chart's upload fails: the retry sends the charts alone, not the text again.
        api.error_next("sendPhoto", BotAPIError(500, "Internal Server Error"))
        app.clock = lambda: due
        jobs.scheduler.modify_job(CHAIN_DIGEST, next_run_time=datetime.now(tz))
        await api.wait_for(lambda: len(api.messages(CHAIN_LEAD)) > before, timeout=15, what="the digest")
        row = await retrying(app, key)
        assert row.payload["done"] == 1, "the text is recorded as delivered"
        async with app.db.session() as session:  # as if the pause before the retry were over
            await session.exec(update(Delivery).where(col(Delivery.id) == row.id).values(not_before=None))
        await app.outbox.flush()
        await api.wait_for(lambda: len(api.messages(CHAIN_LEAD)) == before + 3, timeout=5, what="the charts")
        text, photo, stages = api.messages(CHAIN_LEAD)[before:]
        assert [c.status for c in api.calls_to("sendPhoto")][-3:] == [500, 200, 200]
        assert text.method == "sendMessage" and photo.method == stages.method == "sendPhoto"
        assert text.text.startswith(f"📊 市工信局产业链周报（{start:%Y-%m-%d} 至 {last_day:%Y-%m-%d}）")
        sections = dict(part.split("】", 1) for part in text.text.split("【")[1:])
        assert list(sections) == ["新能源", "新材料", "装备制造", "绿色化工"]
        assert "新线索 1 条，拜访 0 次" in sections["新能源"]
        assert "目标企业库 1 家：已落地 0，洽谈中 0，已拜访 0，已联系 1，未接触 0" in sections["新能源"]
        assert "新线索 0 条" in sections["新材料"] and "目标企业库 0 家" in sections["新材料"]
        assert photo.photo is not None and photo.photo.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", photo.photo[16:24])
        assert width >= 300 and height >= 200, (width, height)

        # Firing again (a second process, a restart) sends nothing more.
        assert await jobs.tick() == 0
        await app.outbox.flush()
        assert len(api.messages(CHAIN_LEAD)) == before + 3
        async with app.db.session() as session:
            rows = (await session.exec(select(Delivery).where(Delivery.dedupe_key == key))).all()
        assert [(r.chat_id, r.kind, r.status, r.attempts) for r in rows] == [(CHAIN_LEAD, CHAIN_DIGEST, "sent", 2)]


# -- issue 6: a spreadsheet in, an export out -------------------------------------------------
CATL, CATL_CODE = "宁德时代新能源科技股份有限公司", make_credit_code("91350900587527783")


def spreadsheet() -> bytes:
    """Three good rows and one with a bad credit code, as a chain lead department keeps them."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in (
        ["企业名称*", "产业链*", "统一社会信用代码", "标签", "意向投资额（万元）", "所在地区", "联系人", "联系电话"],
        [CATL, "新能源", CATL_CODE, "行业龙头、链主", 200000, "福建宁德", "张三", 13800138000],
        ["比亚迪股份有限公司", "新能源", None, "世界500强", "1.2亿", "广东深圳", None, None],
        ["隆基绿能", "新能源", "91350100M000100Y4X", None, None, None, None, None],
        ["金风科技股份有限公司", "新能源", None, "专精特新", 3000, "新疆乌鲁木齐", "李四", "139 0000 1111"],
    ):  # fmt: skip
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


async def test_a_spreadsheet_is_imported_and_an_export_downloaded(bot: Bot) -> None:
    api, app = bot.api, bot.app
    app.clock = lambda: NOW
    lead = bot.person(CHAIN_LEAD, first_name="孙科长")
    await bot.tracker.wait(api.send_document(CHAIN_LEAD, "新能源目标企业.xlsx", spreadsheet()))
    preview, ask = lead.texts()[-2:]
    assert "共 4 行数据" in preview and "新增企业 3 家，匹配已有企业 0 家，有问题 1 行" in preview
    assert "第2行 宁德时代新能源科技股份有限公司 → 新能源 · 20亿元" in preview
    assert "第3行 比亚迪股份有限公司 → 新能源 · 1.2亿元" in preview
    assert "第4行 隆基绿能：信用代码“91350100M000100Y4X”无效" in preview
    assert "确认导入以上 3 家企业吗" in ask
    async with app.db.session() as session:
        assert (await session.exec(select(LibraryEntry))).all() == [], "nothing is imported before the press"

    confirm = await press(lead, "确认导入")
    assert confirm.edited and confirm.buttons() == [] and confirm.text.endswith("→ 确认导入")
    assert "新建企业 3 家，加入目标企业库 3 家" in lead.last_text
    assert "【新能源】目标企业库现有 3 家，仍少于要求的 10 家" in lead.last_text
    async with app.db.session() as session:
        energy = (await session.exec(select(Chain).where(Chain.code == "new_energy"))).one()
        catl = (await session.exec(select(Enterprise).where(Enterprise.credit_code == CATL_CODE))).one()
        audits = (await session.exec(select(AuditEntry).where(AuditEntry.action == "library_added"))).all()
        imported = (await session.exec(select(AuditEntry).where(AuditEntry.action == "imported"))).one()
    rows = {r.name: r for r in await library.entries(app.db, energy.id or 0)}
    assert set(rows) == {CATL, "比亚迪股份有限公司", "金风科技股份有限公司"}
    assert catl.tags == ["leading", "chain_leader"] and catl.contact_phone == "13800138000"
    assert rows[CATL].expected_yuan == 2_000_000_000
    assert len(audits) == 3 and {a.at for a in audits} == {imported.at} == {NOW}, "the app's clock, as in the chat"

    await lead.send("/export")
    await press(lead, "目标企业")
    await press(lead, "本月")
    sent = api.last_message(CHAIN_LEAD)
    assert sent.method == "sendDocument" and sent.document is not None
    assert sent.document.filename.endswith(".xlsx") and "目标企业：2026-11-01 至 2026-11-30" in (sent.caption or "")
    assert "脱敏" in (sent.caption or "")
    assert all_answered(lead)
    [call] = [c for c in api.calls_to("sendDocument") if c.params.get("chat_id") == CHAIN_LEAD]
    assert call.ok

    ws = load_workbook(io.BytesIO(sent.document.content)).active
    assert ws is not None and ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == [
        "企业名称", "统一社会信用代码", "产业链", "标签", "意向投资额（万元）", "对接情况", "所在地区", "联系人",
        "联系电话", "入库日期",
    ]  # fmt: skip
    exported = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert set(exported) == set(rows)
    catl_row = exported[CATL]
    assert [c.value for c in catl_row[:4]] == [CATL, CATL_CODE, "新能源", "行业龙头、链主"]
    assert catl_row[4].value == 200000 and catl_row[4].number_format == "#,##0.00"
    assert exported["比亚迪股份有限公司"][4].value == 12000
    # The chain lead keeps these contacts itself: its own export shows them in full.
    assert catl_row[7].value == "张三" and catl_row[8].value == "13800138000", "its own library's contacts"
    assert catl_row[9].value == datetime(2026, 11, 27, 10, 0) and catl_row[9].number_format == "yyyy-mm-dd"
