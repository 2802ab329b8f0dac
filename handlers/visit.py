"""/visit — a team files a visit to an enterprise, on the road.

    [/visit <one message> | a location shared | a photo sent]  → enterprise
    → [repeat-visit guard: another unit was there lately → go on (flagged) | stop]
    → only what is still missing: where → [why no location] → outcome → next step
    → summary (date, who went and follow-up shown with their defaults; photos added here)
    → save  [the guard again only if what it warned of changed]

The visit's date defaults to today, who went to the filer, the follow-up to
:data:`FOLLOW_UP_DEFAULT` days after the visit; each is corrected from the summary.

On the follow-up date the filer is reminded (:func:`send_follow_up_reminders`, run daily
by the scheduler) with buttons to file the next visit or push the date.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, TypedDict, cast

from bot.core import Button, Incoming, Keyboard, Kind, Reply
from bot.core.app import App
from bot.core.conversation import Action, Command, Context, DocumentHandler, Flow, Next, Step, action_data
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.answers import ask_past_day, read_past_day, today
from handlers.confirm import edit_buttons, field_to_correct, summary_keyboard
from handlers.lookup import MAX_NAME, EnterpriseLookup, enterprise_label
from handlers.notify import tell_bureau, translator_in
from models import Role
from services import visits
from services.access import Purpose
from services.dates import InvalidDate, parse_day
from services.fieldtext import parse_visit_text
from services.names import has_letters
from services.visits import MAX_PHOTOS, Conflict, RepeatVisit, VisitDraft

VISIT_ROLES = frozenset({Role.COUNTY, Role.LIAISON, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE})
FIELDS = ("enterprise", "date", "where", "who", "outcome", "next_step", "follow_up", "photos")
FOLLOW_UP_DAYS = (7, 14, 30)
FOLLOW_UP_DEFAULT = 14
PUSH_DAYS = 7
MAX_PLACE = 200
MAX_WHO = 500
MAX_OUTCOME = 1000
MAX_NEXT = 500


class VisitFields(TypedDict, total=False):
    """What a visit conversation has gathered; a key is there once it is known."""

    enterprise_id: int
    enterprise_name: str
    credit_code: str
    candidates: list[list[Any]]
    date: str  # ISO day
    lat: float
    lon: float
    place: str  # "" with a shared location
    no_location: str  # why there is none; "" with a shared location
    who: str
    outcome: str
    next_step: str
    follow_up: str  # ISO day
    photos: list[str]
    # The guard's warnings the person went on past: [unit_zh, unit_en, kind, day].
    conflicts: list[list[Any]]
    accepted: list[list[Any]]
    accepted_for: int  # the enterprise they were about


def visit_draft(ctx: Context) -> VisitFields:
    return cast(VisitFields, ctx.draft)


# Which draft key each step fills, in the order they are asked; the summary comes after.
ORDER = (
    ("enterprise_name", "enterprise"),
    ("date", "date"),
    ("place", "where"),
    ("no_location", "no_location"),
    ("who", "who"),
    ("outcome", "outcome"),
    ("next_step", "next_step"),
    ("follow_up", "follow_up"),
)


async def next_missing(ctx: Context) -> Next:
    """The visit's one next-step rule: the first thing still missing, else the summary."""
    return ctx.missing(ORDER)


def day_text(day: date | str) -> str:
    return day if isinstance(day, str) else day.isoformat()


# -- entry ------------------------------------------------------------------------------
def fill_from_text(ctx: Context, text: str) -> str | None:
    """Take what one message says (``宁德时代 今天 谈了… 下一步… 两周后跟进``) into the draft.

    Returns the enterprise's name as typed, for the lookup to find.
    """
    draft, now = visit_draft(ctx), today(ctx)
    guess = parse_visit_text(text, now)
    if guess.visit_date is not None and guess.visit_date <= now:
        draft["date"] = guess.visit_date.isoformat()
    visit_day = date.fromisoformat(draft["date"]) if "date" in draft else now
    if guess.follow_up is not None and guess.follow_up > visit_day and guess.follow_up >= now:
        draft["follow_up"] = guess.follow_up.isoformat()
    if guess.outcome:
        draft["outcome"] = guess.outcome[:MAX_OUTCOME]
    if guess.next_step:
        draft["next_step"] = guess.next_step[:MAX_NEXT]
    return guess.enterprise[:MAX_NAME] if guess.enterprise and has_letters(guess.enterprise) else None


