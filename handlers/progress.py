"""/progress — the executing unit moves one of its projects along.

    project → (stage [→ reason] | funds in place [→ check] | planned | note)* → finish
    /progress 12 签约 到位3亿 → what will change → save [→ reason]

Each change is saved as soon as it is made and answered with what changed; the project's
card is shown once, when the project is chosen.

Every change is in the audit log; stage and funds changes reset the lagging clock; a
planned amount that crosses a §15 threshold asks the bureau for a leader.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from handlers.answers import read_money, today
from handlers.project import (
    MAX_DESCRIPTION,
    MAX_REASON,
    REGISTER_ROLES,
    ProjectPick,
    ask_bureau_for_leader,
    card,
    choose,
    chosen,
    money,
    stage_name,
    stage_words,
    typed_number,
)
from models import STAGE_ORDER, Stage
from services import projects
from services.access import Purpose
from services.fieldtext import parse_progress_text
from services.projects import ProjectError


class ProgressFields(TypedDict, total=False):
    """A /progress conversation: the project, the change under way, what one message asked for."""

    project_id: int
    project_name: str
    card_shown: bool
    new_stage: str
    funds: int
    # From ``/progress 12 签约 到位3亿``: stage, funds, planned, note — applied on "save".
    pending: dict[str, Any]


def progress_draft(ctx: Context) -> ProgressFields:
    return cast(ProgressFields, ctx.draft)


def menu(ctx: Context) -> Next:
    """The progress flow's one next-step rule: after any change (or going back), the menu."""
    return ctx.goto("action")


async def progress_start(ctx: Context, msg: Incoming) -> Next:
    """Pick one of the unit's projects, or ``/progress <number> [what changed]``."""
    if typed_number(msg.args) is not None:
        return await PICK.start(ctx, msg)
    guess = parse_progress_text(" ".join(msg.args.split())[:1000], stage_words())
    if guess.project_id is not None:
        if guess.unreadable is not None:
            ctx.say(ctx._("money.err.unreadable", text=guess.unreadable))
        pending: dict[str, Any] = {
            key: value
            for key, value in (
                ("stage", guess.stage),
                ("funds", guess.funds_yuan),
                ("planned", guess.planned_yuan),
                ("note", guess.note[:MAX_DESCRIPTION] if guess.note else None),
            )
            if value is not None
        }
        if not pending:
            return await choose(ctx, guess.project_id, "action")
        progress_draft(ctx)["pending"] = pending
        return await choose(ctx, guess.project_id, "p_pending")
    return await PICK.start(ctx, msg)


# Any of the unit's projects, a dropped one included: it may be taken up again.
PICK = ProjectPick("project.ask.pick", "action", active_only=False)


ACTIONS = ("stage", "funds", "planned", "note")


async def ask_action(ctx: Context) -> None:
    row = await chosen(ctx, Purpose.WORK)
    if row is None:
        ctx.say(ctx._("project.err.not_found", number=ctx.draft["project_id"]))
        return
    buttons = [Button(ctx._(f"project.progress.{a}"), a) for a in ACTIONS]
    buttons.append(Button(ctx._("project.progress.finish"), "finish"))
    draft = progress_draft(ctx)
    if draft.get("card_shown"):
        # After a change, what changed was said just above: the menu alone.
        ctx.say(ctx._("project.ask.action_more"), Keyboard.grid(buttons, width=2))
        return
    draft["card_shown"] = True
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
        return menu(ctx)
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
    if "pending" in progress_draft(ctx):
        return await apply_pending(ctx, answer)
    return await apply_stage(ctx, answer)


# -- /progress <number> <what changed> ---------------------------------------------------------
def pending_lines(ctx: Context, row: projects.ProjectRow, pending: dict[str, Any]) -> list[str]:
    lines = []
    if "stage" in pending:
        before, after = stage_name(ctx._, row.project.stage), stage_name(ctx._, pending["stage"])
        lines.append(ctx._("project.pending.stage", before=before, after=after))
    if "funds" in pending:
        before, after = money(ctx._, row.project.funds_in_place_yuan), money(ctx._, pending["funds"])
        lines.append(ctx._("project.pending.funds", before=before, after=after))
    if "planned" in pending:
        before, after = money(ctx._, row.project.planned_yuan), money(ctx._, pending["planned"])
        lines.append(ctx._("project.pending.planned", before=before, after=after))
    if "note" in pending:
        lines.append(ctx._("project.pending.note", text=pending["note"]))
    return lines


async def ask_pending(ctx: Context) -> None:
    row = await chosen(ctx, Purpose.WORK)
    pending = progress_draft(ctx).get("pending", {})
    if row is None:
        ctx.say(ctx._("project.err.not_found", number=ctx.draft["project_id"]))
        return
    text = ctx._(
        "project.pending", number=row.id, name=row.project.name, lines="\n".join(pending_lines(ctx, row, pending))
    )
    ctx.say(
        text,
        Keyboard.column(
            [Button(ctx._("project.pending.save"), "save"), Button(ctx._("project.pending.cancel"), "cancel")]
        ),
    )


