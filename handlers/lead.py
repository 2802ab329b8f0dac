"""/lead — a liaison officer (or anyone who hears of an investment) logs a lead.

    enterprise → [pick a near match | name for a new code] → chain → plan → amount
    → source → confirm (save, or correct any field and come back here)

``/lead <one message>`` fills what it can from the text and asks only for the rest.
"""

from __future__ import annotations

from typing import Any

from bot.conversation import Command, Context, Flow, Next, Step
from bot.core import Button, Incoming, Keyboard
from bot.router import Registry
from handlers.answers import read_money
from handlers.confirm import edit_buttons, field_to_correct, summary_keyboard
from handlers.lookup import MAX_NAME, EnterpriseLookup, enterprise_label
from models import LeadSource, LeadStatus, Role
from services import enterprises, leads
from services.freetext import ChainHint, parse_lead_text
from services.money import format_money
from services.names import has_letters

LEAD_ROLES = frozenset({Role.LIAISON, Role.COUNTY, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE, Role.BUREAU})
MAX_PLAN = 500
SOURCES = tuple(LeadSource)
FIELDS = ("enterprise", "chain", "plan", "amount", "source")


# -- entry ------------------------------------------------------------------------------
async def start(ctx: Context, msg: Incoming) -> Next:
    """Start a lead: guided, or prefilled from one message."""
    if ctx.user.role is Role.LIAISON:
        ctx.draft["source"] = LeadSource.LIAISON.value
    text = " ".join(msg.args.split())
    if not text:
        return ctx.goto("enterprise")
    if len(text) > 1000:
        ctx.say(ctx._("core.err.too_long", max=1000, got=len(text)))
        return ctx.goto("enterprise")
    chains = await enterprises.chains(ctx.app.db)
    hints = [ChainHint(c.id, (c.name_zh, c.name_en, *c.keyword_list())) for c in chains if c.id is not None]
    guess = parse_lead_text(text, hints)
    if guess.amount_yuan is not None:
        ctx.draft["amount"] = guess.amount_yuan
    if guess.chain_id is not None:
        ctx.draft["chain_id"] = guess.chain_id
    if guess.plan:
        ctx.draft["plan"] = guess.plan[:MAX_PLAN]
    ctx.say(ctx._("lead.prefilled"))
    if guess.credit_code:
        return await LOOKUP.take_code(ctx, guess.credit_code)
    if guess.enterprise and has_letters(guess.enterprise):
        return await LOOKUP.take_name(ctx, guess.enterprise[:MAX_NAME])
    return ctx.goto("enterprise")


async def next_missing(ctx: Context) -> Next:
    """After the enterprise: ask only for what the draft still lacks."""
    draft = ctx.draft
    for field, step in (("chain_id", "chain"), ("plan", "plan"), ("amount", "amount"), ("source", "source")):
        if field not in draft:
            return ctx.then(step)
    return ctx.then("confirm")


# -- enterprise -------------------------------------------------------------------------
LOOKUP = EnterpriseLookup("lead.ask.enterprise", after=next_missing)


# -- chain, plan, amount, source --------------------------------------------------------
async def ask_chain(ctx: Context) -> None:
    chains = await enterprises.chains(ctx.app.db)
    buttons = [Button(f"{c.family} {c.name(ctx.locale)}", f"c{c.id}") for c in chains]
    buttons.append(Button(ctx._("lead.chain.unsure"), "c0"))
    ctx.say(ctx._("lead.ask.chain"), Keyboard.grid(buttons, width=2))


