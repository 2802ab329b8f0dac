"""/review — the bureau goes through new leads one at a time: effective, not effective, or skip.

    lead card → effective (next card) | not effective → reason (typed, or none) → next card
              | skip (next card) | stop

The submitter is told the verdict (and the reason) through the outbox.
"""

from __future__ import annotations

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from handlers.notify import translator_in
from models import Role
from services import review
from services.money import format_money

BUREAU = frozenset({Role.BUREAU})
MAX_REASON = 500


def card(ctx: Context, pending: review.PendingLead) -> str:
    lead = pending.lead
    none = ctx._("review.none")
    return ctx._(
        "review.card",
        id=lead.id,
        waiting=pending.waiting,
        enterprise=pending.enterprise,
        unit=pending.unit(ctx.locale),
        submitter=pending.submitter or none,
        chain=pending.chain(ctx.locale) or none,
        plan=lead.plan or none,
        amount=format_money(lead.amount_yuan, ctx.locale) if lead.amount_yuan is not None else none,
        source=ctx._(f"source.{lead.source}"),
        date=lead.created_at.astimezone(ctx.app.tz).strftime("%Y-%m-%d %H:%M"),
    )


async def next_card(ctx: Context) -> Next:
    """Move on to the oldest lead still waiting, or finish when none is left."""
    pending = await review.next_pending(ctx.app.db, skip=ctx.draft.get("skipped", []))
    if pending is None:
        ctx.say(ctx._("review.finished" if ctx.draft.get("reviewed") else "review.empty"))
        return ctx.done()
    ctx.draft["lead_id"] = pending.lead.id
    ctx.draft["card"] = card(ctx, pending)
    return ctx.goto("lead")


async def start(ctx: Context, msg: Incoming) -> Next:
    """Open the queue at its oldest lead."""
    ctx.draft["skipped"] = []
    return await next_card(ctx)


async def ask_lead(ctx: Context) -> None:
    ctx.say(
        ctx.draft.get("card", ""),
        Keyboard(
            (
                (Button(ctx._("review.btn.effective"), "eff"), Button(ctx._("review.btn.reject"), "rej")),
                (Button(ctx._("review.btn.skip"), "skip"), Button(ctx._("review.btn.stop"), "stop")),
            )
        ),
    )


async def on_lead(ctx: Context, msg: Incoming) -> Next:
    choice = ctx.choice(msg)
    lead_id = int(ctx.draft["lead_id"])
    if choice == "eff":
        return await _decide(ctx, lead_id, effective=True, reason=None)
    if choice == "rej":
        return ctx.goto("reason")
    if choice == "skip":
        ctx.draft.setdefault("skipped", []).append(lead_id)
        return await next_card(ctx)
    if choice == "stop":
        pending = await review.next_pending(ctx.app.db)
        ctx.say(ctx._("review.stopped", count=pending.waiting if pending else 0))
        return ctx.done()
    return ctx.again("core.err.use_buttons")


async def ask_reason(ctx: Context) -> None:
    ctx.say(ctx._("review.ask.reason"), Keyboard.column([Button(ctx._("review.btn.no_reason"), "none")]))


async def on_reason(ctx: Context, msg: Incoming) -> Next:
    lead_id = int(ctx.draft["lead_id"])
    if ctx.choice(msg) == "none":
        return await _decide(ctx, lead_id, effective=False, reason=None)
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    return await _decide(ctx, lead_id, effective=False, reason=answer)


async def _decide(ctx: Context, lead_id: int, *, effective: bool, reason: str | None) -> Next:
    decision = await review.decide(
        ctx.app.db, lead_id, effective=effective, reason=reason, reviewer_id=ctx.user.id, now=ctx.now()
    )
    if decision is None:
        ctx.say(ctx._("review.already", id=lead_id))
        return await next_card(ctx)
    ctx.draft["reviewed"] = True
    ctx.say(ctx._("review.done.effective" if effective else "review.done.rejected", id=lead_id))
    _t = translator_in(ctx.app, decision.submitter_locale, decision.submitter_language_code)
    if effective:
        text = _t("review.notify.effective", id=lead_id, enterprise=decision.enterprise)
    elif reason:
        text = _t("review.notify.rejected", id=lead_id, enterprise=decision.enterprise, reason=reason)
    else:
        text = _t("review.notify.no_reason", id=lead_id, enterprise=decision.enterprise)
    await ctx.app.outbox.enqueue(
        decision.submitter_telegram_id, [Reply(text)], kind="lead_review", key=f"lead_review:{lead_id}"
    )
    return await next_card(ctx)


REVIEW = Flow(
    name="review",
    command="review",
    roles=BUREAU,
    start=start,
    title_key="flow.review",
    steps={"lead": Step(ask_lead, on_lead), "reason": Step(ask_reason, on_reason)},
)


def register(registry: Registry) -> None:
    registry.add_flow(REVIEW)
