"""Lead review: the bureau marks each new lead effective 有效 or not; only effective ones count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select, update

from bot.core.db import Database
from models import Chain, Enterprise, Lead, LeadStatus, Unit, User
from services import audit


@dataclass(frozen=True)
class PendingLead:
    lead: Lead
    enterprise: str
    unit_zh: str
    unit_en: str
    submitter: str
    chain_zh: str | None
    chain_en: str | None
    waiting: int  # pending leads in the queue, this one included

    def unit(self, locale: str) -> str:
        return self.unit_en if locale == "en" and self.unit_en else self.unit_zh

    def chain(self, locale: str) -> str | None:
        return self.chain_en if locale == "en" and self.chain_en else self.chain_zh


@dataclass(frozen=True)
class Decision:
    lead: Lead
    enterprise: str
    submitter_telegram_id: int
    submitter_locale: str | None
    submitter_language_code: str | None


async def next_pending(db: Database, *, skip: Iterable[int] = ()) -> PendingLead | None:
    """The oldest lead waiting for review, leaving out those the reviewer skipped."""
    skipped = list(skip)
    async with db.session() as session:
        q = select(Lead).where(Lead.status == LeadStatus.PENDING)
        if skipped:
            q = q.where(col(Lead.id).not_in(skipped))
        lead = (await session.exec(q.order_by(col(Lead.created_at), col(Lead.id)).limit(1))).first()
        if lead is None:
            return None
        count_q = select(func.count()).select_from(Lead).where(Lead.status == LeadStatus.PENDING)
        if skipped:
            count_q = count_q.where(col(Lead.id).not_in(skipped))
        waiting = (await session.exec(count_q)).one()
        enterprise = await session.get(Enterprise, lead.enterprise_id)
        unit = await session.get(Unit, lead.unit_id)
        submitter = await session.get(User, lead.submitted_by)
        chain = await session.get(Chain, lead.chain_id) if lead.chain_id is not None else None
    return PendingLead(
        lead,
        enterprise.name if enterprise else "",
        unit.name_zh if unit else "",
        unit.name_en if unit else "",
        submitter.full_name if submitter else "",
        chain.name_zh if chain else None,
        chain.name_en if chain else None,
        int(waiting),
    )


async def decide(
    db: Database, lead_id: int, *, effective: bool, reason: str | None, reviewer_id: int, now: datetime
) -> Decision | None:
    """Mark a pending lead; ``None`` when it is no longer pending (another reviewer was first)."""
    status = LeadStatus.EFFECTIVE if effective else LeadStatus.REJECTED
    async with db.session() as session:
        result = await session.exec(
            update(Lead)
            .where(col(Lead.id) == lead_id, col(Lead.status) == LeadStatus.PENDING)
            .values(status=status, review_reason=reason, reviewed_by=reviewer_id, reviewed_at=now)
        )
        if result.rowcount != 1:
            return None
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        await session.refresh(lead)
        enterprise = await session.get(Enterprise, lead.enterprise_id)
        submitter = await session.get(User, lead.submitted_by)
        assert submitter is not None
        audit.record(
            session,
            actor_id=reviewer_id,
            entity="lead",
            entity_id=lead_id,
            action=f"reviewed_{status.value}",
            reason=reason,
        )
        return Decision(
            lead,
            enterprise.name if enterprise else "",
            submitter.telegram_id,
            submitter.locale,
            submitter.language_code,
        )
