"""The audit log: who created or changed which record, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import AuditEntry


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    entity: str,
    entity_id: int,
    action: str,
    at: datetime | None = None,
    **detail: Any,
) -> AuditEntry:
    """Add an entry to the caller's transaction: the change and its record land together.

    ``at`` is the app's clock where the caller has it (tests run on a fake one).
    """
    entry = AuditEntry(actor_id=actor_id, entity=entity, entity_id=entity_id, action=action, detail=detail)
    if at is not None:
        entry.at = at
    session.add(entry)
    return entry


async def write(
    session: AsyncSession,
    *,
    actor_id: int | None,
    entity: str,
    entity_id: int,
    action: str,
    at: datetime | None = None,
    **detail: Any,
) -> None:
    """:func:`record`, written at once as one plain INSERT: for a path every update takes (a
    lead's save), where the ORM's unit of work costs more than the entry itself."""
    entry = AuditEntry(actor_id=actor_id, entity=entity, entity_id=entity_id, action=action, detail=detail)
    values = entry.model_dump(exclude={"id"})
    if at is not None:
        values["at"] = at
    await session.exec(insert(AuditEntry.__table__).values(**values))  # type: ignore[attr-defined]


async def history(session: AsyncSession, entity: str, entity_id: int) -> list[AuditEntry]:
    result = await session.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
    )
    return list(result.all())
