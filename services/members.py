"""People and units: who is registered, invitations, language choice."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.cache import missing
from bot.core.db import Database
from models import ROLE_FOR_UNIT_KIND, Invite, Member, Role, Unit, UnitKind, User
from services import audit

BUREAU_UNIT_CODE = "bureau"


def _member(user: User, unit: Unit | None, *, is_admin: bool) -> Member:
    assert user.id is not None
    return Member(
        id=user.id,
        telegram_id=user.telegram_id,
        full_name=user.full_name,
        role=Role(user.role),
        unit_id=user.unit_id,
        unit_code=unit.code if unit else None,
        unit_name_zh=unit.name_zh if unit else "",
        unit_name_en=unit.name_en if unit else "",
        unit_kind=unit.kind if unit else None,
        leader_level=user.leader_level,
        locale=user.locale,
        is_admin=is_admin,
    )


async def _bureau(session: AsyncSession) -> Unit | None:
    return (await session.exec(select(Unit).where(Unit.code == BUREAU_UNIT_CODE))).first()


@dataclass(frozen=True)
class Known:
    """What the process keeps of a person between updates (``Database.cache``)."""

    member: Member | None
    listed: bool  # whether BOT_ADMIN_IDS named them when this was read
    language_code: str | None
    unreachable: bool


def peek(db: Database, telegram_id: int) -> Known | None:
    """What this process still knows of a person without asking the database (``None``: nothing)."""
    known = db.cache.get("member", telegram_id)
    return None if missing(known) else known


async def load_member(
    db: Database,
    telegram_id: int,
    *,
    admin_ids: frozenset[int],
    full_name: str = "",
    username: str | None = None,
    language_code: str | None = None,
) -> Member | None:
    """The registered person behind a Telegram id; administrators are registered on sight.

    ``admin_ids`` (BOT_ADMIN_IDS) is the truth: a listed person is a bureau administrator,
    and one the list made an administrator but no longer names is not (see ``_follow_list``).
    The answer is kept per process until the person or their unit changes (``bot.core.cache``);
    the database is read again whenever something here would have to be written.
    """
    is_admin = telegram_id in admin_ids
    known = db.cache.get("member", telegram_id)
    if (
        not missing(known)
        and known.listed == is_admin
        and (not language_code or known.language_code == language_code or known.member is None)
        and not known.unreachable
    ):
        return known.member  # type: ignore[no-any-return]
    generation = db.cache.generation
    async with db.session() as session:
        # The person and their unit in one round trip.
        found = (
            await session.exec(
                select(User, Unit).outerjoin(Unit, col(Unit.id) == User.unit_id).where(User.telegram_id == telegram_id)
            )
        ).first()
        user, unit = found if found is not None else (None, None)
        if user is None and not is_admin:
            db.cache.put("member", telegram_id, Known(None, False, None, False), generation)
        if user is None and is_admin:
            bureau = await _bureau(session)
            user = User(
                telegram_id=telegram_id,
                full_name=full_name,
                username=username,
                unit_id=bureau.id if bureau else None,
                role=Role.BUREAU,
                language_code=language_code,
                admin_granted=True,
            )
            session.add(user)
            await session.flush()
            assert user.id is not None
            audit.record(session, actor_id=user.id, entity="user", entity_id=user.id, action="admin_registered")
        if user is None:
            return None
        changed = _follow_list(session, user, is_admin)
        if not user.active:
            if not changed:
                db.cache.put("member", telegram_id, Known(None, is_admin, None, False), generation)
            return None
        if language_code and user.language_code != language_code:
            user.language_code = language_code
            session.add(user)
            changed = True
        if user.unreachable_at is not None:
            # They wrote to the bot, so their chat works again.
            user.unreachable_at = None
            session.add(user)
            changed = True
        if unit is None and user.unit_id:
            unit = await session.get(Unit, user.unit_id)
        member = _member(user, unit, is_admin=is_admin)
        if not changed:
            db.cache.put("member", telegram_id, Known(member, is_admin, user.language_code, False), generation)
        return member


def _follow_list(session: AsyncSession, user: User, listed: bool) -> bool:
    """Make ``user`` an administrator exactly when the list names them; whether that changed them."""
    assert user.id is not None
    if listed and not (user.admin_granted and user.active and user.role == Role.BUREAU):
        if not user.admin_granted:
            # What they were before the list named them, to go back to when it no longer does.
            user.role_before_admin = user.role
        user.admin_granted, user.active, user.role = True, True, Role.BUREAU
        session.add(user)
        audit.record(session, actor_id=user.id, entity="user", entity_id=user.id, action="admin_granted")
        return True
    if not listed and user.admin_granted:
        user.admin_granted = False
        if user.role_before_admin:
            user.role, user.role_before_admin = user.role_before_admin, None
        else:
            # The list was their only way in.
            user.active = False
        session.add(user)
        audit.record(session, actor_id=None, entity="user", entity_id=user.id, action="admin_revoked")
        return True
    return False


async def follow_admin_list(db: Database, admin_ids: frozenset[int]) -> int:
    """At start: take administration back from everyone the list no longer names."""
    async with db.session() as session:
        granted = (await session.exec(select(User).where(col(User.admin_granted)))).all()
        revoked = [user for user in granted if user.telegram_id not in admin_ids]
        for user in revoked:
            _follow_list(session, user, False)
        return len(revoked)


async def get_user(db: Database, user_id: int) -> User | None:
    async with db.session() as session:
        return await session.get(User, user_id)


async def set_locale(db: Database, member_id: int, locale: str | None) -> None:
    async with db.session() as session:
        user = await session.get(User, member_id)
        if user is not None:
            user.locale = locale
            session.add(user)


async def units(db: Database, *, kinds: tuple[str, ...] | None = None) -> list[Unit]:
    """The active units in order (the rows are the process's shared copies: read, never change them)."""
    key = ("active", kinds)
    kept = db.cache.get("unit", key)
    if not missing(kept):
        return list(kept)
    generation = db.cache.generation
    async with db.session() as session:
        query = select(Unit).where(col(Unit.active)).order_by(col(Unit.id))
        if kinds:
            query = query.where(col(Unit.kind).in_(kinds))
        found = list((await session.exec(query)).all())
    db.cache.put("unit", key, found, generation)
    return list(found)


async def every_unit(db: Database) -> dict[int, Unit]:
    """Every unit by id, the inactive ones too (older records name them); shared copies, read only."""
    kept = db.cache.get("unit", "every")
    if not missing(kept):
        return dict(kept)
    generation = db.cache.generation
    async with db.session() as session:
        found = {u.id: u for u in (await session.exec(select(Unit).order_by(col(Unit.id)))).all() if u.id is not None}
    db.cache.put("unit", "every", found, generation)
    return dict(found)


async def get_unit(db: Database, unit_id: int) -> Unit | None:
    """One unit (the process's shared copy: read, never change it)."""
    kept = db.cache.get("unit", unit_id)
    if not missing(kept):
        return kept  # type: ignore[no-any-return]
    generation = db.cache.generation
    async with db.session() as session:
        unit = await session.get(Unit, unit_id)
    db.cache.put("unit", unit_id, unit, generation)
    return unit


def default_role(unit: Unit) -> Role:
    return ROLE_FOR_UNIT_KIND[UnitKind(unit.kind)]


async def create_invite(
    db: Database,
    *,
    unit_id: int,
    role: Role,
    created_by: int,
    now: datetime,
    ttl: timedelta,
    leader_level: str | None = None,
) -> Invite:
    invite = Invite(
        # URL-safe and short enough for a /start payload (64 characters at most).
        code=secrets.token_urlsafe(12),
        unit_id=unit_id,
        role=role,
        leader_level=leader_level,
        created_by=created_by,
        created_at=now,
        expires_at=now + ttl,
    )
    async with db.session() as session:
        session.add(invite)
        await session.flush()
        assert invite.id is not None
        audit.record(
            session,
            actor_id=created_by,
            entity="invite",
            entity_id=invite.id,
            action="created",
            unit_id=unit_id,
            role=role,
        )
    return invite


@dataclass(frozen=True)
class Redeemed:
    unit: Unit
    role: Role
    already: bool = False


class InviteError(Exception):
    """Why a code was refused: ``unknown``, ``used`` or ``expired`` (catalog keys follow)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def redeem_invite(
    db: Database,
    code: str,
    *,
    telegram_id: int,
    full_name: str,
    username: str | None,
    language_code: str | None,
    now: datetime,
) -> Redeemed:
    async with db.session() as session:
        # The update marks the code used only if nobody did first: one code, one person.
        invite = (await session.exec(select(Invite).where(Invite.code == code.strip()))).first()
        if invite is None:
            raise InviteError("unknown")
        if invite.used_at is not None:
            raise InviteError("used")
        if invite.revoked_at is not None:
            raise InviteError("revoked")
        if invite.expires_at <= now:
            raise InviteError("expired")
        unit = await session.get(Unit, invite.unit_id)
        assert unit is not None
        user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()
        if user is None:
            user = User(telegram_id=telegram_id, role=invite.role)
        user.full_name = full_name
        user.username = username
        user.language_code = language_code
        user.unit_id = unit.id
        user.role = invite.role
        user.leader_level = invite.leader_level
        user.active = True
        session.add(user)
        await session.flush()
        assert user.id is not None
        invite.used_by = user.id
        invite.used_at = now
        session.add(invite)
        audit.record(
            session,
            actor_id=user.id,
            entity="user",
            entity_id=user.id,
            action="joined",
            invite=invite.id,
            unit_id=unit.id,
            role=invite.role,
        )
        return Redeemed(unit=unit, role=Role(invite.role))


async def people(db: Database, *, role: Role | None = None, unit_id: int | None = None) -> list[User]:
    async with db.session() as session:
        query = select(User).where(col(User.active))
        if role is not None:
            query = query.where(User.role == role)
        if unit_id is not None:
            query = query.where(User.unit_id == unit_id)
        return list((await session.exec(query.order_by(col(User.id)))).all())


def default_role_for_kind(kind: str) -> Role | None:
    try:
        return ROLE_FOR_UNIT_KIND[UnitKind(kind)]
    except ValueError:
        return None


# -- administration: people and open invitations ------------------------------------------
class Change(Protocol):
    async def __call__(self, db: Database, *, actor_id: int, user_id: int, now: datetime) -> User: ...


class MemberError(Exception):
    """Why a change to a person was refused: ``gone`` or ``listed`` (catalog keys follow)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def member_counts(db: Database) -> dict[int, int]:
    """Active people per unit."""
    async with db.session() as session:
        rows = (
            await session.exec(select(User.unit_id, func.count()).where(col(User.active)).group_by(col(User.unit_id)))
        ).all()
        return {int(unit): int(count) for unit, count in rows if unit is not None}


async def _changeable(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise MemberError("gone")
    if user.admin_granted:
        # BOT_ADMIN_IDS is the truth for administrators; a change here would not last.
        raise MemberError("listed")
    return user


async def deactivate(db: Database, *, actor_id: int, user_id: int, now: datetime) -> User:
    """Take a person's access away at once; their records stay, credited to them."""
    async with db.session() as session:
        user = await _changeable(session, user_id)
        user.active = False
        session.add(user)
        audit.record(session, actor_id=actor_id, entity="user", entity_id=user_id, action="deactivated", at=now)
        return user


async def move(db: Database, *, actor_id: int, user_id: int, unit_id: int, now: datetime) -> User:
    """Move a person to another unit: from the next message on they work for that unit only."""
    async with db.session() as session:
        user = await _changeable(session, user_id)
        unit = await session.get(Unit, unit_id)
        if unit is None or not unit.active:
            raise MemberError("gone")
        before = user.unit_id
        user.unit_id = unit_id
        session.add(user)
        audit.record(
            session,
            actor_id=actor_id,
            entity="user",
            entity_id=user_id,
            action="moved",
            at=now,
            unit_from=before,
            unit_to=unit_id,
        )
        return user


async def change_role(db: Database, *, actor_id: int, user_id: int, role: Role, now: datetime) -> User:
    async with db.session() as session:
        user = await _changeable(session, user_id)
        before = user.role
        user.role = role
        if role != Role.LEADER:
            user.leader_level = None
        session.add(user)
        audit.record(
            session,
            actor_id=actor_id,
            entity="user",
            entity_id=user_id,
            action="role_changed",
            at=now,
            role_from=before,
            role_to=role,
        )
        return user


async def open_invites(db: Database, *, now: datetime) -> list[Invite]:
    """Invitations that could still be used: not used, not revoked, not expired."""
    async with db.session() as session:
        query = (
            select(Invite)
            .where(col(Invite.used_at).is_(None), col(Invite.revoked_at).is_(None), col(Invite.expires_at) > now)
            .order_by(col(Invite.created_at), col(Invite.id))
        )
        return list((await session.exec(query)).all())


async def revoke_invite(db: Database, *, actor_id: int, invite_id: int, now: datetime) -> Invite | None:
    """Revoke an open invitation; ``None`` when it was used, revoked or expired meanwhile."""
    async with db.session() as session:
        invite = await session.get(Invite, invite_id)
        if invite is None or invite.used_at is not None or invite.revoked_at is not None or invite.expires_at <= now:
            return None
        invite.revoked_at = now
        session.add(invite)
        audit.record(session, actor_id=actor_id, entity="invite", entity_id=invite_id, action="revoked", at=now)
        return invite
