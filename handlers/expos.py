"""/events — expos and events (§10): the list, each event's units and follow-through.

list → event (units taking part, tagged records, the signing list with its follow-through
and laggards) → take part | set dates (bureau) → event
list → new event (bureau): name → dates → event
"""

from __future__ import annotations

import re
from datetime import date

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.answers import today
from models import Expo, Role
from services import expos, projects
from services.dates import InvalidDate, parse_day
from services.expos import FollowThrough
from services.money import format_money

EVENT_ROLES = frozenset(Role) - {Role.LEADER}
MAX_BUTTONS = 20
MAX_LAGGARDS = 15
_RANGE = re.compile(r"\s*(?:至|到|~|～|—|\bto\b)\s*")


def dates_of(_: Translator, expo: Expo) -> str:
    if expo.starts_on is None:
        return _("net.events.undated")
    if expo.ends_on is None or expo.ends_on == expo.starts_on:
        return expo.starts_on.isoformat()
    return _("net.events.dates", start=expo.starts_on.isoformat(), end=expo.ends_on.isoformat())


def follow_through_lines(_: Translator, ft: FollowThrough) -> list[str]:
    """The signing list's follow-through in a few lines (the event card, the bureau's overview)."""
    if not ft.count:
        return [_("net.events.no_signing")]
    pct = _("net.pct_none")
    lines = [
        _(
            "net.events.follow_through",
            count=ft.count,
            started=ft.started,
            started_pct=ft.rate(ft.started) if ft.rate(ft.started) is not None else pct,
            operating=ft.operating,
            operating_pct=ft.rate(ft.operating) if ft.rate(ft.operating) is not None else pct,
            funds=format_money(ft.funds_yuan, _.locale),
            planned=format_money(ft.planned_yuan, _.locale),
            funds_pct=ft.funds_rate if ft.funds_rate is not None else pct,
        )
    ]
    for s in ft.laggards[:MAX_LAGGARDS]:
        lines.append(_("net.events.laggard", name=s.name, enterprise=s.enterprise, stage=_(f"stage.{s.stage}")))
    return lines


def read_dates(ctx: Context, msg: Incoming) -> tuple[date, date] | Next:
    answer = ctx.text_answer(msg, max_len=40)
    if isinstance(answer, Next):
        return answer
    parts = _RANGE.split(answer, maxsplit=1)
    try:
        start = parse_day(parts[0], today(ctx))
        end = parse_day(parts[1], today(ctx)) if len(parts) > 1 else start
    except InvalidDate:
        return ctx.again("net.events.err.dates", text=answer)
    if end < start:
        return ctx.again("net.events.err.order", start=start.isoformat(), end=end.isoformat())
    return start, end


async def start(ctx: Context, msg: Incoming) -> Next:
    return ctx.goto("list")


async def ask_list(ctx: Context) -> None:
    events = await expos.listing(ctx.app.db)
    lagging = await projects.lagging_days(ctx.app.db)
    shown = events[:MAX_BUTTONS]
    figures = {
        ft.expo.id: ft
        for ft in await expos.follow_through(ctx.app.db, [int(e.id or 0) for e in shown], ctx.now(), lagging)
    }
    lines = [ctx._("net.events.header", count=len(events))]
    for expo in shown:
        ft = figures[expo.id]
        lines.append(
            ctx._(
                "net.events.row",
                number=expo.id,
                name=expo.name(ctx.locale),
                dates=dates_of(ctx._, expo),
                units=ft.units,
                signed=ft.count,
            )
        )
    buttons = [Button(f"#{e.id} {e.name(ctx.locale)}", f"x{e.id}") for e in shown]
    if ctx.user.role is Role.BUREAU:
        buttons.append(Button(ctx._("net.events.new"), "new"))
    buttons.append(Button(ctx._("net.close"), "close"))
    ctx.say("\n".join(lines), Keyboard.column(buttons))


