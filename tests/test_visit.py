"""Visits: the conversation, each bad input, the repeat-visit guard, follow-up reminders."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.app import App
from bot.core import Reply
from handlers.visit import send_follow_up_reminders
from models import AuditEntry, Enterprise, Lead, Visit
from services import settings, visits
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, RecordingTransport, heard

COUNTY, ZONE, BUREAU = 1003, 1004, 1001
SHANGHAI = ZoneInfo("Asia/Shanghai")


async def all_visits(app: App) -> list[Visit]:
    async with app.db.session() as session:
        return list((await session.exec(select(Visit).order_by(Visit.id))).all())  # type: ignore[arg-type]


async def file_visit(
    c: Chat, enterprise: str, day: str = "今天", follow_up: str | None = None, outcome: str = "企业有意向在张掖建厂"
) -> None:
    """The short way through /visit with a typed place; the date and follow-up corrected from the summary."""
    await c.send("/visit")
    await c.send(enterprise)
    if "相近" in c.last_text:
        await c.press(c.labels()[0])
    if "提醒" in c.last_text:
        await c.press("继续登记")
    await c.send("企业会议室")
    await c.send("事后补录")
    await c.send(outcome)
    await c.send("下周报送项目方案")
    if day != "今天":
        await c.press("改日期")
        if day == "昨天":
            await c.press(day)
        else:
            await c.send(day)
    if follow_up is not None and "跟进日期？" not in c.last_text:
        await c.press("改跟进日期")
    if follow_up is not None and follow_up.endswith("天后"):
        await c.press(follow_up)
    elif follow_up is not None:
        await c.send(follow_up)


async def test_visit_from_a_shared_location_within_budget(chat: ChatFactory, app: App) -> None:
    """Share the location, name the enterprise, say what came of it: six touches at most to saved."""
    c = chat(COUNTY)
    mark = len(c.history)
    await c.share_location(38.93, 100.45)
    assert "为这里登记一次拜访" in c.last_text and c.heard("visit.ask.enterprise")
    await c.send("宁德时代新能源科技股份有限公司")
    assert c.heard("visit.ask.outcome")
    await c.send("企业计划在西北建储能基地，张掖是候选地")
    await c.send("月底前提交用地方案")
    summary = c.last_text
    # Defaults are shown, not asked: today, the filer among those who went, a follow-up in 14 days.
    assert "2026-11-28" in summary and "2026-12-12" in summary and "赵干事" in summary and "38.93000" in summary
    await c.press("确认保存")
    assert c.heard("visit.saved")
    assert c.touches_since(mark) <= 6

    [visit] = await all_visits(app)
    assert visit.visit_date == date(2026, 11, 28) and visit.follow_up_date == date(2026, 12, 12)
    assert (visit.latitude, visit.longitude) == (38.93, 100.45) and visit.place == ""
    assert visit.participants == "赵干事" and visit.next_step == "月底前提交用地方案"
    async with app.db.session() as session:
        entries = (await session.exec(select(AuditEntry).where(AuditEntry.entity == "visit"))).all()
    assert [(e.entity_id, e.action) for e in entries] == [(visit.id, "created")]


async def test_one_message_visit_asks_only_where(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    mark = len(c.history)
    await c.send("/visit 宁德时代 昨天 谈了储能基地落地 下一步邀请来张掖考察 两周后跟进")
    assert c.heard("visit.ask.where")
    await c.share_location(38.9, 100.4)
    summary = c.last_text
    assert heard(summary, "visit.summary") and "谈了储能基地落地" in summary and "邀请来张掖考察" in summary
    await c.press("确认保存")
    assert c.touches_since(mark) <= 3
    [visit] = await all_visits(app)
    assert visit.visit_date == date(2026, 11, 27) and visit.follow_up_date == date(2026, 12, 11)
    assert visit.outcome == "谈了储能基地落地" and visit.next_step == "邀请来张掖考察"


async def test_a_photo_with_a_caption_starts_a_visit_and_photos_join_at_the_summary(
    chat: ChatFactory, app: App
) -> None:
    c = chat(COUNTY)
    await c.send_photo("p1", caption="比亚迪 谈了电池项目 下一步报方案")
    assert c.heard("visit.from_photo") and c.heard("visit.ask.where")
    await c.send("企业会议室")
    await c.send("事后补录")
    assert c.heard("visit.summary") and "1张" in c.last_text
    await c.send_photo("p2")
    assert "2 张" in c.last_text and "2张" in c.last_text
    await c.press("加照片")
    await c.send_photo("p3")
    await c.press("完成")
    assert c.heard("visit.summary") and "3张" in c.last_text
    await c.press("确认保存")
    [visit] = await all_visits(app)
    assert visit.photos == ["p1", "p2", "p3"] and visit.outcome == "谈了电池项目"
    # Someone the visit is not for gets the usual answer.
    bureau = chat(BUREAU)
    await bureau.share_location(38.9, 100.4)
    assert "请发送一个命令" in bureau.last_text


async def test_typed_place_dates_and_reason(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    await file_visit(c, "比亚迪", day="11月20日", follow_up="12-05")
    assert "2026-11-20" in c.last_text and "2026-12-05" in c.last_text
    assert c.heard("visit.summary.place", place="企业会议室", reason="事后补录")
    await c.press("确认保存")
    [visit] = await all_visits(app)
    assert visit.visit_date == date(2026, 11, 20) and visit.follow_up_date == date(2026, 12, 5)
    assert visit.place == "企业会议室" and visit.no_location_reason == "事后补录"
    assert visit.latitude is None


async def test_date_forms() -> None:
    from services.dates import InvalidDate, parse_day

    today = date(2026, 1, 2)
    assert parse_day("2026-11-20", today) == date(2026, 11, 20)
    assert parse_day("2026/1/2", today) == date(2026, 1, 2)
    assert parse_day("12-28", today) == date(2025, 12, 28)
    assert parse_day("01-05", date(2026, 12, 28)) == date(2027, 1, 5)
    assert parse_day("11月20日", today) == date(2025, 11, 20)
    assert parse_day("１月１日", today) == date(2026, 1, 1)
    assert parse_day("昨天", today) == date(2026, 1, 1)
    assert parse_day("Yesterday", today) == date(2026, 1, 1)
    for bad in ("下周", "13-01", "2026-02-30", "", "很久以前"):
        try:
            parse_day(bad, today)
        except InvalidDate:
            continue
        raise AssertionError(bad)


async def test_bad_inputs_keep_the_draft(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    await c.send("/visit")
    await c.send_sticker()
    assert c.heard("core.err.want_text") and c.heard("visit.ask.enterprise")
    await c.send("91350100M000100Y4X")
    assert "不是有效的统一社会信用代码" in c.last_text
    await c.send("隆基绿能")
    await c.send_sticker()
    assert "发送定位" in c.last_text and c.heard("visit.ask.where")
    await c.send("地" * 300)
    assert c.heard("core.err.too_long")
    await c.send("兰州")
    await c.send("   ")
    assert c.heard("core.err.empty") and c.heard("visit.ask.no_location")
    await c.send("企业在外地")
    await c.send("结" * 1200)
    assert c.heard("core.err.too_long") and "结果" in c.last_text
    await c.send("有意向")
    await c.send("再联系")
    await c.press("改日期")
    await c.send("上个月某天")
    assert c.heard("visit.err.date") and c.heard("visit.ask.date")
    await c.send("2026-12-01")
    assert c.heard("visit.err.future") and c.heard("visit.ask.date")
    await c.send("11-25")
    await c.press("改人员")
    await c.send_photo()
    assert c.heard("core.err.want_text") and c.heard("visit.ask.who")
    await c.send("赵干事")
    await c.press("改跟进日期")
    await c.send("11-24")
    assert c.heard("visit.err.follow_up_early") and "跟进日期" in c.last_text
    await c.send("11-26")
    assert c.heard("visit.err.follow_up_past")
    await c.send("不知道")
    assert c.heard("visit.err.date")
    await c.send("12-10")
    await c.press("加照片")
    await c.send("没有照片")
    assert c.heard("visit.err.photos")
    await c.press("完成")
    await c.send("保存吧")
    assert "请点按钮" in c.last_text and c.heard("visit.summary")
    summary = c.last_text
    assert "隆基绿能" in summary and "2026-11-25" in summary and "2026-12-10" in summary and "兰州" in summary
    assert await all_visits(app) == []


async def test_correcting_the_date_asks_the_follow_up_again(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    await file_visit(c, "比亚迪", day="11-20", follow_up="11-28")
    await c.press("改日期")
    await c.press("今天")
    assert c.heard("visit.follow_up.reset") and "跟进日期" in c.last_text
    await c.press("7天后")
    assert c.heard("visit.summary") and "2026-12-05" in c.last_text
    await c.press("改地点")
    await c.share_location(39.0, 100.0)
    assert c.heard("visit.summary") and "39.00000" in c.last_text
    await c.press("确认保存")
    [visit] = await all_visits(app)
    assert visit.visit_date == date(2026, 11, 28) and visit.latitude == 39.0 and visit.place == ""


async def test_repeat_visit_guard_warns_right_after_the_enterprise_and_flags(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    zone, county = chat(ZONE), chat(COUNTY)
    await file_visit(zone, "比亚迪", day="11-20", outcome="经开区谈到的用地条件")
    await zone.press("确认保存")
    await county.send("/visit")
    await county.send("比亚迪")
    warning = [i.text for i in county.last.items if isinstance(i, Reply) and not i.edit][-1]
    assert "张掖经开区" in warning and "2026-11-20" in warning
    # Which unit and when — nothing of the other unit's notes or people.
    assert "用地条件" not in warning and "钱主任" not in warning
    await county.press("继续登记")
    assert county.heard("visit.ask.where")
    await county.share_location(38.9, 100.4)
    await county.send("谈了用地")
    await county.send("报方案")
    await county.press("确认保存")
    # Nothing changed since the warning: saved without asking again.
    assert county.heard("visit.saved")
    first, second = await all_visits(app)
    assert not first.flagged and second.flagged
    assert second.flag_detail["conflicts"] == [{"unit_id": first.unit_id, "kind": "visit", "on": "2026-11-20"}]
    assert second.flag_detail["window_days"] == 30
    [told] = transport.texts_to(BUREAU)
    assert "重复考察" in told and "甘州区" in told and "比亚迪" in told and "张掖经开区" in told


async def test_the_guard_asks_again_at_saving_only_when_something_changed(chat: ChatFactory, app: App) -> None:
    zone, county, department = chat(ZONE), chat(COUNTY), chat(1006)
    await file_visit(zone, "比亚迪", day="11-20")
    await zone.press("确认保存")
    await file_visit(county, "比亚迪")
    assert county.heard("visit.summary")
    # Meanwhile a third unit visits the same enterprise.
    await file_visit(department, "比亚迪")
    await department.press("确认保存")
    await county.press("确认保存")
    assert "提醒" in county.last_text and "财政局" in county.last_text
    assert len(await all_visits(app)) == 2
    await county.press("继续登记")
    assert county.heard("visit.summary")
    await county.press("确认保存")
    assert county.heard("visit.saved") and len(await all_visits(app)) == 3


async def test_stop_at_the_guard_saves_nothing(chat: ChatFactory, app: App, transport: RecordingTransport) -> None:
    zone, county = chat(ZONE), chat(COUNTY)
    await file_visit(zone, "比亚迪", day="11-20")
    await zone.press("确认保存")
    await county.send("/visit 比亚迪 谈了电池项目")
    assert "提醒" in county.last_text
    await county.press("不保存")
    assert len(await all_visits(app)) == 1
    assert transport.texts_to(BUREAU) == []


async def test_guard_window_is_the_bureaus_setting(chat: ChatFactory, app: App) -> None:
    zone, county = chat(ZONE), chat(COUNTY)
    await file_visit(zone, "比亚迪", day="11-20")
    await zone.press("确认保存")
    await settings.put(app.db, "repeat_visit_window_days", 5)
    await file_visit(county, "比亚迪")
    await county.press("确认保存")
    assert county.heard("visit.saved")
    # The same unit visiting again is not a repeat visit by several units.
    await file_visit(county, "比亚迪", day="昨天")
    await county.press("确认保存")
    assert county.heard("visit.saved")
    assert not any(v.flagged for v in await all_visits(app))


def reminder_keyboard(transport: RecordingTransport, chat_id: int) -> Reply:
    replies = [i for cid, i in transport.sent if cid == chat_id and isinstance(i, Reply) and i.keyboard]
    return replies[-1]


async def test_follow_up_reminder_files_the_next_visit(
    chat: ChatFactory, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    c = chat(COUNTY)
    await file_visit(c, "比亚迪", day="昨天", follow_up="12-05")
    await c.press("确认保存")
    assert await send_follow_up_reminders(app, date(2026, 12, 4)) == 0
    assert await send_follow_up_reminders(app, date(2026, 12, 5)) == 1
    assert await send_follow_up_reminders(app, date(2026, 12, 5)) == 0  # once per visit and day
    await app.outbox.flush()
    reminder = reminder_keyboard(transport, COUNTY)
    assert "比亚迪" in reminder.text and "下周报送项目方案" in reminder.text and "2026-11-27" in reminder.text

    clock.now = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)
    await c.press("登记下一次拜访", keyboard=reminder.keyboard)
    assert c.heard("visit.prefilled", name="比亚迪") and c.heard("visit.ask.where")
    await c.send("企业")
    await c.send("补录")
    await c.send("谈妥意向")
    await c.send("签约")
    await c.press("确认保存")
    first, second = await all_visits(app)
    assert first.enterprise_id == second.enterprise_id and second.visit_date == date(2026, 12, 5)
    # Filed the next visit: the old follow-up is done.
    assert await visits.due_follow_ups(app.db, date(2026, 12, 5)) == []


async def test_follow_up_reminder_pushes_the_date(
    chat: ChatFactory, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    c = chat(COUNTY)
    await file_visit(c, "比亚迪", day="昨天", follow_up="12-05")
    await c.press("确认保存")
    clock.now = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)
    await send_follow_up_reminders(app, date(2026, 12, 5))
    await app.outbox.flush()
    reminder = reminder_keyboard(transport, COUNTY)
    await c.press("推迟7天", keyboard=reminder.keyboard)
    assert "2026-12-12" in c.last_text
    [visit] = await all_visits(app)
    assert visit.follow_up_date == date(2026, 12, 12)
    assert [f.visit_id for f in await visits.due_follow_ups(app.db, date(2026, 12, 12))] == [visit.id]

    await c.press("改到其他日期", keyboard=reminder.keyboard)
    assert c.heard("visit.push.ask")
    await c.send("11-20")
    assert c.heard("visit.err.follow_up_early")
    await c.send("12-20")
    assert "2026-12-20" in c.last_text
    [visit] = await all_visits(app)
    assert visit.follow_up_date == date(2026, 12, 20)
    # Someone else pressing the filer's reminder gets nothing.
    other = chat(ZONE)
    await other.press("推迟7天", keyboard=reminder.keyboard)
    assert other.heard("core.expired")
    [visit] = await all_visits(app)
    assert visit.follow_up_date == date(2026, 12, 20)


async def test_reminder_button_parks_a_half_filled_conversation(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    c = chat(COUNTY)
    await file_visit(c, "比亚迪", day="昨天", follow_up="12-05")
    await c.press("确认保存")
    await send_follow_up_reminders(app, date(2026, 12, 5))
    await app.outbox.flush()
    reminder = reminder_keyboard(transport, COUNTY)
    await c.send("/lead")
    await c.send("宁德时代")
    await c.press("登记下一次拜访", keyboard=reminder.keyboard)
    assert c.heard("core.parked") and "/lead" in c.last_text
    assert c.heard("visit.prefilled", name="比亚迪")


async def test_visits_listing(chat: ChatFactory, app: App) -> None:
    county, zone = chat(COUNTY), chat(ZONE)
    await file_visit(county, "比亚迪")
    await county.press("确认保存")
    await county.send("/visits")
    assert "比亚迪" in county.last_text and "甘州区" in county.last_text
    await zone.send("/visits")
    assert "比亚迪" not in zone.last_text
    async with app.db.session() as session:
        assert (await session.exec(select(Enterprise))).first() is not None


def test_dynamic_keys_are_complete() -> None:
    from bot.core.i18n import catalog
    from handlers import visit

    keys = [f"visit.edit.{name}" for name in visit.FIELDS] + ["visit.guard.visit", "visit.guard.project"]
    for locale in ("zh", "en"):
        missing = [key for key in keys if not catalog(locale).get(key)]
        assert not missing, (locale, missing)


async def test_another_units_active_project_also_triggers_the_guard(chat: ChatFactory, app: App) -> None:
    from models import Stage
    from services import members, projects
    from services.projects import ProjectDraft

    zone = await members.load_member(app.db, ZONE, admin_ids=frozenset())
    assert zone is not None
    await projects.register(
        app.db,
        member=zone,
        draft=ProjectDraft(
            None, "比亚迪", None, "电池厂", None, 300_000_000, date(2026, 11, 10), Stage.NEGOTIATION, ""
        ),
        now=datetime(2026, 11, 10, 2, 0, tzinfo=SHANGHAI),
        today=date(2026, 11, 10),
    )
    county = chat(COUNTY)
    await county.send("/visit 比亚迪")
    warning = [i.text for i in county.last.items if isinstance(i, Reply) and not i.edit][-1]
    assert "张掖经开区：有在谈项目（2026-11-10）" in warning and "电池厂" not in warning


async def test_english_speaker_files_a_visit(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY, language_code="en")
    await c.send("/visit")
    assert "Which enterprise did you visit" in c.last_text
    await c.send("BYD")
    assert "Share my location" in c.labels()[0]
    await c.share_location(38.9, 100.4)
    await c.send("Interested")
    await c.send("Send a proposal")
    await c.press("Date")
    await c.press("Yesterday")
    assert "Please check the visit" in c.last_text and "2026-11-27" in c.last_text
    await c.press("Save")
    assert "Visit saved as #1" in c.last_text


async def test_saved_records_take_the_apps_clock(chat: ChatFactory, app: App, clock: Clock) -> None:
    """The visit, its new enterprise, the lead and their audit entries are stamped by the app's clock."""
    clock.now = datetime(2026, 3, 15, 2, 0, tzinfo=ZoneInfo("UTC"))
    c = chat(1003)
    await file_visit(c, "张掖时钟测试科技有限公司")
    await c.press("保存")
    [visit] = await all_visits(app)
    await c.send("/lead 张掖时钟测试科技有限公司 扩产 1亿 新能源")
    await c.press("其他")
    await c.press("确认保存")
    async with app.db.session() as session:
        enterprise = (await session.exec(select(Enterprise).where(Enterprise.id == visit.enterprise_id))).one()
        entries = (await session.exec(select(AuditEntry))).all()
        lead = (await session.exec(select(Lead))).one()
    assert visit.created_at == clock.now and enterprise.created_at == clock.now and lead.created_at == clock.now
    assert {e.at for e in entries if e.entity in ("visit", "enterprise", "lead")} == {clock.now}


async def test_a_default_is_corrected_from_the_summary_in_one_press(chat: ChatFactory, app: App) -> None:
    c = chat(COUNTY)
    await c.share_location(38.93, 100.45)
    await c.send("比亚迪")
    await c.send("谈了电池项目")
    await c.send("报方案")
    await c.press("昨天去的")
    assert "日期：2026-11-27" in c.last_text
    await c.press("30天后跟进")
    assert "跟进日期：2026-12-28" in c.last_text
    await c.press("确认保存")
    [visit] = await all_visits(app)
    assert visit.visit_date == date(2026, 11, 27) and visit.follow_up_date == date(2026, 12, 28)
