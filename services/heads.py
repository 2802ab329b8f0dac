"""A unit's head contact (负责联系人): the one person escalations of the unit's work go to.

§15 sends an overdue task-force task to "the unit's head contact" and §19 escalates a need
its department has not answered. The bureau names the head contact, who must be an active
member of that unit. A head contact counts only while that stays true: a person moved to
another unit or deactivated is never told about the old unit's work — the escalation falls
back to what it was before head contacts existed (the whole unit, the bureau).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Unit, UnitHeadContact, User
from services import audit


class HeadError(Exception):
    """A head contact refused; ``code`` picks the message ``heads.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def heads_of(session: AsyncSession, unit_ids: Iterable[int]) -> dict[int, User]:
    """The head contact of each unit that has one still in it, by unit id."""
    wanted = set(unit_ids)
    if not wanted:
        return {}
    rows = await session.exec(
        select(UnitHeadContact.unit_id, User)
        .join(User, col(User.id) == UnitHeadContact.user_id)
        .where(col(UnitHeadContact.unit_id).in_(wanted), col(User.active), User.unit_id == UnitHeadContact.unit_id)
    )
    return {int(unit_id): user for unit_id, user in rows.all()}


async def head_of(db: Database, unit_id: int) -> User | None:
    async with db.session() as session:
        return (await heads_of(session, [unit_id])).get(unit_id)


async def set_head(db: Database, *, actor_id: int, user_id: int, now: datetime) -> User:
    """Make a person the head contact of their own unit, in place of whoever was."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None or not user.active or user.unit_id is None:
            raise HeadError("gone")
        unit = await session.get(Unit, user.unit_id)
        if unit is None or not unit.active:
            raise HeadError("gone")
        row = await session.get(UnitHeadContact, user.unit_id)
        before = row.user_id if row is not None else None
        if before == user_id:
            raise HeadError("already")
        if row is None:
            row = UnitHeadContact(unit_id=user.unit_id, user_id=user_id)
        row.user_id, row.set_by, row.set_at = user_id, actor_id, now
        session.add(row)
        audit.record(
            session,
            actor_id=actor_id,
            entity="unit",
            entity_id=user.unit_id,
            action="head_contact",
            at=now,
            before=before,
            after=user_id,
        )
        return user