async def on_chain(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data is None or not data.startswith("c") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    chain_id = int(data[1:])
    if chain_id and await enterprises.get_chain(ctx.app.db, chain_id) is None:
        return ctx.again("core.err.use_buttons")
    ctx.draft["chain_id"] = chain_id or None
    return ctx.then("plan" if "plan" not in ctx.draft else "amount" if "amount" not in ctx.draft else "source")


async def ask_plan(ctx: Context) -> None:
    ctx.say(ctx._("lead.ask.plan"))


async def on_plan(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_PLAN)
    if isinstance(answer, Next):
        return answer
    ctx.draft["plan"] = answer
    return ctx.then("amount" if "amount" not in ctx.draft else "source" if "source" not in ctx.draft else "confirm")


async def ask_amount(ctx: Context) -> None:
    ctx.say(ctx._("lead.ask.amount"), Keyboard.column([Button(ctx._("lead.amount.unknown"), "unknown")]))


async def on_amount(ctx: Context, msg: Incoming) -> Next:
    if ctx.choice(msg) == "unknown":
        ctx.draft["amount"] = None
    else:
        amount = read_money(ctx, msg)
        if isinstance(amount, Next):
            return amount
        ctx.draft["amount"] = amount
    return ctx.then("source" if "source" not in ctx.draft else "confirm")


async def ask_source(ctx: Context) -> None:
    buttons = [Button(ctx._(f"source.{s.value}"), f"s{s.value}") for s in SOURCES]
    ctx.say(ctx._("lead.ask.source"), Keyboard.grid(buttons, width=2))


async def on_source(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("s") or data[1:] not in {s.value for s in SOURCES}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["source"] = data[1:]
    return ctx.then("confirm")


# -- summary ----------------------------------------------------------------------------
def summary(ctx: Context, draft: dict[str, Any], chain_name: str | None) -> str:
    amount = draft.get("amount")
    return ctx._(
        "lead.summary",
        enterprise=enterprise_label(ctx, draft, "lead.summary.new_enterprise"),
        chain=chain_name or ctx._("lead.chain.unsure"),
        plan=draft.get("plan", ""),
        amount=format_money(int(amount), ctx.locale) if isinstance(amount, int) else ctx._("lead.amount.unknown"),
        source=ctx._(f"source.{draft.get('source', LeadSource.OTHER.value)}"),
    )


async def ask_confirm(ctx: Context) -> None:
    chain_id = ctx.draft.get("chain_id")
    chain = await enterprises.get_chain(ctx.app.db, int(chain_id)) if chain_id else None
    save = Button(ctx._("lead.confirm.save"), "save")
    discard = Button(ctx._("lead.confirm.discard"), "discard")
    ctx.say(
        summary(ctx, ctx.draft, chain.name(ctx.locale) if chain else None) + "\n\n" + ctx._("lead.ask.confirm"),
        summary_keyboard(save, edit_buttons(ctx, "lead", FIELDS), discard, width=3),
    )


async def on_confirm(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data is None:
        return ctx.again("lead.err.confirm_buttons")
    if data == "discard":
        ctx.say(ctx._("lead.discarded"))
        return ctx.done()
    if (field := field_to_correct(ctx, data, FIELDS)) is not None:
        return ctx.goto(field)
    if data != "save":
        return ctx.again("lead.err.confirm_buttons")
    draft = ctx.draft
    lead = await leads.create_lead(
        ctx.app.db,
        member=ctx.user,
        draft=leads.LeadDraft(
            enterprise_id=draft.get("enterprise_id"),
            enterprise_name=str(draft.get("enterprise_name", "")),
            credit_code=draft.get("credit_code"),
            chain_id=draft.get("chain_id"),
            plan=str(draft.get("plan", "")),
            amount_yuan=draft.get("amount"),
            source=LeadSource(draft.get("source", LeadSource.OTHER.value)),
        ),
        now=ctx.now(),
    )
    ctx.say(ctx._("lead.saved", number=lead.id))
    return ctx.done()


def describe(draft: dict[str, Any]) -> str:
    return str(draft.get("enterprise_name", ""))


LEAD = Flow(
    name="lead",
    command="lead",
    roles=LEAD_ROLES,
    start=start,
    title_key="flow.lead",
    describe=describe,
    steps={
        **LOOKUP.steps(),
        "chain": Step(ask_chain, on_chain),
        "plan": Step(ask_plan, on_plan),
        "amount": Step(ask_amount, on_amount),
        "source": Step(ask_source, on_source),
        "confirm": Step(ask_confirm, on_confirm),
    },
)


# -- /mine ------------------------------------------------------------------------------
async def mine(ctx: Context, msg: Incoming) -> None:
    """The person's most recent leads."""
    rows = await leads.recent_by(ctx.app.db, ctx.user.id)
    if not rows:
        ctx.say(ctx._("lead.mine.empty"))
        return
    lines = [ctx._("lead.mine.header", count=len(rows))]
    for row in rows:
        lead = row.lead
        chain = (row.chain_en if ctx.locale == "en" else row.chain_zh) or ctx._("lead.chain.unsure")
        amount = format_money(lead.amount_yuan, ctx.locale) if lead.amount_yuan else ctx._("lead.amount.unknown")
        when = lead.created_at.astimezone(ctx.app.tz).strftime("%m-%d")
        lines.append(
            ctx._(
                "lead.mine.row",
                number=lead.id,
                enterprise=row.enterprise,
                chain=chain,
                amount=amount,
                status=ctx._(f"lead.status.{LeadStatus(lead.status).value}"),
                date=when,
            )
        )
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_flow(LEAD)
    registry.add_command(Command("mine", mine, roles=LEAD_ROLES, help_key="help.mine"))
