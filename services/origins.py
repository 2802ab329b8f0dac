"""Where a saved lead, visit or project came from: a directory contact (§9), an event (§10).

A record is tagged after it is saved, by a person of the unit it belongs to (the bureau
tags any). Tagging again replaces the earlier tag; both are in the record's audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Contact, Enterprise, Expo, Lead, Member, Origin, OriginKind, Project, Role, Visit, utcnow
from services import audit

RECENT = 8


@dataclass(frozen=True)
class Tagged:
    record: OriginKind
    record_id: int
    enterprise: str
    label: str  # the project's name, the visit's day, the lead's plan


def _owned(member: Member, record: OriginKind) -> object:
    if member.role is Role.BUREAU:
        return True
    if record is OriginKind.LEAD:
        return Lead.unit_id == member.unit_id
    if record is OriginKind.VISIT:
        return Visit.unit_id == member.unit_id
    return or_(Project.first_talk_unit_id == member.unit_id, Project.executing_unit_id == member.unit_id)


async def _tagged(session: AsyncSession, member: Member, record: OriginKind, record_id: int | None) -> list[Tagged]:
    owned = _owned(member, record)
    if record is OriginKind.LEAD:
        leads = select(Lead, Enterprise.name).join(Enterprise, col(Enterprise.id) == Lead.enterprise_id)
        if owned is not True:
            leads = leads.where(owned)  # type: ignore[arg-type]
        leads = leads.where(Lead.id == record_id) if record_id else leads.order_by(col(Lead.id).desc()).limit(RECENT)
        return [Tagged(record, int(r.id or 0), name, r.plan) for r, name in (await session.exec(leads)).all()]
    if record is OriginKind.VISIT:
        visits = select(Visit, Enterprise.name).join(Enterprise, col(Enterprise.id) == Visit.enterprise_id)
        if owned is not True:
            visits = visits.where(owned)  # type: ignore[arg-type]
        visits = (
            visits.where(Visit.id == record_id) if record_id else visits.order_by(col(Visit.id).desc()).limit(RECENT)
        )
        return [
            Tagged(record, int(r.id or 0), name, r.visit_date.isoformat())
            for r, name in (await session.exec(visits)).all()
        ]
    projects = select(Project, Enterprise.name).join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
    if owned is not True:
        projects = projects.where(owned)  # type: ignore[arg-type]
    projects = (
        projects.where(Project.id == record_id)
        if record_id
        else projects.order_by(col(Project.id).desc()).limit(RECENT)
    )
    return [Tagged(record, int(r.id or 0), name, r.name) for r, name in (await session.exec(projects)).all()]


async def recent(db: Database, member: Member, record: OriginKind) -> list[Tagged]:
    """The person's unit's latest records of a kind, to pick the one to tag."""
    async with db.session() as session:
        return await _tagged(session, member, record, None)


async def one(db: Database, member: Member, record: OriginKind, record_id: int) -> Tagged | None:
    async with db.session() as session:
        found = await _tagged(session, member, record, record_id)
    return found[0] if found else None


async def tag(
    db: Database,
    *,
    member: Member,
    record: OriginKind,
    record_id: int,
    contact_id: int | None = None,
    expo_id: int | None = None,
    now: datetime | None = None,
) -> Origin | None:
    """Name the contact and/or event a record came from; None when the person may not."""
    now = now or utcnow()
    async with db.session() as session:
        if not await _tagged(session, member, record, record_id):
            return None
        if contact_id is not None:
            contact = await session.get(Contact, contact_id)
            if contact is None or (member.role is not Role.BUREAU and contact.unit_id != member.unit_id):
                return None
        if expo_id is not None and await session.get(Expo, expo_id) is None:
            return None
        origin = (
            await session.exec(select(Origin).where(Origin.record == record.value, Origin.record_id == record_id))
        ).first() or Origin(record=record.value, record_id=record_id, set_by=member.id)
        before = {"contact_id": origin.contact_id, "expo_id": origin.expo_id}
        if contact_id is not None:
            origin.contact_id = contact_id
        if expo_id is not None:
            origin.expo_id = expo_id
        origin.set_by, origin.set_at = member.id, now
        session.add(origin)
        await session.flush()
        audit.record(
            session,
            actor_id=member.id,
            entity=record.value,
            entity_id=record_id,
            action="origin_set",
            at=now,
            before=before,
            contact_id=origin.contact_id,
            expo_id=origin.expo_id,
        )
        return origin


async def of(db: Database, record: OriginKind, record_ids: list[int]) -> dict[int, Origin]:
    if not record_ids:
        return {}
    async with db.session() as session:
        rows = await session.exec(
            select(Origin).where(Origin.record == record.value, col(Origin.record_id).in_(record_ids))
        )
        return {o.record_id: o for o in rows.all()}
