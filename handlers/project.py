"""Projects under first-talk first-report (§14): register, progress, transfer, leaders, lagging.

/project    enterprise → name → chain → planned investment → first-talk date → stage
            → description → confirm   [registered first by another unit → dispute → reason]
/projects   what the person may see; ``/projects <number>`` a project's card and history
/lagging    projects whose stage and funds have not moved for ``lagging_after_days``

/progress and /transfer (handlers/progress.py, handlers/transfer.py) use the card and the
project picking defined here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core import Button, Incoming, Keyboard, Reply
from bot.i18n import Translator
from bot.router import Registry
from handlers.answers import ask_past_day, read_money, read_past_day, today
from handlers.confirm import edit_buttons, field_to_correct, summary_keyboard
from handlers.landing_card import force_lines
from handlers.lookup import EnterpriseLookup, enterprise_label
from handlers.notify import tell, tell_bureau
from models import STAGE_ORDER, LeaderLevel, Role, Stage
from services import enterprises, members, projects, taskforce
from services.access import Purpose
from services.money import format_money
from services.projects import AlreadyRegistered, ProjectDraft, ProjectError, ProjectRow

REGISTER_ROLES = frozenset({Role.COUNTY, Role.DEPARTMENT, Role.SOE})
SEE_ROLES = frozenset({Role.COUNTY, Role.DEPARTMENT, Role.SOE, Role.CHAIN_LEAD, Role.BUREAU, Role.LEADER})
BUREAU = frozenset({Role.BUREAU})
FIELDS = ("enterprise", "name", "chain", "amount", "first_talk", "stage", "description")
MAX_NAME = 200
MAX_DESCRIPTION = 500
MAX_REASON = 500
PICK_BUTTONS = 12


def stage_name(_: Translator, stage: str | None) -> str:
    return _(f"stage.{stage}") if stage else ""


def money(_: Translator, yuan: int | None) -> str:
    return format_money(yuan, _.locale) if yuan is not None else _("project.money.none")


def card(_: Translator, row: ProjectRow) -> str:
    project = row.project
    return _(
        "project.card",
        number=row.id,
        name=project.name,
        enterprise=row.enterprise.name,
        chain=row.chain.name(_.locale) if row.chain else _("project.chain.unsure"),
        stage=stage_name(_, project.stage),
        planned=money(_, project.planned_yuan),
        funds=money(_, project.funds_in_place_yuan),
        first_talk=row.first_talk.name(_.locale),
        first_talk_date=project.first_talk_date.isoformat(),
        executing=row.executing.name(_.locale),
        leader=row.leader.full_name if row.leader else _("project.leader.nobody"),
    )


async def choose(ctx: Context, project_id: int, then: str, purpose: Purpose = Purpose.WORK) -> Next:
    row = await projects.get(ctx.app.db, ctx.user, project_id, purpose)
    if row is None:
        # The same answer for "no such project" and "not yours": ids tell nothing.
        if ctx.step is None:  # from the command itself: there is no question to repeat
            ctx.say(ctx._("project.err.not_found", number=project_id))
            return ctx.done()
        return ctx.again("project.err.not_found", number=project_id)
    ctx.draft["project_id"] = row.id
    ctx.draft["project_name"] = row.project.name
    return ctx.goto(then)


async def chosen(ctx: Context, purpose: Purpose = Purpose.SEE) -> ProjectRow | None:
    """The project :func:`choose` put in the draft, read again: it may have moved since."""
    return await projects.get(ctx.app.db, ctx.user, int(ctx.draft["project_id"]), purpose)


def pick_keyboard(rows: list[ProjectRow]) -> Keyboard:
    return Keyboard.column([Button(f"#{r.id} {r.project.name} · {r.enterprise.name}", f"p{r.id}") for r in rows])


def typed_number(text: str) -> int | None:
    """A project's number as typed: ``12`` or ``#12``."""
    number = text.strip().lstrip("#")
    return int(number) if number.isdigit() else None


async def choose_picked(
    ctx: Context, msg: Incoming, then: str, purpose: Purpose = Purpose.WORK, *, max_len: int = 20
) -> Next | str:
    """Go on with the project pressed in :func:`pick_keyboard` or typed by number; else the text typed."""
    data = ctx.choice(msg)
    if data and data.startswith("p") and data[1:].isdigit():
        return await choose(ctx, int(data[1:]), then, purpose)
    answer = ctx.text_answer(msg, max_len=max_len)
    if isinstance(answer, Next):
        return answer
    number = typed_number(answer)
    if number is not None:
        return await choose(ctx, number, then, purpose)
    return answer


