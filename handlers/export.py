"""/export — a spreadsheet of leads, visits, projects, enterprises or the monthly overview.

what → period (this month, last month, this year, custom → the dates) → the file
"""

from __future__ import annotations

import re
from datetime import date

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from handlers.answers import today
from models import Role
from services.export import Period, Request, What, export, period_dates

EXPORT_ROLES = frozenset(Role)
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


async def start(ctx: Context, msg: Incoming) -> Next:
    """Ask what to export."""
    return ctx.goto("what")


async def ask_what(ctx: Context) -> None:
    buttons = [Button(ctx._(f"desk.export.what.{w.value}"), w.value) for w in What]
    ctx.say(ctx._("desk.export.ask.what"), Keyboard.grid(buttons, width=2))


async def on_what(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data not in {w.value for w in What}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["what"] = data
    return ctx.goto("period")


async def ask_period(ctx: Context) -> None:
    buttons = [Button(ctx._(f"desk.export.period.{p.value}"), p.value) for p in Period]
    ctx.say(ctx._("desk.export.ask.period"), Keyboard.grid(buttons, width=2))


async def on_period(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data not in {p.value for p in Period}:
        return ctx.again("core.err.use_buttons")
    if data == Period.CUSTOM:
        return ctx.goto("dates")
    first, last = period_dates(Period(data), today(ctx))
    return await _send(ctx, first, last)


async def ask_dates(ctx: Context) -> None:
    ctx.say(ctx._("desk.export.ask.dates"))


def parse_dates(text: str) -> tuple[date, date] | None:
    found = _DATE.findall(text.translate({0xFF10 + i: 0x30 + i for i in range(10)}))
    if len(found) != 2:
        return None
    try:
        first, last = (date(int(y), int(m), int(d)) for y, m, d in found)
    except ValueError:
        return None
    return first, last


async def on_dates(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=60)
    if isinstance(answer, Next):
        return answer
    dates = parse_dates(answer)
    if dates is None:
        return ctx.again("desk.export.err.dates")
    first, last = dates
    if first > last:
        return ctx.again("desk.export.err.order")
    if (last - first).days > 366 * 5:
        return ctx.again("desk.export.err.span")
    return await _send(ctx, first, last)


async def _send(ctx: Context, first: date, last: date) -> Next:
    what = What(ctx.draft["what"])
    name, content = await export(ctx.app.db, ctx.user, Request(what, first, last, ctx.locale, ctx.app.tz, ctx.now()))
    caption = ctx._(
        "desk.export.caption",
        what=ctx._(f"desk.export.what.{what.value}"),
        first=first.isoformat(),
        last=last.isoformat(),
    )
    if ctx.user.role is not Role.BUREAU:
        caption += "\n" + ctx._("desk.export.masked")
    ctx.send_file(name, content, caption)
    return ctx.done()


EXPORT = Flow(
    name="export",
    command="export",
    roles=EXPORT_ROLES,
    start=start,
    title_key="flow.export",
    steps={
        "what": Step(ask_what, on_what),
        "period": Step(ask_period, on_period),
        "dates": Step(ask_dates, on_dates),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(EXPORT)
