"""/need and /needs — §19 要素保障: a unit asks a department to secure what a project needs.

    /need: project → kind (用地, 用能, 环境容量, 融资, other) → amount or size → needed by → sent

The need goes to the department of its kind, whose people answer with the buttons on it
(accepted, needs information, cannot — the last two with a reason, in ``need_answer``);
the unit that asked is told the answer. ``/needs`` lists the open needs one may see (the
bureau: every one); a need unanswered for ``element_need_escalate_after_days`` goes to the
bureau, and to the department's head contact, from the scheduler (:func:`send_need_escalations`).
"""

from __future__ import annotations

from datetime import date, datetime

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.app import App
from bot.core.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.notify import tell, tell_bureau
from handlers.project import (
    MAX_NAME,
    MAX_REASON,
    REGISTER_ROLES,
    ProjectPick,
)
from handlers.taskforce import ask_future_day, read_future_day
from models import NeedKind, NeedState, Role
from services import members, needs
from services.needs import NeedError, NeedRow

RAISE_ROLES = REGISTER_ROLES | {Role.BUREAU}
ANSWER_ROLES = frozenset({Role.DEPARTMENT, Role.CHAIN_LEAD, Role.BUREAU})
LIST_ROLES = RAISE_ROLES | ANSWER_ROLES


def need_text(_: Translator, row: NeedRow) -> str:
    return _(
        "need.line",
        number=row.id,
        project=row.project.id,
        name=row.project.name,
        kind=_(f"need.kind.{row.need.kind}"),
        size=row.need.size,
        needed_by=row.need.needed_by.isoformat(),
        unit=row.raised_unit.name(_.locale),
        department=row.department.name(_.locale),
        state=_(f"need.state.{row.need.state}"),
    )


# Pick the project the need is for (or ``/need <number>``).
PICK = ProjectPick("need.ask.pick", "kind")


async def ask_kind(ctx: Context) -> None:
    buttons = [Button(ctx._(f"need.kind.{k.value}"), f"k{k.value}") for k in NeedKind]
    ctx.say(ctx._("need.ask.kind", name=ctx.draft.get("project_name", "")), Keyboard.grid(buttons, width=3))


