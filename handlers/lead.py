"""/lead — a liaison officer (or anyone who hears of an investment) logs a lead.

    enterprise → [pick a near match | name for a new code] → chain → plan → amount
    → source → confirm (save, or correct any field and come back here)

``/lead <one message>`` fills what it can from the text and asks only for the rest.

A forwarded message, or a long pasted text about an investment, sent outside any
conversation is offered as a lead (``offer``): one lead prefilled from it, or — for a
signing list — one draft per project, reviewed on one summary and saved together:

    offer → one: prefilled like /lead …  |  several: [source] → batch ⇄ batch_name → saved
          → no: nothing kept

A lead made this way keeps the message and where it came from.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from bot.core import Button, Incoming, Keyboard, Kind
from bot.core.conversation import Command, Context, Flow, Next, Step, TextHandler
from bot.core.registry import Registry
from handlers.answers import read_money
from handlers.confirm import edit_buttons, field_to_correct, summary_keyboard
from handlers.lookup import MAX_NAME, EnterpriseLookup, enterprise_label
from models import LeadSource, LeadStatus, Role
from services import enterprises, leads, settings
from services.freetext import YUAN, ChainHint, LeadGuess, looks_like_a_lead, parse_lead_text, split_projects
from services.money import format_foreign, format_money, is_approximate
from services.names import has_letters

LEAD_ROLES = frozenset({Role.LIAISON, Role.COUNTY, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE, Role.BUREAU})
MAX_PLAN = 500
SOURCES = tuple(LeadSource)
FIELDS = ("enterprise", "chain", "plan", "amount", "source")
# Telegram's own limit on a message: a forwarded one is kept whole.
MAX_ORIGINAL = 4096
CAPTURE = "_capture"
PASTED = leads.PASTED
FORWARDED = leads.FORWARDED


class LeadItem(TypedDict, total=False):
    """One lead as read so far: the conversation's own, or one project of a signing list."""

    enterprise_id: int
    enterprise_name: str
    credit_code: str
    chain_id: int | None  # None: the person is unsure of the chain
    plan: str
    amount: int | None  # in yuan; None: unknown, or stated in a currency without a rate
    currency: str
    amount_original: int | None  # as stated, in ``currency``
    approximate: bool


class LeadFields(LeadItem, total=False):
    """What a lead conversation has gathered; a key is there once it is known."""

    candidates: list[list[Any]]
    source: str  # a LeadSource value
    original_text: str  # the pasted or forwarded message the lead came from
    origin: str  # where that message came from (see ``leads.origin_text``)
    items: list[LeadItem]  # a signing list: one lead per project
    item: int  # the project of the list whose enterprise is being named


def lead_draft_of(ctx: Context) -> LeadFields:
    return cast(LeadFields, ctx.draft)


# Which draft key each step fills, in the order they are asked; the summary comes after.
ORDER = (
    ("enterprise_name", "enterprise"),
    ("chain_id", "chain"),
    ("plan", "plan"),
    ("amount", "amount"),
    ("source", "source"),
)


async def next_missing(ctx: Context) -> Next:
    """The lead's one next-step rule: the first thing still missing, else the summary.

    A signing list asks one question (the source) and comes back to its own summary.
    """
    if "items" in ctx.draft:
        ctx.draft.pop("_back", None)
        return ctx.goto("batch" if "source" in ctx.draft else "source")
    return ctx.missing(ORDER)


