"""The menu button opens the dashboard as a Mini App once WEB_URL is set (and only over HTTPS)."""

from __future__ import annotations

import json

import httpx
from pydantic import SecretStr

from bot.core.config import Settings
from bot.web.menu import set_menu_button

TOKEN = "42:menu-token"


def settings(web_url: str | None) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(TOKEN),
        web_url=web_url,
        bot_api_server="https://botapi.test",
    )


async def test_the_menu_button_points_at_the_dashboard() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "result": True})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        assert await set_menu_button(settings("https://dash.example.test/"), client=client)
    [request] = seen
    assert str(request.url) == f"https://botapi.test/bot{TOKEN}/setChatMenuButton"
    button = json.loads(request.content)["menu_button"]
    assert button == {"type": "web_app", "text": "工作台", "web_app": {"url": "https://dash.example.test/"}}


async def test_no_button_without_https_or_when_telegram_refuses() -> None:
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"ok": False, "description": "Bad Request: WEB_APP_URL_INVALID"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        assert not await set_menu_button(settings(None), client=client)
        assert not await set_menu_button(settings("http://10.0.0.5:8081"), client=client)
        assert calls == []
        assert not await set_menu_button(settings("https://dash.example.test"), client=client)
        assert len(calls) == 1
