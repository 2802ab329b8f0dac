"""Targets: /quota (where my unit stands, with pacing), /targets (the bureau edits them),
/schedule (the bureau's send times).

    /targets: list → target → change value | change threshold → saved → target …
"""

from __future__ import annotations

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Command, Context, Flow, Next, Step
from bot.core.registry import Registry
from handlers.answers import read_money
from handlers.digest import metric_name, target_lines
from models import Role, Target
from services import schedule, targets
from services.money import format_money
from services.periods import local_date

BUREAU = frozenset({Role.BUREAU})
MAX_VALUE = 10_000


# -- /quota ---------------------------------------------------------------------------------------
async def quota(ctx: Context, msg: Incoming) -> None:
    """The person's unit against each of its targets, with where it should be by today."""
    member = ctx.user
    today = local_date(ctx.now(), ctx.app.tz)
    lines = await targets.for_unit(ctx.app.db, member.unit_id, today=today, tz=ctx.app.tz) if member.unit_id else []
    if not lines:
        ctx.say(ctx._("quota.none"))
        return
    out = [ctx._("quota.title", unit=member.unit_name(ctx.locale), date=f"{today:%Y-%m-%d}")]
    out += target_lines(ctx._, lines)
    ctx.say("\n".join(out))


# -- /targets (bureau) --------------------------------------------------------------------------------
def scope(ctx: Context, row: targets.TargetRow) -> str:
    t = row.target
    if t.unit_id is not None or t.chain_id is not None:
        return row.scope(ctx.locale)
    if t.chain_scope:
        return ctx._("target.scope.chain")
    return ctx._("target.scope.kind", kind=ctx._(f"target.kind.{t.unit_kind}"))


def _name(ctx: Context, t: Target) -> str:
    return metric_name(ctx._, t.metric, t.threshold_yuan, t.funds_ratio_pct)


async def targets_start(ctx: Context, msg: Incoming) -> Next:
    """Show every target to choose from."""
    return ctx.goto("pick")


async def ask_pick(ctx: Context) -> None:
    rows = await targets.all_targets(ctx.app.db)
    buttons = [
        Button(
            ctx._("targets.item", metric=_name(ctx, r.target), scope=scope(ctx, r), value=r.target.value),
            f"t{r.target.id}",
        )
        for r in rows
    ]
    buttons.append(Button(ctx._("targets.btn.done"), "done"))
    ctx.say(ctx._("targets.ask.pick"), Keyboard.column(buttons))


async def on_pick(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data == "done":
        ctx.say(ctx._("targets.done"))
        return ctx.done()
    if data.startswith("t") and data[1:].isdigit() and await targets.get_target(ctx.app.db, int(data[1:])):
        ctx.draft["target_id"] = int(data[1:])
        return ctx.goto("show")
    return ctx.again("core.err.use_buttons")


async def ask_show(ctx: Context) -> None:
    rows = {r.target.id: r for r in await targets.all_targets(ctx.app.db)}
    row = rows.get(int(ctx.draft["target_id"]))
    if row is None:
        ctx.say(ctx._("core.err.use_buttons"))
        return
    t = row.target
    threshold = format_money(t.threshold_yuan, ctx.locale) if t.threshold_yuan else ctx._("targets.no_threshold")
    buttons = [Button(ctx._("targets.btn.value"), "value")]
    if t.threshold_yuan:
        buttons.append(Button(ctx._("targets.btn.threshold"), "threshold"))
    buttons.append(Button(ctx._("targets.btn.back"), "back"))
    ctx.say(
        ctx._(
            "targets.show",
            metric=_name(ctx, t),
            scope=scope(ctx, row),
            period=ctx._(f"target.period.{t.period}"),
            value=t.value,
            threshold=threshold,
            policy=t.policy or "—",
            note=t.note_en if ctx.locale == "en" else t.note_zh,
        ),
        Keyboard.column(buttons),
    )


async def on_show(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data in ("value", "threshold"):
        return ctx.goto(data)
    if data == "back":
        return ctx.goto("pick")
    return ctx.again("core.err.use_buttons")


async def ask_value(ctx: Context) -> None:
    ctx.say(ctx._("targets.ask.value"))


async def on_value(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=12)
    if isinstance(answer, Next):
        return answer
    if not answer.isdigit() or not 1 <= int(answer) <= MAX_VALUE:
        return ctx.again("targets.err.number")
    return await _save(ctx, value=int(answer))


async def ask_threshold(ctx: Context) -> None:
    ctx.say(ctx._("targets.ask.threshold"))


async def on_threshold(ctx: Context, msg: Incoming) -> Next:
    yuan = read_money(ctx, msg)
    if isinstance(yuan, Next):
        return yuan
    return await _save(ctx, threshold_yuan=yuan)


async def _save(ctx: Context, *, value: int | None = None, threshold_yuan: int | None = None) -> Next:
    target = await targets.update_target(
        ctx.app.db,
        int(ctx.draft["target_id"]),
        actor_id=ctx.user.id,
        value=value,
        threshold_yuan=threshold_yuan,
        now=ctx.now(),
    )
    if target is None:
        return ctx.goto("pick")
    threshold = (
        format_money(target.threshold_yuan, ctx.locale) if target.threshold_yuan else ctx._("targets.no_threshold")
    )
    ctx.say(ctx._("targets.saved", metric=_name(ctx, target), value=target.value, threshold=threshold))
    return ctx.goto("show")


TARGETS = Flow(
    name="targets",
    command="targets",
    roles=BUREAU,
    start=targets_start,
    title_key="flow.targets",
    steps={
        "pick": Step(ask_pick, on_pick),
        "show": Step(ask_show, on_show),
        "value": Step(ask_value, on_value),
        "threshold": Step(ask_threshold, on_threshold),
    },
)


# -- /schedule (bureau) ---------------------------------------------------------------------------------
async def schedule_command(ctx: Context, msg: Incoming) -> None:
    """Show the send times; ``/schedule <key> <value>`` changes one."""
    key, _, value = msg.args.strip().partition(" ")
    if key:
        if key not in schedule.PARSERS:
            ctx.say(ctx._("schedule.err.key", key=key))
            return
        try:
            stored = await schedule.set_time(ctx.app.db, key, value, by=ctx.user.id, now=ctx.now())
        except schedule.BadScheduleValue:
            ctx.say(ctx._("schedule.err.value", value=value))
            return
        schedule.notify_changed()
        shown = " ".join(stored) if isinstance(stored, list) else str(stored)
        ctx.say(ctx._("schedule.saved", name=ctx._(f"schedule.key.{key}"), value=shown))
        return
    lines = [ctx._("schedule.header", tz=ctx.app.settings.timezone)]
    for name in schedule.SETTING_KEYS:
        current = await schedule.current(ctx.app.db, name)
        shown = " ".join(current) if isinstance(current, list) else str(current)
        lines.append(ctx._("schedule.item", name=ctx._(f"schedule.key.{name}"), value=shown, key=name))
    lines.append(ctx._("schedule.working_days"))
    lines.append(ctx._("schedule.usage"))
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_command(Command("quota", quota, help_key="help.quota"))
    registry.add_flow(TARGETS)
    registry.add_command(Command("schedule", schedule_command, roles=BUREAU, help_key="help.schedule"))
