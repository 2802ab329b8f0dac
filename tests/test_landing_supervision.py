"""§16: a leader asks a unit, the unit answers by the deadline (late answers and silence reach
the bureau); the bureau keeps the joint supervision list with the actions taken."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.core import Reply
from bot.core.i18n import translate
from bot.scheduler import send_due
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, RecordingTransport, heard
from tests.test_project import BUREAU, COUNTY, LEADER, ZONE, last_keyboard_to, register


async def ask(leader_chat: Chat, unit: str, about: str, question: str, due: str) -> None:
    """Put a question to a unit through /ask, as a city leader does."""
    await leader_chat.send("/ask")
    await leader_chat.press(unit)
    await leader_chat.press(about)
    await leader_chat.send(question)
    await leader_chat.send(due)


async def test_a_leader_asks_and_the_unit_answers_in_time(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    county, leader = chat(COUNTY), chat(LEADER)
    await register(county)
    await ask(leader, "甘州区", "储能电池基地项目", "用地指标什么时候落实？", "12-05")
    assert translate("zh", "supervision.asked", unit="甘州区") in leader.last_text
    question = last_keyboard_to(transport, COUNTY)
    assert "用地指标什么时候落实" in question.text and "请于 2026-12-05 前答复" in question.text
    assert "项目 #1 储能电池基地项目" in question.text

    # Another unit cannot answer it.
    zone = chat(ZONE)
    await zone.press("答复", keyboard=question.keyboard)
    assert translate("zh", "core.expired") in zone.last_text
    await county.press("答复", keyboard=question.keyboard)
    await county.send("")
    assert translate("zh", "core.err.empty") in county.last_text
    await county.send("已列入12月土地供应计划")
    assert translate("zh", "supervision.answered") in county.last_text
    told = transport.texts_to(LEADER)[-1]
    assert heard(told, "supervision.told.answered") and "已列入12月土地供应计划" in told
    assert not any("点题询问" in t for t in transport.texts_to(BUREAU))


async def test_silence_and_late_answers_reach_the_bureau(
    chat: ChatFactory, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county, leader = chat(COUNTY), chat(LEADER)
    await ask(leader, "甘州区", "整体招商成效", "今年亿元以上项目为何只有一个？", "12-01")
    question = last_keyboard_to(transport, COUNTY)
    assert heard(question.text, "supervision.question", about="招商成效")

    async def bureau_hears(day: int) -> list[str]:
        clock.now = clock.now.replace(day=1, month=12) + timedelta(days=day - 1)
        mark = len(transport.sent)
        await send_due(app)
        await app.outbox.flush()
        return [r.text for cid, r in transport.sent[mark:] if cid == BUREAU and isinstance(r, Reply)]

    assert await bureau_hears(1) == []
    [told] = await bureau_hears(2)
    assert heard(told, "supervision.told.overdue") and "今年亿元以上项目为何只有一个" in told
    assert await bureau_hears(3) == []  # once
    await county.press("答复", keyboard=question.keyboard)
    await county.send("两个项目在洽谈，预计年底签约")
    late = [t for t in transport.texts_to(BUREAU) if "逾期答复" in t]
    assert len(late) == 1 and "预计年底签约" in late[0]
    assert heard(transport.texts_to(LEADER)[-1], "supervision.told.answered_late")


async def test_the_supervision_list_keeps_actions_and_dates(chat: ChatFactory, app: App, clock: Clock) -> None:
    await register(chat(COUNTY))
    bureau = chat(BUREAU)
    await bureau.send("/supervise")
    assert "0 项未结" in bureau.last_text
    await bureau.press("新增督导事项")
    await bureau.send("储能")
    assert translate("zh", "supervision.err.subject") in bureau.last_text
    await bureau.send("1")
    await bureau.send("用地预审停滞两个月")
    await bureau.press("新增督导事项")
    await bureau.press("临泽县")
    await bureau.send("连续三个月无新首谈项目")
    assert "#1 项目 #1 储能电池基地项目：用地预审停滞两个月" in bureau.last_text
    assert "#2 临泽县：连续三个月无新首谈项目" in bureau.last_text
    await bureau.press("记录督导措施")
    await bureau.press("#2")
    await bureau.send("会同市委办、市政府办联合督导")
    await bureau.press("继续督导")
    assert "  · 2026-11-28 会同市委办、市政府办联合督导" in bureau.last_text
    clock.now += timedelta(days=10)
    await bureau.press("记录督导措施")
    await bureau.press("#1")
    await bureau.send("用地预审已办结")
    await bureau.press("督导结束")
    assert "1 项未结" in bureau.last_text and "用地预审停滞" not in bureau.last_text
    county = chat(COUNTY)
    await county.send("/supervise")
    assert "联合督导清单" not in county.last_text
