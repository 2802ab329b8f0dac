"""/progress — the executing unit moves one of its projects along.

    project → (stage [→ reason] | funds in place [→ check] | planned | note)* → finish

Every change is in the audit log; stage and funds changes reset the lagging clock; a
planned amount that crosses a §15 threshold asks the bureau for a leader.
"""

from __future__ import annotations

from bot.conversation import Context, Flow, Next, Step
from bot.core import Button, Incoming, Keyboard
from bot.router import Registry
from handlers.answers import read_money, today
from handlers.project import (
    MAX_DESCRIPTION,
    MAX_REASON,
    PICK_BUTTONS,
    REGISTER_ROLES,
    ask_bureau_for_leader,
    card,
    choose,
    choose_picked,
    chosen,
    money,
    pick_keyboard,
    stage_name,
    typed_number,
)
from models import STAGE_ORDER, Stage
from services import projects
from services.access import Purpose
from services.projects import ProjectError


async def progress_start(ctx: Context, msg: Incoming) -> Next:
    """Pick one of the unit's projects (or ``/progress <number>``)."""
    number = typed_number(msg.args)
    if number is not None:
        return await choose(ctx, number, "action")
    if not await projects.visible(ctx.app.db, ctx.user, purpose=Purpose.WORK, limit=1):
        ctx.say(ctx._("project.progress.none"))
        return ctx.done()
    return ctx.goto("pick")


async def ask_pick(ctx: Context) -> None:
    rows = await projects.visible(ctx.app.db, ctx.user, purpose=Purpose.WORK, limit=PICK_BUTTONS)
    ctx.say(ctx._("project.ask.pick"), pick_keyboard(rows))


async def on_pick(ctx: Context, msg: Incoming) -> Next:
    answer = await choose_picked(ctx, msg, "action")
    if isinstance(answer, Next):
        return answer
    return ctx.again("project.err.pick")


ACTIONS = ("stage", "funds", "planned", "note")


async def ask_action(ctx: Context) -> None:
    row = await chosen(ctx, Purpose.WORK)
    if row is None:
        ctx.say(ctx._("project.err.not_found", number=ctx.draft["project_id"]))
        return
    buttons = [Button(ctx._(f"project.progress.{a}"), a) for a in ACTIONS]
    buttons.append(Button(ctx._("project.progress.finish"), "finish"))
    ctx.say(card(ctx._, row) + "\n\n" + ctx._("project.ask.action"), Keyboard.grid(buttons, width=2))


