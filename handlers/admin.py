"""Administrators (BOT_ADMIN_IDS) take access back: /members and /invites.

    /members → unit → person → deactivate | move to another unit → unit | change role → role
                                | make the unit's head contact (§15, ``services.heads``)
    /invites → the open invitations, each with a button to revoke it
    /dept <department id> <unit code> → a DingTalk department's staff join that unit

Every change is audited and takes effect with the person's next message: the router reads
who they are afresh for each one.
"""

from __future__ import annotations

from datetime import datetime

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core.db import Database
from bot.core.registry import Registry
from handlers.start import INVITE_ROLES, role_name
from models import Role, User
from services import heads, members, platforms
from services.heads import HeadError
from services.members import Change, MemberError

BUREAU = frozenset({Role.BUREAU})


async def start(ctx: Context, msg: Incoming) -> Next:
    """Begin with the unit whose people to see."""
    return ctx.goto("unit")


async def ask_unit(ctx: Context) -> None:
    counts = await members.member_counts(ctx.app.db)
    units = [u for u in await members.units(ctx.app.db) if counts.get(int(u.id or 0))]
    buttons = [Button(f"{u.name(ctx.locale)} ({counts[int(u.id or 0)]})", f"u{u.id}") for u in units]
    ctx.say(ctx._("admin.members.ask.unit"), Keyboard.grid(buttons, width=2))


