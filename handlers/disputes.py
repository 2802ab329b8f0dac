"""First-talk disputes for the bureau: /disputes, a ruling with a reason, both units told.

    /disputes → a dispute → keep the first unit | give it to the claimant | two projects
    → reason → ruled: both units told, the project's history says so

The bureau's notice of a new dispute carries the same three buttons.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.notify import tell
from models import Role
from services import disputes, projects
from services.disputes import DisputeError, DisputeRow, Ruling

BUREAU = frozenset({Role.BUREAU})
MAX_REASON = 1000
LISTED = 20


def ruling_keyboard(_: Translator, dispute_id: int) -> Keyboard:
    return Keyboard.column(
        [Button(_(f"dispute.rule.{r.value}"), action_data("drl", f"{dispute_id}.{r.value}")) for r in Ruling]
    )


def ruling_text(_: Translator, ruling: Ruling, row: DisputeRow, first_unit: str) -> str:
    return _(f"dispute.ruling.{ruling.value}", first=first_unit, claimant=row.claimant.name(_.locale))


def dispute_text(_: Translator, row: DisputeRow, tz: ZoneInfo, now: datetime) -> str:
    return _(
        "dispute.item",
        number=row.id,
        project=row.project.id or 0,
        name=row.project.name,
        first=row.first.name(_.locale),
        claimant=row.claimant.name(_.locale),
        person=row.claimant_person.full_name,
        date=row.dispute.created_at.astimezone(tz).strftime("%Y-%m-%d"),
        days=(now - row.dispute.created_at).days,
        reason=row.dispute.reason,
    )


# -- /disputes ------------------------------------------------------------------------------
async def list_disputes(ctx: Context, msg: Incoming) -> None:
    """The disputes waiting for a ruling, oldest first, each with a button to rule on it."""
    rows = await disputes.open_disputes(ctx.app.db)
    if not rows:
        ctx.say(ctx._("dispute.list.empty"))
        return
    lines = [ctx._("dispute.list.header", count=len(rows))]
    lines += [dispute_text(ctx._, row, ctx.app.tz, ctx.now()) for row in rows[:LISTED]]
    buttons = [Button(ctx._("dispute.list.open", number=row.id), action_data("dsp", row.id)) for row in rows[:LISTED]]
    ctx.say("\n\n".join(lines), Keyboard.grid(buttons, width=3))


async def open_dispute(ctx: Context, msg: Incoming, arg: str) -> None:
    row = await disputes.get(ctx.app.db, int(arg)) if arg.isdigit() else None
    if row is None:
        ctx.notice(ctx._("core.expired"))
        return
    if row.dispute.status != "open":
        ctx.say(ctx._("dispute.err.closed", number=row.id))
        return
    ctx.say(dispute_text(ctx._, row, ctx.app.tz, ctx.now()), ruling_keyboard(ctx._, row.id))


# -- a ruling -------------------------------------------------------------------------------------
async def choose_ruling(ctx: Context, msg: Incoming, arg: str) -> None:
    """A ruling button (in the list or in the notice of the dispute): ask the reason."""
    head, _sep, ruling = arg.partition(".")
    if not head.isdigit() or ruling not in {r.value for r in Ruling}:
        ctx.notice(ctx._("core.expired"))
        return
    ctx.start_flow("dispute_rule", {"dispute_id": int(head), "ruling": ruling})


async def rule_start(ctx: Context, msg: Incoming) -> Next:
    if "dispute_id" not in ctx.draft:
        ctx.say(ctx._("dispute.rule.from_list"))
        return ctx.done()
    row = await disputes.get(ctx.app.db, int(ctx.draft["dispute_id"]))
    if row is None or row.dispute.status != "open":
        ctx.say(ctx._("dispute.err.closed", number=ctx.draft["dispute_id"]))
        return ctx.done()
    return ctx.goto("reason")


async def ask_reason(ctx: Context) -> None:
    row = await disputes.get(ctx.app.db, int(ctx.draft["dispute_id"]))
    if row is None:
        return
    ruling = ruling_text(ctx._, Ruling(ctx.draft["ruling"]), row, row.first.name(ctx.locale))
    ctx.say(ctx._("dispute.ask.reason", number=row.id, ruling=ruling))


async def on_reason(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    dispute_id, ruling = int(ctx.draft["dispute_id"]), Ruling(ctx.draft["ruling"])
    before = await disputes.get(ctx.app.db, dispute_id)
    try:
        row = await disputes.rule(
            ctx.app.db, member=ctx.user, dispute_id=dispute_id, ruling=ruling, reason=answer, now=ctx.now()
        )
    except DisputeError as exc:
        ctx.say(ctx._(f"dispute.err.{exc.code}", number=dispute_id))
        return ctx.done()
    first = before.first if before is not None else row.first

    def build(_: Translator) -> list[Reply]:
        text = _(
            "dispute.ruled.told",
            number=row.id,
            project=row.project.id or 0,
            name=row.project.name,
            ruling=ruling_text(_, ruling, row, first.name(_.locale)),
            reason=answer,
        )
        return [Reply(text)]

    units = {uid for uid in (first.id, row.claimant.id) if uid is not None}
    people = await projects.people_of(ctx.app.db, units)
    await tell(ctx.app, people, build, kind="dispute_ruled", key=f"dispute_ruled:{row.id}")
    ctx.say(ctx._("dispute.ruled", number=row.id, ruling=ruling_text(ctx._, ruling, row, first.name(ctx.locale))))
    return ctx.done()


RULE = Flow(
    name="dispute_rule",
    command="dispute_rule",
    roles=BUREAU,
    start=rule_start,
    title_key="flow.dispute_rule",
    describe=lambda draft: f"#{draft.get('dispute_id', '')}",
    steps={"reason": Step(ask_reason, on_reason)},
)


def register(registry: Registry) -> None:
    registry.add_command(Command("disputes", list_disputes, roles=BUREAU, help_key="help.disputes"))
    registry.add_flow(RULE, listed=False)
    registry.add_action(Action("dsp", open_dispute, roles=BUREAU))
    registry.add_action(Action("drl", choose_ruling, roles=BUREAU))