async def on_action(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "finish":
        ctx.say(ctx._("project.progress.finished"))
        return ctx.done()
    if data in ACTIONS:
        return ctx.goto(f"p_{data}")
    return ctx.again("core.err.use_buttons")


async def ask_new_stage(ctx: Context) -> None:
    row = await chosen(ctx, Purpose.WORK)
    current = row.project.stage if row else None
    stages = [s for s in (*STAGE_ORDER, Stage.DROPPED) if s.value != current]
    buttons = [Button(stage_name(ctx._, s.value), f"s{s.value}") for s in stages]
    buttons.append(Button(ctx._("project.progress.back"), "back"))
    ctx.say(ctx._("project.ask.new_stage", stage=stage_name(ctx._, current)), Keyboard.grid(buttons, width=3))


async def on_new_stage(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data == "back":
        return ctx.goto("action")
    if not data.startswith("s") or data[1:] not in {s.value for s in Stage}:
        return ctx.again("core.err.use_buttons")
    stage = Stage(data[1:])
    row = await chosen(ctx, Purpose.WORK)
    if row is None:
        return ctx.again("project.err.not_found", number=ctx.draft["project_id"])
    current = Stage(row.project.stage)
    if stage is current:
        return ctx.again("project.err.same_stage")
    ctx.draft["new_stage"] = stage.value
    if projects.needs_reason(current, stage):
        return ctx.goto("p_reason")
    return await apply_stage(ctx, None)


async def ask_reason(ctx: Context) -> None:
    key = "project.ask.drop_reason" if ctx.draft.get("new_stage") == Stage.DROPPED else "project.ask.back_reason"
    ctx.say(ctx._(key, stage=stage_name(ctx._, ctx.draft.get("new_stage"))))


async def on_reason(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    return await apply_stage(ctx, answer)


async def apply_stage(ctx: Context, reason: str | None) -> Next:
    stage = Stage(ctx.draft.pop("new_stage"))
    try:
        await projects.set_stage(
            ctx.app.db,
            member=ctx.user,
            project_id=int(ctx.draft["project_id"]),
            stage=stage,
            reason=reason,
            now=ctx.now(),
            today=today(ctx),
        )
    except ProjectError as exc:
        ctx.say(ctx._(f"project.err.{exc.code}", number=ctx.draft["project_id"], **exc.words(ctx._)))
        return ctx.goto("action")
    ctx.say(ctx._("project.stage.moved", stage=stage_name(ctx._, stage.value)))
    return ctx.goto("action")


async def ask_funds(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.funds"))


async def on_funds(ctx: Context, msg: Incoming) -> Next:
    amount = read_money(ctx, msg)
    if isinstance(amount, Next):
        return amount
    row = await chosen(ctx, Purpose.WORK)
    if row is None:
        return ctx.again("project.err.not_found", number=ctx.draft["project_id"])
    project = row.project
    if amount == project.funds_in_place_yuan:
        return ctx.again("project.err.same_funds")
    ctx.draft["funds"] = amount
    # Funds above the plan happen (plans grow) and a lower total is a correction; both
    # are more often a typo, so they are confirmed rather than refused.
    if (project.planned_yuan and amount > project.planned_yuan) or amount < project.funds_in_place_yuan:
        return ctx.goto("p_funds_check")
    return await apply_funds(ctx)


async def ask_funds_check(ctx: Context) -> None:
    row = await chosen(ctx, Purpose.WORK)
    amount = int(ctx.draft["funds"])
    planned = row.project.planned_yuan if row else None
    current = row.project.funds_in_place_yuan if row else 0
    key = "project.funds.above_plan" if planned and amount > planned else "project.funds.lower"
    ctx.say(
        ctx._(key, amount=money(ctx._, amount), planned=money(ctx._, planned), current=money(ctx._, current)),
        Keyboard.column(
            [Button(ctx._("project.funds.save_anyway"), "save"), Button(ctx._("project.funds.reenter"), "again")]
        ),
    )


async def on_funds_check(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "again":
        ctx.draft.pop("funds", None)
        return ctx.goto("p_funds")
    if data != "save":
        return ctx.again("core.err.use_buttons")
    return await apply_funds(ctx)


async def apply_funds(ctx: Context) -> Next:
    amount = int(ctx.draft.pop("funds"))
    try:
        await projects.set_funds(
            ctx.app.db,
            member=ctx.user,
            project_id=int(ctx.draft["project_id"]),
            total_yuan=amount,
            now=ctx.now(),
            on=today(ctx),
        )
    except ProjectError as exc:
        ctx.say(ctx._(f"project.err.{exc.code}", number=ctx.draft["project_id"]))
        return ctx.goto("action")
    ctx.say(ctx._("project.funds.recorded", amount=money(ctx._, amount)))
    return ctx.goto("action")


async def ask_planned(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.planned"))


async def on_planned(ctx: Context, msg: Incoming) -> Next:
    amount = read_money(ctx, msg)
    if isinstance(amount, Next):
        return amount
    project_id = int(ctx.draft["project_id"])
    try:
        _project, level = await projects.set_planned(
            ctx.app.db, member=ctx.user, project_id=project_id, planned_yuan=amount, now=ctx.now()
        )
    except ProjectError as exc:
        return ctx.again(f"project.err.{exc.code}", number=project_id)
    ctx.say(ctx._("project.planned.recorded", amount=money(ctx._, amount)))
    if level is not None:
        await ask_bureau_for_leader(ctx, project_id, level)
        ctx.say(ctx._("project.leader.asked", level=ctx._(f"leader_level.{level.value}")))
    return ctx.goto("action")


async def ask_note(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.note"))


async def on_note(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    try:
        await projects.add_note(
            ctx.app.db, member=ctx.user, project_id=int(ctx.draft["project_id"]), text=answer, now=ctx.now()
        )
    except ProjectError as exc:
        return ctx.again(f"project.err.{exc.code}", number=ctx.draft["project_id"])
    ctx.say(ctx._("project.note.recorded"))
    return ctx.goto("action")


PROGRESS = Flow(
    name="progress",
    command="progress",
    roles=REGISTER_ROLES,
    start=progress_start,
    title_key="flow.progress",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={
        "pick": Step(ask_pick, on_pick),
        "action": Step(ask_action, on_action),
        "p_stage": Step(ask_new_stage, on_new_stage),
        "p_reason": Step(ask_reason, on_reason),
        "p_funds": Step(ask_funds, on_funds),
        "p_funds_check": Step(ask_funds_check, on_funds_check),
        "p_planned": Step(ask_planned, on_planned),
        "p_note": Step(ask_note, on_note),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(PROGRESS)
