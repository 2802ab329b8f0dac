"""/contacts — a unit's directory of key enterprises, associations, notables and advisers (§9).

menu (the directory, overdue first; "N what happened" logs a contact) → add: kind → name →
place → reach → relation → cadence → menu

``/contacted N what happened`` logs a contact in one message from anywhere. Once a week the
people of a unit with overdue entries are reminded of them (:func:`send_contact_reminders`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core import Button, Incoming, Keyboard, Reply
from bot.core.app import App
from bot.core.conversation import Command, Context, Flow, Next, Step
from bot.core.i18n import Translator
from bot.core.registry import Registry
from handlers.notify import tell
from models import Role
from services import contacts, members
from services.contacts import ContactRow
from services.periods import local_date

MAX_LISTED = 40
MAX_NOTE = 300


def _row(_: Translator, row: ContactRow, kinds: dict[str, contacts.ContactKind], tz: ZoneInfo) -> str:
    c = row.contact
    kind = kinds[c.kind].name(_.locale) if c.kind in kinds else c.kind
    due = local_date(row.due_at, tz).isoformat()
    status = _("net.contacts.overdue", days=row.overdue_days) if row.overdue_days else _("net.contacts.due", date=due)
    return _(
        "net.contacts.row",
        number=row.number,
        kind=kind,
        name=c.name,
        place=c.place,
        reach=c.reach,
        relation=c.relation,
        cadence=c.cadence_days,
        status=status,
        leads=row.leads,
        visits=row.visits,
        projects=row.projects,
    )


async def start(ctx: Context, msg: Incoming) -> Next:
    if not contacts.may_keep(ctx.user):
        ctx.say(ctx._("net.contacts.not_yours"))
        return ctx.done()
    return ctx.goto("menu")


async def ask_menu(ctx: Context) -> None:
    assert ctx.user.unit_id is not None
    now = ctx.now()
    rows = await contacts.directory(ctx.app.db, ctx.user.unit_id, now)
    kinds = {k.code: k for k in await contacts.kinds(ctx.app.db)}
    lines = [ctx._("net.contacts.header", unit=ctx.user.unit_name(ctx.locale), count=len(rows))]
    lines += [_row(ctx._, row, kinds, ctx.app.tz) for row in rows[:MAX_LISTED]]
    if len(rows) > MAX_LISTED:
        lines.append(ctx._("net.contacts.more", count=len(rows) - MAX_LISTED))
    lines.append(ctx._("net.contacts.how_to_log") if rows else ctx._("net.contacts.empty"))
    buttons = [Button(ctx._("net.contacts.add"), "add"), Button(ctx._("net.close"), "close")]
    ctx.say("\n".join(lines), Keyboard.grid(buttons, width=2))


async def on_menu(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "add":
        return ctx.goto("kind")
    if data == "close":
        ctx.say(ctx._("net.closed"))
        return ctx.done()
    if data is not None:
        return ctx.again("core.err.use_buttons")
    error = await _log(ctx, msg.text)
    return ctx.again(error) if error else ctx.goto("menu")


async def _log(ctx: Context, text: str) -> str | None:
    """Log "N what happened"; the catalog key of what is wrong with it, if anything."""
    number, _, note = " ".join(text.split()).lstrip("#").partition(" ")
    if not number.isdigit() or not note:
        return "net.contacts.err.log"
    if len(note) > MAX_NOTE:
        return "net.contacts.err.note_long"
    contact = await contacts.log_contact(ctx.app.db, member=ctx.user, contact_id=int(number), note=note, now=ctx.now())
    if contact is None:
        return "net.contacts.err.number"
    ctx.say(ctx._("net.contacts.logged", name=contact.name, note=note, days=contact.cadence_days))
    return None


async def contacted(ctx: Context, msg: Incoming) -> None:
    """Log a contact in one message: ``/contacted 3 电话沟通，对方下月来考察``."""
    if not contacts.may_keep(ctx.user):
        ctx.say(ctx._("net.contacts.not_yours"))
        return
    error = await _log(ctx, msg.args)
    if error:
        ctx.say(ctx._(error))


# -- add ---------------------------------------------------------------------------------
async def ask_kind(ctx: Context) -> None:
    kinds = await contacts.kinds(ctx.app.db)
    buttons = [Button(k.name(ctx.locale), f"k{i}") for i, k in enumerate(kinds)]
    ctx.say(ctx._("net.contacts.ask.kind"), Keyboard.grid(buttons, width=2))


async def on_kind(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    kinds = await contacts.kinds(ctx.app.db)
    if not data.startswith("k") or not data[1:].isdigit() or int(data[1:]) >= len(kinds):
        return ctx.again("core.err.use_buttons")
    kind = kinds[int(data[1:])]
    ctx.draft.update(kind=kind.code, cadence=kind.cadence_days)
    return ctx.goto("name")


def _text_step(field: str, following: str, max_len: int) -> Step:
    async def ask(ctx: Context) -> None:
        ctx.say(ctx._(f"net.contacts.ask.{field}"))

    async def handle(ctx: Context, msg: Incoming) -> Next:
        answer = ctx.text_answer(msg, max_len=max_len)
        if isinstance(answer, Next):
            return answer
        ctx.draft[field] = answer
        return ctx.goto(following)

    return Step(ask, handle)


async def ask_cadence(ctx: Context) -> None:
    days = int(ctx.draft.get("cadence", 90))
    buttons = [Button(ctx._("net.contacts.cadence_days", days=days), "keep")]
    ctx.say(ctx._("net.contacts.ask.cadence", days=days), Keyboard.grid(buttons, width=1))


async def on_cadence(ctx: Context, msg: Incoming) -> Next:
    if ctx.choice(msg) == "keep":
        days = int(ctx.draft.get("cadence", 90))
    else:
        typed = msg.text.strip().removesuffix("天").removesuffix("days").strip()
        if not typed.isdigit() or not contacts.MIN_CADENCE <= int(typed) <= contacts.MAX_CADENCE:
            return ctx.again("net.contacts.err.cadence", low=contacts.MIN_CADENCE, high=contacts.MAX_CADENCE)
        days = int(typed)
    contact = await contacts.add(
        ctx.app.db,
        member=ctx.user,
        kind=str(ctx.draft["kind"]),
        name=str(ctx.draft["name"]),
        place=str(ctx.draft["place"]),
        reach=str(ctx.draft["reach"]),
        relation=str(ctx.draft["relation"]),
        cadence_days=days,
        now=ctx.now(),
    )
    ctx.say(ctx._("net.contacts.added", number=contact.id, name=contact.name, days=days))
    for key in ("kind", "name", "place", "reach", "relation", "cadence"):
        ctx.draft.pop(key, None)
    return ctx.goto("menu")


def describe(draft: dict[str, object]) -> str:
    return str(draft.get("name", ""))


CONTACTS = Flow(
    name="contacts",
    command="contacts",
    roles=contacts.KEEPERS,
    start=start,
    title_key="flow.contacts",
    describe=describe,
    steps={
        "menu": Step(ask_menu, on_menu),
        "kind": Step(ask_kind, on_kind),
        "name": _text_step("name", "place", 100),
        "place": _text_step("place", "reach", 100),
        "reach": _text_step("reach", "relation", 100),
        "relation": _text_step("relation", "cadence", 300),
        "cadence": Step(ask_cadence, on_cadence),
    },
)


async def send_contact_reminders(app: App, now: datetime) -> int:
    """Tell the people of each unit with overdue entries which ones; once a week per person."""
    today = local_date(now, app.tz)
    year, week, _ = today.isocalendar()
    queued = 0
    kinds = {k.code: k for k in await contacts.kinds(app.db)}
    for unit_id in await contacts.units_with_overdue(app.db, now):
        rows = await contacts.overdue(app.db, unit_id, now)
        people = [p for p in await members.people(app.db, unit_id=unit_id) if Role(p.role) in contacts.KEEPERS]

        def build(_: Translator, rows: list[ContactRow] = rows) -> list[Reply]:
            lines = [_("net.contacts.reminder", count=len(rows))]
            lines += [_row(_, row, kinds, app.tz) for row in rows[:MAX_LISTED]]
            lines.append(_("net.contacts.how_to_log_command"))
            return [Reply("\n".join(lines))]

        queued += await tell(app, people, build, kind="contacts_due", key=f"contacts_due:{unit_id}:{year}-W{week:02d}")
    return queued


def register(registry: Registry) -> None:
    registry.add_flow(CONTACTS)
    registry.add_command(Command("contacted", contacted, roles=contacts.KEEPERS, help_key="help.contacted"))
