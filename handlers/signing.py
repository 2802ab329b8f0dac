"""/reviews — §17: the four reviews of a major project before it is signed.

    project → overview → (review kind → who → when → conclusion → document | exception → reason)* → finish

The executing unit (or the bureau) records each review; the bureau alone records an
exception, with its reason. Moving to 签约 without them is refused by the stage change
itself (``services.projects.set_stage``), whatever conversation asks for it.
"""

from __future__ import annotations

from datetime import date

from bot.core import Button, Incoming, Keyboard, Kind
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.answers import ask_past_day, read_past_day
from handlers.project import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_REASON,
    REGISTER_ROLES,
    ProjectPick,
    chosen,
    money,
)
from models import ReviewKind, Role
from services import signing
from services.access import Purpose
from services.signing import REVIEW_KINDS, ReviewDraft, ReviewState, SigningError

ROLES = REGISTER_ROLES | {Role.BUREAU}


def kind_name(_: Translator, kind: ReviewKind | str) -> str:
    return _(f"signing.kind.{ReviewKind(kind).value}")


def overview(_: Translator, name: str, number: int, state: ReviewState) -> str:
    lines = [_("signing.header", number=number, name=name)]
    if not state.needed:
        lines.append(_("signing.not_needed", threshold=money(_, state.threshold_yuan)))
    for kind in REVIEW_KINDS:
        review = state.reviews.get(kind)
        if review is None:
            lines.append(_("signing.line.missing", kind=kind_name(_, kind)))
            continue
        document = _("signing.line.document", name=review.document_name) if review.document_name else ""
        lines.append(
            _(
                "signing.line.done",
                kind=kind_name(_, kind),
                reviewer=review.reviewer,
                date=review.reviewed_on.isoformat(),
                conclusion=review.conclusion,
                document=document,
            )
        )
    if state.exception is not None:
        lines.append(_("signing.line.exception", reason=state.exception.reason, by=state.exception_by))
    elif state.missing:
        lines.append(_("signing.line.blocked"))
    else:
        lines.append(_("signing.line.ready"))
    return "\n".join(lines)


# Pick one of the unit's projects (or ``/reviews <number>``).
PICK = ProjectPick("signing.ask.pick", "overview")


async def ask_overview(ctx: Context) -> None:
    row = await chosen(ctx, Purpose.WORK)
    if row is None:
        ctx.say(ctx._("project.err.not_found", number=ctx.draft["project_id"]))
        return
    state = await signing.state(ctx.app.db, row.project)
    buttons = [Button(ctx._("signing.record", kind=kind_name(ctx._, kind)), f"k{kind.value}") for kind in REVIEW_KINDS]
    if ctx.user.role is Role.BUREAU and state.missing:
        buttons.append(Button(ctx._("signing.exception"), "exception"))
    buttons.append(Button(ctx._("project.progress.finish"), "finish"))
    ctx.say(overview(ctx._, row.project.name, row.id, state), Keyboard.grid(buttons, width=2))


async def on_overview(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if data == "finish":
        ctx.say(ctx._("signing.finished"))
        return ctx.done()
    if data == "exception" and ctx.user.role is Role.BUREAU:
        return ctx.goto("exception")
    if data.startswith("k") and data[1:] in {k.value for k in REVIEW_KINDS}:
        ctx.draft["kind"] = data[1:]
        return ctx.goto("reviewer")
    return ctx.again("core.err.use_buttons")


async def ask_reviewer(ctx: Context) -> None:
    ctx.say(ctx._("signing.ask.reviewer", kind=kind_name(ctx._, ctx.draft["kind"])))


async def on_reviewer(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NAME)
    if isinstance(answer, Next):
        return answer
    ctx.draft["reviewer"] = answer
    return ctx.goto("reviewed_on")


async def ask_reviewed_on(ctx: Context) -> None:
    ask_past_day(
        ctx,
        ctx._("signing.ask.date", kind=kind_name(ctx._, ctx.draft["kind"])),
        ctx._("project.date.today"),
        ctx._("project.date.yesterday"),
    )


async def on_reviewed_on(ctx: Context, msg: Incoming) -> Next:
    day = read_past_day(ctx, msg, unreadable="signing.err.date", future="signing.err.future")
    if isinstance(day, Next):
        return day
    ctx.draft["reviewed_on"] = day.isoformat()
    return ctx.goto("conclusion")


async def ask_conclusion(ctx: Context) -> None:
    ctx.say(ctx._("signing.ask.conclusion", kind=kind_name(ctx._, ctx.draft["kind"])))


async def on_conclusion(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_DESCRIPTION)
    if isinstance(answer, Next):
        return answer
    ctx.draft["conclusion"] = answer
    return ctx.goto("document")


async def ask_document(ctx: Context) -> None:
    ctx.say(ctx._("signing.ask.document"), Keyboard.column([Button(ctx._("signing.no_document"), "none")]))


async def on_document(ctx: Context, msg: Incoming) -> Next:
    if ctx.choice(msg) == "none":
        return await save_review(ctx, None, None)
    if msg.kind in (Kind.DOCUMENT, Kind.PHOTO) and msg.file is not None:
        return await save_review(ctx, msg.file.file_id, msg.file.file_name or ctx._("signing.photo"))
    return ctx.again("signing.err.document")


async def save_review(ctx: Context, file_id: str | None, file_name: str | None) -> Next:
    kind = ReviewKind(ctx.draft.pop("kind"))
    draft = ReviewDraft(
        kind=kind,
        reviewer=str(ctx.draft.pop("reviewer")),
        reviewed_on=date.fromisoformat(str(ctx.draft.pop("reviewed_on"))),
        conclusion=str(ctx.draft.pop("conclusion")),
        document_file_id=file_id,
        document_name=file_name,
    )
    try:
        await signing.record(
            ctx.app.db, member=ctx.user, project_id=int(ctx.draft["project_id"]), draft=draft, now=ctx.now()
        )
    except SigningError as exc:
        ctx.say(ctx._(f"signing.err.{exc.code}", number=ctx.draft["project_id"]))
        return ctx.done()
    ctx.say(ctx._("signing.recorded", kind=kind_name(ctx._, kind)))
    return ctx.goto("overview")


async def ask_exception(ctx: Context) -> None:
    ctx.say(ctx._("signing.ask.exception"))


async def on_exception(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_REASON)
    if isinstance(answer, Next):
        return answer
    try:
        await signing.grant_exception(
            ctx.app.db, member=ctx.user, project_id=int(ctx.draft["project_id"]), reason=answer, now=ctx.now()
        )
    except SigningError as exc:
        ctx.say(ctx._(f"signing.err.{exc.code}", number=ctx.draft["project_id"]))
        return ctx.goto("overview")
    ctx.say(ctx._("signing.exception_recorded"))
    return ctx.goto("overview")


REVIEWS = Flow(
    name="reviews",
    command="reviews",
    roles=ROLES,
    start=PICK.start,
    title_key="flow.reviews",
    describe=lambda draft: str(draft.get("project_name", "")),
    steps={
        "pick": PICK.step(),
        "overview": Step(ask_overview, on_overview),
        "reviewer": Step(ask_reviewer, on_reviewer),
        "reviewed_on": Step(ask_reviewed_on, on_reviewed_on),
        "conclusion": Step(ask_conclusion, on_conclusion),
        "document": Step(ask_document, on_document, documents=True),
        "exception": Step(ask_exception, on_exception),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(REVIEWS)
