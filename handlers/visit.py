"""/visit — a team files a visit to an enterprise, on the road.

    enterprise → date → where (shared location | typed place → why no location) → who went
    → outcome → next step → follow-up date → photos → confirm
    → [repeat-visit guard: another unit was there lately → go ahead (flagged) | stop]

On the follow-up date the filer is reminded (:func:`send_follow_up_reminders`, run daily
by the scheduler) with buttons to file the next visit or push the date.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.app import App
from bot.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core import Button, Incoming, Keyboard, Kind, Reply
from bot.i18n import Translator
from bot.router import Registry
from handlers.answers import ask_past_day, read_past_day, today
from handlers.confirm import edit_buttons, field_to_correct, summary_keyboard
from handlers.lookup import EnterpriseLookup, enterprise_label
from handlers.notify import tell_bureau, translator_in
from models import Role
from services import visits
from services.access import Purpose
from services.dates import InvalidDate, parse_day
from services.names import has_letters
from services.visits import MAX_PHOTOS, RepeatVisit, VisitDraft

VISIT_ROLES = frozenset({Role.COUNTY, Role.LIAISON, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE})
FIELDS = ("enterprise", "date", "where", "who", "outcome", "next_step", "follow_up", "photos")
FOLLOW_UP_DAYS = (7, 14, 30)
PUSH_DAYS = 7
MAX_PLACE = 200
MAX_WHO = 500
MAX_OUTCOME = 1000
MAX_NEXT = 500


def day_text(day: date | str) -> str:
    return day if isinstance(day, str) else day.isoformat()


# -- entry ------------------------------------------------------------------------------
async def start(ctx: Context, msg: Incoming) -> Next:
    """Start a visit; from a follow-up reminder the enterprise is already known."""
    if ctx.draft.get("enterprise_id"):
        ctx.say(ctx._("visit.prefilled", name=ctx.draft.get("enterprise_name", "")))
        return ctx.goto("date")
    return ctx.goto("enterprise")


async def _after_enterprise(ctx: Context) -> Next:
    return ctx.then("date")


LOOKUP = EnterpriseLookup("visit.ask.enterprise", after=_after_enterprise)


# -- date -------------------------------------------------------------------------------
async def ask_date(ctx: Context) -> None:
    ask_past_day(ctx, ctx._("visit.ask.date"), ctx._("visit.date.today"), ctx._("visit.date.yesterday"))


async def on_date(ctx: Context, msg: Incoming) -> Next:
    day = read_past_day(ctx, msg, unreadable="visit.err.date", future="visit.err.future")
    if isinstance(day, Next):
        return day
    ctx.draft["date"] = day.isoformat()
    follow_up = ctx.draft.get("follow_up")
    if follow_up and date.fromisoformat(follow_up) <= day:
        # A corrected date can leave the follow-up behind it: ask that again too.
        ctx.draft.pop("follow_up")
        ctx.say(ctx._("visit.follow_up.reset"))
        return ctx.goto("follow_up")
    return ctx.then("where")


# -- where ------------------------------------------------------------------------------
async def ask_where(ctx: Context) -> None:
    # Telegram asks for a location only from a reply keyboard, so this one is not inline.
    share = Button(ctx._("visit.where.share"), request_location=True)
    ctx.say(ctx._("visit.ask.where"), Keyboard(((share,),)))


async def on_where(ctx: Context, msg: Incoming) -> Next:
    if msg.kind is Kind.LOCATION and msg.location is not None:
        ctx.draft["lat"], ctx.draft["lon"] = msg.location.latitude, msg.location.longitude
        ctx.draft.pop("place", None)
        ctx.draft.pop("no_location", None)
        ctx.say(ctx._("visit.where.got"), remove_keyboard=True)
        return ctx.then("who")
    if msg.kind is not Kind.TEXT:
        return ctx.again("visit.err.where")
    answer = ctx.text_answer(msg, max_len=MAX_PLACE)
    if isinstance(answer, Next):
        return answer
    ctx.draft["place"] = answer
    ctx.draft.pop("lat", None)
    ctx.draft.pop("lon", None)
    return ctx.goto("no_location")


async def ask_no_location(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.no_location"), remove_keyboard=True)


async def on_no_location(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_PLACE)
    if isinstance(answer, Next):
        return answer
    ctx.draft["no_location"] = answer
    return ctx.then("who")


# -- who, outcome, next step ----------------------------------------------------------------
async def ask_who(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.who"), remove_keyboard=True)


async def on_who(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_WHO)
    if isinstance(answer, Next):
        return answer
    if not has_letters(answer):
        return ctx.again("visit.err.who_no_letters", text=answer)
    ctx.draft["who"] = answer
    return ctx.then("outcome")


async def ask_outcome(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.outcome"))


async def on_outcome(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_OUTCOME)
    if isinstance(answer, Next):
        return answer
    ctx.draft["outcome"] = answer
    return ctx.then("next_step")


async def ask_next_step(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.next_step"))


async def on_next_step(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NEXT)
    if isinstance(answer, Next):
        return answer
    ctx.draft["next_step"] = answer
    return ctx.then("follow_up")


# -- follow-up date -----------------------------------------------------------------------
async def ask_follow_up(ctx: Context) -> None:
    buttons = [Button(ctx._("visit.follow_up.in_days", days=n), f"f{n}") for n in FOLLOW_UP_DAYS]
    ctx.say(ctx._("visit.ask.follow_up"), Keyboard.grid(buttons, width=3))


def check_follow_up(ctx: Context, day: date, after: date) -> Next | None:
    """A follow-up is after the visit, and not already past."""
    if day <= after:
        return ctx.again("visit.err.follow_up_early", date=after.isoformat())
    if day < today(ctx):
        return ctx.again("visit.err.follow_up_past", date=day.isoformat())
    return None


async def read_follow_up(ctx: Context, msg: Incoming) -> date | Next:
    data = ctx.choice(msg)
    if data and data.startswith("f") and data[1:].isdigit():
        return today(ctx) + timedelta(days=int(data[1:]))
    answer = ctx.text_answer(msg, max_len=20)
    if isinstance(answer, Next):
        return answer
    try:
        return parse_day(answer, today(ctx))
    except InvalidDate:
        return ctx.again("visit.err.date", text=answer)


async def on_follow_up(ctx: Context, msg: Incoming) -> Next:
    day = await read_follow_up(ctx, msg)
    if isinstance(day, Next):
        return day
    refused = check_follow_up(ctx, day, date.fromisoformat(ctx.draft["date"]))
    if refused is not None:
        return refused
    ctx.draft["follow_up"] = day.isoformat()
    return ctx.then("photos")


# -- photos -----------------------------------------------------------------------------
def photos_keyboard(ctx: Context) -> Keyboard:
    label = "visit.photos.done" if ctx.draft.get("photos") else "visit.photos.skip"
    return Keyboard.column([Button(ctx._(label), "done")])


async def ask_photos(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.photos", max=MAX_PHOTOS), photos_keyboard(ctx))


async def on_photos(ctx: Context, msg: Incoming) -> Next:
    if ctx.choice(msg) == "done":
        return ctx.then("confirm")
    if msg.kind is not Kind.PHOTO or msg.file is None:
        return ctx.again("visit.err.photos")
    photos: list[str] = ctx.draft.setdefault("photos", [])
    if len(photos) >= MAX_PHOTOS:
        return ctx.again("visit.err.photos_max", max=MAX_PHOTOS)
    photos.append(msg.file.file_id)
    ctx.say(ctx._("visit.photos.got", count=len(photos)), photos_keyboard(ctx))
    return ctx.stay()


# -- summary and saving ---------------------------------------------------------------------
def summary(ctx: Context, draft: dict[str, Any]) -> str:
    if "lat" in draft:
        where = ctx._("visit.summary.location", lat=f"{draft['lat']:.5f}", lon=f"{draft['lon']:.5f}")
    else:
        where = ctx._("visit.summary.place", place=draft.get("place", ""), reason=draft.get("no_location", ""))
    return ctx._(
        "visit.summary",
        enterprise=enterprise_label(ctx, draft, "visit.summary.new_enterprise"),
        date=draft.get("date", ""),
        where=where,
        who=draft.get("who", ""),
        outcome=draft.get("outcome", ""),
        next_step=draft.get("next_step", ""),
        follow_up=draft.get("follow_up", ""),
        photos=len(draft.get("photos", [])),
    )


async def ask_confirm(ctx: Context) -> None:
    save = Button(ctx._("visit.confirm.save"), "save")
    discard = Button(ctx._("visit.confirm.discard"), "discard")
    ctx.say(
        summary(ctx, ctx.draft) + "\n\n" + ctx._("visit.ask.confirm"),
        summary_keyboard(save, edit_buttons(ctx, "visit", FIELDS), discard),
    )


def draft_of(draft: dict[str, Any]) -> VisitDraft:
    return VisitDraft(
        enterprise_id=draft.get("enterprise_id"),
        enterprise_name=str(draft.get("enterprise_name", "")),
        credit_code=draft.get("credit_code"),
        visit_date=date.fromisoformat(draft["date"]),
        follow_up_date=date.fromisoformat(draft["follow_up"]),
        latitude=draft.get("lat"),
        longitude=draft.get("lon"),
        place=str(draft.get("place", "")),
        no_location_reason=str(draft.get("no_location", "")),
        participants=str(draft.get("who", "")),
        outcome=str(draft.get("outcome", "")),
        next_step=str(draft.get("next_step", "")),
        photos=tuple(draft.get("photos", [])),
    )


async def on_confirm(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "discard":
        ctx.say(ctx._("visit.discarded"))
        return ctx.done()
    if (field := field_to_correct(ctx, data, FIELDS)) is not None:
        if field == "photos":
            ctx.draft.pop("photos", None)
        return ctx.goto(field)
    if data != "save":
        return ctx.again("visit.err.confirm_buttons")
    return await save(ctx, go_ahead=False)


async def save(ctx: Context, *, go_ahead: bool) -> Next:
    try:
        visit = await visits.create_visit(
            ctx.app.db, member=ctx.user, draft=draft_of(ctx.draft), go_ahead=go_ahead, now=ctx.now()
        )
    except RepeatVisit as exc:
        ctx.draft["conflicts"] = [[c.unit_zh, c.unit_en, c.kind, c.on.isoformat()] for c in exc.conflicts]
        return ctx.goto("guard")
    assert visit.id is not None
    ctx.say(ctx._("visit.saved", number=visit.id, follow_up=day_text(ctx.draft["follow_up"])))
    if visit.flagged:
        await tell_bureau_flagged(ctx, visit.id)
    return ctx.done()


def conflict_lines(_: Translator, conflicts: list[Any]) -> str:
    """Which unit and when — nothing more (§17: no contacts, no notes)."""
    lines = []
    for zh, en, kind, on in conflicts:
        unit = en if _.locale == "en" and en else zh
        lines.append(_(f"visit.guard.{kind}", unit=unit, date=on))
    return "\n".join(lines)


async def ask_guard(ctx: Context) -> None:
    window = await visits.window_days(ctx.app.db)
    ctx.say(
        ctx._("visit.guard", days=window, lines=conflict_lines(ctx._, ctx.draft.get("conflicts", []))),
        Keyboard.column([Button(ctx._("visit.guard.go_ahead"), "go"), Button(ctx._("visit.guard.stop"), "stop")]),
    )


async def on_guard(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "stop":
        ctx.say(ctx._("visit.guard.stopped"))
        return ctx.done()
    if data != "go":
        return ctx.again("core.err.use_buttons")
    return await save(ctx, go_ahead=True)


async def tell_bureau_flagged(ctx: Context, visit_id: int) -> None:
    """The bureau hears of every visit filed past the guard."""
    user, draft = ctx.user, ctx.draft
    conflicts = draft.get("conflicts", [])

    def build(_: Translator) -> list[Reply]:
        return [
            Reply(
                _(
                    "visit.flagged",
                    number=visit_id,
                    unit=user.unit_name(_.locale),
                    person=user.full_name,
                    enterprise=draft.get("enterprise_name", ""),
                    date=draft.get("date", ""),
                    lines=conflict_lines(_, conflicts),
                )
            )
        ]

    await tell_bureau(ctx.app, build, kind="visit_flagged", key=f"visit_flagged:{visit_id}")


def describe(draft: dict[str, Any]) -> str:
    return str(draft.get("enterprise_name", ""))


VISIT = Flow(
    name="visit",
    command="visit",
    roles=VISIT_ROLES,
    start=start,
    title_key="flow.visit",
    describe=describe,
    steps={
        **LOOKUP.steps(),
        "date": Step(ask_date, on_date),
        "where": Step(ask_where, on_where),
        "no_location": Step(ask_no_location, on_no_location),
        "who": Step(ask_who, on_who),
        "outcome": Step(ask_outcome, on_outcome),
        "next_step": Step(ask_next_step, on_next_step),
        "follow_up": Step(ask_follow_up, on_follow_up),
        "photos": Step(ask_photos, on_photos),
        "confirm": Step(ask_confirm, on_confirm),
        "guard": Step(ask_guard, on_guard),
    },
)


# -- /visits ------------------------------------------------------------------------------
async def list_visits(ctx: Context, msg: Incoming) -> None:
    """The most recent visits this person may see."""
    rows = await visits.visible(ctx.app.db, ctx.user)
    if not rows:
        ctx.say(ctx._("visit.list.empty"))
        return
    lines = [ctx._("visit.list.header", count=len(rows))]
    for row in rows:
        lines.append(
            ctx._(
                "visit.list.row",
                number=row.visit.id,
                date=row.visit.visit_date.isoformat(),
                enterprise=row.enterprise.name,
                unit=row.unit.name(ctx.locale),
                flag=ctx._("visit.list.flag") if row.visit.flagged else "",
            )
        )
    ctx.say("\n".join(lines))


# -- follow-up reminders --------------------------------------------------------------------
async def send_follow_up_reminders(app: App, day: date) -> int:
    """Queue the reminder of every visit whose follow-up is ``day`` (a local date); once per visit and date."""
    queued = 0
    for due in await visits.due_follow_ups(app.db, day):
        _ = translator_in(app, due.locale, due.language_code)
        text = _(
            "visit.reminder",
            enterprise=due.enterprise,
            date=due.visit_date.isoformat(),
            next_step=due.next_step,
        )
        keyboard = Keyboard.column(
            [
                Button(_("visit.reminder.file"), action_data("vnext", due.visit_id)),
                Button(_("visit.reminder.push", days=PUSH_DAYS), action_data("vpush", f"{due.visit_id}.{PUSH_DAYS}")),
                Button(_("visit.reminder.push_other"), action_data("vpush", f"{due.visit_id}.ask")),
            ]
        )
        key = f"follow_up:{due.visit_id}:{day.isoformat()}"
        if await app.outbox.enqueue(due.telegram_id, [Reply(text, keyboard)], kind="follow_up", key=key):
            queued += 1
    return queued


def _visit_id(arg: str) -> int | None:
    head = arg.split(".", 1)[0]
    return int(head) if head.isdigit() else None


async def file_next(ctx: Context, msg: Incoming, arg: str) -> None:
    """From a reminder: open /visit with the enterprise filled in."""
    visit_id = _visit_id(arg)
    row = await visits.get(ctx.app.db, ctx.user, visit_id, Purpose.WORK) if visit_id else None
    if row is None:
        ctx.notice(ctx._("core.expired"))
        return
    ctx.start_flow("visit", {"enterprise_id": row.enterprise.id, "enterprise_name": row.enterprise.name})


async def push(ctx: Context, msg: Incoming, arg: str) -> None:
    """From a reminder: move the follow-up a week on, or ask for the day."""
    visit_id = _visit_id(arg)
    row = await visits.get(ctx.app.db, ctx.user, visit_id, Purpose.WORK) if visit_id else None
    if row is None or visit_id is None:
        ctx.notice(ctx._("core.expired"))
        return
    how = arg.partition(".")[2]
    if how == "ask":
        ctx.start_flow("visit_push", {"visit_id": visit_id, "enterprise_name": row.enterprise.name})
        return
    day = today(ctx) + timedelta(days=PUSH_DAYS)
    await visits.push_follow_up(ctx.app.db, member=ctx.user, visit_id=visit_id, to=day)
    ctx.edit(ctx._("visit.pushed", enterprise=row.enterprise.name, date=day.isoformat()))


async def push_start(ctx: Context, msg: Incoming) -> Next:
    """Ask for the new follow-up day (opened from a reminder's button)."""
    if "visit_id" not in ctx.draft:
        ctx.say(ctx._("visit.push.from_reminder"))
        return ctx.done()
    return ctx.goto("date")


async def ask_push_date(ctx: Context) -> None:
    buttons = [Button(ctx._("visit.follow_up.in_days", days=n), f"f{n}") for n in FOLLOW_UP_DAYS]
    ctx.say(ctx._("visit.push.ask", enterprise=ctx.draft.get("enterprise_name", "")), Keyboard.grid(buttons, width=3))


async def on_push_date(ctx: Context, msg: Incoming) -> Next:
    day = await read_follow_up(ctx, msg)
    if isinstance(day, Next):
        return day
    row = await visits.get(ctx.app.db, ctx.user, int(ctx.draft["visit_id"]), Purpose.WORK)
    if row is None:
        ctx.say(ctx._("core.expired"))
        return ctx.done()
    refused = check_follow_up(ctx, day, row.visit.visit_date)
    if refused is not None:
        return refused
    await visits.push_follow_up(ctx.app.db, member=ctx.user, visit_id=int(ctx.draft["visit_id"]), to=day)
    ctx.say(ctx._("visit.pushed", enterprise=row.enterprise.name, date=day.isoformat()))
    return ctx.done()


PUSH = Flow(
    name="visit_push",
    command="visit_push",
    roles=VISIT_ROLES,
    start=push_start,
    title_key="flow.visit_push",
    describe=lambda draft: str(draft.get("enterprise_name", "")),
    steps={"date": Step(ask_push_date, on_push_date)},
)


def register(registry: Registry) -> None:
    registry.add_flow(VISIT)
    registry.add_flow(PUSH, listed=False)
    registry.add_command(Command("visits", list_visits, roles=VISIT_ROLES | {Role.BUREAU}, help_key="help.visits"))
    registry.add_action(Action("vnext", file_next, roles=VISIT_ROLES))
    registry.add_action(Action("vpush", push, roles=VISIT_ROLES))
