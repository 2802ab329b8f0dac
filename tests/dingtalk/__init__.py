"""A fake DingTalk (OpenAPI + Stream gateway) that the real bot runs against, and its people."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import SecretStr

from bot.adapters.dingtalk import DingTalkRunner
from bot.app import App
from bot.core.config import Settings
from models import PlatformAccount
from tests.dingtalk.server import CLIENT_ID, CLIENT_SECRET, FakeDingTalk, Shown

T = TypeVar("T")

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "DingBot", "FakeDingTalk", "Shown", "Staff", "eventually", "running_dingtalk"]


async def eventually(check: Callable[[], T | None], what: str, timeout: float = 10.0) -> T:  # noqa: ASYNC109
    """``check()`` once it gives something, for what the bot does in the background."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = check()
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"never saw {what}") from None


def dingtalk_settings(settings: Settings, fake: FakeDingTalk, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "bot_platform": "dingtalk",
            "bot_token": None,
            "dingtalk_client_id": CLIENT_ID,
            "dingtalk_client_secret": SecretStr(CLIENT_SECRET),
            "dingtalk_api_server": fake.root,
            "dingtalk_stream_server": fake.root,
            "dingtalk_oapi_server": fake.root,
            **extra,
        }
    )


@dataclass
class DingBot:
    fake: FakeDingTalk
    runner: DingTalkRunner

    async def restart(self) -> None:
        """Stop the bot and start it again on the same database: nothing in memory survives."""
        settings, scheduler = self.runner.settings, self.runner.scheduler
        connections = self.fake.connections
        await self.runner.stop()
        self.runner = DingTalkRunner(settings, scheduler=scheduler)
        await self.runner.start()
        await eventually(lambda: self.fake.connections > connections, "the stream opened again")
        await self.fake.connected()

    @property
    def app(self) -> App:
        assert self.runner.app is not None
        return self.runner.app

    async def staff(self, staff_id: str, nick: str = "测试", *, member: int | None = None) -> Staff:
        """A DingTalk person; ``member`` makes them an existing member (a seeded person's id)."""
        if member is not None:
            async with self.app.db.session() as session:
                session.add(PlatformAccount(platform="dingtalk", external_id=staff_id, chat_id=member))
        return Staff(self, staff_id, nick)


@dataclass
class Staff:
    bot: DingBot
    staff_id: str
    nick: str

    @property
    def fake(self) -> FakeDingTalk:
        return self.bot.fake

    async def send(self, text: str) -> None:
        """Write ``text`` and wait until the bot has handled it (DingTalk has the ack)."""
        ack = await self.fake.send_text(self.staff_id, text, self.nick)
        assert ack["code"] == 200, ack

    async def send_file(self, filename: str, content: bytes) -> None:
        ack = await self.fake.send_file(self.staff_id, filename, content, self.nick)
        assert ack["code"] == 200, ack

    async def send_picture(self, content: bytes) -> None:
        ack = await self.fake.send_picture(self.staff_id, content, self.nick)
        assert ack["code"] == 200, ack

    async def press(self, label: str, card: Shown | None = None) -> Shown:
        """Press ``label`` on the latest card with buttons; returns that card (as it is now)."""
        target = card or self.card()
        ack = await self.fake.press(self.staff_id, target, label)
        assert ack["code"] == 200, ack
        return target

    def card(self) -> Shown:
        cards = [m for m in self.chat if m.kind == "card" and m.buttons]
        assert cards, f"no card with buttons: {self.texts()}"
        return cards[-1]

    @property
    def chat(self) -> list[Shown]:
        return self.fake.chat(self.staff_id)

    @property
    def last_text(self) -> str:
        return [m.text for m in self.chat if m.kind in ("text", "card")][-1]

    def texts(self) -> list[str]:
        return [m.text for m in self.chat if m.kind in ("text", "card")]


@asynccontextmanager
async def running_dingtalk(settings: Settings, *, scheduler: bool = False, **extra: Any) -> AsyncIterator[DingBot]:
    async with FakeDingTalk() as fake:
        bot = DingBot(fake, DingTalkRunner(dingtalk_settings(settings, fake, **extra), scheduler=scheduler))
        await bot.runner.start()
        try:
            await fake.connected()
            yield bot
        finally:
            await bot.runner.stop()
        assert not fake.errors, fake.errors