async def on_kind(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("k") or data[1:] not in {k.value for k in NeedKind}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["kind"] = data[1:]
    return ctx.goto("size")


async def ask_size(ctx: Context) -> None:
    ctx.say(ctx._(f"need.ask.size.{ctx.draft['kind']}"))


async def on_size(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    ctx.draft["size"] = answer
    return ctx.goto("needed_by")


async def ask_needed_by(ctx: Context) -> None:
    ask_future_day(ctx, ctx._("need.ask.needed_by"))


async def on_needed_by(ctx: Context, msg: Incoming) -> Next:
    day = read_future_day(ctx, msg)
    if isinstance(day, Next):
        return day
    try:
        row = await needs.raise_need(
            ctx.app.db,
            member=ctx.user,
            project_id=int(ctx.draft["project_id"]),
            kind=NeedKind(str(ctx.draft["kind"])),
            size=str(ctx.draft["size"]),
            needed_by=day,
            now=ctx.now(),
        )
    except NeedError as exc:
        ctx.say(ctx._(f"need.err.{exc.code}"))
        return ctx.done()
    people = await members.people(ctx.app.db, unit_id=row.department.id)

    def build(_: Translator) -> list[Reply]:
        buttons = [
            Button(_(f"need.answer.{s.value}"), action_data("nda", f"{row.id}.{s.value}")) for s in needs.ANSWERS
        ]
        return [Reply(_("need.told.raised", details=need_text(_, row)), Keyboard.column(buttons))]

    told = await tell(ctx.app, people, build, kind="need_raised", key=f"need_raised:{row.id}")
    key = "need.sent" if told else "need.sent_nobody"
    ctx.say(ctx._(key, department=row.department.name(ctx.locale), number=row.id))
    return ctx.done()


NEED = Flow(
    name="need",
    command="need",
    roles=frozenset(RAISE_ROLES),
    start=PICK.start,
    title_key="flow.need",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={
        "pick": PICK.step(),
        "kind": Step(ask_kind, on_kind),
        "size": Step(ask_size, on_size),
        "needed_by": Step(ask_needed_by, on_needed_by),
    },
)


# -- answering --------------------------------------------------------------------------------
async def tell_raiser(app: App, row: NeedRow) -> None:
    raiser = await members.get_user(app.db, row.need.raised_by)

    def build(_: Translator) -> list[Reply]:
        reason = _("need.reason", reason=row.need.answer) if row.need.answer else ""
        return [Reply(_("need.told.answered", details=need_text(_, row), reason=reason))]

    stamp = row.need.answered_at.isoformat() if row.need.answered_at else ""
    await tell(app, [raiser] if raiser else [], build, kind="need_answered", key=f"need_answered:{row.id}:{stamp}")


async def on_answer_button(ctx: Context, msg: Incoming, arg: str) -> None:
    """A department pressed an answer on a need sent to it."""
    head, _sep, state = arg.partition(".")
    if not head.isdigit() or state not in {s.value for s in needs.ANSWERS}:
        ctx.notice(ctx._("core.expired"))
        return
    row = await needs.get(ctx.app.db, int(head))
    if row is None or (ctx.user.role is not Role.BUREAU and ctx.user.unit_id != row.need.department_unit_id):
        ctx.notice(ctx._("need.err.not_yours"), alert=True)
        return
    if NeedState(state) is not NeedState.ACCEPTED:
        ctx.start_flow("need_answer", {"need_id": row.id, "state": state, "project_name": row.project.name})
        return
    await save_answer(ctx, row.id, NeedState.ACCEPTED, "")


async def save_answer(ctx: Context, need_id: int, state: NeedState, reason: str) -> bool:
    try:
        row = await needs.answer(
            ctx.app.db, member=ctx.user, need_id=need_id, state=state, reason=reason, now=ctx.now()
        )
    except NeedError as exc:
        ctx.say(ctx._(f"need.err.{exc.code}"))
        return False
    await tell_raiser(ctx.app, row)
    ctx.say(ctx._("need.answered", details=need_text(ctx._, row)))
    return True


async def answer_start(ctx: Context, msg: Incoming) -> Next:
    """Ask the reason for an answer pressed on a need (opened from the need's buttons)."""
    if "need_id" not in ctx.draft:
        ctx.say(ctx._("need.answer.from_button"))
        return ctx.done()
    return ctx.goto("reason")


async def ask_reason(ctx: Context) -> None:
    ctx.say(ctx._(f"need.ask.reason.{ctx.draft['state']}"))


async def on_reason(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    await save_answer(ctx, int(ctx.draft["need_id"]), NeedState(str(ctx.draft["state"])), answer)
    return ctx.done()


ANSWER = Flow(
    name="need_answer",
    command="need_answer",
    roles=ANSWER_ROLES,
    start=answer_start,
    title_key="flow.need_answer",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={"reason": Step(ask_reason, on_reason)},
)


async def list_needs(ctx: Context, msg: Incoming) -> None:
    """The open element needs this person may see (the bureau: all)."""
    rows = await needs.visible(ctx.app.db, ctx.user)
    if not rows:
        ctx.say(ctx._("need.list.empty"))
        return
    ctx.say("\n".join([ctx._("need.list.header", count=len(rows)), *(need_text(ctx._, r) for r in rows)]))


async def send_need_escalations(app: App, now: datetime, day: date) -> int:
    """Put every need left unanswered too long before the bureau and the department's head contact, once per need."""
    queued = 0
    for late in await needs.unanswered(app.db, now):
        row = late.row

        def build(_: Translator, row: NeedRow = row) -> list[Reply]:
            waited = (day - row.need.raised_at.date()).days
            return [Reply(_("need.told.escalated", details=need_text(_, row), days=waited))]

        key = f"need_escalated:{row.id}"
        queued += await tell_bureau(app, build, kind="need_escalated", key=key)
        if late.head is not None:
            queued += await tell(app, [late.head], build, kind="need_escalated", key=key)
    return queued


def register(registry: Registry) -> None:
    registry.add_flow(NEED)
    registry.add_flow(ANSWER, listed=False)
    registry.add_command(Command("needs", list_needs, roles=frozenset(LIST_ROLES), help_key="help.needs"))
    registry.add_action(Action("nda", on_answer_button, roles=ANSWER_ROLES))
