"""/history <lead|visit|project|enterprise> <id> (bureau) — who created and changed a record,
and when: ``/history 项目 12``, ``/history p12``, ``/history enterprise 7``."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from bot.conversation import Command, Context
from bot.core import Incoming
from bot.i18n import catalog
from bot.router import Registry
from models import Role
from services import history
from services.money import format_money

HISTORY_ROLES = frozenset({Role.BUREAU})
# The latest changes; a Telegram message holds 4096 characters.
MAX_EVENTS = 40
_ARGS = re.compile(r"^([^\d\s#]+)\s*#?\s*(\d{1,12})$")
_WORDS = {
    "lead": ("lead", "leads", "l", "线索", "信息"),
    "visit": ("visit", "visits", "v", "拜访", "考察"),
    "project": ("project", "projects", "p", "项目"),
    "enterprise": ("enterprise", "enterprises", "e", "company", "企业"),
}
_SKIPPED = {"name", "survivor", "absorbed", "survivor_id", "absorbed_id", "moved"}


def parse(args: str) -> tuple[str, int] | None:
    text = " ".join(unicodedata.normalize("NFKC", args).split()).lower()
    match = _ARGS.fullmatch(text)
    if match is None:
        return None
    word = match[1].strip()
    entity = next((key for key, words in _WORDS.items() if word in words), None)
    return (entity, int(match[2])) if entity else None


def _detail(ctx: Context, detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if key in _SKIPPED or value in (None, "", [], {}):
            continue
        if key.endswith("_yuan") and isinstance(value, int):
            value = format_money(value, ctx.locale)
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _action(ctx: Context, action: str, detail: dict[str, Any]) -> str:
    if action in ("merged", "merged_into"):
        return ctx._(
            f"desk.history.{action}",
            survivor=detail.get("survivor", ""),
            survivor_id=detail.get("survivor_id", ""),
            absorbed=detail.get("absorbed", ""),
            absorbed_id=detail.get("absorbed_id", ""),
        )
    key = f"desk.history.action.{action}"
    # Other areas add actions of their own; an unknown one is shown as it is stored.
    return ctx._(key) if catalog(ctx.locale).get(key) else action


async def show(ctx: Context, msg: Incoming) -> None:
    """The audit trail of one record."""
    parsed = parse(msg.args)
    if parsed is None:
        ctx.say(ctx._("desk.history.usage"))
        return
    entity, number = parsed
    what = ctx._(f"desk.history.entity.{entity}")
    if not await history.exists(ctx.app.db, entity, number):
        ctx.say(ctx._("desk.history.missing", what=what, id=number))
        return
    events = await history.events(ctx.app.db, entity, number)
    if not events:
        ctx.say(ctx._("desk.history.empty", what=what, id=number))
        return
    lines = [ctx._("desk.history.header", what=what, id=number)]
    if len(events) > MAX_EVENTS:
        lines.append(ctx._("desk.history.earlier", count=len(events) - MAX_EVENTS))
        events = events[-MAX_EVENTS:]
    for event in events:
        entry = event.entry
        unit = event.unit_en if ctx.locale == "en" and event.unit_en else event.unit_zh
        actor = event.actor or ctx._("desk.history.system")
        if unit:
            actor = ctx._("desk.history.actor", name=actor, unit=unit)
        detail = _detail(ctx, entry.detail)
        if entity == "enterprise" and entry.entity_id != number:
            detail = ctx._("desk.history.on_absorbed", id=entry.entity_id) + (f" {detail}" if detail else "")
        lines.append(
            ctx._(
                "desk.history.line",
                when=entry.at.astimezone(ctx.app.tz).strftime("%Y-%m-%d %H:%M"),
                actor=actor,
                action=_action(ctx, entry.action, entry.detail),
                detail=f"（{detail}）" if detail and ctx.locale == "zh" else f" ({detail})" if detail else "",
            )
        )
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_command(Command("history", show, roles=HISTORY_ROLES, help_key="help.history"))
