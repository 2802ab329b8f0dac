"""`investbot run` with WEB_URL: the dashboard is served beside the bot and the menu button opens it."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest

from bot.core.config import Settings
from bot.web.server import INIT_HEADER
from services.webauth import sign_init_data
from tests import deskkit as k
from tests.telegram_kit import FRAMEWORKS, running_bot
from tests.webkit import WEB_URL


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_the_bot_serves_its_dashboard_and_points_the_menu_button_at_it(
    settings: Settings, framework: str
) -> None:
    async with running_bot(settings, framework, web_url=WEB_URL, web_listen="127.0.0.1", web_port=0) as bot:
        [call] = bot.api.calls_to("setChatMenuButton")
        assert call.params["menu_button"] == {"type": "web_app", "text": "工作台", "web_app": {"url": f"{WEB_URL}/"}}
        web = bot.runner.web
        assert web is not None
        now = datetime.now(UTC)
        user = f'{{"id": {k.BUREAU}}}'
        signed = sign_init_data({"auth_date": str(int(now.timestamp())), "user": user}, bot.api.token)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{web.port}") as http:
            async with http.get("/overview") as refused:
                assert refused.status == 401
            async with http.get("/overview", headers={INIT_HEADER: signed}) as shown:
                assert shown.status == 200 and 'id="counties"' in await shown.text()
