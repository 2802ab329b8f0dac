"""People and departments of other chat platforms (DingTalk), mapped onto the core's ids.

A staff id gets one internal chat id, for good: the first message creates the mapping and
every later one finds it, whichever process handles it (a race between two is settled by the
unique key). A department the bureau binds to a unit lets that department's staff join the
unit without an invitation, with the unit's default role, audited like any join.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete, select

from bot.core.db import Database
from models import PLATFORM_CHAT_BASE, PlatformAccount, PlatformCard, PlatformDepartment, Role, Unit, User
from services import audit
from services.members import default_role

DINGTALK = "dingtalk"
# The room above the base for internal chat ids (2**50, still far inside a BIGINT).
_ID_SPACE = 2**50
MAX_EXTERNAL_ID = 128


def _candidate(platform: str, external_id: str, attempt: int) -> int:
    digest = hashlib.blake2b(f"{platform}\0{external_id}\0{attempt}".encode(), digest_size=8).digest()
    return PLATFORM_CHAT_BASE + int.from_bytes(digest, "big") % _ID_SPACE


async def chat_id_for(db: Database, platform: str, external_id: str) -> int:
    """The internal chat id of a platform person, created on first sight."""
    if not external_id or len(external_id) > MAX_EXTERNAL_ID:
        raise ValueError("external id out of range")
    for attempt in range(8):
        async with db.session() as session:
            found = (
                await session.exec(
                    select(PlatformAccount).where(
                        PlatformAccount.platform == platform, PlatformAccount.external_id == external_id
                    )
                )
            ).first()
            if found is not None:
                return found.chat_id
        try:
            async with db.session() as session:
                # Derived from the id, so two processes that race propose the same number.
                chat_id = _candidate(platform, external_id, attempt)
                session.add(PlatformAccount(platform=platform, external_id=external_id, chat_id=chat_id))
            return chat_id
        except IntegrityError:
            # Someone else created this person meanwhile (found on the next pass), or, once
            # in a very long while, another person's id took the number: the next attempt differs.
            continue
    raise RuntimeError("no free internal chat id")


async def external_id_for(db: Database, platform: str, chat_id: int) -> str | None:
    async with db.session() as session:
        found = (
            await session.exec(
                select(PlatformAccount).where(PlatformAccount.platform == platform, PlatformAccount.chat_id == chat_id)
            )
        ).first()
        return found.external_id if found is not None else None


@dataclass(frozen=True)
class Binding:
    department: str
    unit: Unit
    replaced: int | None  # the unit the department was bound to before, if any


class BindingError(Exception):
    """Why a binding was refused: ``unit`` (no such active unit) or ``department`` (bad id)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def bind_department(
    db: Database, *, platform: str, department: str, unit_code: str, actor_id: int, now: datetime
) -> Binding:
    department = department.strip()
    if not department or len(department) > MAX_EXTERNAL_ID or not department.isascii() or not department.isalnum():
        raise BindingError("department")
    async with db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.code == unit_code.strip()))).first()
        if unit is None or not unit.active or unit.id is None:
            raise BindingError("unit")
        row = (
            await session.exec(
                select(PlatformDepartment).where(
                    PlatformDepartment.platform == platform, PlatformDepartment.external_id == department
                )
            )
        ).first()
        replaced = row.unit_id if row is not None else None
        if row is None:
            row = PlatformDepartment(platform=platform, external_id=department, unit_id=unit.id)
        row.unit_id = unit.id
        row.bound_by = actor_id
        row.created_at = now
        session.add(row)
        await session.flush()
        assert row.id is not None
        audit.record(
            session,
            actor_id=actor_id,
            entity="platform_department",
            entity_id=row.id,
            action="bound",
            at=now,
            platform=platform,
            department=department,
            unit_id=unit.id,
            unit_from=replaced,
        )
        return Binding(department=department, unit=unit, replaced=replaced)


async def is_known(db: Database, chat_id: int) -> bool:
    """Whether the bot has a member (active or not) behind this chat id."""
    async with db.session() as session:
        return (await session.exec(select(User.id).where(User.telegram_id == chat_id))).first() is not None


async def has_departments(db: Database, platform: str) -> bool:
    async with db.session() as session:
        query = select(PlatformDepartment.id).where(PlatformDepartment.platform == platform).limit(1)
        found = await session.exec(query)
        return found.first() is not None


async def join_by_department(
    db: Database,
    *,
    platform: str,
    chat_id: int,
    departments: Sequence[str],
    full_name: str,
    now: datetime,
) -> User | None:
    """Make a person a member of the unit their department is bound to; ``None`` if none is.

    Someone already known (joined, or taken off by the bureau) is left as they are: a binding
    never overrides what the bureau decided about a person.
    """
    if not departments:
        return None
    async with db.session() as session:
        if (await session.exec(select(User).where(User.telegram_id == chat_id))).first() is not None:
            return None
        bound = (
            await session.exec(
                select(PlatformDepartment, Unit)
                .join(Unit, PlatformDepartment.unit_id == Unit.id)  # type: ignore[arg-type]
                .where(
                    PlatformDepartment.platform == platform,
                    PlatformDepartment.external_id.in_(list(departments)),  # type: ignore[attr-defined]
                )
            )
        ).all()
        # In the order the platform lists the person's departments: the first bound one wins.
        by_department = {row.external_id: unit for row, unit in bound if unit.active}
        unit = next((by_department[d] for d in departments if d in by_department), None)
        if unit is None:
            return None
        role: Role = default_role(unit)
        user = User(telegram_id=chat_id, full_name=full_name[:256], role=role, unit_id=unit.id, active=True)
        session.add(user)
        await session.flush()
        assert user.id is not None
        audit.record(
            session,
            actor_id=user.id,
            entity="user",
            entity_id=user.id,
            action="joined",
            at=now,
            platform=platform,
            unit_id=unit.id,
            role=role,
            by="department",
        )
        return user


async def keep_card(
    db: Database, platform: str, message_id: int, *, chat_id: int, text: str, labels: Mapping[str, str]
) -> None:
    """Record what a card shows now (sent or edited): a later press reads it, after any restart."""
    async with db.session() as session:
        await session.merge(
            PlatformCard(message_id=message_id, platform=platform, chat_id=chat_id, text=text, labels=dict(labels))
        )


async def card(db: Database, platform: str, message_id: int) -> PlatformCard | None:
    async with db.session() as session:
        found = await session.get(PlatformCard, message_id)
    return found if found is not None and found.platform == platform else None


async def forget_cards(db: Database, platform: str, *, before: int) -> None:
    """Drop the cards whose ids are below ``before`` (ids grow with time: the old ones)."""
    async with db.session() as session:
        await session.exec(
            delete(PlatformCard).where(col(PlatformCard.platform) == platform, col(PlatformCard.message_id) < before)
        )
