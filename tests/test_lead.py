"""Lead capture: the guided conversation, the one-message form, every bad input, drafts kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.app import App
from bot.core import Reply
from bot.router import Router
from handlers import build_registry
from models import AuditEntry, Chain, Enterprise, Lead
from services.credit_code import make_credit_code
from tests.conftest import Clock, Joiner
from tests.kit import Chat, heard, zh

OFFICER = 700_000_000_001


@pytest.fixture
async def officer(join: Joiner) -> Chat:
    return await join(OFFICER, "驻北京联络处")


async def leads(app: App) -> list[Lead]:
    async with app.db.session() as session:
        return list((await session.exec(select(Lead))).all())


async def enterprise_named(app: App, name: str) -> Enterprise | None:
    async with app.db.session() as session:
        return (await session.exec(select(Enterprise).where(Enterprise.name == name))).first()


async def test_guided_lead_from_start_to_saved(officer: Chat, app: App) -> None:
    await officer.send("/lead")
    assert officer.heard("lead.ask.enterprise")
    await officer.send("宁德时代新能源科技股份有限公司")
    assert "产业链" in officer.last_text
    await officer.press("新能源")
    assert "计划" in officer.last_text
    await officer.send("拟在西北建设储能电池基地")
    assert officer.heard("lead.ask.amount")
    await officer.send("20亿")
    # A liaison officer's lead comes from the liaison office: no need to ask.
    summary = officer.last_text
    assert "宁德时代新能源科技股份有限公司" in summary and "20亿元" in summary and "驻外机构" in summary
    await officer.press("确认保存")
    assert "#" in officer.last_text

    [lead] = await leads(app)
    assert lead.amount_yuan == 2_000_000_000
    assert lead.plan == "拟在西北建设储能电池基地"
    assert lead.source == "liaison" and lead.status == "pending"
    async with app.db.session() as session:
        chain = await session.get(Chain, lead.chain_id)
        assert chain is not None and chain.name_zh == "新能源"
        entries = (await session.exec(select(AuditEntry).where(AuditEntry.entity == "lead"))).all()
        assert [(e.entity_id, e.action) for e in entries] == [(lead.id, "created")]
    await officer.send("/mine")
    assert f"#{lead.id}" in officer.last_text and officer.heard("lead.status.pending")


async def test_one_message_lead_is_prefilled(officer: Chat, app: App) -> None:
    await officer.send("/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源")
    # One message back, not a remark then the summary: what was read, the summary and its buttons.
    [reply] = [item for item in officer.last.items if isinstance(item, Reply)]
    assert reply.keyboard is not None and zh("lead.confirm.save") in [b.label for b in reply.keyboard.buttons()]
    assert heard(reply.text, "lead.prefilled")
    assert heard(reply.text, "lead.summary", chain="新能源", plan="拟在西北建储能电池基地", amount="20亿元")
    assert "宁德时代" in reply.text and heard(reply.text, "lead.ask.confirm")
    await officer.press(zh("lead.confirm.save"))
    [lead] = await leads(app)
    assert lead.amount_yuan == 2_000_000_000 and lead.plan == "拟在西北建储能电池基地"


async def test_one_message_lead_without_a_chain_asks_only_the_chain(officer: Chat, app: App) -> None:
    """The source of a liaison officer's lead is known: choosing the chain leads to the summary."""
    await officer.send("/lead 宁德时代 拟来张掖考察落地 投资约20亿")
    assert "产业链" in officer.last_text
    await officer.press("新能源")
    assert officer.heard("lead.summary") and not officer.heard("lead.ask.source")
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.source == "liaison" and lead.amount_yuan == 2_000_000_000


