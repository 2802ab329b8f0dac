"""/approvals (bureau) — the approval kinds every new task force's checklist starts with (§15).

    /approvals → the list → add → Chinese name → English name (or skip) → the list
                          → a kind → rename → Chinese name → English name (or keep) → the list
                                   → retire | restore → the list

A retired kind stays on the checklists that have it and is left off new ones
(``services.approvals``).
"""

from __future__ import annotations

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from models import ApprovalKind, Role
from services import approvals
from services.approvals import MAX_NAME, MAX_NAME_EN, ApprovalKindError

BUREAU = frozenset({Role.BUREAU})


def kind_label(ctx: Context, kind: ApprovalKind) -> str:
    name = kind.name(ctx.locale)
    return name if kind.active else ctx._("approvals.retired", name=name)


async def start(ctx: Context, msg: Incoming) -> Next:
    """Show the list of kinds."""
    return ctx.goto("list")


async def ask_list(ctx: Context) -> None:
    kinds = await approvals.kinds(ctx.app.db)
    lines = [ctx._("approvals.header", count=sum(k.active for k in kinds))]
    lines += [ctx._("approvals.line", number=n, name=kind_label(ctx, k)) for n, k in enumerate(kinds, 1)]
    lines.append(ctx._("approvals.ask.which"))
    buttons = [Button(kind_label(ctx, k), f"k{k.id}") for k in kinds]
    buttons += [Button(ctx._("approvals.add"), "add"), Button(ctx._("project.progress.finish"), "finish")]
    ctx.say("\n".join(lines), Keyboard.grid(buttons, width=2))


async def on_list(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data == "finish":
        ctx.say(ctx._("approvals.finished"))
        return ctx.done()
    if data == "add":
        ctx.draft.clear()
        return ctx.goto("name")
    if data.startswith("k") and data[1:].isdigit() and await approvals.get(ctx.app.db, int(data[1:])):
        ctx.draft.clear()
        ctx.draft["kind_id"] = int(data[1:])
        return ctx.goto("kind")
    return ctx.again("core.err.use_buttons")


async def chosen(ctx: Context) -> ApprovalKind | None:
    return await approvals.get(ctx.app.db, int(ctx.draft.get("kind_id", 0)))


async def ask_kind(ctx: Context) -> None:
    kind = await chosen(ctx)
    if kind is None:
        ctx.say(ctx._("approvals.err.not_found"))
        return
    toggle = "retire" if kind.active else "restore"
    ctx.say(
        ctx._("approvals.ask.what", name=kind_label(ctx, kind)),
        Keyboard.column(
            [
                Button(ctx._("approvals.rename"), "rename"),
                Button(ctx._(f"approvals.{toggle}"), toggle),
                Button(ctx._("project.progress.back"), "back"),
            ]
        ),
    )


async def on_kind(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    kind = await chosen(ctx)
    if data == "back" or kind is None:
        return ctx.goto("list")
    if data == "rename":
        return ctx.goto("name")
    if data not in ("retire", "restore"):
        return ctx.again("core.err.use_buttons")
    try:
        await approvals.set_active(
            ctx.app.db, member=ctx.user, kind_id=int(kind.id or 0), active=data == "restore", now=ctx.now()
        )
    except ApprovalKindError as exc:
        ctx.say(ctx._(f"approvals.err.{exc.code}", name=kind.name(ctx.locale)))
        return ctx.goto("list")
    ctx.say(ctx._(f"approvals.done.{data}", name=kind.name(ctx.locale)))
    return ctx.goto("list")


async def ask_name(ctx: Context) -> None:
    kind = await chosen(ctx) if "kind_id" in ctx.draft else None
    if kind is None:
        ctx.say(ctx._("approvals.ask.name"))
    else:
        ctx.say(ctx._("approvals.ask.rename", name=kind.name_zh))


async def on_name(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    ctx.draft["name_zh"] = answer
    return ctx.goto("name_en")


async def ask_name_en(ctx: Context) -> None:
    kind = await chosen(ctx) if "kind_id" in ctx.draft else None
    keep = Button(ctx._("approvals.keep_en", name=kind.name_en), "keep") if kind and kind.name_en else None
    skip = keep or Button(ctx._("approvals.skip_en"), "keep")
    ctx.say(ctx._("approvals.ask.name_en", name=ctx.draft.get("name_zh", "")), Keyboard.column([skip]))


async def on_name_en(ctx: Context, msg: Incoming) -> Next:
    kind = await chosen(ctx) if "kind_id" in ctx.draft else None
    if ctx.choice(msg) == "keep":
        name_en = kind.name_en if kind else ""
    else:
        answer = ctx.text_answer(msg, max_len=MAX_NAME_EN)
        if isinstance(answer, Next):
            return answer
        name_en = answer
    name_zh = str(ctx.draft["name_zh"])
    try:
        if kind is None:
            await approvals.add(ctx.app.db, member=ctx.user, name_zh=name_zh, name_en=name_en, now=ctx.now())
            said = ctx._("approvals.added", name=name_zh)
        else:
            before = kind.name_zh  # read before the change: one session serves the whole update
            await approvals.rename(
                ctx.app.db, member=ctx.user, kind_id=int(kind.id or 0), name_zh=name_zh, name_en=name_en, now=ctx.now()
            )
            said = ctx._("approvals.renamed", before=before, name=name_zh)
    except ApprovalKindError as exc:
        # The name is what was wrong: ask for it again, the rest of the draft kept.
        ctx.say(ctx._(f"approvals.err.{exc.code}", name=name_zh))
        return ctx.goto("name")
    ctx.say(said)
    return ctx.goto("list")


APPROVALS = Flow(
    name="approvals",
    command="approvals",
    roles=BUREAU,
    start=start,
    title_key="flow.approvals",
    steps={
        "list": Step(ask_list, on_list),
        "kind": Step(ask_kind, on_kind),
        "name": Step(ask_name, on_name),
        "name_en": Step(ask_name_en, on_name_en),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(APPROVALS)