# -- entry ------------------------------------------------------------------------------
async def start(ctx: Context, msg: Incoming) -> Next:
    """Start a lead: guided, prefilled from one message, or offered from a pasted or forwarded one."""
    draft = lead_draft_of(ctx)
    if ctx.user.role is Role.LIAISON:
        draft["source"] = LeadSource.LIAISON.value
    captured = ctx.draft.pop(CAPTURE, None)
    if isinstance(captured, dict):
        draft["original_text"] = str(captured.get("text", ""))[:MAX_ORIGINAL]
        draft["origin"] = str(captured.get("origin", PASTED))
        return ctx.goto("offer")
    if len(split_projects(msg.args)) > 1:
        draft["original_text"], draft["origin"] = msg.args.strip()[:MAX_ORIGINAL], PASTED
        return ctx.goto("offer")
    text = " ".join(msg.args.split())
    if not text:
        return ctx.goto("enterprise")
    if len(text) > 1000:
        ctx.note(ctx._("core.err.too_long", max=1000, got=len(text)))
        return ctx.goto("enterprise")
    return await prefill(ctx, text)


async def read_text(ctx: Context, text: str) -> LeadGuess:
    """What a message says about a lead, read against the chains, the register and the bureau's rates."""
    chains = await enterprises.chains(ctx.app.db)
    hints = [ChainHint(c.id, (c.name_zh, c.name_en, *c.keyword_list())) for c in chains if c.id is not None]
    known = await enterprises.named_in(ctx.app.db, text)
    rates = await settings.exchange_rates(ctx.app.db)
    return parse_lead_text(text, hints, known=known, rates=rates)


def fill(draft: LeadItem, guess: LeadGuess) -> None:
    """Put what the message said into a draft (its amount with currency and approximation)."""
    if guess.amount_yuan is not None or guess.amount_original is not None:
        draft["amount"] = guess.amount_yuan
        draft["currency"] = guess.currency
        draft["amount_original"] = guess.amount_original
        draft["approximate"] = guess.approximate
    if guess.chain_id is not None:
        draft["chain_id"] = guess.chain_id
    if guess.plan:
        draft["plan"] = guess.plan[:MAX_PLAN]


async def prefill(ctx: Context, text: str) -> Next:
    """Fill the draft from one message and ask only for the rest, beginning with the enterprise."""
    guess = await read_text(ctx, text)
    fill(lead_draft_of(ctx), guess)
    # Said on top of the next question, so a complete message gets one answer: the summary.
    ctx.note(ctx._("lead.prefilled"))
    if guess.credit_code:
        return await LOOKUP.take_code(ctx, guess.credit_code)
    if guess.enterprise and has_letters(guess.enterprise):
        return await LOOKUP.take_name(ctx, guess.enterprise[:MAX_NAME])
    if "original_text" in ctx.draft:
        # A pasted news item that names no investor: say so rather than guess one.
        ctx.note(ctx._("lead.capture.no_investor"))
    return ctx.goto("enterprise")


# -- a pasted or forwarded message, outside any conversation ------------------------------
async def offer_capture(ctx: Context, msg: Incoming) -> None:
    """Text sent outside a conversation: offer a forwarded or investment-looking one as a lead."""
    text = msg.text.strip()
    min_chars = await settings.get_int(ctx.app.db, "capture_min_chars", 40)
    # In a group every long message would be offered; a private chat is where a person means it.
    private = msg.chat_id == msg.user_id
    if not private or not text or not (msg.forwarded_from is not None or looks_like_a_lead(text, min_chars)):
        ctx.say(ctx._("core.idle"))
        return
    origin = PASTED if msg.forwarded_from is None else FORWARDED + msg.forwarded_from[:150]
    ctx.start_flow(LEAD.name, {CAPTURE: {"text": text, "origin": origin}})


def origin_label(ctx: Context, origin: str) -> str:
    return leads.origin_text(origin or leads.PASTED, ctx.locale)


async def ask_offer(ctx: Context) -> None:
    draft = lead_draft_of(ctx)
    text = draft.get("original_text", "")
    projects = split_projects(text)
    buttons = []
    if len(projects) > 1:
        buttons.append(Button(ctx._("lead.capture.many", count=len(projects)), "many"))
        buttons.append(Button(ctx._("lead.capture.one_of_all"), "one"))
        question = ctx._(
            "lead.capture.offer_list", origin=origin_label(ctx, draft.get("origin", "")), count=len(projects)
        )
    else:
        buttons.append(Button(ctx._("lead.capture.one"), "one"))
        question = ctx._("lead.capture.offer", origin=origin_label(ctx, draft.get("origin", "")))
    buttons.append(Button(ctx._("lead.capture.no"), "no"))
    ctx.say(question, Keyboard.column(buttons))