async def test_correcting_a_field_returns_to_the_summary(officer: Chat, app: App) -> None:
    await officer.send("/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源")
    await officer.press("改金额")
    assert officer.heard("lead.ask.amount")
    await officer.send("一亿二千万")
    assert "1.2亿元" in officer.last_text and officer.heard("lead.summary")
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.amount_yuan == 120_000_000


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("5亿", 500_000_000),
        ("5 亿元", 500_000_000),
        ("3000万", 30_000_000),
        ("3,000万元", 30_000_000),
        ("1.2亿", 120_000_000),
        ("五千万", 50_000_000),
        ("一亿二千万", 120_000_000),
        ("50000000", 50_000_000),
    ],
)
async def test_money_as_people_type_it(officer: Chat, app: App, typed: str, stored: int) -> None:
    await officer.send("/lead")
    await officer.send("比亚迪")
    await officer.press("新能源")
    await officer.send("扩产")
    await officer.send(typed)
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.amount_yuan == stored


async def test_an_amount_typed_as_roughly_is_kept_approximate(officer: Chat, app: App) -> None:
    await officer.send("/lead")
    await officer.send("比亚迪")
    await officer.press("新能源")
    await officer.send("扩产")
    await officer.send("一个亿左右")
    assert officer.heard("lead.amount.approximate", amount="1亿元")
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.amount_yuan == 100_000_000 and lead.amount_approximate
    # Typed again without the hedge, the amount is exact.
    await officer.send("/lead")
    await officer.send("比亚迪")
    await officer.press("新能源")
    await officer.send("扩产")
    await officer.send("一个亿")
    assert not officer.heard("lead.amount.approximate", amount="1亿元")


async def test_bad_inputs_get_an_answer_and_keep_the_draft(officer: Chat, app: App) -> None:
    await officer.send("/lead")
    await officer.send("   ")
    assert officer.heard("core.err.empty") and officer.heard("lead.ask.enterprise")
    await officer.send_sticker()
    assert officer.heard("core.err.want_text") and officer.heard("lead.ask.enterprise")
    await officer.send_photo()
    assert officer.heard("core.err.want_text")
    await officer.send("91350100M000100Y4X")
    assert "不是有效的统一社会信用代码" in officer.last_text
    await officer.send("企" * 2000)
    assert officer.heard("core.err.too_long") and "2000" in officer.last_text
    await officer.send("隆基绿能")
    await officer.send("随便打的字")  # the chain needs a button
    assert officer.heard("core.err.use_buttons")
    await officer.press("新能源")
    await officer.send("计" * 2000)
    assert officer.heard("core.err.too_long") and "计划" in officer.last_text
    await officer.send("建设光伏组件工厂")
    for bad, why in (("很多", "没看懂"), ("-5亿", "不能为负数"), ("0", "不能为零")):
        await officer.send(bad)
        assert why in officer.last_text, officer.last_text
        assert officer.heard("lead.ask.amount")
    await officer.send("5亿")
    summary = officer.last_text
    assert "隆基绿能" in summary and "建设光伏组件工厂" in summary and "5亿元" in summary
    assert await leads(app) == []


async def test_an_existing_enterprise_is_found_not_duplicated(officer: Chat, app: App) -> None:
    for name in ("比亚迪股份有限公司", "比亚迪", "比亚迪 股份"):
        await officer.send(f"/lead {name} 新建电池厂 5亿 新能源")
        await officer.press("确认保存")
    async with app.db.session() as session:
        rows = (await session.exec(select(Enterprise))).all()
    assert [e.name for e in rows] == ["比亚迪股份有限公司"]
    assert len(await leads(app)) == 3


async def test_near_match_is_offered(officer: Chat, app: App) -> None:
    await officer.send("/lead 隆基绿能科技股份有限公司 新建光伏组件厂 10亿 新能源")
    await officer.press("确认保存")
    await officer.send("/lead")
    await officer.send("隆基绿能")
    assert officer.heard("lookup.ask_pick")
    await officer.press("隆基绿能科技股份有限公司")
    await officer.press("新能源")
    await officer.send("扩产")
    await officer.send("3亿")
    await officer.press("确认保存")
    rows = await leads(app)
    assert len(rows) == 2 and rows[0].enterprise_id == rows[1].enterprise_id


