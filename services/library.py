"""The target-enterprise library 目标企业库 of each chain (§3), and how far each enterprise got.

Coverage of an enterprise, from furthest to least: landed (a project signed or later),
in talks (an active project), visited, contacted (a lead), untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import (
    ACTIVE_STAGES,
    LANDED_STAGES,
    Chain,
    Enterprise,
    EnterpriseTag,
    Lead,
    LibraryEntry,
    Member,
    Project,
    Role,
    Target,
    Visit,
    utcnow,
)
from services import audit
from services.enterprises import resolve

LIBRARY_MIN_DEFAULT = 10


class Coverage(StrEnum):
    UNTOUCHED = "untouched"
    CONTACTED = "contacted"
    VISITED = "visited"
    IN_TALKS = "in_talks"
    LANDED = "landed"


@dataclass(frozen=True)
class LibraryRow:
    entry_id: int
    enterprise_id: int
    name: str
    credit_code: str | None
    tags: tuple[str, ...]
    coverage: Coverage
    expected_yuan: int | None


async def chains_for(db: Database, member: Member) -> list[Chain]:
    """The chains whose library this person keeps: the ones their unit leads; the bureau all."""
    query = select(Chain).where(col(Chain.active)).order_by(col(Chain.id))
    if member.role is not Role.BUREAU:
        if member.role is not Role.CHAIN_LEAD or member.unit_id is None:
            return []
        query = query.where(Chain.lead_unit_id == member.unit_id)
    async with db.session() as session:
        return list((await session.exec(query)).all())


async def may_keep(db: Database, member: Member, chain_id: int) -> bool:
    return any(c.id == chain_id for c in await chains_for(db, member))


async def minimum(db: Database, chain_id: int) -> int:
    """How many enterprises a chain's library should hold (the bureau's target, else §3's 10)."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(Target)
                .where(Target.metric == "library_size", col(Target.chain_scope))
                .order_by(col(Target.chain_id).is_(None), col(Target.id))
            )
        ).all()
    for target in rows:
        if target.chain_id in (None, chain_id):
            return target.value
    return LIBRARY_MIN_DEFAULT


async def coverage_of(session: AsyncSession, enterprise_ids: list[int]) -> dict[int, Coverage]:
    if not enterprise_ids:
        return {}
    found = dict.fromkeys(enterprise_ids, Coverage.UNTOUCHED)
    leads = await session.exec(select(Lead.enterprise_id).where(col(Lead.enterprise_id).in_(enterprise_ids)))
    for eid in leads.all():
        found[eid] = Coverage.CONTACTED
    visits = await session.exec(select(Visit.enterprise_id).where(col(Visit.enterprise_id).in_(enterprise_ids)))
    for eid in visits.all():
        found[eid] = Coverage.VISITED
    stages = await session.exec(
        select(Project.enterprise_id, Project.stage).where(col(Project.enterprise_id).in_(enterprise_ids))
    )
    rank = list(Coverage)
    for eid, stage in stages.all():
        level = Coverage.LANDED if stage in LANDED_STAGES else Coverage.IN_TALKS if stage in ACTIVE_STAGES else None
        if level is not None and rank.index(level) > rank.index(found[eid]):
            found[eid] = level
    return found


