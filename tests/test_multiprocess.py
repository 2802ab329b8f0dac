"""Two real bot processes in webhook mode on one PostgreSQL database, behind a load balancer.

The processes are ``python -m bot run`` (one on python-telegram-bot, one on aiogram) against
the fake Bot API server; the test plays the load balancer, choosing which process gets each
update. A conversation hops between them; the same update delivered to both is handled
once; exactly one process runs the scheduled jobs, and the other takes over when it dies.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlmodel import select

from bot.core.db import Database
from models import Lead
from tests.botapi import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
SECRET = "lb-s3cret_token"
LIAISON, COUNTY = 1002, 1003  # demo people of the seeded database
HOOK = "/telegram/hook"
SCHEDULER_LOCK_LINE = "this process now holds the scheduler lock"

pytestmark = pytest.mark.parametrize("backend", ["pg"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BotProcess:
    name: str
    port: int
    process: asyncio.subprocess.Process
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def said(self, message: str) -> bool:
        return any(entry.get("message") == message for entry in self.log_lines())


class LoadBalancer:
    """Forwards Telegram's POSTs to whichever process the test names next."""

    def __init__(self) -> None:
        self.port = free_port()
        self.backends: list[BotProcess] = []
        self.target = 0
        self.app = web.Application()
        self.app.router.add_post(HOOK, self._forward)
        self._runner = web.AppRunner(self.app)
        self._client: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        backend = self.backends[self.target]
        assert self._client is not None
        async with self._client.post(
            backend.url + HOOK, data=await request.read(), headers=dict(request.headers)
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    async def start(self) -> None:
        self._client = aiohttp.ClientSession()
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()


def bot_env(api: FakeBotAPI, framework: str, url: str, tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of a bot process against the fake Bot API; ``settings`` add to it."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "BOT_TOKEN": api.token,
        "BOT_API_SERVER": api.root,
        "BOT_FRAMEWORK": framework,
        "DATABASE_URL": url,
        "LOG_JSON": "1",
        **settings,
    }


def webhook_env(webhook_port: int, listen_port: int) -> dict[str, str]:
    """A webhook bot's settings: Telegram posts to ``webhook_port``, the bot listens on ``listen_port``."""
    return {
        "WEBHOOK_URL": f"http://127.0.0.1:{webhook_port}{HOOK}",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(listen_port),
    }


async def start_bot(name: str, framework: str, api: FakeBotAPI, lb: LoadBalancer, url: str, tmp: Path) -> BotProcess:
    port = free_port()
    log = tmp / f"{name}.log"
    env = bot_env(api, framework, url, tmp, **webhook_env(lb.port, port), SCHEDULER_RETRY_SECONDS="0.5")
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=out, stderr=out
        )
    return BotProcess(name, port, process, log)


async def healthy(bot: BotProcess, timeout: float = 90) -> None:  # noqa: ASYNC109
    async with aiohttp.ClientSession() as client:
        for _ in range(int(timeout / 0.2)):
            if bot.process.returncode is not None:
                raise AssertionError(f"{bot.name} exited:\n{bot.log.read_text()[-3000:]}")
            try:
                async with client.get(bot.url + "/healthz") as answer:
                    if answer.status == 200 and (await answer.json())["database"] == "ok":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{bot.name} never became healthy:\n{bot.log.read_text()[-3000:]}")


@asynccontextmanager
async def two_bots(database_url: str, tmp: Path) -> AsyncIterator[tuple[FakeBotAPI, LoadBalancer, list[BotProcess]]]:
    lb = LoadBalancer()
    await lb.start()
    bots: list[BotProcess] = []
    try:
        async with FakeBotAPI(token="4242:TEST") as api:
            bots = [
                await start_bot("a", "ptb", api, lb, database_url, tmp),
                await start_bot("b", "aiogram", api, lb, database_url, tmp),
            ]
            lb.backends = bots
            await asyncio.gather(*(healthy(bot) for bot in bots))
            yield api, lb, bots
            for bot in bots:
                if bot.process.returncode is None:
                    bot.process.send_signal(signal.SIGTERM)
            for bot in bots:
                await asyncio.wait_for(bot.process.wait(), 40)
    finally:
        for bot in bots:
            if bot.process.returncode is None:
                bot.process.kill()
                await bot.process.wait()
        await lb.stop()


