"""Scenario opportunity lists 场景清单 (§12): owner departments publish, others pitch them.

A scenario (智慧农业, 工业转型升级, 文旅融合 …) and the department that owns it come from the
seed file; only that department (and the bureau) publishes under it. An opportunity is open
until its deadline. A liaison office or county that finds an interested enterprise logs the
interest, which is saved as that unit's lead (source: scenario list) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, func, or_, select

from bot.core.db import Database
from models import Enterprise, Interest, Lead, LeadSource, Member, Opportunity, Role, Setting, Unit, utcnow
from services import audit
from services.leads import LeadDraft, add_lead
from services.seed import SCENARIOS, read_seed

PITCHERS = frozenset({Role.LIAISON, Role.COUNTY, Role.BUREAU})


@dataclass(frozen=True)
class Scenario:
    code: str
    name_zh: str
    name_en: str
    owner: str  # the owner department's unit code

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


@dataclass(frozen=True)
class Listed:
    opportunity: Opportunity
    owner: Unit
    interested: int


@dataclass(frozen=True)
class Interested:
    enterprise: str
    unit: Unit
    lead_id: int
    at: datetime


async def scenarios(db: Database) -> list[Scenario]:
    async with db.session() as session:
        row = await session.get(Setting, SCENARIOS)
    values = row.value if row is not None else read_seed().get(SCENARIOS, [])
    return [Scenario(str(v["code"]), str(v["name_zh"]), str(v.get("name_en", "")), str(v["owner"])) for v in values]


async def publishable(db: Database, member: Member) -> list[Scenario]:
    """The scenarios this person publishes under: their department's; the bureau any."""
    every = await scenarios(db)
    if member.role is Role.BUREAU:
        return every
    return [s for s in every if s.owner == member.unit_code]


async def publish(
    db: Database,
    *,
    member: Member,
    scenario: str,
    title: str,
    size_yuan: int,
    conditions: str,
    deadline: date,
    now: datetime | None = None,
) -> Opportunity:
    chosen = next((s for s in await publishable(db, member) if s.code == scenario), None)
    if chosen is None:
        raise PermissionError("not this person's scenario")
    now = now or utcnow()
    async with db.session() as session:
        owner = (await session.exec(select(Unit).where(Unit.code == chosen.owner))).first()
        owner_id = owner.id if owner is not None else member.unit_id
        assert owner_id is not None
        opportunity = Opportunity(
            owner_unit_id=owner_id,
            scenario=scenario,
            title=title,
            size_yuan=size_yuan,
            conditions=conditions,
            deadline=deadline,
            published_by=member.id,
            created_at=now,
        )
        session.add(opportunity)
        await session.flush()
        assert opportunity.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="opportunity",
            entity_id=opportunity.id,
            action="published",
            at=now,
            title=title,
            scenario=scenario,
            size_yuan=size_yuan,
            deadline=deadline.isoformat(),
        )
        return opportunity


async def open_list(db: Database, today: date) -> list[Listed]:
    """Open opportunities (deadline not passed), the nearest deadline first."""
    async with db.session() as session:
        rows = (
            await session.exec(
                select(Opportunity, Unit)
                .join(Unit, col(Unit.id) == Opportunity.owner_unit_id)
                .where(
                    col(Opportunity.closed_at).is_(None),
                    or_(col(Opportunity.deadline).is_(None), col(Opportunity.deadline) >= today),
                )
                .order_by(col(Opportunity.deadline), col(Opportunity.id))
            )
        ).all()
        counts = dict(
            (
                await session.exec(
                    select(Interest.opportunity_id, func.count())
                    .where(col(Interest.opportunity_id).in_([int(o.id or 0) for o, _ in rows]))
                    .group_by(col(Interest.opportunity_id))
                )
            ).all()
        )
    return [Listed(o, u, int(counts.get(int(o.id or 0), 0))) for o, u in rows]


async def get(db: Database, opportunity_id: int) -> Listed | None:
    async with db.session() as session:
        row = (
            await session.exec(
                select(Opportunity, Unit)
                .join(Unit, col(Unit.id) == Opportunity.owner_unit_id)
                .where(Opportunity.id == opportunity_id)
            )
        ).first()
        if row is None:
            return None
        count = (
            await session.exec(
                select(func.count()).select_from(Interest).where(Interest.opportunity_id == opportunity_id)
            )
        ).one()
    return Listed(row[0], row[1], int(count))


def sees_interest(member: Member, listed: Listed) -> bool:
    """Who is interested is for the owner department and the bureau to see."""
    return member.role is Role.BUREAU or member.unit_id == listed.owner.id


async def interested(db: Database, opportunity_id: int) -> list[Interested]:
    async with db.session() as session:
        rows = await session.exec(
            select(Interest, Enterprise.name, Unit)
            .join(Enterprise, col(Enterprise.id) == Interest.enterprise_id)
            .join(Unit, col(Unit.id) == Interest.unit_id)
            .where(Interest.opportunity_id == opportunity_id)
            .order_by(col(Interest.at), col(Interest.id))
        )
        return [Interested(name, unit, i.lead_id, i.at) for i, name, unit in rows.all()]


async def log_interest(
    db: Database,
    *,
    member: Member,
    opportunity_id: int,
    enterprise_id: int | None,
    enterprise_name: str,
    credit_code: str | None,
    plan: str,
    now: datetime | None = None,
) -> tuple[Lead, Enterprise] | None:
    """The enterprise's interest, and the unit's lead that it is; None when the list is closed."""
    if member.role not in PITCHERS or member.unit_id is None:
        raise PermissionError("liaison offices and counties pitch opportunities")
    now = now or utcnow()
    async with db.session() as session:
        opportunity = await session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.closed_at is not None:
            return None
        draft = LeadDraft(
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name,
            credit_code=credit_code,
            chain_id=None,
            plan=plan,
            amount_yuan=None,
            source=LeadSource.SCENARIO,
            source_detail=opportunity.title[:200],
        )
        lead, enterprise = await add_lead(
            session, member=member, unit_id=member.unit_id, draft=draft, now=now, opportunity_id=opportunity_id
        )
        assert lead.id is not None and enterprise.id is not None
        session.add(
            Interest(
                opportunity_id=opportunity_id,
                enterprise_id=enterprise.id,
                lead_id=lead.id,
                unit_id=member.unit_id,
                user_id=member.id,
                at=now,
            )
        )
        audit.record(
            session,
            actor_id=member.id,
            entity="opportunity",
            entity_id=opportunity_id,
            action="interest",
            at=now,
            enterprise=enterprise.name,
            lead_id=lead.id,
        )
        return lead, enterprise