async def entries(db: Database, chain_id: int) -> list[LibraryRow]:
    """The chain's library (entries not removed), with each enterprise's coverage."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(LibraryEntry, Enterprise)
                .join(Enterprise, col(Enterprise.id) == LibraryEntry.enterprise_id)
                .where(LibraryEntry.chain_id == chain_id, col(LibraryEntry.removed_at).is_(None))
                .order_by(col(LibraryEntry.added_at), col(LibraryEntry.id))
            )
        ).all()
        covered = await coverage_of(session, [int(e.id) for _, e in rows if e.id is not None])
    return [
        LibraryRow(
            entry_id=int(entry.id or 0),
            enterprise_id=int(ent.id or 0),
            name=ent.name,
            credit_code=ent.credit_code,
            tags=tuple(ent.tags),
            coverage=covered[int(ent.id or 0)],
            expected_yuan=entry.expected_yuan,
        )
        for entry, ent in rows
    ]


async def size(db: Database, chain_id: int) -> int:
    async with db.session() as session:
        count = await session.exec(
            select(func.count())
            .select_from(LibraryEntry)
            .where(LibraryEntry.chain_id == chain_id, col(LibraryEntry.removed_at).is_(None))
        )
        return int(count.one())


async def put(
    session: AsyncSession,
    *,
    chain_id: int,
    enterprise: Enterprise,
    actor_id: int,
    expected_yuan: int | None = None,
    note: str = "",
    via: str = "chat",
    now: datetime | None = None,
) -> tuple[LibraryEntry, bool]:
    """Inside the caller's transaction: the enterprise in the chain's library (and whether it was not)."""
    assert enterprise.id is not None
    entry = (
        await session.exec(
            select(LibraryEntry).where(LibraryEntry.chain_id == chain_id, LibraryEntry.enterprise_id == enterprise.id)
        )
    ).first()
    added = entry is None or entry.removed_at is not None
    now = now or utcnow()
    if entry is None:
        entry = LibraryEntry(chain_id=chain_id, enterprise_id=enterprise.id, added_by=actor_id, added_at=now)
    elif entry.removed_at is not None:
        # Back in the library after a removal: the same row, so its history stays in one place.
        entry.removed_at, entry.removed_reason = None, None
        entry.added_by, entry.added_at = actor_id, now
    if expected_yuan is not None:
        entry.expected_yuan = expected_yuan
    if note:
        entry.note = note
    session.add(entry)
    await session.flush()
    assert entry.id is not None
    if added:
        audit.record(
            session,
            actor_id=actor_id,
            entity="enterprise",
            entity_id=enterprise.id,
            action="library_added",
            at=now,
            chain_id=chain_id,
            entry_id=entry.id,
            via=via,
        )
    return entry, added


async def add(
    db: Database,
    *,
    member: Member,
    chain_id: int,
    enterprise_id: int | None,
    name: str,
    credit_code: str | None,
    now: datetime | None = None,
) -> tuple[Enterprise, bool]:
    """Add an enterprise (found or created) to a chain's library; False when it was there already."""
    async with db.session() as session:
        enterprise = await resolve(
            session,
            enterprise_id=enterprise_id,
            name=name,
            credit_code=credit_code,
            chain_id=chain_id,
            actor_id=member.id,
            now=now,
        )
        _, added = await put(session, chain_id=chain_id, enterprise=enterprise, actor_id=member.id, now=now)
        return enterprise, added


async def set_tags(
    db: Database, *, member: Member, enterprise_id: int, tags: list[str], now: datetime | None = None
) -> list[str]:
    clean: list[str] = [t.value for t in EnterpriseTag if t.value in tags]
    async with db.session() as session:
        enterprise = await session.get(Enterprise, enterprise_id)
        if enterprise is None:
            raise LookupError(enterprise_id)
        before = list(enterprise.tags)
        if before == clean:
            return clean
        enterprise.tags = clean
        enterprise.updated_at = now or utcnow()
        session.add(enterprise)
        audit.record(
            session,
            actor_id=member.id,
            entity="enterprise",
            entity_id=enterprise_id,
            action="tagged",
            at=now,
            before=before,
            after=clean,
        )
    return clean


async def remove(
    db: Database, *, member: Member, entry_id: int, reason: str, now: datetime | None = None
) -> LibraryEntry | None:
    async with db.session() as session:
        entry = await session.get(LibraryEntry, entry_id)
        if entry is None or entry.removed_at is not None:
            return None
        entry.removed_at = now or utcnow()
        entry.removed_reason = reason
        session.add(entry)
        audit.record(
            session,
            actor_id=member.id,
            entity="enterprise",
            entity_id=entry.enterprise_id,
            action="library_removed",
            at=now,
            chain_id=entry.chain_id,
            entry_id=entry_id,
            reason=reason,
        )
        return entry
