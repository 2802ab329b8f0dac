"""Projects under first-talk first-report (§14): register, progress, transfer, leaders, lagging.

/project    [one message] enterprise → [another unit's active project with it: same one → dispute
            | a different one → why] → only what is missing: name → chain → planned investment
            → summary (first-talk date today, stage first talk, no description: shown, corrected
            there) → save   [the same project registered first by another unit → dispute → reason]
/projects   what the person may see; ``/projects <number>`` a project's card and history
/lagging    projects whose stage and funds have not moved for ``lagging_after_days``

/progress and /transfer (handlers/progress.py, handlers/transfer.py) use the card and the
project picking defined here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypedDict, cast

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core.i18n import Translator, translate
from bot.core.registry import Registry
from handlers.answers import ask_past_day, read_money, read_past_day, today
from handlers.confirm import edit_buttons, field_to_correct, summary_keyboard
from handlers.disputes import ruling_keyboard
from handlers.landing_card import force_lines
from handlers.lookup import MAX_NAME as LOOKUP_MAX
from handlers.lookup import EnterpriseLookup, enterprise_label
from handlers.notify import tell, tell_bureau
from models import STAGE_ORDER, LeaderLevel, Role, Stage
from services import enterprises, members, projects, taskforce
from services.access import Purpose
from services.fieldtext import parse_project_text
from services.freetext import ChainHint
from services.money import format_money
from services.projects import AlreadyRegistered, ProjectDraft, ProjectError, ProjectRow, ReviewsMissing

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


@dataclass(frozen=True)
class ProjectPick:
    """The "which project?" opening of a flow that works on one of the person's active projects:
    ``/command <number>`` goes straight on to ``then``; otherwise the step ``pick`` asks."""

    question: str  # the catalog key of the question
    then: str
    # What the chosen project must allow: working on it, or only seeing it (a task force's overview).
    purpose: Purpose = Purpose.WORK
    # Offer only projects still under way; /progress may also reopen a dropped one.
    active_only: bool = True
    # How ``/command <number>`` opens its project, when the flow reads it its own way.
    open: Callable[[Context, int], Awaitable[Next]] | None = None

    async def start(self, ctx: Context, msg: Incoming) -> Next:
        number = typed_number(msg.args)
        if number is not None:
            return await (self.open(ctx, number) if self.open else choose(ctx, number, self.then, self.purpose))
        if not await projects.visible(
            ctx.app.db, ctx.user, purpose=Purpose.WORK, active_only=self.active_only, limit=1
        ):
            ctx.say(ctx._("project.progress.none"))
            return ctx.done()
        return ctx.goto("pick")

    async def ask(self, ctx: Context) -> None:
        rows = await projects.visible(
            ctx.app.db, ctx.user, purpose=Purpose.WORK, active_only=self.active_only, limit=PICK_BUTTONS
        )
        ctx.say(ctx._(self.question), pick_keyboard(rows))

    async def on_answer(self, ctx: Context, msg: Incoming) -> Next:
        answer = await choose_picked(ctx, msg, self.then, self.purpose)
        if isinstance(answer, Next):
            return answer
        return ctx.again("project.err.pick")

    def step(self) -> Step:
        return Step(self.ask, self.on_answer)


# == /project: register ====================================================================
class ProjectFields(TypedDict, total=False):
    """What a registration has gathered; a key is there once it is known."""

    enterprise_id: int
    enterprise_name: str
    credit_code: str
    candidates: list[list[Any]]
    name: str
    chain_id: int | None
    amount: int
    first_talk: str  # ISO day
    stage: str
    description: str
    # Other units' active projects with the enterprise: [project id, unit zh, unit en, day].
    others: list[list[Any]]
    different_from: list[int]
    why_different: str
    different_for: int  # the enterprise they were said of
    first: dict[str, Any]  # the project disputed: see :func:`refuse`


def project_draft(ctx: Context) -> ProjectFields:
    return cast(ProjectFields, ctx.draft)


# Which draft key each step fills, in the order they are asked; the summary comes after.
ORDER = (
    ("enterprise_name", "enterprise"),
    ("name", "name"),
    ("chain_id", "chain"),
    ("amount", "amount"),
    ("first_talk", "first_talk"),
    ("stage", "stage"),
    ("description", "description"),
)


async def next_missing(ctx: Context) -> Next:
    """The registration's one next-step rule: the first thing still missing, else the summary."""
    return ctx.missing(ORDER)


