"""The same conversations on DingTalk: the real bot (our runner, the dingtalk-stream SDK) against
the fake DingTalk over real HTTP and a real websocket, on SQLite and on PostgreSQL.

The assertions are the Telegram suite's (tests/test_telegram_e2e*.py) where the platforms
agree. Where they differ, the test says so:
- a person is a staff id (a string), mapped to a stable internal chat id;
- buttons are interactive-card buttons and a press edits the card (no toast to answer);
- a location cannot be shared: the question says how to answer in text, and typed
  coordinates count as the location;
- a file has no caption: its words follow it as a text message.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import struct
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlmodel import col, select, update

from bot.core import FileReply, Reply
from bot.core.config import Settings
from bot.delivery import Rejected
from models import (
    PLATFORM_CHAT_BASE,
    AuditEntry,
    ConversationState,
    Delivery,
    LibraryEntry,
    PlatformAccount,
    Project,
    User,
    Visit,
)
from services import platforms, schedule
from services.periods import week_of
from services.schedule import CHAIN_DIGEST
from tests.conftest import ADMIN_ID
from tests.dingtalk import CLIENT_SECRET, DingBot, eventually, running_dingtalk
from tests.dingtalk.server import CARD_TOPIC, Failure
from tests.kit import heard, zh
from tests.test_botapi_server import tiny_png
from tests.test_telegram_e2e_work import CATL, quiet_monday, retrying, spreadsheet

BUREAU, LIAISON, COUNTY, CHAIN_LEAD, LEADER = 1001, 1002, 1003, 1005, 1008
NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


@pytest.fixture
async def ding(settings: Settings) -> AsyncIterator[DingBot]:
    async with running_dingtalk(settings) as running:
        yield running


async def test_a_newcomer_joins_with_an_invitation_code_typed_as_text(ding: DingBot) -> None:
    admin = await ding.staff("manager001", "王局长", member=ADMIN_ID)
    await admin.send("/invite")
    units = await admin.press("驻北京联络处")
    assert units.edits == 1 and units.buttons == [], "the press edits its card and drops the buttons"
    assert "驻北京联络处" in units.text
    await admin.press("驻外机构")
    # Platform difference: no t.me link; the invitation says what to send the robot.
    code = admin.last_text.split("/start ")[1].split()[0]

    newcomer = await ding.staff("staff7788", "李联络")
    await newcomer.send(f"/start {code}")
    assert any("注册成功" in t for t in newcomer.texts())
    async with ding.app.db.session() as session:
        account = (await session.exec(select(PlatformAccount).where(PlatformAccount.external_id == "staff7788"))).one()
        user = (await session.exec(select(User).where(User.telegram_id == account.chat_id))).one()
    assert account.chat_id >= PLATFORM_CHAT_BASE and user.full_name == "李联络"
    await newcomer.send("/help")
    assert "/lead" in newcomer.last_text


async def test_guided_lead_with_card_presses_and_one_message_lead(ding: DingBot) -> None:
    officer = await ding.staff("liaison01", "李联络", member=LIAISON)
    await officer.send("/lead")
    assert "哪家企业" in officer.last_text
    await officer.send("宁德时代新能源科技股份有限公司")
    chains = officer.card()
    assert all(b["params"]["data"].isascii() for b in chains.buttons)
    await officer.press("新能源")
    assert chains.edits == 1 and chains.buttons == [] and chains.text.endswith("新能源")
    await officer.send("拟在西北建设储能电池基地")
    await officer.send("20亿")
    summary = officer.last_text
    assert "20亿元" in summary and "宁德时代新能源科技股份有限公司" in summary
    await officer.press("确认保存")
    assert "#" in officer.last_text

    await officer.send("/lead 比亚迪 拟在张掖建设电池回收工厂 投资约5亿 新能源")
    assert "5亿元" in officer.last_text and "比亚迪" in officer.last_text
    await officer.press("确认保存")
    assert "#" in officer.last_text


async def test_a_stale_press_and_a_redelivered_message_change_nothing(ding: DingBot) -> None:
    officer = await ding.staff("liaison01", member=LIAISON)
    await officer.send("/lead")
    await officer.send("隆基绿能")
    chains = officer.card()
    saved = [dict(b) for b in chains.buttons]
    await officer.press("新能源")
    asked = officer.last_text
    assert "计划" in asked and chains.text.endswith("新能源")
    chains.buttons = saved  # the same old card, pressed again (a second device, a double tap)
    await officer.press("新能源", chains)
    assert officer.last_text == asked, "the conversation did not move"
    assert chains.text.count("→") == 1, "the card still shows the one choice"

    before = len(officer.chat)
    data = ding.fake._robot("liaison01", "李联络", "text", text={"content": "/help"})
    await ding.fake.send_raw(data)
    answered = len(officer.chat)
    assert answered > before
    await ding.fake.send_raw(data)  # DingTalk sends it again (no ack arrived in time)
    assert len(officer.chat) == answered, "the redelivered message was answered again"


async def test_one_persons_messages_are_answered_in_order(ding: DingBot, monkeypatch: pytest.MonkeyPatch) -> None:
    officer = await ding.staff("liaison01", member=LIAISON)
    looked_up = platforms.chat_id_for
    calls = 0

    async def slower_for_the_earlier(*args: Any) -> int:
        # The database answers the earliest message's look-up last: reading a message must
        # not let a later one overtake it.
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.08 * (5 - calls))
        return await looked_up(*args)

    monkeypatch.setattr(platforms, "chat_id_for", slower_for_the_earlier)
    # Sent at once, each acknowledged when handled; the answers still come in order.
    await asyncio.gather(*(ding.fake.send_text("liaison01", text) for text in ("/help", "/lead", "/cancel", "/lang")))
    texts = officer.texts()
    assert len(texts) == 4, texts
    assert heard(texts[0], "help.lead")
    assert heard(texts[1], "lead.ask.enterprise")
    assert heard(texts[2], "core.cancel.done", what=zh("flow.lead"))
    assert heard(texts[3], "lang.ask")


async def test_a_visit_asks_for_the_place_in_text_and_takes_typed_coordinates(ding: DingBot) -> None:
    county = await ding.staff("county01", "赵干事", member=COUNTY)
    await county.send("/visit")
    await county.send("宁德时代新能源科技股份有限公司")
    asking = county.chat[-1]
    # Platform difference: no location button on DingTalk; the question says what to type.
    assert asking.kind == "text" and zh("dingtalk.location_hint") in asking.text
    assert zh("visit.ask.where") in asking.text
    await county.send("38.93, 100.45")
    assert any(zh("visit.where.got") in text for text in county.texts())
    await county.send("企业计划在西北建储能基地")
    await county.send("月底前提交用地方案")
    await county.send_picture(tiny_png(32, 24))
    assert "38.93000" in county.last_text and "照片：1张" in county.last_text
    await county.press("确认保存")
    assert "#" in county.last_text
    async with ding.app.db.session() as session:
        [visit] = (await session.exec(select(Visit))).all()
    assert (visit.latitude, visit.longitude) == (38.93, 100.45)
    [photo_id] = visit.photos
    assert await ding.app.download(photo_id) == tiny_png(32, 24), "downloaded through the robot file API"


async def test_a_press_after_a_restart_still_edits_its_card(ding: DingBot) -> None:
    officer = await ding.staff("liaison01", member=LIAISON)
    await officer.send("/lead")
    await officer.send("隆基绿能")
    chains = officer.card()
    label = chains.button("新能源")["text"]
    await ding.restart()
    shown = len(officer.chat)
    await officer.press("新能源", chains)
    assert chains.edits == 1 and chains.buttons == [], "the press edited its card"
    assert chains.text.endswith(f"→ {label}"), "the card keeps the choice, after the restart too"
    assert len(officer.chat) == shown + 1 and heard(officer.last_text, "lead.ask.plan")


async def test_coordinates_typed_after_a_restart_are_still_the_place(ding: DingBot) -> None:
    county = await ding.staff("county01", member=COUNTY)
    await county.send("/visit")
    await county.send("宁德时代新能源科技股份有限公司")
    assert zh("visit.ask.where") in county.last_text
    await ding.restart()
    await county.send("38.93, 100.45")
    assert any(heard(text, "visit.where.got") for text in county.texts()), county.texts()
    await county.send("企业计划在西北建储能基地")
    await county.send("月底前提交用地方案")
    assert "38.93000" in county.last_text and "100.45000" in county.last_text


async def test_a_visit_at_a_typed_place_is_not_mistaken_for_coordinates(ding: DingBot) -> None:
    county = await ding.staff("county01", member=COUNTY)
    await county.send("/visit")
    await county.send("宁德时代新能源科技股份有限公司")
    await county.send("张掖经开区管委会")
    assert zh("visit.ask.no_location") in county.last_text, "a place typed in words is a place"


async def test_coordinates_typed_where_no_location_was_asked_stay_text(ding: DingBot) -> None:
    county = await ding.staff("county01", member=COUNTY)
    await county.send("/visit")
    await county.send("宁德时代新能源科技股份有限公司")
    await county.send("张掖经开区管委会")
    assert zh("visit.ask.no_location") in county.last_text
    await county.send("38.93, 100.45")  # why there is no location: words, whatever they look like
    assert not any(heard(text, "visit.where.got") for text in county.texts())
    async with ding.app.db.session() as session:
        [state] = (await session.exec(select(ConversationState))).all()
    assert state.flow == "visit" and state.draft["no_location"] == "38.93, 100.45"
    assert "lat" not in state.draft and state.draft["place"] == "张掖经开区管委会"


async def test_a_project_registered_assigned_to_a_leader_and_moved_on(ding: DingBot) -> None:
    ding.app.clock = lambda: NOW
    county = await ding.staff("county01", "赵干事", member=COUNTY)
    bureau = await ding.staff("bureau01", "王局长", member=BUREAU)
    leader = await ding.staff("leader01", "郑市长", member=LEADER)
    await county.send("/project")
    assert "哪家企业的项目" in county.last_text
    await county.send("宁德时代新能源科技股份有限公司")
    assert "叫什么名字" in county.last_text
    await county.send("储能电池基地项目")
    chains = await county.press("新能源")
    assert chains.buttons == [] and "新能源" in chains.text
    await county.send("12亿")
    description = await county.press("改简介")
    assert description.buttons == []
    await county.send("建设年产10GWh储能电池生产线")
    summary = county.last_text
    shown = ("宁德时代新能源科技股份有限公司", "储能电池基地项目", "新能源", "12亿元", "2026-11-27", "首谈", "甘州区")
    assert all(part in summary for part in shown), summary
    confirm = await county.press("确认登记")
    assert confirm.buttons == []
    assert any("#1" in t for t in county.texts()) and "市招商局分配" in county.last_text

    # ≥ 10亿 of industry: the bureau is asked for a principal leader, on a card of its own.
    ask = await ding.fake.wait_for(bureau.staff_id, "包抓")
    assert ask.kind == "card" and "储能电池基地项目" in ask.text and "12亿元" in ask.text
    await bureau.press("郑市长", ask)
    assert ask.edits == 1 and "郑市长" in ask.text
    told = await ding.fake.wait_for(leader.staff_id, "包抓领导")
    assert "储能电池基地项目" in told.text

    await county.send("/progress")
    pick = await county.press("储能电池基地项目")
    assert pick.buttons == [] and "要更新什么" in county.last_text
    await county.press("推进阶段")
    await county.press("洽谈")
    moved, menu = county.texts()[-2:]
    assert moved == "阶段已更新为：洽谈。" and "还要更新什么" in menu
    await county.press("完成")
    assert [m for m in county.chat if m.kind == "card" and m.buttons] == [], "nothing old is left to press"
    async with ding.app.db.session() as session:
        [project] = (await session.exec(select(Project))).all()
        chosen = (await session.exec(select(User).where(User.telegram_id == LEADER))).one()
    assert project.stage == "negotiation" and project.planned_yuan == 1_200_000_000
    assert project.leader_user_id == chosen.id


async def test_a_spreadsheet_is_imported_and_an_export_received(ding: DingBot) -> None:
    app, fake = ding.app, ding.fake
    app.clock = lambda: NOW
    lead = await ding.staff("chain01", "孙科长", member=CHAIN_LEAD)
    await lead.send_file("新能源目标企业.xlsx", spreadsheet())
    preview, ask = lead.texts()[-2:]
    assert "共 4 行数据" in preview and "新增企业 3 家，匹配已有企业 0 家，有问题 1 行" in preview
    assert "确认导入以上 3 家企业吗" in ask
    async with app.db.session() as session:
        assert (await session.exec(select(LibraryEntry))).all() == [], "nothing is imported before the press"
    confirm = await lead.press("确认导入")
    assert confirm.buttons == [] and confirm.text.endswith("→ 确认导入")
    assert "新建企业 3 家，加入目标企业库 3 家" in lead.last_text

    await lead.send("/export")
    await lead.press("目标企业")
    await lead.press("本月")
    files = [m for m in lead.chat if m.kind == "file"]
    assert len(files) == 1 and files[0].filename.endswith(".xlsx")
    # Platform difference: a file carries no caption, so its words follow it.
    after = lead.chat[lead.chat.index(files[0]) + 1]
    assert after.kind == "text" and "目标企业：2026-11-01 至 2026-11-30" in after.text
    ws = load_workbook(io.BytesIO(files[0].content)).active
    assert ws is not None
    assert {row[0].value for row in ws.iter_rows(min_row=2)} >= {CATL}
    assert fake.token_requests == 1, "one access token served every call"


async def test_a_digest_asked_for_arrives_with_its_chart_images(ding: DingBot) -> None:
    lead = await ding.staff("chain01", "孙科长", member=CHAIN_LEAD)
    await lead.send("/digest")
    text, *charts = lead.chat
    assert text.kind == "text" and text.text.startswith("📊")
    assert [c.kind for c in charts] == ["image", "image"]
    assert all(c.content.startswith(b"\x89PNG\r\n\x1a\n") for c in charts)
    width, height = struct.unpack(">II", charts[0].content[16:24])
    assert width >= 300 and height >= 200, (width, height)


async def test_the_weekly_chain_digest_arrives_with_its_chart_from_the_scheduled_job(settings: Settings) -> None:
    async with running_dingtalk(settings, scheduler=True) as ding:
        app, fake = ding.app, ding.fake
        leadership = ding.runner.leadership
        assert leadership is not None
        jobs = await eventually(lambda: leadership.jobs, "the scheduled jobs")
        tz = app.tz
        due = quiet_monday(await schedule.load_times(app.db), tz, datetime.now(tz).date() + timedelta(days=1))
        monday = due.astimezone(tz).date()
        start = monday - timedelta(days=7)
        app.clock = lambda: datetime.combine(start + timedelta(days=2), time(10), tz).astimezone(UTC)
        liaison = await ding.staff("liaison01", member=LIAISON)
        lead = await ding.staff("chain01", "孙科长", member=CHAIN_LEAD)
        await liaison.send("/lead 比亚迪 拟在张掖建设电池回收工厂 投资约5亿 新能源")
        await liaison.press("确认保存")
        async with app.db.session() as session:
            lead_user = (await session.exec(select(User).where(User.telegram_id == CHAIN_LEAD))).one()
        key = f"{CHAIN_DIGEST}:{week_of(start).key}:{lead_user.id}"

        # The first chart's upload fails: the retry sends the charts alone, not the text again.
        fake.fail["upload"] = [Failure(500, {"code": "ServiceUnavailable", "message": "busy"})]
        app.clock = lambda: due
        jobs.scheduler.modify_job(CHAIN_DIGEST, next_run_time=datetime.now(tz))
        row = await retrying(app, key)
        assert row.payload["done"] == 1, "the text is recorded as delivered"
        async with app.db.session() as session:  # as if the pause before the retry were over
            await session.exec(update(Delivery).where(col(Delivery.id) == row.id).values(not_before=None))
        await app.outbox.flush()
        text, *charts = lead.chat
        assert text.text.startswith("📊") and "新线索 1 条" in text.text
        assert [c.kind for c in charts] == ["image", "image"]
        assert all(c.content.startswith(b"\x89PNG") for c in charts)
        async with app.db.session() as session:
            rows = (await session.exec(select(Delivery).where(Delivery.dedupe_key == key))).all()
        assert [(r.status, r.attempts) for r in rows] == [("sent", 2)]


async def test_a_rate_limit_answer_is_waited_out_and_the_message_arrives(ding: DingBot) -> None:
    fake = ding.fake
    officer = await ding.staff("liaison01", member=LIAISON)
    fake.fail["batchSend"] = [
        Failure(429, {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "请求太频繁"}, {"Retry-After": "1"})
    ]
    await officer.send("/help")
    # The worker sends it once DingTalk's pause is over.
    await eventually(lambda: officer.chat, "the answer after the pause")
    assert "/lead" in officer.last_text
    assert [c[2] for c in fake.calls if c[1] == "batchSend"][:2] == [429, 200]


async def _sent_after_one_retry(ding: DingBot, chat_id: int) -> Delivery:
    """Flush the queue, let the failed row fall due at once, flush again; the row as it ends."""
    app = ding.app
    await app.outbox.flush()
    async with app.db.session() as session:
        [row] = (await session.exec(select(Delivery).where(Delivery.chat_id == chat_id))).all()
        assert row.status == "pending" and row.payload["part"] == 1, "the first part is recorded as sent"
        await session.exec(update(Delivery).where(col(Delivery.id) == row.id).values(not_before=None))
    await app.outbox.flush()
    async with app.db.session() as session:
        return (await session.exec(select(Delivery).where(Delivery.chat_id == chat_id))).one()


async def test_a_long_text_whose_second_part_failed_resumes_at_that_part(ding: DingBot) -> None:
    officer = await ding.staff("liaison01", member=LIAISON)
    lines = [f"第{n}条：宁德时代新能源科技股份有限公司拟在西北建设储能电池基地。\n" for n in range(400)]
    busy = Failure(500, {"code": "ServiceUnavailable", "message": "busy"})
    ding.fake.fail["batchSend"] = [None, busy]
    await ding.app.outbox.enqueue(LIAISON, [Reply("".join(lines))], kind="notice")
    row = await _sent_after_one_retry(ding, LIAISON)
    assert (row.status, row.attempts) == ("sent", 2)
    parts = officer.texts()
    assert len(parts) >= 3 and all(len(p) <= 5000 for p in parts)
    assert "".join(parts) == "".join(lines), "every line once, in order: nothing sent twice"


async def test_a_file_whose_caption_failed_is_not_sent_again(ding: DingBot) -> None:
    officer = await ding.staff("liaison01", member=LIAISON)
    busy = Failure(500, {"code": "ServiceUnavailable", "message": "busy"})
    ding.fake.fail["batchSend"] = [None, busy]
    report = FileReply("周报.xlsx", spreadsheet(), caption="本周新能源产业链周报")
    await ding.app.outbox.enqueue(LIAISON, [report], kind="notice")
    row = await _sent_after_one_retry(ding, LIAISON)
    assert row.status == "sent"
    assert [(m.kind, m.filename or m.text) for m in officer.chat] == [
        ("file", "周报.xlsx"),
        ("text", "本周新能源产业链周报"),
    ]
    assert len(ding.fake.media) == 1, "the file was uploaded once"


async def test_a_person_gone_from_the_organisation_is_given_up_and_recorded(ding: DingBot) -> None:
    gone = await ding.staff("gone0001", member=BUREAU)
    await ding.app.outbox.enqueue(BUREAU, [Reply("周报已生成")], kind="notice")
    await ding.app.outbox.flush()
    async with ding.app.db.session() as session:
        [row] = (await session.exec(select(Delivery).where(Delivery.chat_id == BUREAU))).all()
    assert row.status == "failed" and "gone0001" in (row.last_error or "")
    assert gone.chat == []


async def test_a_bound_department_lets_its_staff_join_without_an_invitation(ding: DingBot) -> None:
    admin = await ding.staff("manager001", member=ADMIN_ID)
    await admin.send("/dept 4211 nope")
    assert "nope" in admin.last_text
    await admin.send("/dept 4211 ganzhou")
    assert "4211" in admin.last_text
    ding.fake.departments["county777"] = [1, 4211]
    stranger = await ding.staff("county777", "钱干事")
    await stranger.send("/help")
    assert "/visit" in stranger.last_text
    async with ding.app.db.session() as session:
        audits = (await session.exec(select(AuditEntry).where(AuditEntry.action == "bound"))).all()
        joined = (await session.exec(select(User).where(User.full_name == "钱干事"))).one()
    assert len(audits) == 1 and joined.active

    outsider = await ding.staff("other001", "路人")
    await outsider.send("/help")
    async with ding.app.db.session() as session:
        assert (await session.exec(select(User).where(User.full_name == "路人"))).first() is None


async def test_the_app_secret_and_tokens_never_reach_the_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_dingtalk(settings) as ding:
        officer = await ding.staff("liaison01", member=LIAISON)
        ding.fake.fail["batchSend"] = [Failure(500, {"code": "ServiceUnavailable", "message": "busy"})]
        await officer.send("/help")
        tokens = list(ding.fake.tokens_issued)
    logged = caplog.text
    assert tokens and CLIENT_SECRET not in logged and not any(t in logged for t in tokens)


async def test_a_press_on_someone_elses_card_changes_nothing_of_theirs(ding: DingBot) -> None:
    officer = await ding.staff("liaison01", member=LIAISON)
    other = await ding.staff("county01", member=COUNTY)
    await officer.send("/lead")
    await officer.send("隆基绿能")
    card = officer.card()
    before = card.text
    await ding.fake.press(other.staff_id, card, "新能源")
    assert card.text == before and card.edits == 0, "the officer's card is untouched"
    await officer.press("新能源")
    assert "计划" in officer.last_text, "the officer's conversation goes on"


async def test_unreadable_payloads_are_acknowledged_and_the_bot_goes_on(ding: DingBot) -> None:
    fake = ding.fake
    officer = await ding.staff("liaison01", member=LIAISON)
    strangers = [
        {"msgtype": "text", "text": {"content": "/help"}},  # no staff id: someone outside
        {"msgtype": "text", "text": {"content": "/help"}, "senderStaffId": "x" * 500, "msgId": "x3"},
        {"msgtype": "text", "text": {"content": "/help"}, "senderStaffId": ["liaison01"], "msgId": "x4"},
        # A group chat: the bot serves one person at a time and stays quiet there.
        {"msgtype": "text", "text": {"content": "/help"}, "senderStaffId": "liaison01", "conversationType": "2"},
    ]
    for data in strangers:
        ack = await fake.send_raw(data)
        assert ack["code"] == 200, (data, ack)
    for content in ("not json", json.dumps({"cardPrivateData": {}}), json.dumps([1])):
        callback = {"userId": "liaison01", "outTrackId": "investbot.1", "content": content}
        assert (await fake.send_raw(callback, CARD_TOPIC))["code"] == 200
    assert officer.chat == [], "nothing of it was answered"
    # The officer's, but nothing the bot reads: answered as anything it cannot read.
    for data in (
        {"msgtype": "text", "text": None, "senderStaffId": "liaison01", "msgId": "x1"},
        {"msgtype": "file", "content": "not a dict", "senderStaffId": "liaison01", "msgId": "x2"},
    ):
        assert (await fake.send_raw(data))["code"] == 200
    assert len(officer.chat) <= 2 and not any(zh("help.lead") in t for t in officer.texts())
    await officer.send("/help")
    assert "/lead" in officer.last_text


async def test_a_lost_stream_is_opened_again(ding: DingBot) -> None:
    ding.runner.reconnect_after = 0.05
    stream = ding.runner.stream
    assert stream is not None
    officer = await ding.staff("liaison01", member=LIAISON)
    await ding.fake.drop_stream()
    await ding.fake.connected()
    assert ding.fake.connections == 2
    await officer.send("/help")
    assert "/lead" in officer.last_text


async def test_wrong_credentials_stop_the_start_with_a_clear_error(settings: Settings) -> None:
    with pytest.raises(Rejected) as refused:
        async with running_dingtalk(settings, dingtalk_client_secret=SecretStr("not-the-secret")):
            pass
    assert "invalidClientIdOrSecret" in str(refused.value) and "not-the-secret" not in str(refused.value)
