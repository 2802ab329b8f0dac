"""The console: be a seeded person, press numbered buttons, and come back after a restart."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

from sqlmodel import select

from bot.adapters.console import run_console
from bot.app import App
from bot.router import Router
from handlers import build_registry
from models import Lead


def script(lines: list[str]) -> tuple[Iterator[str], object]:
    feed = iter(lines)

    async def read(prompt: str) -> str | None:
        return next(feed, None)

    return feed, read


async def run(app: App, lines: list[str]) -> str:
    out = io.StringIO()
    _, read = script(lines)
    await run_console(Router(app, build_registry()), read=read, out=out)  # type: ignore[arg-type]
    return out.getvalue()


async def test_a_liaison_officer_logs_a_lead_in_the_console(app: App) -> None:
    text = await run(app, ["2", "/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源", "1", "/mine", ":q"])
    assert "李联络" in text and "20亿元" in text and "线索已保存" in text
    async with app.db.session() as session:
        [lead] = (await session.exec(select(Lead))).all()
    assert lead.amount_yuan == 2_000_000_000


async def test_killing_the_console_mid_conversation_resumes_the_draft(app: App) -> None:
    await run(app, ["2", "/lead", "宁德时代", "1"])  # the input ends: the process is gone
    text = await run(app, ["2", "储能基地", "5亿", "1", ":q"])
    assert "欢迎回来" in text and "计划" in text
    async with app.db.session() as session:
        [lead] = (await session.exec(select(Lead))).all()
    assert lead.plan == "储能基地" and lead.amount_yuan == 500_000_000


async def test_console_controls_share_a_location_and_explain_themselves(app: App) -> None:
    text = await run(app, ["1", ":help", ":loc 38.93 100.45", ":loc nonsense", ":q"])
    assert ":loc" in text and "/lead" in text  # the idle hint answers a location outside a conversation


async def test_a_newcomer_joins_with_a_code_from_the_bureau(app: App) -> None:
    text = await run(app, ["1", "/invite", "8", "1", ":who", "9", "/help", ":q"])
    assert "邀请码" in text
    match = re.search(r"邀请码：(\S+)", text)
    assert match, text
    code = match.group(1)
    joined = await run(app, ["9", f"/start {code}", ":q"])
    assert "注册成功" in joined and "驻北京联络处" in joined
