"""Joining and finding one's way: /start, /help, /lang and /invite."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from bot.core import Button, Incoming, Keyboard
from bot.core.conversation import Action, Command, Context, Flow, Next, Step, action_data
from bot.core.registry import Registry
from models import LeaderLevel, Role, UnitKind
from services import members
from services.members import InviteError

BUREAU = frozenset({Role.BUREAU})


def role_name(ctx: Context, role: Role | str) -> str:
    return ctx._(f"role.{Role(role).value}")


def help_text(ctx: Context, registry: Registry) -> str:
    member = ctx.user
    lines = [
        ctx._(
            "help.header",
            name=member.full_name or "",
            unit=member.unit_name(ctx.locale),
            role=role_name(ctx, member.role),
        )
    ]
    for command in registry.commands_for(member.role, admin=member.is_admin):
        assert command.help_key is not None
        lines.append(f"/{command.name} — {ctx._(command.help_key)}")
    lines.append(f"/cancel — {ctx._('help.cancel')}")
    return "\n".join(lines)


class WrongCodes:
    """Wrong /start codes per person: after a few in a short while, a pause before the next try.

    Codes are 16 random URL-safe characters, so guessing is hopeless anyway; the pause keeps
    a script from trying and fills no log. It lives in the process (a restart forgives).
    """

    TRIES = 5
    WINDOW = timedelta(minutes=15)

    def __init__(self) -> None:
        self._tries: dict[int, list[datetime]] = {}

    def failed(self, telegram_id: int, now: datetime) -> None:
        self._tries.setdefault(telegram_id, []).append(now)

    def wait(self, telegram_id: int, now: datetime) -> int:
        """Minutes to wait before the next try, or 0."""
        recent = [t for t in self._tries.get(telegram_id, []) if t > now - self.WINDOW]
        if recent:
            self._tries[telegram_id] = recent
        else:
            self._tries.pop(telegram_id, None)
        if len(recent) < self.TRIES:
            return 0
        return max(1, math.ceil((recent[-self.TRIES] + self.WINDOW - now).total_seconds() / 60))


def make_start(registry: Registry) -> Command:
    _wrong_codes = WrongCodes()

    async def start(ctx: Context, msg: Incoming) -> None:
        """Register with an invitation code, or greet a registered person."""
        code = msg.args.strip()
        if code and ctx.member is None:
            wait = _wrong_codes.wait(msg.user_id, ctx.now())
            if wait:
                ctx.say(ctx._("start.invite.throttled", minutes=wait))
                return
            try:
                redeemed = await members.redeem_invite(
                    ctx.app.db,
                    code,
                    telegram_id=msg.user_id,
                    full_name=msg.full_name,
                    username=msg.username,
                    language_code=msg.language_code,
                    now=ctx.now(),
                )
            except InviteError as exc:
                _wrong_codes.failed(msg.user_id, ctx.now())
                ctx.say(ctx._(f"start.invite.{exc.code}"))
                return
            ctx.member = await members.load_member(ctx.app.db, msg.user_id, admin_ids=ctx.app.settings.bot_admin_ids)
            ctx.say(ctx._("start.welcome", unit=redeemed.unit.name(ctx.locale), role=role_name(ctx, redeemed.role)))
            ctx.say(help_text(ctx, registry))
            return
        if ctx.member is None:
            ctx.say(ctx._("core.not_registered"))
            return
        if code:
            ctx.say(ctx._("start.already_registered"))
        ctx.say(help_text(ctx, registry))

    return Command("start", start)


def make_help(registry: Registry) -> Command:
    async def help_(ctx: Context, msg: Incoming) -> None:
        """List the commands this person may use."""
        ctx.say(help_text(ctx, registry))

    return Command("help", help_, help_key="help.help")


async def lang(ctx: Context, msg: Incoming) -> None:
    """Offer the two languages."""
    ctx.say(
        ctx._("lang.ask"),
        Keyboard.grid(
            [
                Button("中文", action_data("lang", "zh")),
                Button("English", action_data("lang", "en")),
                Button(ctx._("lang.auto"), action_data("lang", "auto")),
            ],
            width=3,
        ),
    )


async def set_lang(ctx: Context, msg: Incoming, arg: str) -> None:
    """Store the chosen language; ``auto`` follows Telegram's language again."""
    choice = arg if arg in ("zh", "en") else None
    await members.set_locale(ctx.app.db, ctx.user.id, choice)
    from bot.core.i18n import Translator, normalize_locale

    locale = choice or normalize_locale(msg.language_code, ctx.app.settings.default_locale)
    ctx.locale, ctx._ = locale, Translator(locale)
    ctx.edit(ctx._("lang.set"))


