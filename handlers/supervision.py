"""§16: /ask — a city leader asks a unit (点题询问); /supervise — the bureau's joint supervision list.

/ask:       unit → project or indicator → question → answer by → sent (the unit answers with
            the button on it, in ``question_answer``; a late answer goes to the bureau too)
/supervise: list → (new: project number or unit → issue | action: item → what was done → go on or close)*
"""

from __future__ import annotations

from datetime import date

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.app import App
from bot.core.conversation import Action, Context, Flow, Next, Step, action_data
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.answers import today
from handlers.notify import tell, tell_bureau
from handlers.project import MAX_DESCRIPTION, PICK_BUTTONS, typed_number
from handlers.taskforce import ask_future_day, read_future_day
from models import Role
from services import members, supervision
from services.supervision import QuestionRow, SupervisedRow, SupervisionError

ASK_ROLES = frozenset({Role.LEADER, Role.BUREAU})
ANSWER_ROLES = frozenset({Role.COUNTY, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE})
BUREAU = frozenset({Role.BUREAU})


def question_text(_: Translator, row: QuestionRow) -> str:
    about = (
        _("supervision.about.project", number=row.project.id, name=row.project.name)
        if row.project
        else _("supervision.about.indicators")
    )
    return _(
        "supervision.question",
        number=row.id,
        leader=row.leader.full_name,
        unit=row.unit.name(_.locale),
        about=about,
        question=row.question.question,
        due=row.question.due_on.isoformat(),
    )


# == /ask ======================================================================================
async def ask_start(ctx: Context, msg: Incoming) -> Next:
    """Choose the unit to ask."""
    return ctx.goto("unit")


async def ask_unit(ctx: Context) -> None:
    units = await supervision.askable_units(ctx.app.db)
    ctx.say(ctx._("supervision.ask.unit"), Keyboard.grid([Button(u.name(ctx.locale), f"u{u.id}") for u in units], 2))


