"""Who created and changed a record, and when: the audit log of one lead, visit, project,
enterprise (with the records merged into it), directory entry, event, opportunity, leader's
question, supervision entry, unit or approval kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from bot.core.db import Database
from models import (
    ApprovalKind,
    AuditEntry,
    Chain,
    Contact,
    Enterprise,
    Expo,
    Lead,
    LeaderQuestion,
    Opportunity,
    Project,
    SupervisionItem,
    Unit,
    User,
    Visit,
)

ENTITIES: dict[str, type[Any]] = {
    "lead": Lead,
    "visit": Visit,
    "project": Project,
    "enterprise": Enterprise,
    "contact": Contact,
    "expo": Expo,
    "opportunity": Opportunity,
    "question": LeaderQuestion,
    "supervision": SupervisionItem,
    "unit": Unit,
    "approval_kind": ApprovalKind,
}


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


@dataclass(frozen=True)
class Names:
    """What ids and codes in audit details stand for: units, chains, people, approval kinds."""

    units: dict[int, tuple[str, str]]
    chains: dict[int, tuple[str, str]]
    people: dict[int, str]
    approval_kinds: dict[str, tuple[str, str]]


async def names(db: Database) -> Names:
    async with db.session() as session:
        units = (await session.exec(select(Unit.id, Unit.name_zh, Unit.name_en))).all()
        chains = (await session.exec(select(Chain.id, Chain.name_zh, Chain.name_en))).all()
        people = (await session.exec(select(User.id, User.full_name))).all()
        kinds = (await session.exec(select(ApprovalKind.code, ApprovalKind.name_zh, ApprovalKind.name_en))).all()
    return Names(
        units={int(i): (zh, en) for i, zh, en in units if i is not None},
        chains={int(i): (zh, en) for i, zh, en in chains if i is not None},
        people={int(i): name for i, name in people if i is not None},
        approval_kinds={code: (zh, en) for code, zh, en in kinds},
    )