async def on_offer(ctx: Context, msg: Incoming) -> Next:
    data, draft = ctx.choice(msg), lead_draft_of(ctx)
    text = draft.get("original_text", "")
    if data == "no":
        ctx.say(ctx._("lead.capture.dropped"))
        return ctx.done()
    if data == "one":
        return await prefill(ctx, " ".join(text.split())[:1000])
    if data == "many":
        return await take_projects(ctx, split_projects(text))
    if msg.kind is Kind.TEXT and msg.text.strip():
        # Another message instead of an answer: offer that one, or leave it be.
        min_chars = await settings.get_int(ctx.app.db, "capture_min_chars", 40)
        if msg.forwarded_from is not None or looks_like_a_lead(msg.text, min_chars):
            draft["original_text"] = msg.text.strip()[:MAX_ORIGINAL]
            draft["origin"] = PASTED if msg.forwarded_from is None else FORWARDED + msg.forwarded_from[:150]
            return ctx.goto("offer")
        ctx.say(ctx._("core.idle"))
        return ctx.done()
    return ctx.again("core.err.use_buttons")


# -- a signing list: several leads at once ------------------------------------------------
async def take_projects(ctx: Context, projects: list[str]) -> Next:
    """One draft per project of a list; then the source, once, and the summary of them all."""
    draft = lead_draft_of(ctx)
    items: list[LeadItem] = []
    for text in projects:
        guess = await read_text(ctx, text)
        item: LeadItem = {}
        fill(item, guess)
        item.setdefault("plan", text[:MAX_PLAN])
        if guess.enterprise and has_letters(guess.enterprise):
            await name_item(ctx, item, guess.enterprise[:MAX_NAME])
        items.append(item)
    draft["items"] = items
    return await next_missing(ctx)


async def name_item(ctx: Context, item: LeadItem, name: str) -> None:
    """Name a project's enterprise: the registered one of that name, or a new one to create."""
    existing = await enterprises.by_name(ctx.app.db, name)
    item["enterprise_name"] = existing.name if existing is not None else name
    if existing is not None and existing.id is not None:
        item["enterprise_id"] = existing.id


async def ask_batch(ctx: Context) -> None:
    draft = lead_draft_of(ctx)
    items = draft.get("items", [])
    chains = {c.id: c.name(ctx.locale) for c in await enterprises.chains(ctx.app.db)}
    lines = [ctx._("lead.batch.header", count=len(items), source=ctx._(f"source.{draft.get('source', 'other')}"))]
    buttons = [Button(ctx._("lead.batch.save", count=len(items)), "save")]
    for number, item in enumerate(items, start=1):
        name = item.get("enterprise_name")
        lines.append(
            ctx._(
                "lead.batch.row",
                number=number,
                enterprise=name or ctx._("lead.batch.no_enterprise"),
                chain=chains.get(item.get("chain_id")) or ctx._("lead.chain.unsure"),
                amount=amount_label(ctx, item),
            )
        )
        if not name:
            buttons.append(Button(ctx._("lead.batch.name", number=number), f"n{number}"))
        buttons.append(Button(ctx._("lead.batch.drop", number=number), f"d{number}"))
    buttons.append(Button(ctx._("lead.confirm.discard"), "discard"))
    ctx.say("\n".join(lines), summary_keyboard(buttons[0], buttons[1:-1], buttons[-1], width=2))


def _item_number(data: str, items: list[LeadItem]) -> int | None:
    number = int(data[1:]) if data[1:].isdigit() else 0
    return number if 1 <= number <= len(items) else None