def fill_defaults(ctx: Context) -> None:
    """Today, the filer, a follow-up two weeks on: shown on the summary, not asked."""
    draft = visit_draft(ctx)
    draft.setdefault("date", today(ctx).isoformat())
    draft.setdefault("who", ctx.user.full_name)
    after = date.fromisoformat(draft["date"]) + timedelta(days=FOLLOW_UP_DEFAULT)
    draft.setdefault("follow_up", max(after, today(ctx) + timedelta(days=1)).isoformat())


async def start(ctx: Context, msg: Incoming) -> Next:
    """Start a visit from the command (and what it says), a shared location, a photo or a reminder."""
    draft = visit_draft(ctx)
    text = msg.args if msg.kind is Kind.COMMAND else msg.text if msg.kind is Kind.PHOTO else ""
    name = fill_from_text(ctx, " ".join(text.split())[:2000])
    fill_defaults(ctx)
    if draft.get("enterprise_id"):
        ctx.say(ctx._("visit.prefilled", name=draft.get("enterprise_name", "")))
        return await after_enterprise(ctx)
    if "lat" in draft:
        ctx.say(ctx._("visit.from_location"))
    if draft.get("photos"):
        ctx.say(ctx._("visit.from_photo"))
    if name:
        return await LOOKUP.take_name(ctx, name)
    return ctx.goto("enterprise")


def conflict_rows(conflicts: list[Conflict]) -> list[list[Any]]:
    return [[c.unit_zh, c.unit_en, c.kind, c.on.isoformat()] for c in conflicts]


async def after_enterprise(ctx: Context) -> Next:
    """Warn of other units' recent contact as soon as the enterprise is known, not at the end."""
    draft = visit_draft(ctx)
    enterprise_id = draft.get("enterprise_id")
    if draft.get("accepted_for") != enterprise_id:
        # Going on past the warning was about another enterprise.
        draft.pop("accepted", None)
    if enterprise_id and ctx.user.unit_id is not None:
        found = await visits.repeat_conflicts(
            ctx.app.db,
            enterprise_id=int(enterprise_id),
            unit_id=ctx.user.unit_id,
            visit_date=date.fromisoformat(draft.get("date", today(ctx).isoformat())),
        )
        rows = conflict_rows(found)
        if rows and not all(row in draft.get("accepted", []) for row in rows):
            draft["conflicts"] = rows
            return ctx.goto("guard")
    return await next_missing(ctx)


LOOKUP = EnterpriseLookup("visit.ask.enterprise", after=after_enterprise)


# -- date -------------------------------------------------------------------------------
async def ask_date(ctx: Context) -> None:
    ask_past_day(ctx, ctx._("visit.ask.date"), ctx._("visit.date.today"), ctx._("visit.date.yesterday"))


async def on_date(ctx: Context, msg: Incoming) -> Next:
    day = read_past_day(ctx, msg, unreadable="visit.err.date", future="visit.err.future")
    if isinstance(day, Next):
        return day
    draft = visit_draft(ctx)
    draft["date"] = day.isoformat()
    follow_up = draft.get("follow_up")
    if follow_up and date.fromisoformat(follow_up) <= day:
        # A corrected date can leave the follow-up behind it: the rule asks that again.
        draft.pop("follow_up")
        ctx.say(ctx._("visit.follow_up.reset"))
    return await next_missing(ctx)


# -- where ------------------------------------------------------------------------------
async def ask_where(ctx: Context) -> None:
    # Telegram asks for a location only from a reply keyboard, so this one is not inline.
    share = Button(ctx._("visit.where.share"), request_location=True)
    ctx.say(ctx._("visit.ask.where"), Keyboard(((share,),)))


async def on_where(ctx: Context, msg: Incoming) -> Next:
    draft = visit_draft(ctx)
    if msg.kind is Kind.LOCATION and msg.location is not None:
        draft["lat"], draft["lon"] = msg.location.latitude, msg.location.longitude
        draft["place"], draft["no_location"] = "", ""
        ctx.say(ctx._("visit.where.got"), remove_keyboard=True)
        return await next_missing(ctx)
    if msg.kind is not Kind.TEXT:
        return ctx.again("visit.err.where")
    answer = ctx.text_answer(msg, max_len=MAX_PLACE)
    if isinstance(answer, Next):
        return answer
    draft["place"] = answer
    draft.pop("lat", None)
    draft.pop("lon", None)
    draft.pop("no_location", None)
    return await next_missing(ctx)