def stage_words() -> dict[str, str]:
    """Every name of a stage, in each language, to the stage: for reading one message."""
    return {
        translate(locale, f"stage.{s.value}").casefold(): s.value
        for s in (*STAGE_ORDER, Stage.DROPPED)
        for locale in ("zh", "en")
    }


async def register_start(ctx: Context, msg: Incoming) -> Next:
    """Register a first-talk project for the person's unit; ``/project <one message>`` fills what it says."""
    draft = project_draft(ctx)
    chains = await enterprises.chains(ctx.app.db)
    hints = [ChainHint(c.id, (c.name_zh, c.name_en, *c.keyword_list())) for c in chains if c.id is not None]
    guess = parse_project_text(" ".join(msg.args.split())[:1000], hints, stage_words())
    if guess.name:
        draft["name"] = guess.name[:MAX_NAME]
    if guess.chain_id is not None:
        draft["chain_id"] = guess.chain_id
    if guess.amount_yuan:
        draft["amount"] = guess.amount_yuan
    # Shown on the summary, not asked: most projects are registered the day of the first talk.
    draft.setdefault("first_talk", today(ctx).isoformat())
    draft["stage"] = guess.stage if guess.stage in {s.value for s in STAGE_ORDER} else Stage.FIRST_TALK.value
    draft.setdefault("description", "")
    if guess.credit_code:
        return await LOOKUP.take_code(ctx, guess.credit_code)
    if guess.enterprise:
        return await LOOKUP.take_name(ctx, guess.enterprise[:LOOKUP_MAX])
    return ctx.goto("enterprise")


async def after_enterprise(ctx: Context) -> Next:
    """Another unit's active project with this enterprise is shown before anything else is asked."""
    draft = project_draft(ctx)
    enterprise_id = draft.get("enterprise_id")
    draft.pop("others", None)
    if draft.get("different_for") != enterprise_id:
        # What was said about another enterprise's projects does not carry over.
        draft.pop("different_for", None)
        draft.pop("different_from", None)
        draft.pop("why_different", None)
    if "name" in draft and enterprise_id:
        # A name that is the other unit's project: say who was first, plainly.
        refused = await check_first(ctx, draft["name"])
        if refused is not None:
            return refused
    if enterprise_id and ctx.user.unit_id is not None and "why_different" not in draft:
        others = await projects.active_of_others(ctx.app.db, enterprise_id=int(enterprise_id), unit_id=ctx.user.unit_id)
        if others:
            draft["others"] = [
                [o.project_id, o.unit_zh, o.unit_en, o.registered_at.astimezone(ctx.app.tz).date().isoformat()]
                for o in others
            ]
            return ctx.goto("others")
    return await next_missing(ctx)


LOOKUP = EnterpriseLookup("project.ask.enterprise", after=after_enterprise)


# -- another unit's project with the same enterprise ---------------------------------------------
def other_unit(ctx: Context, row: list[Any]) -> str:
    return str(row[2] if ctx.locale == "en" and row[2] else row[1])


async def ask_others(ctx: Context) -> None:
    others = project_draft(ctx).get("others", [])
    lines = "\n".join(ctx._("project.others.line", unit=other_unit(ctx, o), date=o[3]) for o in others)
    buttons = [Button(ctx._("project.others.same", unit=other_unit(ctx, o), date=o[3]), f"same{o[0]}") for o in others]
    buttons += [Button(ctx._("project.others.different"), "different"), Button(ctx._("project.refused.drop"), "drop")]
    ctx.say(
        ctx._("project.others", enterprise=project_draft(ctx).get("enterprise_name", ""), lines=lines),
        Keyboard.column(buttons),
    )