async def on_batch(ctx: Context, msg: Incoming) -> Next:
    data, draft = ctx.choice(msg), lead_draft_of(ctx)
    items = draft.get("items", [])
    if data == "discard":
        ctx.say(ctx._("lead.discarded"))
        return ctx.done()
    if data == "save":
        missing = next((n for n, item in enumerate(items, start=1) if not item.get("enterprise_name")), None)
        if missing is not None:
            return ctx.again("lead.batch.err.missing", number=missing)
        saved = await leads.create_leads(
            ctx.app.db, member=ctx.user, drafts=[lead_draft(draft, item) for item in items], now=ctx.now()
        )
        ctx.say(ctx._("lead.batch.saved", count=len(saved), numbers=", ".join(f"#{lead.id}" for lead in saved)))
        return ctx.done()
    if data and data[:1] in ("d", "n") and (number := _item_number(data, items)) is not None:
        if data[0] == "n":
            draft["item"] = number
            return ctx.goto("batch_name")
        items.pop(number - 1)
        if not items:
            ctx.say(ctx._("lead.discarded"))
            return ctx.done()
        return ctx.goto("batch")
    return ctx.again("core.err.use_buttons")


async def ask_batch_name(ctx: Context) -> None:
    ctx.say(ctx._("lead.batch.ask_name", number=lead_draft_of(ctx).get("item", 0)))


