"""/taskforce — §15: a project's task force, its tasks and its approvals checklist (全程代办).

    project → overview → (form | task: title → owner → due | done: task | member: department
                          | approval: item → state [→ handler → mode → due])* → finish

The bureau, the executing unit and the responsible unit run a task force; a task's owner
marks it done. Reminders before and after a task's date come from the scheduler
(:func:`send_task_notices`), each once.
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.app import App
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.answers import today
from handlers.landing_card import approval_state_name, force_lines
from handlers.notify import tell
from handlers.project import MAX_NAME, PICK_BUTTONS, SEE_ROLES, ProjectPick
from models import ApprovalMode, ApprovalState, Role, User
from services import taskforce
from services.access import Purpose
from services.dates import InvalidDate, parse_day
from services.taskforce import ApprovalChange, ForceView, TaskForceError, TaskNotice

ROLES = SEE_ROLES - {Role.LEADER} | {Role.CHAIN_LEAD}
DUE_CHOICES = (7, 14, 30)
MAX_TASK = 300


async def open_force(ctx: Context, number: int) -> Next:
    found = await taskforce.view(ctx.app.db, ctx.user, number)
    if found is None:
        if ctx.step is None:
            ctx.say(ctx._("project.err.not_found", number=number))
            return ctx.done()
        return ctx.again("project.err.not_found", number=number)
    ctx.draft["project_id"] = number
    ctx.draft["project_name"] = found.project.name
    return ctx.goto("overview")


# Pick a project (or ``/taskforce <number>``), then its task force's overview.
PICK = ProjectPick("taskforce.ask.pick", "overview", purpose=Purpose.SEE, open=open_force)


async def current(ctx: Context) -> ForceView | None:
    return await taskforce.view(ctx.app.db, ctx.user, int(ctx.draft["project_id"]))


def my_open_tasks(ctx: Context, view: ForceView) -> list[taskforce.TaskLine]:
    return [t for t in view.open_tasks if view.manages or t.owner.id == ctx.user.id]


async def ask_overview(ctx: Context) -> None:
    view = await current(ctx)
    if view is None:
        ctx.say(ctx._("project.err.not_found", number=ctx.draft["project_id"]))
        return
    buttons = []
    if view.manages and view.force is None:
        buttons.append(Button(ctx._("taskforce.form"), "form"))
    if view.manages and view.force is not None:
        buttons += [
            Button(ctx._("taskforce.add_task"), "task"),
            Button(ctx._("taskforce.approvals"), "approvals"),
            Button(ctx._("taskforce.add_member"), "member"),
        ]
    if my_open_tasks(ctx, view):
        buttons.append(Button(ctx._("taskforce.finish_task"), "done"))
    buttons.append(Button(ctx._("project.progress.finish"), "finish"))
    ctx.say("\n".join(force_lines(ctx._, view, today(ctx), full=True)), Keyboard.grid(buttons, width=2))


async def on_overview(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    view = await current(ctx)
    if data == "finish" or view is None:
        ctx.say(ctx._("taskforce.finished"))
        return ctx.done()
    if data == "form" and view.manages:
        try:
            await taskforce.form_now(ctx.app.db, member=ctx.user, project_id=view.project.id or 0, now=ctx.now())
        except TaskForceError as exc:
            return ctx.again(f"taskforce.err.{exc.code}")
        ctx.say(ctx._("taskforce.formed"))
        return ctx.goto("overview")
    if view.manages and view.force is not None and data in ("task", "approvals", "member"):
        return ctx.goto({"task": "task_title", "approvals": "approval", "member": "member"}[data])
    if data == "done" and my_open_tasks(ctx, view):
        return ctx.goto("done")
    return ctx.again("core.err.use_buttons")


# -- a task -----------------------------------------------------------------------------------
async def ask_task_title(ctx: Context) -> None:
    ctx.say(ctx._("taskforce.ask.task"))


async def on_task_title(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_TASK)
    if isinstance(answer, Next):
        return answer
    ctx.draft["task_title"] = answer
    return ctx.goto("task_owner")


async def ask_task_owner(ctx: Context) -> None:
    owners = await taskforce.task_owners(ctx.app.db, int(ctx.draft["project_id"]))
    buttons = [Button(u.full_name or str(u.id), f"u{u.id}") for u in owners[:PICK_BUTTONS]]
    ctx.say(ctx._("taskforce.ask.owner", task=ctx.draft["task_title"]), Keyboard.column(buttons))


async def on_task_owner(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    owners = {u.id for u in await taskforce.task_owners(ctx.app.db, int(ctx.draft["project_id"]))}
    if not data.startswith("u") or not data[1:].isdigit() or int(data[1:]) not in owners:
        return ctx.again("core.err.use_buttons")
    ctx.draft["task_owner"] = int(data[1:])
    return ctx.goto("task_due")


def ask_future_day(ctx: Context, question: str) -> None:
    buttons = [Button(ctx._("taskforce.in_days", days=n), f"n{n}") for n in DUE_CHOICES]
    ctx.say(question, Keyboard.grid(buttons, width=3))


def read_future_day(ctx: Context, msg: Incoming) -> date | Next:
    """A day from today on, pressed or typed; the question again when it is unreadable or past."""
    data = ctx.choice(msg) or ""
    if data.startswith("n") and data[1:].isdigit():
        return today(ctx) + timedelta(days=int(data[1:]))
    answer = ctx.text_answer(msg, max_len=20)
    if isinstance(answer, Next):
        return answer
    try:
        day = parse_day(answer, today(ctx))
    except InvalidDate:
        return ctx.again("taskforce.err.date", text=answer)
    if day < today(ctx):
        return ctx.again("taskforce.err.past", date=day.isoformat())
    return day


async def ask_task_due(ctx: Context) -> None:
    ask_future_day(ctx, ctx._("taskforce.ask.due", task=ctx.draft["task_title"]))


async def on_task_due(ctx: Context, msg: Incoming) -> Next:
    day = read_future_day(ctx, msg)
    if isinstance(day, Next):
        return day
    project_id = int(ctx.draft["project_id"])
    try:
        line = await taskforce.add_task(
            ctx.app.db,
            member=ctx.user,
            project_id=project_id,
            title=str(ctx.draft.pop("task_title")),
            owner_user_id=int(ctx.draft.pop("task_owner")),
            due_on=day,
            now=ctx.now(),
        )
    except TaskForceError as exc:
        ctx.say(ctx._(f"taskforce.err.{exc.code}"))
        return ctx.goto("overview")
    name = str(ctx.draft.get("project_name", ""))

    def build(_: Translator) -> list[Reply]:
        return [Reply(_("taskforce.told.assigned", number=project_id, name=name, task=line.task.title, due=day))]

    await tell(ctx.app, [line.owner], build, kind="task_assigned", key=f"task_assigned:{line.id}")
    ctx.say(ctx._("taskforce.task_added", task=line.task.title, owner=line.owner.full_name, due=day.isoformat()))
    return ctx.goto("overview")


async def ask_done(ctx: Context) -> None:
    view = await current(ctx)
    tasks = my_open_tasks(ctx, view) if view else []
    buttons = [Button(f"{t.task.title} · {t.task.due_on.isoformat()}", f"t{t.id}") for t in tasks[:PICK_BUTTONS]]
    ctx.say(ctx._("taskforce.ask.done"), Keyboard.column(buttons))


async def on_done(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("t") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    try:
        task = await taskforce.finish_task(
            ctx.app.db, member=ctx.user, task_id=int(data[1:]), today=today(ctx), now=ctx.now()
        )
    except TaskForceError as exc:
        ctx.say(ctx._(f"taskforce.err.{exc.code}"))
        return ctx.goto("overview")
    ctx.say(ctx._("taskforce.task_done", task=task.title))
    return ctx.goto("overview")


# -- a member ---------------------------------------------------------------------------------
async def ask_member(ctx: Context) -> None:
    units = await taskforce.member_candidates(ctx.app.db, int(ctx.draft["project_id"]))
    buttons = [Button(u.name(ctx.locale), f"m{u.id}") for u in units]
    ctx.say(ctx._("taskforce.ask.member"), Keyboard.grid(buttons, width=2))


async def on_member(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("m") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    try:
        unit = await taskforce.add_member(
            ctx.app.db, member=ctx.user, project_id=int(ctx.draft["project_id"]), unit_id=int(data[1:]), now=ctx.now()
        )
    except TaskForceError as exc:
        return ctx.again(f"taskforce.err.{exc.code}")
    ctx.say(ctx._("taskforce.member_added", unit=unit.name(ctx.locale)))
    return ctx.goto("overview")


# -- an approval ------------------------------------------------------------------------------
async def ask_approval(ctx: Context) -> None:
    view = await current(ctx)
    approvals = view.approvals if view else []
    buttons = [
        Button(f"{a.kind.name(ctx.locale)} · {approval_state_name(ctx._, a.item.state)}", f"a{a.id}") for a in approvals
    ]
    ctx.say(ctx._("taskforce.ask.approval"), Keyboard.grid(buttons, width=2))


async def on_approval(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    view = await current(ctx)
    ids = {a.id: a for a in view.approvals} if view else {}
    if not data.startswith("a") or not data[1:].isdigit() or int(data[1:]) not in ids:
        return ctx.again("core.err.use_buttons")
    ctx.draft["approval"] = int(data[1:])
    ctx.draft["approval_name"] = ids[int(data[1:])].kind.name(ctx.locale)
    return ctx.goto("approval_state")


async def ask_approval_state(ctx: Context) -> None:
    states = (ApprovalState.IN_PROGRESS, ApprovalState.DONE, ApprovalState.NOT_NEEDED, ApprovalState.PENDING)
    buttons = [Button(approval_state_name(ctx._, s), f"s{s.value}") for s in states]
    ctx.say(ctx._("taskforce.ask.approval_state", kind=ctx.draft["approval_name"]), Keyboard.grid(buttons, width=2))


async def on_approval_state(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("s") or data[1:] not in {s.value for s in ApprovalState}:
        return ctx.again("core.err.use_buttons")
    state = ApprovalState(data[1:])
    if state is ApprovalState.IN_PROGRESS:
        return ctx.goto("approval_handler")
    return await save_approval(ctx, ApprovalChange(state))


async def ask_approval_handler(ctx: Context) -> None:
    ctx.say(ctx._("taskforce.ask.handler", kind=ctx.draft["approval_name"]))


async def on_approval_handler(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    ctx.draft["approval_handler"] = answer
    return ctx.goto("approval_mode")


async def ask_approval_mode(ctx: Context) -> None:
    buttons = [Button(ctx._(f"approval.mode.{m.value}"), f"o{m.value}") for m in ApprovalMode]
    ctx.say(ctx._("taskforce.ask.mode", kind=ctx.draft["approval_name"]), Keyboard.grid(buttons, width=2))


async def on_approval_mode(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("o") or data[1:] not in {m.value for m in ApprovalMode}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["approval_mode"] = data[1:]
    return ctx.goto("approval_due")


async def ask_approval_due(ctx: Context) -> None:
    ask_future_day(ctx, ctx._("taskforce.ask.approval_due", kind=ctx.draft["approval_name"]))


async def on_approval_due(ctx: Context, msg: Incoming) -> Next:
    day = read_future_day(ctx, msg)
    if isinstance(day, Next):
        return day
    change = ApprovalChange(
        ApprovalState.IN_PROGRESS,
        handler=str(ctx.draft.pop("approval_handler")),
        mode=ApprovalMode(str(ctx.draft.pop("approval_mode"))),
        due_on=day,
    )
    return await save_approval(ctx, change)


async def save_approval(ctx: Context, change: ApprovalChange) -> Next:
    try:
        await taskforce.update_approval(
            ctx.app.db,
            member=ctx.user,
            item_id=int(ctx.draft.pop("approval")),
            change=change,
            today=today(ctx),
            now=ctx.now(),
        )
    except TaskForceError as exc:
        ctx.say(ctx._(f"taskforce.err.{exc.code}"))
        return ctx.goto("overview")
    name = ctx.draft.pop("approval_name", "")
    ctx.say(ctx._("taskforce.approval_saved", kind=name, state=approval_state_name(ctx._, change.state.value)))
    return ctx.goto("overview")


TASKFORCE = Flow(
    name="taskforce",
    command="taskforce",
    roles=frozenset(ROLES),
    start=PICK.start,
    title_key="flow.taskforce",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={
        "pick": PICK.step(),
        "overview": Step(ask_overview, on_overview),
        "task_title": Step(ask_task_title, on_task_title),
        "task_owner": Step(ask_task_owner, on_task_owner),
        "task_due": Step(ask_task_due, on_task_due),
        "done": Step(ask_done, on_done),
        "member": Step(ask_member, on_member),
        "approval": Step(ask_approval, on_approval),
        "approval_state": Step(ask_approval_state, on_approval_state),
        "approval_handler": Step(ask_approval_handler, on_approval_handler),
        "approval_mode": Step(ask_approval_mode, on_approval_mode),
        "approval_due": Step(ask_approval_due, on_approval_due),
    },
)


# -- reminders, from the scheduler ------------------------------------------------------------
def _notice_text(_: Translator, notice: TaskNotice) -> str:
    return _(
        f"taskforce.told.{notice.kind}",
        number=notice.project.id,
        name=notice.project.name,
        task=notice.task.title,
        owner=notice.owner.full_name,
        due=notice.task.due_on.isoformat(),
    )


async def send_task_notices(app: App, day: date) -> int:
    """Queue every task reminder owed on ``day``; each notice's key makes it go once per person."""
    queued = 0
    for notice in await taskforce.task_notices(app.db, day):
        recipients: list[User] = notice.recipients

        def build(_: Translator, notice: TaskNotice = notice) -> list[Reply]:
            return [Reply(_notice_text(_, notice))]

        queued += await tell(app, recipients, build, kind=notice.kind, key=notice.key)
    return queued


def register(registry: Registry) -> None:
    registry.add_flow(TASKFORCE)
