"""Importing a held batch on confirmation: one transaction, every row or none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversation import Member
from bot.db import Database
from models import Enterprise, ImportBatch, ImportStatus, utcnow
from services import audit, library
from services.enterprises import find_or_create, take_register
from services.imports.preview import HOLD_FOR


@dataclass(frozen=True)
class Imported:
    created: int
    added: int
    updated: int
    chains: tuple[int, ...] = ()


class BatchGone(Exception):
    """The batch was imported or cancelled already, or is someone else's (``expired``: too old)."""

    def __init__(self, batch_id: int, *, expired: bool = False) -> None:
        super().__init__(batch_id)
        self.expired = expired


async def _apply_row(
    session: AsyncSession, member: Member, row: dict[str, Any], batch_id: int, now: datetime
) -> tuple[bool, bool]:
    enterprise: Enterprise | None = None
    created = False
    if row.get("match_id") is not None:
        enterprise = await session.get(Enterprise, int(row["match_id"]))
        while enterprise is not None and enterprise.merged_into is not None:
            enterprise = await session.get(Enterprise, enterprise.merged_into)
    if enterprise is None:
        enterprise, created = await find_or_create(
            session,
            name=row["name"],
            credit_code=row.get("credit_code"),
            chain_id=row["chain_id"],
            actor_id=member.id,
            turn_taken=True,
            now=now,
        )
    code = row.get("credit_code")
    if code and not enterprise.credit_code:
        taken = (await session.exec(select(Enterprise.id).where(Enterprise.credit_code == code))).first()
        if taken is None:
            enterprise.credit_code = code
    # The file fills what the register lacks; it does not overwrite what people entered.
    for key in ("region", "contact_name", "contact_phone"):
        if row.get(key) and not getattr(enterprise, key):
            setattr(enterprise, key, row[key])
    enterprise.tags = [*enterprise.tags, *(t for t in row.get("tags", []) if t not in enterprise.tags)]
    if enterprise.chain_id is None:
        enterprise.chain_id = row["chain_id"]
    enterprise.updated_at = now
    session.add(enterprise)
    _, added = await library.put(
        session,
        chain_id=int(row["chain_id"]),
        enterprise=enterprise,
        actor_id=member.id,
        expected_yuan=row.get("expected_yuan"),
        note=row.get("note", ""),
        via=f"import:{batch_id}",
        now=now,
    )
    return created, added


async def run(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> Imported:
    """Import a held batch in ONE transaction: every row, or (on any failure) none."""
    now = now or utcnow()
    created = added = updated = 0
    async with db.session() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.user_id != member.id or batch.status != ImportStatus.PENDING:
            raise BatchGone(batch_id)
        if batch.created_at < now - HOLD_FOR:
            # The register may have changed a lot since this preview; the person should look again.
            raise BatchGone(batch_id, expired=True)
        await take_register(session)
        for row in batch.rows:
            new, in_library = await _apply_row(session, member, row, batch_id, now)
            created += new
            added += in_library
            updated += not in_library
        rows = batch.rows
        batch.status = ImportStatus.IMPORTED
        batch.finished_at = now
        session.add(batch)
        audit.record(
            session,
            actor_id=member.id,
            entity="import",
            entity_id=batch_id,
            action="imported",
            at=now,
            file=batch.file_name,
            rows=len(batch.rows),
            created=created,
        )
    return Imported(created, added, updated, tuple(sorted({int(r["chain_id"]) for r in rows})))


async def cancel(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> bool:
    async with db.session() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.user_id != member.id or batch.status != ImportStatus.PENDING:
            return False
        batch.status = ImportStatus.CANCELLED
        batch.finished_at = now or utcnow()
        session.add(batch)
        return True
