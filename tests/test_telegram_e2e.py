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