# == /project: register ====================================================================
async def register_start(ctx: Context, msg: Incoming) -> Next:
    """Register a first-talk project for the person's unit."""
    return ctx.goto("enterprise")


async def _after_enterprise(ctx: Context) -> Next:
    return ctx.then("name")


LOOKUP = EnterpriseLookup("project.ask.enterprise", after=_after_enterprise)


async def ask_name(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.name", enterprise=ctx.draft.get("enterprise_name", "")))


async def on_name(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    ctx.draft["name"] = answer
    enterprise_id = ctx.draft.get("enterprise_id")
    if enterprise_id:
        # Said now rather than after every other question: the save checks again.
        first = await projects.registered_first(ctx.app.db, enterprise_id=int(enterprise_id), name=answer)
        if first is not None:
            return refuse(ctx, first)
    return ctx.then("chain")


async def ask_chain(ctx: Context) -> None:
    chains = await enterprises.chains(ctx.app.db)
    buttons = [Button(f"{c.family} {c.name(ctx.locale)}", f"c{c.id}") for c in chains]
    buttons.append(Button(ctx._("project.chain.unsure"), "c0"))
    ctx.say(ctx._("project.ask.chain"), Keyboard.grid(buttons, width=2))


async def on_chain(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("c") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    chain_id = int(data[1:])
    if chain_id and await enterprises.get_chain(ctx.app.db, chain_id) is None:
        return ctx.again("core.err.use_buttons")
    ctx.draft["chain_id"] = chain_id or None
    return ctx.then("amount")


async def ask_amount(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.amount"))


async def on_amount(ctx: Context, msg: Incoming) -> Next:
    amount = read_money(ctx, msg)
    if isinstance(amount, Next):
        return amount
    ctx.draft["amount"] = amount
    return ctx.then("first_talk")


async def ask_first_talk(ctx: Context) -> None:
    ask_past_day(ctx, ctx._("project.ask.first_talk"), ctx._("project.date.today"), ctx._("project.date.yesterday"))


async def on_first_talk(ctx: Context, msg: Incoming) -> Next:
    day = read_past_day(ctx, msg, unreadable="project.err.date", future="project.err.future")
    if isinstance(day, Next):
        return day
    ctx.draft["first_talk"] = day.isoformat()
    return ctx.then("stage")


async def ask_stage(ctx: Context) -> None:
    buttons = [Button(stage_name(ctx._, s.value), f"s{s.value}") for s in STAGE_ORDER]
    ctx.say(ctx._("project.ask.stage"), Keyboard.grid(buttons, width=3))


async def on_stage(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("s") or data[1:] not in {s.value for s in STAGE_ORDER}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["stage"] = data[1:]
    return ctx.then("description")


async def ask_description(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.description"))


async def on_description(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    ctx.draft["description"] = answer
    return ctx.then("confirm")


async def ask_confirm(ctx: Context) -> None:
    draft = ctx.draft
    chain = await enterprises.get_chain(ctx.app.db, int(draft["chain_id"])) if draft.get("chain_id") else None
    text = ctx._(
        "project.summary",
        enterprise=enterprise_label(ctx, draft, "project.summary.new_enterprise"),
        name=draft.get("name", ""),
        chain=chain.name(ctx.locale) if chain else ctx._("project.chain.unsure"),
        amount=money(ctx._, draft.get("amount")),
        first_talk=draft.get("first_talk", ""),
        stage=stage_name(ctx._, draft.get("stage")),
        description=draft.get("description", ""),
        unit=ctx.user.unit_name(ctx.locale),
    )
    save = Button(ctx._("project.confirm.save"), "save")
    discard = Button(ctx._("project.confirm.discard"), "discard")
    ctx.say(
        text + "\n\n" + ctx._("project.ask.confirm"),
        summary_keyboard(save, edit_buttons(ctx, "project", FIELDS), discard),
    )


async def on_confirm(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "discard":
        ctx.say(ctx._("project.discarded"))
        return ctx.done()
    if (field := field_to_correct(ctx, data, FIELDS)) is not None:
        return ctx.goto(field)
    if data != "save":
        return ctx.again("project.err.confirm_buttons")
    draft = ctx.draft
    try:
        project = await projects.register(
            ctx.app.db,
            member=ctx.user,
            draft=ProjectDraft(
                enterprise_id=draft.get("enterprise_id"),
                enterprise_name=str(draft.get("enterprise_name", "")),
                credit_code=draft.get("credit_code"),
                name=str(draft["name"]),
                chain_id=draft.get("chain_id"),
                planned_yuan=int(draft["amount"]),
                first_talk_date=date.fromisoformat(draft["first_talk"]),
                stage=Stage(draft["stage"]),
                description=str(draft.get("description", "")),
            ),
            now=ctx.now(),
            today=today(ctx),
        )
    except AlreadyRegistered as exc:
        return refuse(ctx, exc.first)
    assert project.id is not None
    ctx.say(ctx._("project.saved", number=project.id, name=project.name))
    if project.leader_level_needed:
        level = LeaderLevel(project.leader_level_needed)
        await ask_bureau_for_leader(ctx, project.id, level)
        ctx.say(ctx._("project.leader.asked", level=ctx._(f"leader_level.{level.value}")))
    return ctx.done()


# -- registered first by someone else: the dispute ----------------------------------------------
def refuse(ctx: Context, first: projects.Registered) -> Next:
    at = first.registered_at.astimezone(ctx.app.tz).strftime("%Y-%m-%d %H:%M")
    if first.unit_id == ctx.user.unit_id:
        ctx.say(ctx._("project.refused.own", number=first.project_id, at=at))
        return ctx.done()
    ctx.draft["first"] = {
        "project_id": first.project_id,
        "unit_id": first.unit_id,
        "unit_zh": first.unit_zh,
        "unit_en": first.unit_en,
        "at": at,
    }
    return ctx.goto("refused")


async def ask_refused(ctx: Context) -> None:
    first = ctx.draft["first"]
    unit = first["unit_en"] if ctx.locale == "en" and first["unit_en"] else first["unit_zh"]
    ctx.say(
        ctx._("project.refused", unit=unit, at=first["at"]),
        Keyboard.column(
            [Button(ctx._("project.refused.dispute"), "dispute"), Button(ctx._("project.refused.drop"), "drop")]
        ),
    )


async def on_refused(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "drop":
        ctx.say(ctx._("project.discarded"))
        return ctx.done()
    if data == "dispute":
        return ctx.goto("dispute")
    return ctx.again("core.err.use_buttons")


async def ask_dispute(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.dispute"))


async def on_dispute(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=1000)
    if isinstance(answer, Next):
        return answer
    project_id = int(ctx.draft["first"]["project_id"])
    dispute = await projects.dispute(ctx.app.db, member=ctx.user, project_id=project_id, reason=answer, now=ctx.now())
    user, name = ctx.user, str(ctx.draft.get("name", ""))
    row = await projects.card_of(ctx.app.db, project_id)

    def build(_: Translator) -> list[Reply]:
        first = row.first_talk.name(_.locale) if row else ""
        return [
            Reply(
                _(
                    "project.disputed",
                    dispute=dispute.id,
                    number=project_id,
                    project=row.project.name if row else "",
                    first=first,
                    unit=user.unit_name(_.locale),
                    person=user.full_name,
                    name=name,
                    reason=answer,
                )
            )
        ]

    await tell_bureau(ctx.app, build, kind="dispute", key=f"dispute:{dispute.id}")
    ctx.say(ctx._("project.dispute.sent", number=dispute.id))
    return ctx.done()


def describe(draft: dict[str, Any]) -> str:
    return " · ".join(str(draft[k]) for k in ("enterprise_name", "name") if draft.get(k))


PROJECT = Flow(
    name="project",
    command="project",
    roles=REGISTER_ROLES,
    start=register_start,
    title_key="flow.project",
    describe=describe,
    steps={
        **LOOKUP.steps(),
        "name": Step(ask_name, on_name),
        "chain": Step(ask_chain, on_chain),
        "amount": Step(ask_amount, on_amount),
        "first_talk": Step(ask_first_talk, on_first_talk),
        "stage": Step(ask_stage, on_stage),
        "description": Step(ask_description, on_description),
        "confirm": Step(ask_confirm, on_confirm),
        "refused": Step(ask_refused, on_refused),
        "dispute": Step(ask_dispute, on_dispute),
    },
)


# == leader assignment §15 ===================================================================
async def ask_bureau_for_leader(ctx: Context, project_id: int, level: LeaderLevel) -> None:
    """Ask the bureau to assign a leader of ``level``, with a button per registered leader."""
    row = await projects.card_of(ctx.app.db, project_id)
    assert row is not None
    candidates = await projects.leaders(ctx.app.db, level)

    def build(_: Translator) -> list[Reply]:
        text = _(
            "project.leader.needed",
            level=_(f"leader_level.{level.value}"),
            details=card(_, row),
        )
        if not candidates:
            return [Reply(text + "\n" + _("project.leader.none_registered"))]
        buttons = [Button(u.full_name or str(u.id), action_data("asg", f"{project_id}.{u.id}")) for u in candidates]
        return [Reply(text, Keyboard.column(buttons))]

    planned = row.project.planned_yuan or 0
    await tell_bureau(ctx.app, build, kind="leader_needed", key=f"leader_needed:{project_id}:{level.value}:{planned}")


async def assign(ctx: Context, msg: Incoming, arg: str) -> None:
    """The bureau pressed a leader's button: assign, and tell the leader."""
    head, _sep, tail = arg.partition(".")
    if not head.isdigit() or not tail.isdigit():
        ctx.notice(ctx._("core.expired"))
        return
    try:
        project, leader = await projects.assign_leader(
            ctx.app.db, member=ctx.user, project_id=int(head), leader_user_id=int(tail), now=ctx.now()
        )
    except ProjectError as exc:
        ctx.notice(ctx._(f"project.err.{exc.code}", number=head), alert=True)
        return
    assert project.id is not None
    row = await projects.get(ctx.app.db, ctx.user, project.id)
    assert row is not None

    def build(_: Translator) -> list[Reply]:
        return [Reply(_("project.leader.assigned_to_you", details=card(_, row)))]

    await tell(ctx.app, [leader], build, kind="leader_assigned", key=f"leader_assigned:{project.id}:{leader.id}")
    ctx.edit(ctx._("project.leader.assigned", number=project.id, name=project.name, leader=leader.full_name))


# == /projects, a project's card, /lagging ======================================================
def row_line(_: Translator, row: ProjectRow) -> str:
    return _(
        "project.list.row",
        number=row.id,
        name=row.project.name,
        enterprise=row.enterprise.name,
        stage=stage_name(_, row.project.stage),
        planned=money(_, row.project.planned_yuan),
        unit=row.executing.name(_.locale),
    )


async def list_projects(ctx: Context, msg: Incoming) -> None:
    """What the person may see; ``/projects <number>`` shows one with its history."""
    number = typed_number(msg.args)
    if number is not None:
        await show_card(ctx, number)
        return
    rows = await projects.visible(ctx.app.db, ctx.user)
    if not rows:
        ctx.say(ctx._("project.list.empty"))
        return
    total = await projects.count_visible(ctx.app.db, ctx.user)
    lines = [ctx._("project.list.header", count=len(rows), total=total)] + [row_line(ctx._, r) for r in rows]
    buttons = [Button(f"#{r.id} {r.project.name}", action_data("pj", r.id)) for r in rows[:PICK_BUTTONS]]
    ctx.say("\n".join(lines), Keyboard.column(buttons))


async def open_card(ctx: Context, msg: Incoming, arg: str) -> None:
    if not arg.isdigit():
        ctx.notice(ctx._("core.expired"))
        return
    await show_card(ctx, int(arg))


async def show_card(ctx: Context, project_id: int) -> None:
    row = await projects.get(ctx.app.db, ctx.user, project_id)
    if row is None:
        ctx.say(ctx._("project.err.not_found", number=project_id))
        return
    events = await projects.history(ctx.app.db, project_id)
    lines = [card(ctx._, row)]
    force = await taskforce.summary_of(ctx.app.db, project_id)
    if force is not None and force.force is not None:
        lines += ["", *force_lines(ctx._, force, today(ctx), full=False)]
    lines += ["", ctx._("project.history.header")]
    lines += [await event_line(ctx, e) for e in events]
    ctx.say("\n".join(lines))


async def event_line(ctx: Context, event: projects.Event) -> str:
    """One history entry in words; unknown actions (added later) show by name."""
    d = event.detail
    when = event.at.astimezone(ctx.app.tz).strftime("%Y-%m-%d")
    params: dict[str, object] = {}
    if event.action == "stage":
        reason = d.get("reason")
        params = {
            "before": stage_name(ctx._, d.get("before")),
            "after": stage_name(ctx._, d.get("after")),
            "reason": ctx._("project.event.reason", reason=reason) if reason else "",
        }
    elif event.action in ("funds", "planned"):
        params = {"before": money(ctx._, d.get("before")), "after": money(ctx._, d.get("after"))}
    elif event.action == "transferred":
        units = await projects.unit_names(ctx.app.db, {int(d["from_unit_id"]), int(d["to_unit_id"])})
        params = {
            "from_unit": units[int(d["from_unit_id"])].name(ctx.locale),
            "to_unit": units[int(d["to_unit_id"])].name(ctx.locale),
            "reason": d.get("reason", ""),
        }
    elif event.action in ("registered", "disputed"):
        unit = await members.get_unit(ctx.app.db, int(d["unit_id"]))
        params = {"unit": unit.name(ctx.locale) if unit else "", "reason": d.get("reason", "")}
    elif event.action == "note":
        params = {"text": d.get("text", "")}
    elif event.action == "leader_needed":
        params = {"level": ctx._(f"leader_level.{d.get('level')}")}
    elif event.action == "review":
        params = {
            "kind": ctx._(f"signing.kind.{d.get('kind')}"),
            "reviewer": d.get("reviewer", ""),
            "date": d.get("reviewed_on", ""),
            "conclusion": d.get("conclusion", ""),
        }
    elif event.action == "signing_exception":
        missing = ctx._("signing.list_sep").join(ctx._(f"signing.kind.{k}") for k in d.get("missing", []))
        params = {"missing": missing, "reason": d.get("reason", "")}
    elif event.action in ("task_force_formed", "task_force_member"):
        unit = await members.get_unit(ctx.app.db, int(d["unit_id"]))
        params = {"unit": unit.name(ctx.locale) if unit else ""}
    elif event.action in ("task_added", "task_done"):
        params = {"title": d.get("title", ""), "owner": d.get("owner", ""), "due": d.get("due_on", "")}
    elif event.action == "approval":
        names = await taskforce.approval_kind_names(ctx.app.db, ctx.locale)
        params = {
            "kind": names.get(str(d.get("kind")), d.get("kind")),
            "state": ctx._(f"approval.state.{d.get('after')}"),
        }
    elif event.action in ("need_raised", "need_answered"):
        reason = d.get("reason")
        params = {
            "kind": ctx._(f"need.kind.{d.get('kind')}"),
            "size": d.get("size", ""),
            "needed_by": d.get("needed_by", ""),
            "state": ctx._(f"need.state.{d.get('after')}"),
            "reason": ctx._("project.event.reason", reason=reason) if reason else "",
        }
    elif event.action == "leader_assigned":
        leader = await members.get_user(ctx.app.db, int(d["after"]))
        params = {"leader": leader.full_name if leader else ""}
    else:
        return f"{when} {event.actor} {event.action}"
    return ctx._(
        "project.event.line", date=when, actor=event.actor, what=ctx._(f"project.event.{event.action}", **params)
    )


async def lagging_projects(ctx: Context, msg: Incoming) -> None:
    """Projects whose stage and funds have not moved for the bureau's number of days (§16)."""
    days = await projects.lagging_days(ctx.app.db)
    rows = await projects.lagging(ctx.app.db, ctx.now(), days, ctx.user)
    if not rows:
        ctx.say(ctx._("project.lagging.none", days=days))
        return
    lines = [ctx._("project.lagging.header", count=len(rows), days=days)]
    for row in rows:
        idle = (ctx.now() - row.project.last_progress_at).days
        lines.append(row_line(ctx._, row) + ctx._("project.lagging.idle", days=idle))
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_flow(PROJECT)
    registry.add_command(Command("projects", list_projects, roles=SEE_ROLES, help_key="help.projects"))
    registry.add_command(Command("lagging", lagging_projects, roles=SEE_ROLES, help_key="help.lagging"))
    registry.add_action(Action("pj", open_card, roles=SEE_ROLES))
    registry.add_action(Action("asg", assign, roles=BUREAU))
