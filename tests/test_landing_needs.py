"""§19: element needs go to the department of their kind, which answers in the chat; the unit
that asked hears the answer, the bureau sees every open need and hears of those left unanswered."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.app import App
from bot.core import Reply
from bot.core.i18n import translate
from bot.scheduler import send_due
from models import ElementNeed
from services import projects
from tests.conftest import ChatFactory, Clock, Joiner
from tests.kit import Chat, RecordingTransport, heard
from tests.test_project import BUREAU, COUNTY, ZONE, last_keyboard_to, register

LAND_OFFICER = 700_000_000_191


async def raise_need(c: Chat, kind: str, size: str, by: str, number: int = 1) -> None:
    await c.send(f"/need {number}")
    await c.press(kind)
    await c.send(size)
    await c.send(by)


async def test_a_need_goes_to_its_department_which_answers(
    chat: ChatFactory, join: Joiner, app: App, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await register(county, stage="洽谈")
    await raise_need(county, "用地", "200亩", "12-31")
    assert county.heard("need.sent_nobody", department="市自然资源局")

    officer = await join(LAND_OFFICER, "市自然资源局", full_name="钱科长")
    await raise_need(county, "用地", "一期 120亩", "2027-01-15")
    assert translate("zh", "need.sent", number=2, department="市自然资源局") in county.last_text
    ask = last_keyboard_to(transport, LAND_OFFICER)
    assert "用地 一期 120亩，2027-01-15 前" in ask.text and heard(ask.text, "need.line", unit="甘州区")

    await officer.press("无法保障", keyboard=ask.keyboard)
    assert officer.heard("need.ask.reason.refused")
    await officer.send(" ")
    assert translate("zh", "core.err.empty") in officer.last_text
    await officer.send("该地块未纳入国土空间规划")
    assert "无法保障" in officer.last_text
    told = transport.texts_to(COUNTY)[-1]
    assert heard(told, "need.told.answered") and "该地块未纳入国土空间规划" in told

    # Another department cannot answer it, nor can a county.
    finance = chat(1006)
    await finance.press("受理", keyboard=ask.keyboard)
    assert translate("zh", "need.err.not_yours") in finance.last_text
    zone = chat(ZONE)
    await zone.press("受理", keyboard=ask.keyboard)
    assert translate("zh", "core.expired") in zone.last_text
    first = [r for cid, r in transport.sent if cid == LAND_OFFICER and isinstance(r, Reply) and r.keyboard]
    assert len(first) == 1  # the first need came before the officer joined
    async with app.db.session() as session:
        needs = (await session.exec(select(ElementNeed).order_by(col(ElementNeed.id)))).all()
    assert [(n.kind, n.state, n.answer) for n in needs] == [
        ("land", "open", ""),
        ("land", "refused", "该地块未纳入国土空间规划"),
    ]
    actions = [e.action for e in await projects.history(app.db, 1)]
    assert actions.count("need_raised") == 2 and actions.count("need_answered") == 1

    bureau = chat(BUREAU)
    await bureau.send("/needs")
    listed = bureau.last_text
    assert "需求 #1" in listed and "需求 #2" not in listed
    await officer.send("/needs")
    assert "需求 #1" in officer.last_text


async def test_routing_follows_the_kind_and_bad_answers_keep_the_draft(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await register(county, stage="洽谈")
    await county.send("/need 1")
    await county.send("融资")
    assert translate("zh", "core.err.use_buttons") in county.last_text
    await county.press("融资")
    await county.send("")
    assert translate("zh", "core.err.empty") in county.last_text
    await county.send("3亿元")
    await county.send("2026-01-01")
    assert county.heard("taskforce.err.past")
    await county.press("30天后")
    assert "市政府金融办" in county.last_text
    await raise_need(county, "用能", "年用电 5000万千瓦时", "12-20")
    assert "市发展改革委" in county.last_text
    async with app.db.session() as session:
        needs = (await session.exec(select(ElementNeed))).all()
    assert sorted((n.kind, n.size, n.needed_by.isoformat()) for n in needs) == [
        ("energy", "年用电 5000万千瓦时", "2026-12-20"),
        ("financing", "3亿元", "2026-12-28"),
    ]


async def test_an_unanswered_need_goes_to_the_bureau_once(
    chat: ChatFactory, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await register(county, stage="洽谈")
    await raise_need(county, "环境容量", "二氧化硫 20吨/年", "12-31")
    start = clock.now

    async def bureau_hears(days: int) -> list[str]:
        clock.now = start + timedelta(days=days)
        mark = len(transport.sent)
        await send_due(app)
        await app.outbox.flush()
        return [
            r.text
            for cid, r in transport.sent[mark:]
            if cid == BUREAU and isinstance(r, Reply) and "要素需求" in r.text
        ]

    assert await bureau_hears(4) == []
    [told] = await bureau_hears(5)
    assert "5 天未答复" in told and "市生态环境局" in told
    assert await bureau_hears(6) == []
