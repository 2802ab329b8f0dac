"""The real bot over real HTTP against the fake Bot API server, once with each framework."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from tests.conftest import ADMIN_ID
from tests.telegram_kit import Bot, running_bot

FRAMEWORKS = ["ptb", "aiogram"]
LIAISON = 1002  # a seeded demo person: the Beijing liaison office


@pytest.fixture(params=FRAMEWORKS)
async def bot(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Bot]:
    async with running_bot(settings, request.param) as running:
        yield running


async def test_admin_invites_and_a_newcomer_joins(bot: Bot) -> None:
    admin = bot.person(ADMIN_ID, first_name="王局长")
    await admin.send("/invite")
    units = admin.keyboard_message()
    pressed = await admin.press("驻北京联络处")
    assert units.edited and units.buttons() == [], "the press edits its message and drops the keyboard"
    assert "驻北京联络处" in units.text
    await admin.press("驻外机构")
    link = admin.last_text
    assert "https://t.me/investbot_test_bot?start=" in link
    code = link.split("start=")[1].split()[0]
    assert all(q in bot.api.answered_callbacks for q in admin.queries), pressed

    newcomer = bot.person(777_000_000_123, first_name="李联络")
    await newcomer.send(f"/start {code}")
    assert any("注册成功" in t for t in newcomer.texts())


async def test_guided_lead_with_presses_and_one_message_lead(bot: Bot) -> None:
    officer = bot.person(LIAISON, first_name="李联络")
    await officer.send("/lead")
    assert "哪家企业" in officer.last_text
    await officer.send("宁德时代新能源科技股份有限公司")
    chains = officer.keyboard_message()
    assert all(len(d.encode()) <= 64 and d.isascii() for d in chains.callback_data())
    await officer.press("新能源")
    assert chains.edited and chains.buttons() == [] and chains.text.endswith("新能源")
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
    # Every press was answered, so no button kept spinning.
    assert officer.queries and all(q in bot.api.answered_callbacks for q in officer.queries)


async def test_a_stale_press_is_expired_and_a_redelivered_update_is_handled_once(bot: Bot) -> None:
    officer = bot.person(LIAISON)
    await officer.send("/lead")
    await officer.send("隆基绿能")
    chains = officer.keyboard_message()
    data = chains.button_data("新能源")
    await officer.press("新能源")
    # The same old button, pressed again (a second device, or a quick double tap).
    stale = bot.api.press_button(LIAISON, chains.message_id, data, strict=False)
    await bot.tracker.wait(bot.api.pending_updates[-1])
    assert bot.api.answered_callbacks[stale].text == "这个选项已过期，请使用最新消息中的按钮。"
    assert "计划" in officer.last_text, "the conversation did not move"

    before = len(officer.messages)
    update_id = await officer.send("/help")
    answered = len(officer.messages)
    assert answered > before
    bot.api.redeliver(update_id)
    await bot.tracker.wait(update_id, times=2)
    assert len(officer.messages) == answered, "the redelivered update was answered again"


async def test_one_persons_updates_are_answered_in_order(bot: Bot) -> None:
    officer = bot.person(LIAISON)
    ids = [bot.api.send_text(LIAISON, text) for text in ("/help", "/lead", "/cancel", "/lang")]
    for update_id in ids:
        await bot.tracker.wait(update_id)
    texts = officer.texts()
    assert len(texts) == 4, texts
    assert "/lead" in texts[0]
    assert texts[1].startswith("是哪家企业")
    assert texts[2] == "已取消线索。"
    assert texts[3] == "请选择语言 / Choose a language:"


async def test_command_menus_per_language_and_per_person(bot: Bot) -> None:
    api = bot.api
    assert [c["command"] for c in api.commands(None, "zh")] == ["help", "lang"]
    assert api.commands(None, "en")[0]["description"] == "list the commands you can use"
    assert api.commands(None, "") == api.commands(None, "zh")
    liaison = {"type": "chat", "chat_id": LIAISON}
    await api.wait_for(lambda: api.commands(liaison), what="the liaison's own menu")
    names = [c["command"] for c in api.commands(liaison)]
    assert "lead" in names and "invite" not in names and names[-1] == "cancel"

    officer = bot.person(LIAISON)
    await officer.send("/lang")
    await officer.press("English")
    assert api.commands(liaison)[0]["description"] == "list the commands you can use"

    admin = bot.person(ADMIN_ID)
    await admin.send("/help")
    chat = {"type": "chat", "chat_id": ADMIN_ID}
    await api.wait_for(lambda: "invite" in [c["command"] for c in api.commands(chat)], what="the admin's menu")


async def test_an_exception_in_a_handler_is_answered_and_the_bot_keeps_going(bot: Bot) -> None:
    from dataclasses import replace

    router = bot.runner.router
    assert router is not None

    async def broken(ctx: object, msg: object) -> None:
        raise RuntimeError("boom")

    router.registry.commands["help"] = replace(router.registry.commands["help"], run=broken)
    officer = bot.person(LIAISON)
    await officer.send("/help")
    assert officer.last_text == "出了点问题，您已填写的内容都已保存。请稍后再试，或发送 /cancel 重新开始。"
    await officer.send("/lead")
    assert "哪家企业" in officer.last_text
