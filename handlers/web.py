"""/web — a one-time link that opens the dashboard in any browser, for a short session.

Inside Telegram the menu button opens the dashboard signed in already (a Mini App); the
link is for a desktop browser. It works once, within minutes, and only a hash is kept.
"""

from __future__ import annotations

from bot.core import Incoming
from bot.core.conversation import Command, Context
from bot.core.registry import Registry
from services import webauth


async def web(ctx: Context, msg: Incoming) -> None:
    """Send a one-time sign-in link to the dashboard."""
    base = ctx.app.settings.web_url
    if base is None:
        ctx.say(ctx._("web.off"))
        return
    token = await webauth.issue_link(ctx.app.db, ctx.user.id, now=ctx.now())
    minutes = int(webauth.LINK_TTL.total_seconds() // 60)
    ctx.say(ctx._("web.link", minutes=minutes, url=f"{base}/login/{token}"))


def register(registry: Registry) -> None:
    registry.add_command(Command("web", web, help_key="help.web"))
