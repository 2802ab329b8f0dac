"""Who created and changed a record, and when: the audit log of one lead, visit, project or
enterprise (with the records merged into it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from bot.db import Database
from models import AuditEntry, Enterprise, Lead, Project, Unit, User, Visit

ENTITIES: dict[str, type[Any]] = {"lead": Lead, "visit": Visit, "project": Project, "enterprise": Enterprise}


@dataclass(frozen=True)
class Event:
    entry: AuditEntry
    actor: str
    unit_zh: str
    unit_en: str


async def exists(db: Database, entity: str, entity_id: int) -> bool:
    async with db.session() as session:
        return await session.get(ENTITIES[entity], entity_id) is not None


async def _absorbed(db: Database, enterprise_id: int) -> list[int]:
    """The enterprise and every record merged into it, directly or through another merge."""
    found = [enterprise_id]
    async with db.session() as session:
        frontier = [enterprise_id]
        while frontier:
            rows = (await session.exec(select(Enterprise.id).where(col(Enterprise.merged_into).in_(frontier)))).all()
            frontier = [int(i) for i in rows if i is not None and int(i) not in found]
            found += frontier
    return found


async def events(db: Database, entity: str, entity_id: int) -> list[Event]:
    ids = await _absorbed(db, entity_id) if entity == "enterprise" else [entity_id]
    async with db.session() as session:
        rows = (
            await session.exec(
                select(AuditEntry, User, Unit)
                .outerjoin(User, col(User.id) == AuditEntry.actor_id)
                .outerjoin(Unit, col(Unit.id) == User.unit_id)
                .where(AuditEntry.entity == entity, col(AuditEntry.entity_id).in_(ids))
                .order_by(col(AuditEntry.at), col(AuditEntry.id))
            )
        ).all()
    return [
        Event(entry, user.full_name if user else "", unit.name_zh if unit else "", unit.name_en if unit else "")
        for entry, user, unit in rows
    ]