async def on_others(ctx: Context, msg: Incoming) -> Next:
    draft = project_draft(ctx)
    data = ctx.choice(msg) or ""
    others = {int(o[0]): o for o in draft.get("others", [])}
    if data == "drop":
        ctx.say(ctx._("project.discarded"))
        return ctx.done()
    if data == "different":
        return ctx.goto("why_different")
    if data.startswith("same") and data[4:].isdigit() and int(data[4:]) in others:
        chosen = others[int(data[4:])]
        draft["first"] = {"project_id": chosen[0], "unit_zh": chosen[1], "unit_en": chosen[2], "at": chosen[3]}
        return ctx.goto("dispute")
    return ctx.again("core.err.use_buttons")


async def ask_why_different(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.why_different"))


async def on_why_different(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    draft = project_draft(ctx)
    draft["why_different"] = answer
    draft["different_from"] = [int(o[0]) for o in draft.pop("others", [])]
    if "enterprise_id" in draft:
        draft["different_for"] = draft["enterprise_id"]
    if "name" in draft:
        refused = await check_first(ctx, draft["name"])
        if refused is not None:
            return refused
    return await next_missing(ctx)


# -- name, chain, amount, first talk, stage, description ------------------------------------------
async def ask_name(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.name", enterprise=ctx.draft.get("enterprise_name", "")))


async def check_first(ctx: Context, name: str) -> Next | None:
    """The same project registered by some unit already: said now rather than at the end (saving checks again)."""
    enterprise_id = project_draft(ctx).get("enterprise_id")
    if not enterprise_id:
        return None
    first = await projects.registered_first(
        ctx.app.db, enterprise_id=int(enterprise_id), name=name, unit_id=ctx.user.unit_id
    )
    return refuse(ctx, first) if first is not None else None


async def on_name(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    project_draft(ctx)["name"] = answer
    refused = await check_first(ctx, answer)
    if refused is not None:
        return refused
    return await next_missing(ctx)


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
    project_draft(ctx)["chain_id"] = chain_id or None
    return await next_missing(ctx)


async def ask_amount(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.amount"))


async def on_amount(ctx: Context, msg: Incoming) -> Next:
    amount = read_money(ctx, msg)
    if isinstance(amount, Next):
        return amount
    project_draft(ctx)["amount"] = amount
    return await next_missing(ctx)


async def ask_first_talk(ctx: Context) -> None:
    ask_past_day(ctx, ctx._("project.ask.first_talk"), ctx._("project.date.today"), ctx._("project.date.yesterday"))


async def on_first_talk(ctx: Context, msg: Incoming) -> Next:
    day = read_past_day(ctx, msg, unreadable="project.err.date", future="project.err.future")
    if isinstance(day, Next):
        return day
    project_draft(ctx)["first_talk"] = day.isoformat()
    return await next_missing(ctx)


async def ask_stage(ctx: Context) -> None:
    buttons = [Button(stage_name(ctx._, s.value), f"s{s.value}") for s in STAGE_ORDER]
    ctx.say(ctx._("project.ask.stage"), Keyboard.grid(buttons, width=3))


async def on_stage(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("s") or data[1:] not in {s.value for s in STAGE_ORDER}:
        return ctx.again("core.err.use_buttons")
    project_draft(ctx)["stage"] = data[1:]
    return await next_missing(ctx)


async def ask_description(ctx: Context) -> None:
    ctx.say(ctx._("project.ask.description"))


async def on_description(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    project_draft(ctx)["description"] = answer
    return await next_missing(ctx)


async def ask_confirm(ctx: Context) -> None:
    draft = project_draft(ctx)
    chain_id = draft.get("chain_id")
    chain = await enterprises.get_chain(ctx.app.db, chain_id) if chain_id else None
    text = ctx._(
        "project.summary",
        enterprise=enterprise_label(ctx, dict(draft), "project.summary.new_enterprise"),
        name=draft.get("name", ""),
        chain=chain.name(ctx.locale) if chain else ctx._("project.chain.unsure"),
        amount=money(ctx._, draft.get("amount")),
        first_talk=draft.get("first_talk", ""),
        stage=stage_name(ctx._, draft.get("stage")),
        description=draft.get("description") or ctx._("project.description.none"),
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
    draft = project_draft(ctx)
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
                different_from=tuple(draft.get("different_from", [])),
                why_different=draft.get("why_different", ""),
            ),
            now=ctx.now(),
            today=today(ctx),
        )
    except AlreadyRegistered as exc:
        return refuse(ctx, exc.first)
    except ReviewsMissing as exc:
        return ctx.again("signing.err.register_landed", **exc.words(ctx._))
    assert project.id is not None
    ctx.say(ctx._("project.saved", number=project.id, name=project.name))
    if draft.get("different_from"):
        await tell_bureau_different(ctx, project.id)
    if project.leader_level_needed:
        level = LeaderLevel(project.leader_level_needed)
        await ask_bureau_for_leader(ctx, project.id, level)
        ctx.say(ctx._("project.leader.asked", level=ctx._(f"leader_level.{level.value}")))
    return ctx.done()


async def tell_bureau_different(ctx: Context, project_id: int) -> None:
    """A project registered beside another unit's with the same enterprise: the bureau sees why."""
    user, draft = ctx.user, project_draft(ctx)
    rows = [await projects.card_of(ctx.app.db, pid) for pid in draft.get("different_from", [])]

    def build(_: Translator) -> list[Reply]:
        lines = "\n".join(
            _("project.others.line", unit=r.first_talk.name(_.locale), date=r.project.first_talk_date.isoformat())
            + f" #{r.id} {r.project.name}"
            for r in rows
            if r is not None
        )
        text = _(
            "project.different.told",
            number=project_id,
            name=draft.get("name", ""),
            enterprise=draft.get("enterprise_name", ""),
            unit=user.unit_name(_.locale),
            person=user.full_name,
            lines=lines,
            reason=draft.get("why_different", ""),
        )
        return [Reply(text)]

    await tell_bureau(ctx.app, build, kind="project_beside", key=f"project_beside:{project_id}")


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
    dispute_id = dispute.id
    assert dispute_id is not None
    user, name = ctx.user, str(ctx.draft.get("name") or ctx.draft.get("enterprise_name", ""))
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
                ),
                ruling_keyboard(_, dispute_id),
            )
        ]

    await tell_bureau(ctx.app, build, kind="dispute", key=f"dispute:{dispute_id}")
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
        "others": Step(ask_others, on_others),
        "why_different": Step(ask_why_different, on_why_different),
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
        ctx.notice(ctx._(f"project.err.{exc.code}", number=head, **exc.words(ctx._)), alert=True)
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
    elif event.action == "registered":
        unit = await members.get_unit(ctx.app.db, int(d["unit_id"]))
        different = d.get("different_from") or []
        reason = d.get("reason", "")
        numbers = ", ".join(f"#{n}" for n in different)
        params = {
            "unit": unit.name(ctx.locale) if unit else "",
            "reason": ctx._("project.event.different", numbers=numbers, reason=reason) if different else "",
        }
    elif event.action == "disputed":
        unit = await members.get_unit(ctx.app.db, int(d["unit_id"]))
        params = {"unit": unit.name(ctx.locale) if unit else "", "reason": d.get("reason", "")}
    elif event.action == "dispute_ruled":
        units = await projects.unit_names(ctx.app.db, {int(d["first_unit_id"]), int(d["claimant_unit_id"])})
        ruling = ctx._(
            f"dispute.ruling.{d.get('ruling')}",
            first=units[int(d["first_unit_id"])].name(ctx.locale),
            claimant=units[int(d["claimant_unit_id"])].name(ctx.locale),
        )
        params = {"number": d.get("dispute_id", ""), "ruling": ruling, "reason": d.get("reason", "")}
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
