"""/source — name where a saved lead, visit or project came from: a directory contact (§9) or
an event (§10). The record's own conversation stays as it is; this is done after saving.

kind (lead | visit | project) → which (the unit's latest) → from (contact | event) → which one
"""

from __future__ import annotations

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Context, Flow, Next, Step
from bot.core.registry import Registry
from models import OriginKind, Role
from services import contacts, expos, origins

SOURCE_ROLES = frozenset(Role) - {Role.LEADER}
MAX_BUTTONS = 20


async def start(ctx: Context, msg: Incoming) -> Next:
    return ctx.goto("kind")


async def ask_kind(ctx: Context) -> None:
    buttons = [Button(ctx._(f"net.source.kind.{k.value}"), k.value) for k in OriginKind]
    ctx.say(ctx._("net.source.ask.kind"), Keyboard.grid(buttons, width=3))


async def on_kind(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data not in {k.value for k in OriginKind}:
        return ctx.again("core.err.use_buttons")
    if not await origins.recent(ctx.app.db, ctx.user, OriginKind(data)):
        return ctx.again("net.source.err.none")
    ctx.draft["record"] = data
    return ctx.goto("record")


async def ask_record(ctx: Context) -> None:
    rows = await origins.recent(ctx.app.db, ctx.user, OriginKind(ctx.draft["record"]))
    buttons = [Button(f"#{r.record_id} {r.enterprise} {r.label}"[:60], f"r{r.record_id}") for r in rows]
    ctx.say(ctx._("net.source.ask.record"), Keyboard.column(buttons))


async def on_record(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    typed = data[1:] if data.startswith("r") else msg.text.strip().lstrip("#")
    if not typed.isdigit():
        return ctx.again("core.err.use_buttons")
    found = await origins.one(ctx.app.db, ctx.user, OriginKind(ctx.draft["record"]), int(typed))
    if found is None:
        return ctx.again("net.source.err.record")
    ctx.draft.update(record_id=found.record_id, label=f"{found.enterprise} {found.label}")
    return ctx.goto("from")


async def ask_from(ctx: Context) -> None:
    buttons = [Button(ctx._("net.source.from.expo"), "expo")]
    if contacts.may_keep(ctx.user):
        buttons.insert(0, Button(ctx._("net.source.from.contact"), "contact"))
    ctx.say(ctx._("net.source.ask.from", record=ctx.draft.get("label", "")), Keyboard.grid(buttons, width=2))


async def on_from(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "contact" and contacts.may_keep(ctx.user):
        return ctx.goto("contact")
    if data == "expo":
        return ctx.goto("expo")
    return ctx.again("core.err.use_buttons")


async def ask_contact(ctx: Context) -> None:
    assert ctx.user.unit_id is not None
    entries = await contacts.of_unit(ctx.app.db, ctx.user.unit_id)
    if not entries:
        ctx.say(ctx._("net.source.no_contacts"), Keyboard.column([Button(ctx._("net.back"), "back")]))
        return
    buttons = [Button(f"#{c.id} {c.name}", f"c{c.id}") for c in entries[:MAX_BUTTONS]]
    ctx.say(ctx._("net.source.ask.contact"), Keyboard.grid([*buttons, Button(ctx._("net.back"), "back")], width=2))


async def ask_expo(ctx: Context) -> None:
    events = await expos.listing(ctx.app.db)
    buttons = [Button(e.name(ctx.locale), f"x{e.id}") for e in events[:MAX_BUTTONS]]
    ctx.say(ctx._("net.source.ask.expo"), Keyboard.column([*buttons, Button(ctx._("net.back"), "back")]))


async def _tag(ctx: Context, msg: Incoming, prefix: str) -> Next:
    data = ctx.choice(msg) or ""
    if data == "back":
        return ctx.goto("from")
    if not data.startswith(prefix) or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    chosen = int(data[1:])
    origin = await origins.tag(
        ctx.app.db,
        member=ctx.user,
        record=OriginKind(ctx.draft["record"]),
        record_id=int(ctx.draft["record_id"]),
        contact_id=chosen if prefix == "c" else None,
        expo_id=chosen if prefix == "x" else None,
        now=ctx.now(),
    )
    if origin is None:
        return ctx.again("core.err.use_buttons")
    if prefix == "x":
        expo = await expos.get(ctx.app.db, chosen)
        source = expo.name(ctx.locale) if expo else ""
    else:
        source = next(
            (c.name for c in await contacts.of_unit(ctx.app.db, int(ctx.user.unit_id or 0)) if c.id == chosen), ""
        )
    ctx.say(ctx._("net.source.saved", record=ctx.draft.get("label", ""), source=source))
    return ctx.done()


async def on_contact(ctx: Context, msg: Incoming) -> Next:
    return await _tag(ctx, msg, "c")


async def on_expo(ctx: Context, msg: Incoming) -> Next:
    return await _tag(ctx, msg, "x")


SOURCE = Flow(
    name="source",
    command="source",
    roles=SOURCE_ROLES,
    start=start,
    title_key="flow.source",
    steps={
        "kind": Step(ask_kind, on_kind),
        "record": Step(ask_record, on_record),
        "from": Step(ask_from, on_from),
        "contact": Step(ask_contact, on_contact),
        "expo": Step(ask_expo, on_expo),
    },
)


def register(registry: Registry) -> None:
    registry.add_flow(SOURCE)