async def on_list(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data == "close":
        ctx.say(ctx._("net.closed"))
        return ctx.done()
    if data == "new" and ctx.user.role is Role.BUREAU:
        return ctx.goto("new_name")
    if data.startswith("x") and data[1:].isdigit() and await expos.get(ctx.app.db, int(data[1:])):
        ctx.draft["expo_id"] = int(data[1:])
        return ctx.goto("event")
    return ctx.again("core.err.use_buttons")


async def ask_event(ctx: Context) -> None:
    expo_id = int(ctx.draft["expo_id"])
    lagging = await projects.lagging_days(ctx.app.db)
    (ft,) = await expos.follow_through(ctx.app.db, [expo_id], ctx.now(), lagging)
    units = await expos.units_of(ctx.app.db, expo_id)
    names = "、".join(u.name(ctx.locale) for u in units) or ctx._("net.events.no_units")
    lines = [
        ctx._("net.events.card", name=ft.expo.name(ctx.locale), dates=dates_of(ctx._, ft.expo), units=names),
        ctx._("net.events.tagged", leads=ft.leads, visits=ft.visits),
        *follow_through_lines(ctx._, ft),
    ]
    buttons = []
    if (
        ctx.user.unit_id is not None
        and ctx.user.role is not Role.BUREAU
        and ctx.user.unit_id not in {u.id for u in units}
    ):
        buttons.append(Button(ctx._("net.events.take_part"), "join"))
    if ctx.user.role is Role.BUREAU:
        buttons.append(Button(ctx._("net.events.set_dates"), "dates"))
    buttons.append(Button(ctx._("net.back"), "back"))
    ctx.say("\n".join(lines), Keyboard.grid(buttons, width=3))


async def on_event(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "join" and ctx.user.unit_id is not None:
        await expos.take_part(ctx.app.db, member=ctx.user, expo_id=int(ctx.draft["expo_id"]), now=ctx.now())
        ctx.say(ctx._("net.events.registered", unit=ctx.user.unit_name(ctx.locale)))
        return ctx.goto("event")
    if data == "dates" and ctx.user.role is Role.BUREAU:
        return ctx.goto("dates")
    if data == "back":
        return ctx.goto("list")
    return ctx.again("core.err.use_buttons")


async def ask_dates(ctx: Context) -> None:
    ctx.say(ctx._("net.events.ask.dates"))


async def on_dates(ctx: Context, msg: Incoming) -> Next:
    read = read_dates(ctx, msg)
    if isinstance(read, Next):
        return read
    start_on, end_on = read
    if "expo_id" not in ctx.draft:
        expo = await expos.create(
            ctx.app.db, member=ctx.user, name=str(ctx.draft["name"]), starts_on=start_on, ends_on=end_on, now=ctx.now()
        )
        ctx.draft["expo_id"] = expo.id
        ctx.say(ctx._("net.events.created", name=expo.name_zh, dates=dates_of(ctx._, expo)))
        return ctx.goto("event")
    dated = await expos.set_dates(
        ctx.app.db,
        member=ctx.user,
        expo_id=int(ctx.draft["expo_id"]),
        starts_on=start_on,
        ends_on=end_on,
        now=ctx.now(),
    )
    if dated is not None:
        ctx.say(ctx._("net.events.dated", name=dated.name(ctx.locale), dates=dates_of(ctx._, dated)))
    return ctx.goto("event")


async def ask_new_name(ctx: Context) -> None:
    ctx.draft.pop("expo_id", None)
    ctx.say(ctx._("net.events.ask.name"))


async def on_new_name(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=100)
    if isinstance(answer, Next):
        return answer
    ctx.draft["name"] = answer
    return ctx.goto("dates")


EVENTS = Flow(
    name="events",
    command="events",
    roles=EVENT_ROLES,
    start=start,
    title_key="flow.events",
    steps={
        "list": Step(ask_list, on_list),
        "event": Step(ask_event, on_event),
        "dates": Step(ask_dates, on_dates),
        "new_name": Step(ask_new_name, on_new_name),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(EVENTS)