async def via(lb: LoadBalancer, target: int, api: FakeBotAPI, update_id: int) -> None:
    lb.target = target
    assert await api.deliver_webhook(update_id, timeout=30) == 200


async def eventually(condition: Any, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def press(lb: LoadBalancer, target: int, api: FakeBotAPI, user_id: int, label: str) -> None:
    keyboard = next(m for m in reversed(api.messages(user_id)) if m.buttons())
    api.press_button(user_id, keyboard.message_id, keyboard.button_data(label))
    await via(lb, target, api, api.pending_updates[-1])


async def test_two_processes_share_the_work(database_url: str, tmp_path: Path) -> None:
    async with two_bots(database_url, tmp_path) as (api, lb, (a, b)):
        assert api.webhook is not None and api.webhook.url.endswith(f":{lb.port}{HOOK}")

        # A conversation that hops between the processes at every step.
        await via(lb, 0, api, api.send_text(LIAISON, "/lead"))
        assert "哪家企业" in api.last_message(LIAISON).shown
        await via(lb, 1, api, api.send_text(LIAISON, "宁德时代新能源科技股份有限公司"))
        assert "产业链" in api.last_message(LIAISON).shown
        await press(lb, 0, api, LIAISON, "新能源")
        assert "计划" in api.last_message(LIAISON).shown
        await via(lb, 1, api, api.send_text(LIAISON, "拟在西北建设储能电池基地"))
        assert "投资多少" in api.last_message(LIAISON).shown
        await via(lb, 0, api, api.send_text(LIAISON, "20亿"))
        await press(lb, 1, api, LIAISON, "确认保存")
        assert "#" in api.last_message(LIAISON).shown
        db = Database(database_url)
        try:
            async with db.session() as session:
                [lead] = (await session.exec(select(Lead))).all()
            assert lead.amount_yuan == 2_000_000_000 and lead.plan == "拟在西北建设储能电池基地"
        finally:
            await db.dispose()

        # Telegram delivers one update to both processes (a retry after a timeout): handled once.
        update_id = api.send_text(COUNTY, "/help")
        payload = json.dumps(api.update(update_id))
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with aiohttp.ClientSession() as client:

            async def post(bot: BotProcess) -> int:
                async with client.post(bot.url + HOOK, data=payload, headers=headers) as answer:
                    return answer.status

            assert await asyncio.gather(post(a), post(b)) == [200, 200]
        assert len(api.messages(COUNTY)) == 1

        def outcomes(bot: BotProcess) -> list[tuple[object, object]]:
            return [(e["update_id"], e["outcome"]) for e in bot.log_lines() if e["message"] == "update handled"]

        assert len(outcomes(a)) >= 4 and len(outcomes(b)) >= 4, "both processes served the conversation"
        assert sorted(o for u, o in outcomes(a) + outcomes(b) if u == update_id) == ["duplicate", "ok"]

        # Scheduled work: exactly one process holds the scheduler lock ...
        await eventually(lambda: a.said(SCHEDULER_LOCK_LINE) or b.said(SCHEDULER_LOCK_LINE))
        await asyncio.sleep(1.5)  # three retry rounds of the other process
        assert [a.said(SCHEDULER_LOCK_LINE), b.said(SCHEDULER_LOCK_LINE)].count(True) == 1
        leader, other = (a, b) if a.said(SCHEDULER_LOCK_LINE) else (b, a)
        # ... and when it dies, the other takes over.
        leader.process.kill()
        await leader.process.wait()
        await eventually(lambda: other.said(SCHEDULER_LOCK_LINE))
        lb.backends = [other, other]
        await via(lb, 0, api, api.send_text(COUNTY, "/help"))
        assert len(api.messages(COUNTY)) == 2
