"""Two enterprise records that are one: everything moves to the survivor.

Every row that points at the absorbed record — found through the foreign keys of every
table, so tables added later are covered too — is moved to the survivor in one
transaction; library entries that would collide are resolved; the absorbed record is kept,
marked ``merged_into``, and its name becomes an alias of the survivor's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, func, update
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, Lead, LibraryEntry, Member, Project, Visit, utcnow
from services import audit

_HANDLED = {("enterprise", "merged_into"), ("libraryentry", "enterprise_id")}


class MergeError(Exception):
    """``same``, ``missing`` or ``merged``: the catalog key ``desk.merge.err.<code>`` explains."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Counts:
    leads: int
    visits: int
    projects: int
    library: int


def enterprise_references() -> list[tuple[Table, Column[int]]]:
    """Every (table, column) with a foreign key to ``enterprise.id``."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "enterprise" and fk.column.name == "id" for fk in column.foreign_keys):
                found.append((table, column))
    return found


async def counts(db: Database, enterprise_id: int) -> Counts:
    async with db.session() as session:

        async def count(model: type[SQLModel], column: object) -> int:
            return int(
                (await session.exec(select(func.count()).select_from(model).where(col(column) == enterprise_id))).one()
            )

        return Counts(
            leads=await count(Lead, Lead.enterprise_id),
            visits=await count(Visit, Visit.enterprise_id),
            projects=await count(Project, Project.enterprise_id),
            library=int(
                (
                    await session.exec(
                        select(func.count())
                        .select_from(LibraryEntry)
                        .where(LibraryEntry.enterprise_id == enterprise_id, col(LibraryEntry.removed_at).is_(None))
                    )
                ).one()
            ),
        )


async def _merge_library(session: AsyncSession, survivor_id: int, other_id: int) -> int:
    theirs = (await session.exec(select(LibraryEntry).where(LibraryEntry.enterprise_id == other_id))).all()
    ours = {
        e.chain_id: e
        for e in (await session.exec(select(LibraryEntry).where(LibraryEntry.enterprise_id == survivor_id))).all()
    }
    moved = 0
    for entry in theirs:
        kept = ours.get(entry.chain_id)
        if kept is None:
            entry.enterprise_id = survivor_id
            session.add(entry)
            moved += 1
            continue
        # Both were in this chain's library: one entry stays, active if either was.
        if kept.removed_at is not None and entry.removed_at is None:
            kept.removed_at, kept.removed_reason = None, None
        kept.expected_yuan = kept.expected_yuan or entry.expected_yuan
        kept.note = kept.note or entry.note
        session.add(kept)
        await session.delete(entry)
    await session.flush()
    return moved


async def merge(
    db: Database, *, actor: Member, survivor_id: int, other_id: int, now: datetime | None = None
) -> Enterprise:
    if survivor_id == other_id:
        raise MergeError("same")
    now = now or utcnow()
    async with db.session() as session:
        survivor = await session.get(Enterprise, survivor_id)
        other = await session.get(Enterprise, other_id)
        if survivor is None or other is None:
            raise MergeError("missing")
        if survivor.merged_into is not None or other.merged_into is not None:
            raise MergeError("merged")
        moved: dict[str, int] = {}
        for table, column in enterprise_references():
            if (table.name, column.name) in _HANDLED:
                continue
            result = await session.exec(update(table).where(column == other_id).values({column.name: survivor_id}))
            if result.rowcount:
                moved[table.name] = int(result.rowcount)
        moved["libraryentry"] = await _merge_library(session, survivor_id, other_id)
        await session.exec(
            update(Enterprise).where(col(Enterprise.merged_into) == other_id).values(merged_into=survivor_id)
        )
        code = other.credit_code
        if code and not survivor.credit_code:
            other.credit_code = None
            session.add(other)
            await session.flush()
            survivor.credit_code = code
        for key in ("region", "contact_name", "contact_phone"):
            if not getattr(survivor, key) and getattr(other, key):
                setattr(survivor, key, getattr(other, key))
        survivor.chain_id = survivor.chain_id or other.chain_id
        survivor.tags = [*survivor.tags, *(t for t in other.tags if t not in survivor.tags)]
        aliases = [*survivor.aliases]
        for alias in (other.name, *other.aliases):
            if alias and alias != survivor.name and alias not in aliases:
                aliases.append(alias)
        survivor.aliases = aliases
        # Registrations for either record now serialize on the survivor (see services.projects).
        survivor.registration_seq = max(survivor.registration_seq, other.registration_seq) + 1
        survivor.updated_at = other.updated_at = now
        other.merged_into = survivor_id
        session.add(survivor)
        session.add(other)
        detail: dict[str, Any] = {
            "survivor_id": survivor_id,
            "survivor": survivor.name,
            "absorbed_id": other_id,
            "absorbed": other.name,
        }
        audit.record(
            session,
            actor_id=actor.id,
            entity="enterprise",
            entity_id=survivor_id,
            action="merged",
            at=now,
            moved=moved,
            **detail,
        )
        audit.record(
            session,
            actor_id=actor.id,
            entity="enterprise",
            entity_id=other_id,
            action="merged_into",
            at=now,
            **detail,
        )
        return survivor


async def orphans(db: Database, enterprise_id: int) -> dict[str, int]:
    """Rows still pointing at a merged record (a merge leaves none but its ``merged_into``)."""
    found: dict[str, int] = {}
    async with db.session() as session:
        for table, column in enterprise_references():
            if (table.name, column.name) == ("enterprise", "merged_into"):
                continue
            count = (await session.exec(select(func.count()).select_from(table).where(column == enterprise_id))).one()
            if count:
                found[f"{table.name}.{column.name}"] = int(count)
    return found
