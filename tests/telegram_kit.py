"""The real bot (our runner) against the fake Bot API server, and people who talk to it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from bot.core import Incoming
from bot.core.config import Settings
from bot.runner import TelegramRunner
from tests.botapi import BotMessage, FakeBotAPI

FRAMEWORKS = ["ptb", "aiogram"]


class Tracker:
    """Counts what the bridge finished, so a test can wait for an update to be handled."""

    def __init__(self) -> None:
        self.done: Counter[int] = Counter()
        self.seen: list[Incoming] = []
        self._change = asyncio.Event()

    def finished(self, msg: Incoming) -> None:
        if msg.update_id is not None:
            self.done[msg.update_id] += 1
        self.seen.append(msg)
        self._change.set()

    async def wait(self, update_id: int, times: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while self.done[update_id] < times:
                self._change.clear()
                await self._change.wait()


@dataclass
class Bot:
    api: FakeBotAPI
    runner: TelegramRunner
    tracker: Tracker
    framework: str

    @property
    def app(self) -> Any:
        return self.runner.app

    def person(self, user_id: int, language_code: str | None = "zh-hans", first_name: str = "Tester") -> Person:
        return Person(self, user_id, language_code, first_name)


@dataclass
class Person:
    bot: Bot
    user_id: int
    language_code: str | None
    first_name: str
    queries: list[str] = field(default_factory=list)

    @property
    def api(self) -> FakeBotAPI:
        return self.bot.api

    async def send(self, text: str) -> int:
        """Write ``text`` and wait until the bot has handled it; returns the update id."""
        update_id = self.api.send_text(self.user_id, text, language_code=self.language_code, first_name=self.first_name)
        await self.bot.tracker.wait(update_id)
        return update_id

    async def press(self, label: str, message: BotMessage | None = None) -> str:
        """Press the inline button labelled ``label`` on the latest message that has one."""
        target = message or self.keyboard_message()
        data = target.button_data(label)
        query_id = self.api.press_button(
            self.user_id, target.message_id, data, language_code=self.language_code, first_name=self.first_name
        )
        self.queries.append(query_id)
        await self.bot.tracker.wait(self.api.pending_updates[-1])  # the press just queued
        return query_id

    def keyboard_message(self) -> BotMessage:
        with_buttons = [m for m in self.api.messages(self.user_id) if m.buttons()]
        assert with_buttons, f"no message with buttons\n{self.api.dump(self.user_id)}"
        return with_buttons[-1]

    @property
    def messages(self) -> list[BotMessage]:
        return self.api.messages(self.user_id)

    @property
    def last_text(self) -> str:
        return self.api.last_message(self.user_id).shown

    def texts(self) -> list[str]:
        return [m.shown for m in self.messages]


def bot_settings(settings: Settings, api: FakeBotAPI, framework: str, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "bot_token": SecretStr(api.token),
            "bot_api_server": api.root,
            "bot_framework": framework,
            **extra,
        }
    )


@asynccontextmanager
async def running_bot(
    settings: Settings, framework: str, *, scheduler: bool = False, **extra: Any
) -> AsyncIterator[Bot]:
    """The bot on Telegram; without scheduled jobs unless asked, so chats hold only what a test caused."""
    async with FakeBotAPI() as api:
        runner = TelegramRunner(bot_settings(settings, api, framework, **extra), scheduler=scheduler, poll_timeout=1.0)
        tracker = Tracker()
        await runner.start()
        try:
            bridge = runner.bridge
            assert bridge is not None
            handle = bridge.handle

            async def tracked(msg: Incoming, query_id: str | None = None) -> None:
                try:
                    await handle(msg, query_id)
                finally:
                    tracker.finished(msg)

            bridge.handle = tracked  # type: ignore[method-assign]
            yield Bot(api, runner, tracker, framework)
        finally:
            await runner.stop()
        assert not api.errors, api.errors


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def bot(framework: str, settings: Settings) -> AsyncIterator[Bot]:
    """The bot on each framework (and, through ``settings``, on each database).

    A test module takes it with ``bot = telegram_kit.bot`` and ``framework = telegram_kit.framework``:
    pytest finds fixtures by name there.
    """
    async with running_bot(settings, framework) as running:
        yield running


# Each framework on one database, and each database under one framework: the adapters and the
# database code are each proven end to end at half the cost of every pairing. What differs
# between the databases below the adapters is proven on both by the conversation tests.
PAIRS = (("ptb", "sqlite"), ("aiogram", "pg"))


def _argnames(mark: pytest.Mark) -> set[str]:
    names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
    return {n.strip() for n in names.split(",")} if isinstance(names, str) else set(names)


def pair_frameworks_with_backends(metafunc: pytest.Metafunc) -> None:
    """``pytest_generate_tests`` for a module of end-to-end tests: each test runs on :data:`PAIRS`,
    unless it names its framework or database itself."""
    fixtures = set(metafunc.fixturenames)
    named = set().union(*(_argnames(m) for m in metafunc.definition.iter_markers("parametrize")))
    if {"framework", "backend"} <= fixtures and not {"framework", "backend"} & named:
        metafunc.parametrize(("framework", "backend"), PAIRS, ids=[f"{f}-{b}" for f, b in PAIRS])