async def on_unit(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    units = {u.id: u for u in await supervision.askable_units(ctx.app.db)}
    if not data.startswith("u") or not data[1:].isdigit() or int(data[1:]) not in units:
        return ctx.again("core.err.use_buttons")
    ctx.draft["unit_id"] = int(data[1:])
    ctx.draft["unit_name"] = units[int(data[1:])].name(ctx.locale)
    return ctx.goto("about")


async def ask_about(ctx: Context) -> None:
    rows = await supervision.unit_projects(ctx.app.db, int(ctx.draft["unit_id"]))
    buttons = [Button(ctx._("supervision.about.indicators_button"), "none")]
    buttons += [Button(f"#{p.id} {p.name}", f"p{p.id}") for p in rows[:PICK_BUTTONS]]
    ctx.say(ctx._("supervision.ask.about", unit=ctx.draft["unit_name"]), Keyboard.column(buttons))


async def on_about(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    projects = {p.id for p in await supervision.unit_projects(ctx.app.db, int(ctx.draft["unit_id"]))}
    if data == "none":
        ctx.draft["project_id"] = None
    elif data.startswith("p") and data[1:].isdigit() and int(data[1:]) in projects:
        ctx.draft["project_id"] = int(data[1:])
    else:
        return ctx.again("core.err.use_buttons")
    return ctx.goto("question")


async def ask_question(ctx: Context) -> None:
    ctx.say(ctx._("supervision.ask.question", unit=ctx.draft["unit_name"]))


async def on_question(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    ctx.draft["question"] = answer
    return ctx.goto("due")


async def ask_due(ctx: Context) -> None:
    ask_future_day(ctx, ctx._("supervision.ask.due", unit=ctx.draft["unit_name"]))


async def on_due(ctx: Context, msg: Incoming) -> Next:
    day = read_future_day(ctx, msg)
    if isinstance(day, Next):
        return day
    project = ctx.draft.get("project_id")
    try:
        row = await supervision.ask(
            ctx.app.db,
            member=ctx.user,
            unit_id=int(ctx.draft["unit_id"]),
            project_id=int(project) if project is not None else None,
            question=str(ctx.draft["question"]),
            due_on=day,
            now=ctx.now(),
        )
    except SupervisionError as exc:
        ctx.say(ctx._(f"supervision.err.{exc.code}"))
        return ctx.done()
    people = await members.people(ctx.app.db, unit_id=row.unit.id)

    def build(_: Translator) -> list[Reply]:
        button = Button(_("supervision.answer_button"), action_data("qa", row.id))
        return [Reply(question_text(_, row), Keyboard.column([button]))]

    told = await tell(ctx.app, people, build, kind="question", key=f"question:{row.id}")
    ctx.say(ctx._("supervision.asked" if told else "supervision.asked_nobody", unit=row.unit.name(ctx.locale)))
    return ctx.done()


ASK = Flow(
    name="ask",
    command="ask",
    roles=ASK_ROLES,
    start=ask_start,
    title_key="flow.ask",
    describe=lambda draft: str(draft.get("unit_name", "")),
    steps={
        "unit": Step(ask_unit, on_unit),
        "about": Step(ask_about, on_about),
        "question": Step(ask_question, on_question),
        "due": Step(ask_due, on_due),
    },
)


async def on_answer_button(ctx: Context, msg: Incoming, arg: str) -> None:
    row = await supervision.get(ctx.app.db, int(arg)) if arg.isdigit() else None
    if row is None or row.question.unit_id != ctx.user.unit_id:
        ctx.notice(ctx._("core.expired"))
        return
    ctx.start_flow("question_answer", {"question_id": row.id, "unit_name": row.unit.name(ctx.locale)})


async def answer_start(ctx: Context, msg: Incoming) -> Next:
    """Answer a leader's question (opened from the question's button)."""
    if "question_id" not in ctx.draft:
        ctx.say(ctx._("supervision.answer.from_button"))
        return ctx.done()
    return ctx.goto("answer")


async def ask_answer(ctx: Context) -> None:
    row = await supervision.get(ctx.app.db, int(ctx.draft["question_id"]))
    ctx.say(ctx._("supervision.ask.answer") + ("\n" + question_text(ctx._, row) if row else ""))


async def on_answer(ctx: Context, msg: Incoming) -> Next:
    text = ctx.text_answer(msg, max_len=2000)
    if isinstance(text, Next):
        return text
    try:
        row = await supervision.answer(
            ctx.app.db,
            member=ctx.user,
            question_id=int(ctx.draft["question_id"]),
            text=text,
            today=today(ctx),
            now=ctx.now(),
        )
    except SupervisionError as exc:
        ctx.say(ctx._(f"supervision.err.{exc.code}"))
        return ctx.done()

    def build(_: Translator) -> list[Reply]:
        key = "supervision.told.answered_late" if row.question.late else "supervision.told.answered"
        return [Reply(_(key, details=question_text(_, row), answer=row.question.answer))]

    await tell(ctx.app, [row.leader], build, kind="question_answered", key=f"question_answered:{row.id}")
    if row.question.late:
        await tell_bureau(ctx.app, build, kind="question_answered", key=f"question_answered_late:{row.id}")
    ctx.say(ctx._("supervision.answered"))
    return ctx.done()


ANSWER = Flow(
    name="question_answer",
    command="question_answer",
    roles=ANSWER_ROLES,
    start=answer_start,
    title_key="flow.question_answer",
    describe=lambda draft: str(draft.get("unit_name", "")),
    steps={"answer": Step(ask_answer, on_answer)},
)


async def send_question_escalations(app: App, day: date) -> int:
    """Questions unanswered past their deadline go to the bureau, once each."""
    queued = 0
    for row in await supervision.overdue_questions(app.db, day):

        def build(_: Translator, row: QuestionRow = row) -> list[Reply]:
            return [Reply(_("supervision.told.overdue", details=question_text(_, row)))]

        queued += await tell_bureau(app, build, kind="question_late", key=f"question_late:{row.id}")
    return queued


# == /supervise ================================================================================
def item_lines(_: Translator, row: SupervisedRow) -> list[str]:
    subject = (
        _("supervision.item.project", number=row.project.id, name=row.project.name)
        if row.project
        else (row.unit.name(_.locale) if row.unit else "")
    )
    lines = [_("supervision.item", number=row.id, subject=subject, issue=row.item.issue)]
    lines += [_("supervision.item.action", date=a.on_date.isoformat(), action=a.action) for a in row.actions]
    return lines


async def supervise_start(ctx: Context, msg: Incoming) -> Next:
    """The joint supervision list (§16)."""
    return ctx.goto("list")


async def ask_list(ctx: Context) -> None:
    rows = await supervision.open_items(ctx.app.db)
    lines = [ctx._("supervision.list.header", count=len(rows))]
    for row in rows:
        lines += item_lines(ctx._, row)
    buttons = [Button(ctx._("supervision.add"), "add")]
    if rows:
        buttons.append(Button(ctx._("supervision.act"), "act"))
    buttons.append(Button(ctx._("project.progress.finish"), "finish"))
    ctx.say("\n".join(lines), Keyboard.grid(buttons, width=3))


async def on_list(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "finish":
        ctx.say(ctx._("supervision.finished"))
        return ctx.done()
    if data == "add":
        return ctx.goto("subject")
    if data == "act":
        return ctx.goto("item")
    return ctx.again("core.err.use_buttons")


async def ask_subject(ctx: Context) -> None:
    units = await supervision.askable_units(ctx.app.db)
    buttons = [Button(u.name(ctx.locale), f"u{u.id}") for u in units]
    ctx.say(ctx._("supervision.ask.subject"), Keyboard.grid(buttons, width=2))


async def on_subject(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data.startswith("u") and data[1:].isdigit():
        ctx.draft["unit_id"], ctx.draft["project_id"] = int(data[1:]), None
        return ctx.goto("issue")
    answer = ctx.text_answer(msg, max_len=20)
    if isinstance(answer, Next):
        return answer
    number = typed_number(answer)
    if number is None:
        return ctx.again("supervision.err.subject")
    ctx.draft["unit_id"], ctx.draft["project_id"] = None, number
    return ctx.goto("issue")


async def ask_issue(ctx: Context) -> None:
    ctx.say(ctx._("supervision.ask.issue"))


async def on_issue(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    unit, project = ctx.draft.pop("unit_id", None), ctx.draft.pop("project_id", None)
    try:
        await supervision.add_item(
            ctx.app.db, member=ctx.user, project_id=project, unit_id=unit, issue=answer, now=ctx.now()
        )
    except SupervisionError as exc:
        ctx.say(ctx._(f"supervision.err.{exc.code}"))
        return ctx.goto("subject")
    ctx.say(ctx._("supervision.added"))
    return ctx.goto("list")


async def ask_item(ctx: Context) -> None:
    rows = await supervision.open_items(ctx.app.db)
    buttons = [Button(f"#{r.id} {r.item.issue[:30]}", f"i{r.id}") for r in rows[:PICK_BUTTONS]]
    ctx.say(ctx._("supervision.ask.item"), Keyboard.column(buttons))


async def on_item(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("i") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    ctx.draft["item_id"] = int(data[1:])
    return ctx.goto("action")


async def ask_action(ctx: Context) -> None:
    ctx.say(ctx._("supervision.ask.action"))


async def on_action(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    ctx.draft["action"] = answer
    return ctx.goto("close")


async def ask_close(ctx: Context) -> None:
    buttons = [Button(ctx._("supervision.keep_open"), "keep"), Button(ctx._("supervision.close"), "close")]
    ctx.say(ctx._("supervision.ask.close"), Keyboard.grid(buttons, width=2))


async def on_close(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data not in ("keep", "close"):
        return ctx.again("core.err.use_buttons")
    try:
        await supervision.add_action(
            ctx.app.db,
            member=ctx.user,
            item_id=int(ctx.draft.pop("item_id")),
            action=str(ctx.draft.pop("action")),
            on=today(ctx),
            now=ctx.now(),
            close=data == "close",
        )
    except SupervisionError as exc:
        ctx.say(ctx._(f"supervision.err.{exc.code}"))
        return ctx.goto("list")
    ctx.say(ctx._("supervision.action_recorded"))
    return ctx.goto("list")


SUPERVISE = Flow(
    name="supervise",
    command="supervise",
    roles=BUREAU,
    start=supervise_start,
    title_key="flow.supervise",
    steps={
        "list": Step(ask_list, on_list),
        "subject": Step(ask_subject, on_subject),
        "issue": Step(ask_issue, on_issue),
        "item": Step(ask_item, on_item),
        "action": Step(ask_action, on_action),
        "close": Step(ask_close, on_close),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(ASK)
    registry.add_flow(ANSWER, listed=False)
    registry.add_flow(SUPERVISE)
    registry.add_action(Action("qa", on_answer_button, roles=ANSWER_ROLES))
