"""Leads 招商线索: first-hand information about an enterprise's plans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from bot.core.i18n import translate
from models import Chain, Enterprise, Lead, LeadSource, LeadStatus, Member, utcnow
from services import audit
from services.enterprises import resolve_draft
from services.money import format_foreign, format_money


@dataclass(frozen=True)
class LeadDraft:
    enterprise_id: int | None
    enterprise_name: str
    credit_code: str | None
    chain_id: int | None
    plan: str
    amount_yuan: int | None
    source: LeadSource
    source_detail: str = ""
    currency: str = "CNY"
    amount_original: int | None = None
    amount_approximate: bool = False
    original_text: str = ""
    origin: str = ""


@dataclass(frozen=True)
class LeadRow:
    lead: Lead
    enterprise: str
    chain_zh: str | None
    chain_en: str | None


async def create_lead(db: Database, *, member: Member, draft: LeadDraft, now: datetime | None = None) -> Lead:
    """Save a lead (and its enterprise, when new) with an audit entry, in one transaction."""
    [lead] = await create_leads(db, member=member, drafts=[draft], now=now)
    return lead


async def create_leads(
    db: Database, *, member: Member, drafts: Sequence[LeadDraft], now: datetime | None = None
) -> list[Lead]:
    """Save several leads (a signing list) together: all of them, or none if one fails."""
    if member.unit_id is None:
        raise PermissionError("a lead belongs to a unit")
    saved: list[Lead] = []
    async with db.session() as session:
        for draft in drafts:
            lead, _ = await add_lead(session, member=member, unit_id=member.unit_id, draft=draft, now=now)
            saved.append(lead)
    return saved


async def add_lead(
    session: AsyncSession,
    *,
    member: Member,
    unit_id: int,
    draft: LeadDraft,
    now: datetime | None,
    **context: object,
) -> tuple[Lead, Enterprise]:
    """The one way a lead is made, whatever it came from: its enterprise found or created, the
    lead, and its audit entry (with ``context``, such as the opportunity it answers), in the
    caller's transaction."""
    enterprise = await resolve_draft(session, draft, chain_id=draft.chain_id, actor_id=member.id, now=now)
    assert enterprise.id is not None
    lead = Lead(
        enterprise_id=enterprise.id,
        chain_id=draft.chain_id,
        plan=draft.plan,
        amount_yuan=draft.amount_yuan,
        source=draft.source,
        source_detail=draft.source_detail,
        currency=draft.currency,
        amount_original=draft.amount_original,
        amount_approximate=draft.amount_approximate,
        original_text=draft.original_text,
        origin=draft.origin,
        unit_id=unit_id,
        submitted_by=member.id,
        status=LeadStatus.PENDING,
        created_at=now or utcnow(),
    )
    # Plain INSERTs, not the ORM's unit of work: a lead's save is on the path of every /lead,
    # and nothing later in the transaction changes the lead.
    table = Lead.__table__  # type: ignore[attr-defined]
    inserted = await session.exec(insert(table).values(**lead.model_dump(exclude={"id"})).returning(table.c.id))
    lead.id = int(inserted.scalar_one())
    await audit.write(
        session,
        actor_id=member.id,
        entity="lead",
        entity_id=lead.id,
        action="created",
        at=now,
        enterprise=enterprise.name,
        amount_yuan=draft.amount_yuan,
        chain_id=draft.chain_id,
        source=draft.source,
        **context,
    )
    return lead, enterprise


async def recent_by(db: Database, user_id: int, *, limit: int = 10) -> list[LeadRow]:
    async with db.session() as session:
        rows = await session.exec(
            select(Lead, Enterprise.name, Chain.name_zh, Chain.name_en)
            .join(Enterprise, col(Enterprise.id) == Lead.enterprise_id)
            .outerjoin(Chain, col(Chain.id) == Lead.chain_id)
            .where(Lead.submitted_by == user_id)
            .order_by(col(Lead.created_at).desc(), col(Lead.id).desc())
            .limit(limit)
        )
        return [LeadRow(lead, name, zh, en) for lead, name, zh, en in rows.all()]


PASTED = "pasted"
FORWARDED = "forwarded:"


def origin_text(origin: str, locale: str) -> str:
    """Where a captured lead's message came from, in words (``forwarded:王五`` → 转发自王五的消息)."""
    if origin.startswith(FORWARDED):
        name = origin[len(FORWARDED) :]
        return (
            translate(locale, "lead.origin.forwarded", name=name)
            if name
            else translate(locale, "lead.origin.forwarded_unnamed")
        )
    return translate(locale, "lead.origin.pasted") if origin else ""


def stated_amount(lead: Lead, locale: str) -> str:
    """The amount as the message stated it, when that says more than the yuan figure (a currency, a bound)."""
    if lead.amount_original is not None and lead.currency != "CNY":
        text = format_foreign(lead.amount_original, lead.currency, locale)
    elif lead.amount_approximate and lead.amount_yuan is not None:
        text = format_money(lead.amount_yuan, locale)
    else:
        return ""
    return translate(locale, "lead.amount.approximate", amount=text) if lead.amount_approximate else text