async def on_unit(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("u") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    ctx.draft["unit_id"] = int(data[1:])
    return ctx.goto("person")


def _label(ctx: Context, user: User) -> str:
    name = user.full_name or (f"@{user.username}" if user.username else str(user.telegram_id))
    return f"{name} · {role_name(ctx, user.role)}"


async def ask_person(ctx: Context) -> None:
    unit_id = int(ctx.draft["unit_id"])
    people = await members.people(ctx.app.db, unit_id=unit_id)
    head = await heads.head_of(ctx.app.db, unit_id)
    about = ctx._("heads.line", person=_label(ctx, head)) if head else ctx._("heads.none")
    ctx.say(
        ctx._("admin.members.ask.person") + "\n" + about,
        Keyboard.column([Button(_label(ctx, p), f"p{p.id}") for p in people]),
    )


async def on_person(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("p") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    user = await members.get_user(ctx.app.db, int(data[1:]))
    if user is None or not user.active or user.unit_id != ctx.draft.get("unit_id"):
        return ctx.again("core.err.use_buttons")
    ctx.draft["user_id"] = user.id
    ctx.draft["label"] = _label(ctx, user)
    return ctx.goto("what")


async def ask_what(ctx: Context) -> None:
    ctx.say(
        ctx._("admin.members.ask.what", person=ctx.draft.get("label", "")),
        Keyboard.column(
            [
                Button(ctx._("admin.members.deactivate"), "off"),
                Button(ctx._("admin.members.move"), "move"),
                Button(ctx._("admin.members.role"), "role"),
                Button(ctx._("heads.make"), "head"),
            ]
        ),
    )


async def on_what(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if data == "move":
        return ctx.goto("move")
    if data == "role":
        return ctx.goto("role")
    if data == "head":
        return await make_head(ctx)
    if data != "off":
        return ctx.again("core.err.use_buttons")
    return await _change(ctx, "admin.members.deactivated", members.deactivate)


async def make_head(ctx: Context) -> Next:
    """Name the person their unit's head contact: overdue tasks and unanswered needs go to them."""
    try:
        await heads.set_head(ctx.app.db, actor_id=ctx.user.id, user_id=int(ctx.draft["user_id"]), now=ctx.now())
    except HeadError as error:
        ctx.say(ctx._(f"heads.err.{error.code}", person=ctx.draft.get("label", "")))
        return ctx.done()
    ctx.say(ctx._("heads.made", person=ctx.draft.get("label", "")))
    return ctx.done()


async def ask_move(ctx: Context) -> None:
    units = [u for u in await members.units(ctx.app.db) if u.id != ctx.draft.get("unit_id")]
    ctx.say(
        ctx._("admin.members.ask.move", person=ctx.draft.get("label", "")),
        Keyboard.grid([Button(u.name(ctx.locale), f"u{u.id}") for u in units], width=2),
    )


async def on_move(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("u") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    unit = await members.get_unit(ctx.app.db, int(data[1:]))
    if unit is None:
        return ctx.again("core.err.use_buttons")

    async def move(db: Database, *, actor_id: int, user_id: int, now: datetime) -> User:
        return await members.move(db, actor_id=actor_id, user_id=user_id, unit_id=int(data[1:]), now=now)

    return await _change(ctx, "admin.members.moved", move, unit=unit.name(ctx.locale))


async def ask_role(ctx: Context) -> None:
    ctx.say(
        ctx._("admin.members.ask.role", person=ctx.draft.get("label", "")),
        Keyboard.grid([Button(role_name(ctx, r), f"r{r.value}") for r in INVITE_ROLES if r is not Role.LEADER]),
    )


async def on_role(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("r") or data[1:] not in {r.value for r in INVITE_ROLES if r is not Role.LEADER}:
        return ctx.again("core.err.use_buttons")
    role = Role(data[1:])

    async def change(db: Database, *, actor_id: int, user_id: int, now: datetime) -> User:
        return await members.change_role(db, actor_id=actor_id, user_id=user_id, role=role, now=now)

    return await _change(ctx, "admin.members.role_changed", change, role=role_name(ctx, role))


async def _change(ctx: Context, said: str, change: Change, **params: str) -> Next:
    try:
        await change(ctx.app.db, actor_id=ctx.user.id, user_id=int(ctx.draft["user_id"]), now=ctx.now())
    except MemberError as error:
        ctx.say(ctx._(f"admin.members.err.{error.code}"))
        return ctx.done()
    ctx.say(ctx._(said, person=ctx.draft.get("label", ""), **params))
    return ctx.done()


MEMBERS = Flow(
    name="members",
    command="members",
    roles=BUREAU,
    admin=True,
    start=start,
    title_key="flow.members",
    steps={
        "unit": Step(ask_unit, on_unit),
        "person": Step(ask_person, on_person),
        "what": Step(ask_what, on_what),
        "move": Step(ask_move, on_move),
        "role": Step(ask_role, on_role),
    },
)


# -- /invites ------------------------------------------------------------------------------
async def invites(ctx: Context, msg: Incoming) -> None:
    """List the invitations that could still be used, each with a button to revoke it."""
    found = await members.open_invites(ctx.app.db, now=ctx.now())
    if not found:
        ctx.say(ctx._("admin.invites.none"))
        return
    units = {int(u.id or 0): u.name(ctx.locale) for u in await members.units(ctx.app.db)}
    lines = [ctx._("admin.invites.header", count=len(found))]
    buttons = []
    for invite in found:
        expires = invite.expires_at.astimezone(ctx.app.tz).strftime("%Y-%m-%d %H:%M")
        lines.append(
            ctx._(
                "admin.invites.line",
                number=invite.id,
                unit=units.get(invite.unit_id, ""),
                role=role_name(ctx, invite.role),
                expires=expires,
            )
        )
        buttons.append(Button(ctx._("admin.invites.revoke", number=invite.id), action_data("inv", int(invite.id or 0))))
    ctx.say("\n".join(lines), Keyboard.column(buttons))


async def revoke(ctx: Context, msg: Incoming, arg: str) -> None:
    """Revoke one open invitation."""
    if not arg.isdigit():
        ctx.notice(ctx._("core.expired"))
        return
    invite = await members.revoke_invite(ctx.app.db, actor_id=ctx.user.id, invite_id=int(arg), now=ctx.now())
    key = "admin.invites.revoked" if invite is not None else "admin.invites.gone"
    ctx.notice(ctx._(key, number=arg))
    ctx.say(ctx._(key, number=arg))


# -- /dept ---------------------------------------------------------------------------------
async def bind_department(ctx: Context, msg: Incoming) -> None:
    """Bind a DingTalk department to a unit: its staff then join without an invitation."""
    parts = msg.args.split()
    if len(parts) != 2:
        codes = ", ".join(u.code for u in await members.units(ctx.app.db))
        ctx.say(ctx._("admin.dept.usage", codes=codes))
        return
    try:
        binding = await platforms.bind_department(
            ctx.app.db,
            platform=platforms.DINGTALK,
            department=parts[0],
            unit_code=parts[1],
            actor_id=ctx.user.id,
            now=ctx.now(),
        )
    except platforms.BindingError as exc:
        ctx.say(ctx._(f"admin.dept.err.{exc.code}", value=parts[0] if exc.code == "department" else parts[1]))
        return
    ctx.say(ctx._("admin.dept.bound", department=binding.department, unit=binding.unit.name(ctx.locale)))


def register(registry: Registry) -> None:
    registry.add_flow(MEMBERS)
    registry.add_command(Command("invites", invites, roles=BUREAU, help_key="help.invites", admin=True))
    registry.add_action(Action("inv", revoke, roles=BUREAU, admin=True))
    registry.add_command(Command("dept", bind_department, roles=BUREAU, help_key="help.dept", admin=True))
