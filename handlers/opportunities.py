"""/opportunities — the scenario opportunity lists (§12).

list → opportunity (details; who is interested, for its owner and the bureau)
     → log an enterprise's interest: enterprise … → what it wants → opportunity
list → publish (owner departments): scenario → title → size → conditions → deadline → opportunity

Logging an interest saves it as the unit's lead and tells the owner department.
"""

from __future__ import annotations

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.answers import read_money, today
from handlers.lookup import EnterpriseLookup, clear_enterprise
from handlers.notify import tell
from models import Role
from services import members, opportunities
from services.dates import InvalidDate, parse_day
from services.money import format_money
from services.opportunities import Listed

OPPORTUNITY_ROLES = frozenset(Role) - {Role.LEADER}
MAX_BUTTONS = 20
MAX_PLAN = 300


def _scenario_name(names: dict[str, opportunities.Scenario], code: str, locale: str) -> str:
    return names[code].name(locale) if code in names else code


async def start(ctx: Context, msg: Incoming) -> Next:
    return ctx.goto("list")


async def ask_list(ctx: Context) -> None:
    listed = await opportunities.open_list(ctx.app.db, today(ctx))
    names = {s.code: s for s in await opportunities.scenarios(ctx.app.db)}
    lines = [ctx._("net.opp.header", count=len(listed))]
    for item in listed[:MAX_BUTTONS]:
        o = item.opportunity
        lines.append(
            ctx._(
                "net.opp.row",
                number=o.id,
                scenario=_scenario_name(names, o.scenario, ctx.locale),
                title=o.title,
                size=format_money(o.size_yuan or 0, ctx.locale),
                deadline=o.deadline.isoformat() if o.deadline else "—",
                owner=item.owner.name(ctx.locale),
                interested=item.interested,
            )
        )
    if not listed:
        lines.append(ctx._("net.opp.empty"))
    buttons = [Button(f"#{i.opportunity.id} {i.opportunity.title}"[:60], f"o{i.opportunity.id}") for i in listed]
    if await opportunities.publishable(ctx.app.db, ctx.user):
        buttons.append(Button(ctx._("net.opp.publish"), "publish"))
    buttons.append(Button(ctx._("net.close"), "close"))
    ctx.say("\n".join(lines), Keyboard.column(buttons[: MAX_BUTTONS + 2]))


