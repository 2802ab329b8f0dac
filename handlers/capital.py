"""/capital — mark a project fund-backed (§11) or record its foreign capital (§13).

project → what: fund (跟投 | 直投) → fund's name → amount → done
                foreign → dollars → rate → the enterprise's status → done
"""

from __future__ import annotations

from typing import TypedDict, cast

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from handlers.answers import read_money
from models import EnterpriseTag, FundMode, Project, Role
from services import capital
from services.capital import InvalidRate
from services.money import format_money

CAPITAL_ROLES = frozenset({Role.COUNTY, Role.DEPARTMENT, Role.SOE, Role.CHAIN_LEAD, Role.BUREAU})
STATUSES = {
    "foreign": {EnterpriseTag.FOREIGN},
    "global500": {EnterpriseTag.FOREIGN, EnterpriseTag.GLOBAL500},
    "none": set[EnterpriseTag](),
}


class CapitalFields(TypedDict, total=False):
    """What a /capital conversation has gathered; a key is there once it is known."""

    project_id: int
    project: str  # its name, for the questions
    mode: str  # a FundMode value: the fund follows the enterprise, or invests directly
    fund_name: str
    usd: int  # whole dollars
    rate: int  # yuan per dollar × 10⁴


def capital_draft(ctx: Context) -> CapitalFields:
    return cast(CapitalFields, ctx.draft)


async def start(ctx: Context, msg: Incoming) -> Next:
    if not await capital.workable(ctx.app.db, ctx.user):
        ctx.say(ctx._("net.capital.no_projects"))
        return ctx.done()
    return ctx.goto("project")


async def ask_project(ctx: Context) -> None:
    rows = await capital.workable(ctx.app.db, ctx.user)
    buttons = [Button(f"#{p.id} {p.name}"[:60], f"p{p.id}") for p, _ in rows]
    ctx.say(ctx._("net.capital.ask.project"), Keyboard.column(buttons))


async def on_project(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    typed = data[1:] if data.startswith("p") else msg.text.strip().lstrip("#")
    found = await capital.workable_one(ctx.app.db, ctx.user, int(typed)) if typed.isdigit() else None
    if found is None:
        return ctx.again("net.capital.err.project")
    project = found[0]
    assert project.id is not None
    draft = capital_draft(ctx)
    draft["project_id"], draft["project"] = project.id, project.name
    return ctx.goto("what")


async def ask_what(ctx: Context) -> None:
    buttons = [
        Button(ctx._("net.capital.fund.follow"), FundMode.FOLLOW.value),
        Button(ctx._("net.capital.fund.direct"), FundMode.DIRECT.value),
        Button(ctx._("net.capital.foreign"), "foreign"),
    ]
    ctx.say(ctx._("net.capital.ask.what", project=capital_draft(ctx).get("project", "")), Keyboard.column(buttons))


async def on_what(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data in {m.value for m in FundMode}:
        capital_draft(ctx)["mode"] = data
        return ctx.goto("fund_name")
    if data == "foreign":
        return ctx.goto("usd")
    return ctx.again("core.err.use_buttons")


async def ask_fund_name(ctx: Context) -> None:
    ctx.say(ctx._("net.capital.ask.fund_name"))


async def on_fund_name(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=100)
    if isinstance(answer, Next):
        return answer
    capital_draft(ctx)["fund_name"] = answer
    return ctx.goto("fund_amount")


async def ask_fund_amount(ctx: Context) -> None:
    ctx.say(ctx._("net.capital.ask.fund_amount", fund=capital_draft(ctx).get("fund_name", "")))


async def on_fund_amount(ctx: Context, msg: Incoming) -> Next:
    amount = read_money(ctx, msg)
    if isinstance(amount, Next):
        return amount
    draft = capital_draft(ctx)
    project = await capital.set_fund(
        ctx.app.db,
        member=ctx.user,
        project_id=draft["project_id"],
        mode=FundMode(draft["mode"]),
        fund_name=draft["fund_name"],
        fund_yuan=amount,
        now=ctx.now(),
    )
    return saved(
        ctx,
        project,
        "net.capital.fund_saved",
        mode=ctx._(f"net.capital.fund.{draft['mode']}"),
        fund=draft["fund_name"],
        amount=format_money(amount, ctx.locale),
    )


def saved(ctx: Context, project: Project | None, key: str, **params: object) -> Next:
    """Say what was recorded on the project, or that it is no longer the person's to change."""
    if project is None:
        ctx.say(ctx._("net.capital.err.project"))
    else:
        ctx.say(ctx._(key, project=project.name, **params))
    return ctx.done()


def read_rate(ctx: Context, msg: Incoming) -> int | Next:
    """The yuan a dollar is worth, typed, or the question again with what could not be read."""
    answer = ctx.text_answer(msg, max_len=30)
    if isinstance(answer, Next):
        return answer
    try:
        return capital.parse_rate(answer)
    except InvalidRate:
        return ctx.again("net.capital.err.rate", text=answer)


async def ask_usd(ctx: Context) -> None:
    ctx.say(ctx._("net.capital.ask.usd"))


async def on_usd(ctx: Context, msg: Incoming) -> Next:
    usd = read_money(ctx, msg, capital.parse_dollars)
    if isinstance(usd, Next):
        return usd
    capital_draft(ctx)["usd"] = usd
    return ctx.goto("rate")


async def ask_rate(ctx: Context) -> None:
    ctx.say(ctx._("net.capital.ask.rate"))


async def on_rate(ctx: Context, msg: Incoming) -> Next:
    rate = read_rate(ctx, msg)
    if isinstance(rate, Next):
        return rate
    capital_draft(ctx)["rate"] = rate
    return ctx.goto("status")


async def ask_status(ctx: Context) -> None:
    buttons = [Button(ctx._(f"net.capital.status.{key}"), key) for key in STATUSES]
    ctx.say(ctx._("net.capital.ask.status"), Keyboard.column(buttons))


async def on_status(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data not in STATUSES:
        return ctx.again("core.err.use_buttons")
    draft = capital_draft(ctx)
    usd, rate = draft["usd"], draft["rate"]
    project = await capital.set_foreign(
        ctx.app.db,
        member=ctx.user,
        project_id=draft["project_id"],
        usd=usd,
        rate_e4=rate,
        tags=STATUSES[data],
        now=ctx.now(),
    )
    return saved(
        ctx,
        project,
        "net.capital.foreign_saved",
        usd=ctx._("net.capital.usd", amount=capital.dollars_text(usd, ctx.locale)),
        rate=capital.rate_text(rate),
        yuan=format_money(capital.in_yuan(usd, rate), ctx.locale),
    )


def describe(draft: dict[str, object]) -> str:
    return str(draft.get("project", ""))


CAPITAL = Flow(
    name="capital",
    command="capital",
    roles=CAPITAL_ROLES,
    start=start,
    title_key="flow.capital",
    describe=describe,
    steps={
        "project": Step(ask_project, on_project),
        "what": Step(ask_what, on_what),
        "fund_name": Step(ask_fund_name, on_fund_name),
        "fund_amount": Step(ask_fund_amount, on_fund_amount),
        "usd": Step(ask_usd, on_usd),
        "rate": Step(ask_rate, on_rate),
        "status": Step(ask_status, on_status),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(CAPITAL)
