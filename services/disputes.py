"""First-talk disputes (§14): listed for the bureau, ruled with a reason, kept in the project's history.

A ruling is one of three: the first registration stands (``keep``), the project goes to
the claimant as its first-talk and executing unit (``claimant``), or the two are
different projects (``separate``) — after which the claimant's own registration of it is
no longer refused as the same project.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from bot.core.db import Database
from models import Dispute, DisputeStatus, Member, Project, Unit, User, utcnow
from services import audit, settings

STALE_SETTING = "dispute_stale_after_days"
DEFAULT_STALE_DAYS = 7


class Ruling(StrEnum):
    KEEP = "keep"
    CLAIMANT = "claimant"
    SEPARATE = "separate"


STATUS_OF = {
    Ruling.KEEP: DisputeStatus.DISMISSED,
    Ruling.CLAIMANT: DisputeStatus.UPHELD,
    Ruling.SEPARATE: DisputeStatus.SEPARATE,
}


class DisputeError(Exception):
    """A ruling refused; ``code`` picks the message ``dispute.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class DisputeRow:
    dispute: Dispute
    project: Project
    first: Unit  # the unit the project's first talk is credited to
    claimant: Unit
    claimant_person: User

    @property
    def id(self) -> int:
        assert self.dispute.id is not None
        return self.dispute.id


def _rows() -> Any:
    first, claimant = aliased(Unit), aliased(Unit)
    return (
        Select(Dispute, Project, first, claimant, User)
        .join(Project, col(Project.id) == Dispute.project_id)
        .join(first, col(first.id) == Project.first_talk_unit_id)
        .join(claimant, col(claimant.id) == Dispute.claimant_unit_id)
        .join(User, col(User.id) == Dispute.claimant_user_id)
    )


async def stale_days(db: Database) -> int:
    return await settings.get_int(db, STALE_SETTING, DEFAULT_STALE_DAYS)


async def open_disputes(db: Database, *, before: datetime | None = None) -> list[DisputeRow]:
    """Disputes waiting for a ruling, oldest first; ``before``: only those filed earlier."""
    query = _rows().where(Dispute.status == DisputeStatus.OPEN)
    if before is not None:
        query = query.where(col(Dispute.created_at) < before)
    async with db.session() as session:
        rows = await session.exec(query.order_by(col(Dispute.created_at), col(Dispute.id)))
        return [DisputeRow(*row) for row in rows.all()]


async def get(db: Database, dispute_id: int) -> DisputeRow | None:
    async with db.session() as session:
        row = (await session.exec(_rows().where(Dispute.id == dispute_id))).first()
        return DisputeRow(*row) if row else None


async def rule(
    db: Database, *, member: Member, dispute_id: int, ruling: Ruling, reason: str, now: datetime | None = None
) -> DisputeRow:
    """Decide an open dispute: write its status and resolution, change the project if so ruled, log it."""
    now = now or utcnow()
    async with db.session() as session:
        dispute = await session.get(Dispute, dispute_id)
        if dispute is None:
            raise DisputeError("not_found")
        if dispute.status != DisputeStatus.OPEN:
            raise DisputeError("closed")
        project = await session.get(Project, dispute.project_id)
        assert project is not None and project.id is not None
        first_unit_id = project.first_talk_unit_id
        if ruling is Ruling.CLAIMANT:
            project.first_talk_unit_id = dispute.claimant_unit_id
            project.executing_unit_id = dispute.claimant_unit_id
            session.add(project)
        dispute.status = STATUS_OF[ruling]
        dispute.resolution = reason
        dispute.resolved_by = member.id
        dispute.resolved_at = now
        session.add(dispute)
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=project.id,
            action="dispute_ruled",
            at=now,
            dispute_id=dispute_id,
            ruling=ruling.value,
            reason=reason,
            first_unit_id=first_unit_id,
            claimant_unit_id=dispute.claimant_unit_id,
        )
    found = await get(db, dispute_id)
    assert found is not None
    return found


async def ruled_separate(session: AsyncSession, *, enterprise_id: int, unit_id: int) -> set[int]:
    """The enterprise's projects the bureau ruled are not the one ``unit_id`` claimed."""
    rows = await session.exec(
        select(Dispute.project_id)
        .join(Project, col(Project.id) == Dispute.project_id)
        .where(
            Project.enterprise_id == enterprise_id,
            Dispute.claimant_unit_id == unit_id,
            Dispute.status == DisputeStatus.SEPARATE,
        )
    )
    return set(rows.all())