async def on_list(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data == "close":
        ctx.say(ctx._("net.closed"))
        return ctx.done()
    if data == "publish" and await opportunities.publishable(ctx.app.db, ctx.user):
        return ctx.goto("scenario")
    if data.startswith("o") and data[1:].isdigit() and await opportunities.get(ctx.app.db, int(data[1:])):
        ctx.draft["opportunity_id"] = int(data[1:])
        return ctx.goto("opportunity")
    return ctx.again("core.err.use_buttons")


async def _listed(ctx: Context) -> Listed:
    listed = await opportunities.get(ctx.app.db, int(ctx.draft["opportunity_id"]))
    assert listed is not None
    return listed


async def ask_opportunity(ctx: Context) -> None:
    listed = await _listed(ctx)
    o = listed.opportunity
    names = {s.code: s for s in await opportunities.scenarios(ctx.app.db)}
    lines = [
        ctx._(
            "net.opp.card",
            title=o.title,
            scenario=_scenario_name(names, o.scenario, ctx.locale),
            owner=listed.owner.name(ctx.locale),
            size=format_money(o.size_yuan or 0, ctx.locale),
            conditions=o.conditions,
            deadline=o.deadline.isoformat() if o.deadline else "—",
        )
    ]
    if opportunities.sees_interest(ctx.user, listed):
        rows = await opportunities.interested(ctx.app.db, int(o.id or 0))
        lines.append(ctx._("net.opp.interested", count=len(rows)))
        lines += [
            ctx._(
                "net.opp.interested_row",
                enterprise=r.enterprise,
                unit=r.unit.name(ctx.locale),
                lead=r.lead_id,
                date=r.at.astimezone(ctx.app.tz).date().isoformat(),
            )
            for r in rows
        ]
    else:
        lines.append(ctx._("net.opp.interested", count=listed.interested))
    buttons = []
    if ctx.user.role in opportunities.PITCHERS and ctx.user.unit_id is not None:
        buttons.append(Button(ctx._("net.opp.log_interest"), "interest"))
    buttons.append(Button(ctx._("net.back"), "back"))
    ctx.say("\n".join(lines), Keyboard.grid(buttons, width=2))


async def on_opportunity(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "interest" and ctx.user.role in opportunities.PITCHERS and ctx.user.unit_id is not None:
        clear_enterprise(ctx.draft)
        return ctx.goto("enterprise")
    if data == "back":
        return ctx.goto("list")
    return ctx.again("core.err.use_buttons")


# -- an enterprise's interest ----------------------------------------------------------------
async def _after_enterprise(ctx: Context) -> Next:
    return ctx.goto("plan")


ENTERPRISE = EnterpriseLookup("net.opp.ask.enterprise", after=_after_enterprise)


async def ask_plan(ctx: Context) -> None:
    ctx.say(ctx._("net.opp.ask.plan"))


async def on_plan(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_PLAN)
    if isinstance(answer, Next):
        return answer
    listed = await _listed(ctx)
    saved = await opportunities.log_interest(
        ctx.app.db,
        member=ctx.user,
        opportunity_id=int(ctx.draft["opportunity_id"]),
        enterprise_id=ctx.draft.get("enterprise_id"),
        enterprise_name=str(ctx.draft.get("enterprise_name", "")),
        credit_code=ctx.draft.get("credit_code"),
        plan=answer,
        now=ctx.now(),
    )
    clear_enterprise(ctx.draft)
    if saved is None:
        ctx.say(ctx._("net.opp.closed"))
        return ctx.goto("list")
    lead, enterprise = saved
    ctx.say(ctx._("net.opp.interest_saved", enterprise=enterprise.name, title=listed.opportunity.title, lead=lead.id))
    unit = ctx.user.unit_name

    def build(_: Translator) -> list[Reply]:
        return [
            Reply(
                _(
                    "net.opp.owner_told",
                    enterprise=enterprise.name,
                    title=listed.opportunity.title,
                    unit=unit(_.locale),
                    plan=answer,
                )
            )
        ]

    owners = await members.people(ctx.app.db, unit_id=listed.owner.id)
    await tell(ctx.app, owners, build, kind="opportunity_interest", key=f"opportunity_interest:{lead.id}")
    return ctx.goto("opportunity")


# -- publish ------------------------------------------------------------------------------------
async def ask_scenario(ctx: Context) -> None:
    own = await opportunities.publishable(ctx.app.db, ctx.user)
    buttons = [Button(s.name(ctx.locale), f"s{i}") for i, s in enumerate(own)]
    ctx.say(ctx._("net.opp.ask.scenario"), Keyboard.grid(buttons, width=2))


async def on_scenario(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    own = await opportunities.publishable(ctx.app.db, ctx.user)
    if not data.startswith("s") or not data[1:].isdigit() or int(data[1:]) >= len(own):
        return ctx.again("core.err.use_buttons")
    ctx.draft["scenario"] = own[int(data[1:])].code
    return ctx.goto("title")


async def ask_title(ctx: Context) -> None:
    ctx.say(ctx._("net.opp.ask.title"))


async def on_title(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=100)
    if isinstance(answer, Next):
        return answer
    ctx.draft["title"] = answer
    return ctx.goto("size")


async def ask_size(ctx: Context) -> None:
    ctx.say(ctx._("net.opp.ask.size"))


async def on_size(ctx: Context, msg: Incoming) -> Next:
    amount = read_money(ctx, msg)
    if isinstance(amount, Next):
        return amount
    ctx.draft["size"] = amount
    return ctx.goto("conditions")


async def ask_conditions(ctx: Context) -> None:
    ctx.say(ctx._("net.opp.ask.conditions"))


async def on_conditions(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=500)
    if isinstance(answer, Next):
        return answer
    ctx.draft["conditions"] = answer
    return ctx.goto("deadline")


async def ask_deadline(ctx: Context) -> None:
    ctx.say(ctx._("net.opp.ask.deadline"))


async def on_deadline(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=20)
    if isinstance(answer, Next):
        return answer
    try:
        deadline = parse_day(answer, today(ctx))
    except InvalidDate:
        return ctx.again("net.opp.err.deadline", text=answer)
    if deadline < today(ctx):
        return ctx.again("net.opp.err.deadline_past", date=deadline.isoformat())
    opportunity = await opportunities.publish(
        ctx.app.db,
        member=ctx.user,
        scenario=str(ctx.draft["scenario"]),
        title=str(ctx.draft["title"]),
        size_yuan=int(ctx.draft["size"]),
        conditions=str(ctx.draft["conditions"]),
        deadline=deadline,
        now=ctx.now(),
    )
    for key in ("scenario", "title", "size", "conditions"):
        ctx.draft.pop(key, None)
    ctx.draft["opportunity_id"] = opportunity.id
    ctx.say(ctx._("net.opp.published", number=opportunity.id, title=opportunity.title))
    return ctx.goto("opportunity")


def describe(draft: dict[str, object]) -> str:
    return str(draft.get("title", draft.get("enterprise_name", "")))


OPPORTUNITIES = Flow(
    name="opportunities",
    command="opportunities",
    roles=OPPORTUNITY_ROLES,
    start=start,
    title_key="flow.opportunities",
    describe=describe,
    steps={
        "list": Step(ask_list, on_list),
        "opportunity": Step(ask_opportunity, on_opportunity),
        **ENTERPRISE.steps(),
        "plan": Step(ask_plan, on_plan),
        "scenario": Step(ask_scenario, on_scenario),
        "title": Step(ask_title, on_title),
        "size": Step(ask_size, on_size),
        "conditions": Step(ask_conditions, on_conditions),
        "deadline": Step(ask_deadline, on_deadline),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(OPPORTUNITIES)