async def test_credit_code_finds_or_names_the_enterprise(officer: Chat, app: App) -> None:
    code = make_credit_code("91620700MA7ABCDE1")
    await officer.send("/lead")
    await officer.send(code.lower())
    assert officer.heard("lookup.ask_name")
    await officer.send("张掖新能源装备有限公司")
    await officer.press("装备制造")
    await officer.send("新建风机塔筒厂")
    await officer.press("金额未知")
    await officer.press("确认保存")
    ent = await enterprise_named(app, "张掖新能源装备有限公司")
    assert ent is not None and ent.credit_code == code
    await officer.send("/lead")
    await officer.send(code)
    assert officer.heard("lookup.found")


async def test_a_restart_mid_conversation_keeps_the_draft(officer: Chat, app: App) -> None:
    await officer.send("/lead")
    await officer.send("宁德时代")
    await officer.press("新能源")
    # A new process: a new router over the same database.
    restarted = Chat(Router(app, build_registry()), OFFICER)
    await restarted.send("储能基地")
    assert restarted.heard("lead.ask.amount")
    await restarted.send("20亿")
    assert "宁德时代" in restarted.last_text and "储能基地" in restarted.last_text


async def test_a_command_wins_and_the_draft_can_be_resumed(officer: Chat, app: App) -> None:
    await officer.send("/lead")
    await officer.send("宁德时代")
    await officer.press("新能源")
    await officer.send("/mine")
    assert officer.heard("lead.mine.empty") and officer.heard("core.still_in_flow")
    await officer.send("/lead")
    assert zh("core.resume.continue") in officer.labels() and "宁德时代" in officer.last_text
    # A command that starts a conversation parks the current one.
    await officer.press("继续填写")
    assert "计划" in officer.last_text
    await officer.send("/lead")
    assert officer.heard("core.parked")
    await officer.press("继续填写")
    await officer.send("储能基地")
    await officer.send("20亿")
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.plan == "储能基地"


async def test_the_resume_offer_says_when_the_draft_was_saved_by_the_bots_clock(
    officer: Chat, app: App, clock: Clock
) -> None:
    """ "Saved at" is the moment the draft was set aside on the bot's clock, in the bureau's zone."""
    clock.now = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Zhangye
    await officer.send("/lead")
    await officer.send("宁德时代")
    await officer.send("/visit")  # sets the lead aside
    clock.now += timedelta(hours=5)
    await officer.send("/lead")
    assert officer.heard("core.resume.offer", when="2026-03-02 09:30", summary="宁德时代")
    assert zh("core.resume.continue") in officer.labels()


async def test_cancel_works_anywhere_and_old_buttons_expire(officer: Chat, app: App) -> None:
    await officer.send("/lead")
    await officer.send("宁德时代")
    chain_keyboard = officer.keyboard
    await officer.send("/cancel")
    assert officer.heard("core.cancel.done")
    await officer.press("新能源", keyboard=chain_keyboard)
    assert officer.heard("core.expired")
    await officer.send("储能")
    assert "/lead" in officer.last_text  # idle hint, nothing saved
    assert await leads(app) == []


async def test_a_second_press_on_the_same_keyboard_acts_once(officer: Chat, app: App) -> None:
    await officer.send("/lead 宁德时代 建设储能电池基地 20亿 新能源")
    confirm = officer.keyboard
    await officer.press("确认保存", keyboard=confirm)
    await officer.press("确认保存", keyboard=confirm)
    assert officer.heard("core.expired")
    assert len(await leads(app)) == 1


async def test_english_speaker_gets_english(join: Joiner) -> None:
    officer = await join(700_000_000_050, "驻兰州办事处", language_code="en")
    await officer.send("/lead")
    assert "Which enterprise" in officer.last_text
    await officer.send("CATL")
    await officer.press("New energy")
    await officer.send("battery plant")
    await officer.send("5亿")
    assert "500 million yuan" in officer.last_text