async def on_batch_name(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    draft = lead_draft_of(ctx)
    items = draft.get("items", [])
    number = draft.pop("item", 0)
    if 1 <= number <= len(items):
        await name_item(ctx, items[number - 1], answer)
    return ctx.goto("batch")


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
    lead_draft_of(ctx)["chain_id"] = chain_id or None
    return await next_missing(ctx)


async def ask_plan(ctx: Context) -> None:
    ctx.say(ctx._("lead.ask.plan"))


async def on_plan(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_PLAN)
    if isinstance(answer, Next):
        return answer
    lead_draft_of(ctx)["plan"] = answer
    return await next_missing(ctx)


async def ask_amount(ctx: Context) -> None:
    ctx.say(ctx._("lead.ask.amount"), Keyboard.column([Button(ctx._("lead.amount.unknown"), "unknown")]))


async def on_amount(ctx: Context, msg: Incoming) -> Next:
    draft = lead_draft_of(ctx)
    if ctx.choice(msg) == "unknown":
        draft["amount"] = None
    else:
        amount = read_money(ctx, msg)
        if isinstance(amount, Next):
            return amount
        draft["amount"] = amount
    # A typed amount is in yuan: what the message said of it no longer holds.
    draft.pop("currency", None)
    draft.pop("amount_original", None)
    draft.pop("approximate", None)
    if draft["amount"] is not None and is_approximate(msg.text or ""):
        # "一个亿左右" is kept as 1亿 marked approximate, as the summary shows before saving.
        draft["approximate"] = True
    return await next_missing(ctx)


async def ask_source(ctx: Context) -> None:
    buttons = [Button(ctx._(f"source.{s.value}"), f"s{s.value}") for s in SOURCES]
    ctx.say(ctx._("lead.ask.source"), Keyboard.grid(buttons, width=2))


async def on_source(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("s") or data[1:] not in {s.value for s in SOURCES}:
        return ctx.again("core.err.use_buttons")
    lead_draft_of(ctx)["source"] = data[1:]
    return await next_missing(ctx)


# -- summary ----------------------------------------------------------------------------
def amount_label(ctx: Context, draft: LeadItem) -> str:
    """The amount as the summary shows it: in yuan, and as stated when in another currency."""
    amount, original, currency = draft.get("amount"), draft.get("amount_original"), draft.get("currency", YUAN)
    if isinstance(original, int) and currency != YUAN:
        stated = format_foreign(original, currency, ctx.locale)
        if isinstance(amount, int):
            text = ctx._("lead.amount.foreign", stated=stated, yuan=format_money(amount, ctx.locale))
        else:
            text = ctx._("lead.amount.no_rate", stated=stated)
    elif isinstance(amount, int):
        text = format_money(amount, ctx.locale)
    else:
        return ctx._("lead.amount.unknown")
    return ctx._("lead.amount.approximate", amount=text) if draft.get("approximate") else text


def summary(ctx: Context, draft: LeadFields, chain_name: str | None) -> str:
    text = ctx._(
        "lead.summary",
        enterprise=enterprise_label(ctx, draft, "lead.summary.new_enterprise"),
        chain=chain_name or ctx._("lead.chain.unsure"),
        plan=draft.get("plan", ""),
        amount=amount_label(ctx, draft),
        source=ctx._(f"source.{draft.get('source', LeadSource.OTHER.value)}"),
    )
    if draft.get("original_text"):
        text += "\n" + ctx._("lead.summary.origin", origin=origin_label(ctx, draft.get("origin", "")))
    return text


def lead_draft(draft: LeadFields, item: LeadItem) -> leads.LeadDraft:
    """A draft of the conversation (or one project of a list, ``item``) as the service takes it."""
    return leads.LeadDraft(
        enterprise_id=item.get("enterprise_id"),
        enterprise_name=item.get("enterprise_name", ""),
        credit_code=item.get("credit_code"),
        chain_id=item.get("chain_id"),
        plan=item.get("plan", ""),
        amount_yuan=item.get("amount"),
        source=LeadSource(draft.get("source", LeadSource.OTHER.value)),
        currency=item.get("currency") or YUAN,
        amount_original=item.get("amount_original"),
        amount_approximate=item.get("approximate", False),
        original_text=draft.get("original_text", ""),
        origin=draft.get("origin", "") if draft.get("original_text") else "",
    )


async def ask_confirm(ctx: Context) -> None:
    draft = lead_draft_of(ctx)
    chain_id = draft.get("chain_id")
    chain = await enterprises.get_chain(ctx.app.db, chain_id) if chain_id else None
    save = Button(ctx._("lead.confirm.save"), "save")
    discard = Button(ctx._("lead.confirm.discard"), "discard")
    ctx.say(
        summary(ctx, draft, chain.name(ctx.locale) if chain else None) + "\n\n" + ctx._("lead.ask.confirm"),
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
    draft = lead_draft_of(ctx)
    lead = await leads.create_lead(ctx.app.db, member=ctx.user, draft=lead_draft(draft, draft), now=ctx.now())
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
        "offer": Step(ask_offer, on_offer),
        "batch": Step(ask_batch, on_batch),
        "batch_name": Step(ask_batch_name, on_batch_name),
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


# -- /rates (bureau) --------------------------------------------------------------------
async def rates_command(ctx: Context, msg: Incoming) -> None:
    """Show the exchange rates captured leads use; ``/rates USD 7.1`` sets one."""
    currency, _, rate = msg.args.strip().partition(" ")
    if currency:
        try:
            value = await settings.set_exchange_rate(ctx.app.db, currency, rate, by=ctx.user.id, now=ctx.now())
        except settings.BadRate:
            ctx.say(ctx._("lead.rates.err", currency=currency, rate=rate))
            return
        ctx.say(ctx._("lead.rates.saved", currency=currency.strip().upper(), rate=value))
        return
    rates = await settings.exchange_rates(ctx.app.db)
    lines = [ctx._("lead.rates.header")]
    lines += [ctx._("lead.rates.item", currency=code, rate=rate) for code, rate in sorted(rates.items())]
    lines.append(ctx._("lead.rates.usage"))
    ctx.say("\n".join(lines))


def register(registry: Registry) -> None:
    registry.add_flow(LEAD)
    registry.add_command(Command("mine", mine, roles=LEAD_ROLES, help_key="help.mine"))
    registry.add_command(Command("rates", rates_command, roles=frozenset({Role.BUREAU}), help_key="help.rates"))
    registry.texts = TextHandler(offer_capture, roles=LEAD_ROLES)