# -- /invite (bureau) ------------------------------------------------------------------
INVITE_ROLES = (Role.LIAISON, Role.COUNTY, Role.CHAIN_LEAD, Role.DEPARTMENT, Role.SOE, Role.BUREAU, Role.LEADER)


async def invite_start(ctx: Context, msg: Incoming) -> Next:
    """Begin an invitation: the unit first."""
    return ctx.goto("unit")


async def ask_unit(ctx: Context) -> None:
    units = await members.units(ctx.app.db)
    ctx.say(
        ctx._("invite.ask.unit"),
        Keyboard.grid([Button(u.name(ctx.locale), f"u{u.id}") for u in units], width=2),
    )


async def on_unit(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg)
    if not data or not data.startswith("u") or not data[1:].isdigit():
        return ctx.again("core.err.use_buttons")
    unit = await members.get_unit(ctx.app.db, int(data[1:]))
    if unit is None:
        return ctx.again("core.err.use_buttons")
    ctx.draft["unit_id"] = unit.id
    ctx.draft["unit_kind"] = unit.kind
    return ctx.goto("role")


async def ask_role(ctx: Context) -> None:
    suggested = members.default_role_for_kind(ctx.draft.get("unit_kind", ""))
    ordered = sorted(INVITE_ROLES, key=lambda r: r != suggested)
    ctx.say(ctx._("invite.ask.role"), Keyboard.grid([Button(role_name(ctx, r), f"r{r.value}") for r in ordered]))


async def on_role(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("r") or data[1:] not in {r.value for r in INVITE_ROLES}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["role"] = data[1:]
    if data[1:] == Role.LEADER:
        return ctx.goto("level")
    return await _issue(ctx)


async def ask_level(ctx: Context) -> None:
    ctx.say(
        ctx._("invite.ask.level"),
        Keyboard.column([Button(ctx._(f"leader_level.{lvl.value}"), f"l{lvl.value}") for lvl in LeaderLevel]),
    )


async def on_level(ctx: Context, msg: Incoming) -> Next:
    data = ctx.choice(msg) or ""
    if not data.startswith("l") or data[1:] not in {lvl.value for lvl in LeaderLevel}:
        return ctx.again("core.err.use_buttons")
    ctx.draft["leader_level"] = data[1:]
    return await _issue(ctx)


async def _issue(ctx: Context) -> Next:
    ttl = timedelta(hours=ctx.app.settings.invite_ttl_hours)
    invite = await members.create_invite(
        ctx.app.db,
        unit_id=int(ctx.draft["unit_id"]),
        role=Role(ctx.draft["role"]),
        leader_level=ctx.draft.get("leader_level"),
        created_by=ctx.user.id,
        now=ctx.now(),
        ttl=ttl,
    )
    unit = await members.get_unit(ctx.app.db, invite.unit_id)
    assert unit is not None
    expires = invite.expires_at.astimezone(ctx.app.tz).strftime("%Y-%m-%d %H:%M")
    details = ctx._(
        "invite.created",
        unit=unit.name(ctx.locale),
        role=role_name(ctx, invite.role),
        code=invite.code,
        expires=expires,
    )
    if ctx.app.bot_username:
        link = f"https://t.me/{ctx.app.bot_username}?start={invite.code}"
        ctx.say(details + "\n" + ctx._("invite.link", link=link))
    else:
        ctx.say(details + "\n" + ctx._("invite.no_link", code=invite.code))
    return ctx.done()


INVITE = Flow(
    name="invite",
    command="invite",
    roles=BUREAU,
    admin=True,
    start=invite_start,
    title_key="flow.invite",
    steps={
        "unit": Step(ask_unit, on_unit),
        "role": Step(ask_role, on_role),
        "level": Step(ask_level, on_level),
    },
)


def register(registry: Registry) -> None:
    registry.add_command(make_start(registry))
    registry.add_command(make_help(registry))
    registry.add_command(Command("lang", lang, help_key="help.lang"))
    registry.add_action(Action("lang", set_lang))
    registry.add_flow(INVITE)


__all__ = ["INVITE", "UnitKind", "register"]
