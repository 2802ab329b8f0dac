"""/transfer — the bureau moves a project to another county or zone.

    project (number, name or button) → county or zone → reason → confirm

The executing unit changes; the first-talk credit stays; both units' people are told.
"""

from __future__ import annotations

from typing import TypedDict, cast

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.confirm import field_to_correct
from handlers.notify import tell
from handlers.project import (
    BUREAU,
    MAX_NAME,
    MAX_REASON,
    PICK_BUTTONS,
    card,
    choose,
    choose_picked,
    chosen,
    pick_keyboard,
    typed_number,
)
from services import projects
from services.access import Purpose
from services.projects import ProjectError


class TransferFields(TypedDict, total=False):
    """A transfer under way: the project, the unit it goes to, why."""

    project_id: int
    project_name: str
    to_unit_id: int
    to_unit: list[str]  # [zh, en]
    reason: str


def transfer_draft(ctx: Context) -> TransferFields:
    return cast(TransferFields, ctx.draft)


# Which draft key each step fills, in order; the confirmation comes after.
ORDER = (("project_id", "pick"), ("to_unit_id", "unit"), ("reason", "reason"))


async def next_missing(ctx: Context) -> Next:
    """The transfer's one next-step rule: the first thing still missing, else the confirmation."""
    return ctx.missing(ORDER)


async def transfer_start(ctx: Context, msg: Incoming) -> Next:
    """Pick the project to transfer (or ``/transfer <number>``)."""
    number = typed_number(msg.args)
    if number is not None:
        return await choose(ctx, number, "unit", Purpose.DECIDE)
    return ctx.goto("pick")


async def ask_transfer_pick(ctx: Context) -> None:
    rows = await projects.visible(ctx.app.db, ctx.user, active_only=True, limit=PICK_BUTTONS)
    ctx.say(ctx._("project.ask.transfer_pick"), pick_keyboard(rows))


async def on_transfer_pick(ctx: Context, msg: Incoming) -> Next:
    answer = await choose_picked(ctx, msg, "unit", Purpose.DECIDE, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    found = await projects.visible(ctx.app.db, ctx.user, name=answer, limit=PICK_BUTTONS)
    if len(found) == 1:
        return await choose(ctx, found[0].id, "unit", Purpose.DECIDE)
    if not found:
        return ctx.again("project.err.no_match", text=answer)
    ctx.say(ctx._("project.ask.transfer_pick"), pick_keyboard(found))
    return ctx.stay()


async def ask_unit(ctx: Context) -> None:
    row = await chosen(ctx)
    assert row is not None
    units = await projects.transfer_targets(ctx.app.db, exclude=row.project.executing_unit_id)
    ctx.say(
        card(ctx._, row) + "\n\n" + ctx._("project.ask.unit"),
        Keyboard.grid([Button(u.name(ctx.locale), f"u{u.id}") for u in units], width=2),
    )


async def on_unit(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    row = await chosen(ctx)
    assert row is not None
    units = {u.id: u for u in await projects.transfer_targets(ctx.app.db, exclude=row.project.executing_unit_id)}
    if not data.startswith("u") or not data[1:].isdigit() or int(data[1:]) not in units:
        return ctx.again("core.err.use_buttons")
    unit = units[int(data[1:])]
    draft = transfer_draft(ctx)
    draft["to_unit_id"] = int(data[1:])
    draft["to_unit"] = [unit.name_zh, unit.name_en]
    return await next_missing(ctx)


async def ask_transfer_reason(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.transfer_reason"))


async def on_transfer_reason(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    transfer_draft(ctx)["reason"] = answer
    return await next_missing(ctx)


async def ask_transfer_confirm(ctx: Context) -> None:
    row = await chosen(ctx)
    assert row is not None
    draft = transfer_draft(ctx)
    zh, en = draft["to_unit"]
    ctx.say(
        ctx._(
            "project.transfer.summary",
            number=row.id,
            name=row.project.name,
            from_unit=row.executing.name(ctx.locale),
            to_unit=en if ctx.locale == "en" and en else zh,
            first_talk=row.first_talk.name(ctx.locale),
            reason=draft.get("reason", ""),
        ),
        Keyboard.column(
            [
                Button(ctx._("project.transfer.do"), "go"),
                Button(ctx._("project.transfer.change_unit"), "edit:unit"),
                Button(ctx._("project.transfer.change_reason"), "edit:reason"),
                Button(ctx._("project.transfer.cancel"), "cancel"),
            ]
        ),
    )


async def on_transfer_confirm(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "cancel":
        ctx.say(ctx._("project.transfer.cancelled"))
        return ctx.done()
    if (field := field_to_correct(ctx, data, ("unit", "reason"))) is not None:
        return ctx.goto(field)
    if data != "go":
        return ctx.again("core.err.use_buttons")
    draft = transfer_draft(ctx)
    project_id = draft["project_id"]
    try:
        moved = await projects.transfer(
            ctx.app.db,
            member=ctx.user,
            project_id=project_id,
            to_unit_id=draft["to_unit_id"],
            reason=draft["reason"],
            now=ctx.now(),
        )
    except ProjectError as exc:
        return ctx.again(f"project.err.{exc.code}", number=project_id)
    row = await projects.get(ctx.app.db, ctx.user, project_id)
    assert row is not None and moved.from_unit.id is not None and moved.to_unit.id is not None
    reason = draft["reason"]

    def build(_: Translator) -> list[Reply]:
        return [
            Reply(
                _(
                    "project.transferred",
                    from_unit=moved.from_unit.name(_.locale),
                    to_unit=moved.to_unit.name(_.locale),
                    reason=reason,
                    details=card(_, row),
                )
            )
        ]

    people = await projects.people_of(ctx.app.db, {moved.from_unit.id, moved.to_unit.id})
    await tell(ctx.app, people, build, kind="transfer")
    ctx.say(ctx._("project.transfer.done", number=project_id, to_unit=moved.to_unit.name(ctx.locale)))
    return ctx.done()


TRANSFER = Flow(
    name="transfer",
    command="transfer",
    roles=BUREAU,
    start=transfer_start,
    title_key="flow.transfer",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={
        "pick": Step(ask_transfer_pick, on_transfer_pick),
        "unit": Step(ask_unit, on_unit),
        "reason": Step(ask_transfer_reason, on_transfer_reason),
        "confirm": Step(ask_transfer_confirm, on_transfer_confirm),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(TRANSFER)
