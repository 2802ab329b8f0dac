"""A bot killed in the middle of an update owes the person nothing once it is back.

A real process (``tests/crashpoint.py``) is stopped dead with SIGKILL at the worst moments of a
button press that saves a lead, then started again, and Telegram delivers the press once more
(the webhook never answered it):

- killed after the handler wrote the lead but before the commit: nothing was kept, so the
  redelivered press is handled afresh — one lead, one "saved" message;
- killed after the commit but before anything was sent: the answer is in the delivery queue,
  sent once after the restart, and the redelivered press is recognized as handled.

What the dead process had claimed (an answer it never sent, or one it sent and had not yet
marked so) may be sent only once that claim's ``ANSWER_LEASE`` has run out. The restarted
process runs its clock a lease ahead (``tests/crashpoint.py restart``), as if it came back that
much later, so the test proves the same without waiting the lease out on the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from bot.core.db import Database
from bot.core.i18n import translate
from models import Delivery, Lead
from tests.botapi import FakeBotAPI
from tests.test_multiprocess import ROOT, BotProcess, bot_env, free_port, healthy, webhook_env

LIAISON = 1002

pytestmark = pytest.mark.slow


async def start(api: FakeBotAPI, framework: str, url: str, tmp: Path, name: str, *crash: str) -> BotProcess:
    port = free_port()
    log = tmp / f"{name}.log"
    env = bot_env(api, framework, url, tmp, **webhook_env(port, port))
    command = ["-m", "tests.crashpoint", *crash] if crash else ["-m", "bot", "run", "--no-scheduler"]
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=ROOT, env=env, stdout=out, stderr=out
        )
    bot = BotProcess(name, port, process, log)
    await healthy(bot)
    return bot


async def eventually(condition: object, what: str, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def settled(url: str) -> tuple[list[Lead], list[Delivery]]:
    """The leads, and the person's delivery rows once none is still waiting to be sent."""
    for _ in range(600):
        leads, rows = await stored(url)
        if all(row.status != "pending" and row.status != "sending" for row in rows):
            return leads, rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"the queue never settled: {[(r.kind, r.status) for r in rows]}")


async def stored(url: str) -> tuple[list[Lead], list[Delivery]]:
    db = Database(url)
    try:
        async with db.session() as session:
            leads = list((await session.exec(select(Lead))).all())
            rows = list((await session.exec(select(Delivery).where(Delivery.chat_id == LIAISON))).all())
        return leads, rows
    finally:
        await db.dispose()


# Updates reach the core as JSON under both frameworks; a framework only sends. So aiogram is
# killed where its sending matters (before the send), PTB at both points: an aiogram process
# takes several seconds just to import aiogram on this machine.
@pytest.mark.parametrize(
    ("framework", "where"), [("ptb", "before-commit"), ("ptb", "before-send"), ("aiogram", "before-send")]
)
async def test_a_bot_killed_mid_update_owes_nothing_after_restart(
    database_url: str, tmp_path: Path, where: str, framework: str
) -> None:
    marker = tmp_path / "reached"
    saved = translate("zh", "lead.saved", number="")[:6]
    async with FakeBotAPI(token="4242:TEST") as api:
        doomed = await start(api, framework, database_url, tmp_path, "doomed", where, str(marker))
        try:
            first = api.send_text(LIAISON, "/lead 宁德时代 拟建储能基地 投资约20亿 新能源")
            assert await api.deliver_webhook(first, timeout=30) == 200
            summary = next(m for m in reversed(api.messages(LIAISON)) if m.buttons())
            press = api.press_button(LIAISON, summary.message_id, summary.button_data("确认保存"))
            update_id = api.pending_updates[-1]
            answering = asyncio.create_task(api.deliver_webhook(update_id, timeout=60))
            await eventually(marker.exists, f"the {where} point")
        finally:
            doomed.process.kill()
            await doomed.process.wait()
        with contextlib.suppress(Exception):
            await answering  # the connection died with the process
        assert not any(saved in m.shown for m in api.messages(LIAISON)), "nothing was sent before the crash"
        leads, _ = await stored(database_url)
        assert len(leads) == (0 if where == "before-commit" else 1)

        back = await start(api, framework, database_url, tmp_path, "back", "restart")
        try:
            assert await api.deliver_webhook(update_id, timeout=30) == 200
            await eventually(lambda: any(saved in m.shown for m in api.messages(LIAISON)), "the saved message")
            leads, rows = await settled(database_url)
            assert len(leads) == 1
            assert {row.status for row in rows} == {"sent"}
            assert sum(saved in m.shown for m in api.messages(LIAISON)) == 1
            assert press in api.answered_callbacks, "the redelivered press was answered"
        finally:
            back.process.terminate()
            await back.process.wait()