async def ask_no_location(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.no_location"), remove_keyboard=True)


async def on_no_location(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_PLACE)
    if isinstance(answer, Next):
        return answer
    visit_draft(ctx)["no_location"] = answer
    return await next_missing(ctx)


# -- who, outcome, next step ----------------------------------------------------------------
async def ask_who(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.who"), remove_keyboard=True)


async def on_who(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_WHO)
    if isinstance(answer, Next):
        return answer
    if not has_letters(answer):
        return ctx.again("visit.err.who_no_letters", text=answer)
    visit_draft(ctx)["who"] = answer
    return await next_missing(ctx)


async def ask_outcome(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.outcome"), remove_keyboard=True)


async def on_outcome(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_OUTCOME)
    if isinstance(answer, Next):
        return answer
    visit_draft(ctx)["outcome"] = answer
    return await next_missing(ctx)


async def ask_next_step(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.next_step"))


async def on_next_step(ctx: Context, msg: Incoming) -> Next:
    answer = ctx.text_answer(msg, max_len=MAX_NEXT)
    if isinstance(answer, Next):
        return answer
    visit_draft(ctx)["next_step"] = answer
    return await next_missing(ctx)


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
    draft = visit_draft(ctx)
    refused = check_follow_up(ctx, day, date.fromisoformat(draft["date"]))
    if refused is not None:
        return refused
    draft["follow_up"] = day.isoformat()
    return await next_missing(ctx)


# -- photos -----------------------------------------------------------------------------
def photos_done(ctx: Context) -> Keyboard:
    return Keyboard.column([Button(ctx._("visit.photos.done"), "done")])


async def ask_photos(ctx: Context) -> None:
    ctx.say(ctx._("visit.ask.photos", max=MAX_PHOTOS), photos_done(ctx))


def take_photo(ctx: Context, msg: Incoming) -> Next | None:
    """Keep a photo sent at the summary or the photo step; ``None`` when the message is not one."""
    if msg.kind is not Kind.PHOTO or msg.file is None:
        return None
    photos = visit_draft(ctx).setdefault("photos", [])
    if len(photos) >= MAX_PHOTOS:
        return ctx.again("visit.err.photos_max", max=MAX_PHOTOS)
    photos.append(msg.file.file_id)
    if ctx.step == "photos":
        # Each answer renews the keyboard's version: the button goes out again with it.
        ctx.say(ctx._("visit.photos.got", count=len(photos)), photos_done(ctx))
        return None
    ctx.say(ctx._("visit.photos.got", count=len(photos)))
    return ctx.goto("confirm")


async def on_photos(ctx: Context, msg: Incoming) -> Next:
    if ctx.choice(msg) == "done":
        return await next_missing(ctx)
    if msg.kind is not Kind.PHOTO:
        return ctx.again("visit.err.photos")
    refused = take_photo(ctx, msg)
    return refused if refused is not None else ctx.stay()


# -- summary and saving ---------------------------------------------------------------------
def summary(ctx: Context, draft: VisitFields) -> str:
    if "lat" in draft:
        where = ctx._("visit.summary.location", lat=f"{draft['lat']:.5f}", lon=f"{draft['lon']:.5f}")
    else:
        where = ctx._("visit.summary.place", place=draft.get("place", ""), reason=draft.get("no_location", ""))
    return ctx._(
        "visit.summary",
        enterprise=enterprise_label(ctx, dict(draft), "visit.summary.new_enterprise"),
        date=draft.get("date", ""),
        where=where,
        who=draft.get("who", ""),
        outcome=draft.get("outcome", ""),
        next_step=draft.get("next_step", ""),
        follow_up=draft.get("follow_up", ""),
        photos=len(draft.get("photos", [])),
    )


def quick_fixes(ctx: Context) -> list[Button]:
    """One press corrects a default: the visit was yesterday; the follow-up is sooner or later."""
    draft, now = visit_draft(ctx), today(ctx)
    buttons = []
    if draft.get("date") == now.isoformat():
        buttons.append(Button(ctx._("visit.quick.yesterday"), "q:d1"))
    for days in (7, 30):
        if draft.get("follow_up") != (now + timedelta(days=days)).isoformat():
            buttons.append(Button(ctx._("visit.quick.follow_up", days=days), f"q:f{days}"))
    return buttons


def quick_fix(ctx: Context, data: str) -> Next:
    draft, now = visit_draft(ctx), today(ctx)
    if data == "q:d1":
        day = now - timedelta(days=1)
        draft["date"] = day.isoformat()
        return ctx.goto("confirm")
    days = int(data[3:])
    follow_up = now + timedelta(days=days)
    refused = check_follow_up(ctx, follow_up, date.fromisoformat(draft["date"]))
    if refused is not None:
        return refused
    draft["follow_up"] = follow_up.isoformat()
    return ctx.goto("confirm")


async def ask_confirm(ctx: Context) -> None:
    save = Button(ctx._("visit.confirm.save"), "save")
    discard = Button(ctx._("visit.confirm.discard"), "discard")
    keyboard = summary_keyboard(save, edit_buttons(ctx, "visit", FIELDS), discard)
    quick = quick_fixes(ctx)
    if quick:
        keyboard = Keyboard((keyboard.rows[0], tuple(quick), *keyboard.rows[1:]))
    ctx.say(summary(ctx, visit_draft(ctx)) + "\n\n" + ctx._("visit.ask.confirm", max=MAX_PHOTOS), keyboard)


def draft_of(draft: VisitFields) -> VisitDraft:
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
    if msg.kind is Kind.PHOTO:
        return take_photo(ctx, msg) or ctx.goto("confirm")
    data = ctx.choice(msg)
    if data == "discard":
        ctx.say(ctx._("visit.discarded"))
        return ctx.done()
    if (field := field_to_correct(ctx, data, FIELDS)) is not None:
        return ctx.goto("where" if field == "where" else field)
    if data in ("q:d1", "q:f7", "q:f30"):
        return quick_fix(ctx, data)
    if data != "save":
        return ctx.again("visit.err.confirm_buttons")
    return await save(ctx)


async def save(ctx: Context) -> Next:
    """Save; the guard is asked again only when what it warned of has changed."""
    draft = visit_draft(ctx)
    accepted = {tuple(row) for row in draft.get("accepted", [])}
    try:
        visit = await visits.create_visit(
            ctx.app.db,
            member=ctx.user,
            draft=draft_of(draft),
            accepted=lambda c: (c.unit_zh, c.unit_en, c.kind, c.on.isoformat()) in accepted,
            now=ctx.now(),
        )
    except RepeatVisit as exc:
        draft["conflicts"] = conflict_rows(exc.conflicts)
        return ctx.goto("guard")
    assert visit.id is not None
    ctx.say(ctx._("visit.saved", number=visit.id, follow_up=day_text(draft["follow_up"])))
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
        ctx._("visit.guard", days=window, lines=conflict_lines(ctx._, visit_draft(ctx).get("conflicts", []))),
        Keyboard.column([Button(ctx._("visit.guard.go_ahead"), "go"), Button(ctx._("visit.guard.stop"), "stop")]),
    )


async def on_guard(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "stop":
        ctx.say(ctx._("visit.guard.stopped"))
        return ctx.done()
    if data != "go":
        return ctx.again("core.err.use_buttons")
    draft = visit_draft(ctx)
    accepted = draft.setdefault("accepted", [])
    accepted.extend(row for row in draft.get("conflicts", []) if row not in accepted)
    if "enterprise_id" in draft:
        draft["accepted_for"] = draft["enterprise_id"]
    return await next_missing(ctx)


async def tell_bureau_flagged(ctx: Context, visit_id: int) -> None:
    """The bureau hears of every visit filed past the guard."""
    user, draft = ctx.user, visit_draft(ctx)
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
        "where": Step(ask_where, on_where, location=True),
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


# -- from the phone, outside any conversation -------------------------------------------------
async def visit_here(ctx: Context, msg: Incoming) -> None:
    """A location shared outside a conversation: a visit at that place."""
    if msg.location is None:
        return
    lat, lon = msg.location.latitude, msg.location.longitude
    ctx.start_flow("visit", {"lat": lat, "lon": lon, "place": "", "no_location": ""})


async def visit_with_photo(ctx: Context, msg: Incoming) -> None:
    """A photo sent outside a conversation: a visit with that photo; its caption is read as ``/visit …``."""
    if msg.file is None:
        return
    ctx.start_flow("visit", {"photos": [msg.file.file_id]})


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
    registry.outside[Kind.LOCATION] = DocumentHandler(visit_here, roles=VISIT_ROLES)
    registry.outside[Kind.PHOTO] = DocumentHandler(visit_with_photo, roles=VISIT_ROLES)