async def on_pending(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    draft = progress_draft(ctx)
    if data == "cancel":
        ctx.say(ctx._("project.pending.cancelled"))
        return ctx.done()
    if data != "save":
        return ctx.again("core.err.use_buttons")
    row = await chosen(ctx, Purpose.WORK)
    if row is None:
        ctx.say(ctx._("project.err.not_found", number=draft.get("project_id", "")))
        return ctx.done()
    stage = draft.get("pending", {}).get("stage")
    if (
        stage is not None
        and stage != row.project.stage
        and projects.needs_reason(Stage(row.project.stage), Stage(stage))
    ):
        draft["new_stage"] = stage
        return ctx.goto("p_reason")
    return await apply_pending(ctx, None)


async def apply_pending(ctx: Context, reason: str | None) -> Next:
    """Record what one message asked for, each change in its own transaction; say what changed."""
    draft = progress_draft(ctx)
    pending = draft.pop("pending", {})
    draft.pop("new_stage", None)
    project_id = int(draft["project_id"])
    db, member, now = ctx.app.db, ctx.user, ctx.now()
    try:
        row = await chosen(ctx, Purpose.WORK)
        # The planned amount first: "签约 投资5亿" is a major project being signed (§17).
        if "planned" in pending and row is not None and pending["planned"] != row.project.planned_yuan:
            _project, level = await projects.set_planned(
                db, member=member, project_id=project_id, planned_yuan=pending["planned"], now=now
            )
            ctx.say(ctx._("project.planned.recorded", amount=money(ctx._, pending["planned"])))
            if level is not None:
                await ask_bureau_for_leader(ctx, project_id, level)
                ctx.say(ctx._("project.leader.asked", level=ctx._(f"leader_level.{level.value}")))
        if "stage" in pending and row is not None and pending["stage"] != row.project.stage:
            stage = Stage(pending["stage"])
            await projects.set_stage(
                db, member=member, project_id=project_id, stage=stage, reason=reason, now=now, today=today(ctx)
            )
            ctx.say(ctx._("project.stage.moved", stage=stage_name(ctx._, stage.value)))
        if "funds" in pending and row is not None and pending["funds"] != row.project.funds_in_place_yuan:
            await projects.set_funds(
                db, member=member, project_id=project_id, total_yuan=pending["funds"], now=now, on=today(ctx)
            )
            ctx.say(ctx._("project.funds.recorded", amount=money(ctx._, pending["funds"])))
        if "note" in pending:
            await projects.add_note(db, member=member, project_id=project_id, text=pending["note"], now=now)
            ctx.say(ctx._("project.note.recorded"))
    except ProjectError as exc:
        ctx.say(ctx._(f"project.err.{exc.code}", number=project_id, **exc.words(ctx._)))
    return ctx.done()


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
        return menu(ctx)
    ctx.say(ctx._("project.stage.moved", stage=stage_name(ctx._, stage.value)))
    return menu(ctx)


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
        ctx.say(ctx._(f"project.err.{exc.code}", number=ctx.draft["project_id"], **exc.words(ctx._)))
        return menu(ctx)
    ctx.say(ctx._("project.funds.recorded", amount=money(ctx._, amount)))
    return menu(ctx)


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
        return ctx.again(f"project.err.{exc.code}", number=project_id, **exc.words(ctx._))
    ctx.say(ctx._("project.planned.recorded", amount=money(ctx._, amount)))
    if level is not None:
        await ask_bureau_for_leader(ctx, project_id, level)
        ctx.say(ctx._("project.leader.asked", level=ctx._(f"leader_level.{level.value}")))
    return menu(ctx)


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
        return ctx.again(f"project.err.{exc.code}", number=ctx.draft["project_id"], **exc.words(ctx._))
    ctx.say(ctx._("project.note.recorded"))
    return menu(ctx)


PROGRESS = Flow(
    name="progress",
    command="progress",
    roles=REGISTER_ROLES,
    start=progress_start,
    title_key="flow.progress",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={
        "pick": PICK.step(),
        "action": Step(ask_action, on_action),
        "p_stage": Step(ask_new_stage, on_new_stage),
        "p_reason": Step(ask_reason, on_reason),
        "p_pending": Step(ask_pending, on_pending),
        "p_funds": Step(ask_funds, on_funds),
        "p_funds_check": Step(ask_funds_check, on_funds_check),
        "p_planned": Step(ask_planned, on_planned),
        "p_note": Step(ask_note, on_note),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(PROGRESS)
