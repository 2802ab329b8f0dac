"""The bot's menu button opens the dashboard as a Mini App (``setChatMenuButton`` with a ``web_app``).

Called straight on the Bot API (the same for both frameworks); a failure only costs the
button, since the dashboard is also reached by /web.
"""

from __future__ import annotations

import logging

import httpx

from bot.core.config import Settings
from bot.core.i18n import translate

log = logging.getLogger(__name__)


async def set_menu_button(settings: Settings, *, client: httpx.AsyncClient | None = None) -> bool:
    """Point every chat's menu button at ``WEB_URL``; whether Telegram took it."""
    if settings.web_url is None or settings.bot_token is None:
        return False
    if not settings.web_url.startswith("https://"):
        # Telegram opens Mini Apps over HTTPS only; /web links still work over plain HTTP.
        log.warning("WEB_URL is not https: the menu button is left as it is")
        return False
    url = f"{settings.bot_api_server}/bot{settings.token()}/setChatMenuButton"
    button = {
        "type": "web_app",
        "text": translate(settings.default_locale, "web.menu"),
        "web_app": {"url": f"{settings.web_url}/"},
    }
    own = client is None
    http = client or httpx.AsyncClient(timeout=10.0)
    try:
        answer = await http.post(url, json={"menu_button": button})
        ok = answer.status_code == 200 and bool(answer.json().get("ok"))
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("menu button not set: %s", type(exc).__name__)
        return False
    finally:
        if own:
            await http.aclose()
    if not ok:
        log.warning("menu button not set: HTTP %s", answer.status_code)
    return ok
