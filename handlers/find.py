"""/find <text> — enterprises, leads and projects by name, credit code, pinyin, initials or
English alias, within what the person may see; and directory entries, events and opportunities.

An enterprise outside the person's scope is shown as the shared register's entry alone (its
name and credit code: ``services.access``), so they do not register it a second time."""

from __future__ import annotations

from bot.core import Incoming
from bot.core.conversation import Command, Context
from bot.core.registry import Registry
from handlers.networks import found_lines
from models import Stage
from services import networks, search
from services.money import format_money

MAX_QUERY = 60


def stage_name(ctx: Context, stage: str) -> str:
    return ctx._(f"stage.{Stage(stage).value}") if stage in {s.value for s in Stage} else stage


async def find(ctx: Context, msg: Incoming) -> None:
    """Search what the person may see."""
    text = " ".join(msg.args.split())
    if not text:
        ctx.say(ctx._("desk.find.usage"))
        return
    if len(text) > MAX_QUERY:
        ctx.say(ctx._("core.err.too_long", max=MAX_QUERY, got=len(text)))
        return
    found = await search.find(ctx.app.db, ctx.user, text)
    networked = await networks.find(ctx.app.db, ctx.user, text)
    if found.empty and networked.empty:
        ctx.say(ctx._("desk.find.none", text=text))
        return
    lines = [ctx._("desk.find.header", text=text)]
    if found.enterprises:
        lines += ["", ctx._("desk.find.enterprises", count=len(found.enterprises))]
        for e in found.enterprises:
            extra = f" · {e.credit_code}" if e.credit_code else ""
            if e.aliases:
                extra += " · " + " / ".join(e.aliases[:3])
            lines.append(ctx._("desk.find.enterprise", id=e.id, name=e.name, extra=extra))
    if found.entries:
        lines += ["", ctx._("desk.find.register", count=len(found.entries))]
        for entry in found.entries:
            code = f" · {entry.credit_code}" if entry.credit_code else ""
            lines.append(ctx._("desk.find.register_entry", name=entry.name, code=code))
    if found.leads:
        lines += ["", ctx._("desk.find.leads", count=len(found.leads))]
        for lead, name in found.leads:
            amount = format_money(lead.amount_yuan, ctx.locale) if lead.amount_yuan else "—"
            when = lead.created_at.astimezone(ctx.app.tz).strftime("%Y-%m-%d")
            lines.append(ctx._("desk.find.lead", id=lead.id, name=name, amount=amount, date=when))
    if found.projects:
        lines += ["", ctx._("desk.find.projects", count=len(found.projects))]
        for project, name in found.projects:
            lines.append(
                ctx._(
                    "desk.find.project",
                    id=project.id,
                    name=project.name,
                    enterprise=name,
                    stage=stage_name(ctx, project.stage),
                )
            )
    lines += found_lines(ctx._, networked)
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_command(Command("find", find, help_key="help.find"))
