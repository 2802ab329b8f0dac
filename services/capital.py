"""Capital tools (§11) and foreign investment (§13) on a project.

A project may be fund-backed (产业基金跟投, or 基金+项目直投) with the fund's name and amount
in yuan. Foreign capital is kept as the dollars the investor brings and the rate used to
count them in yuan, so a later rate does not silently change an old figure. The enterprise's
foreign and Fortune Global 500 status are its tags (``EnterpriseTag``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, EnterpriseTag, FundMode, Member, Project, utcnow
from services import audit
from services.access import Purpose, scope
from services.money import parse_money

RATE_SCALE = 10_000
# Yuan per dollar has stayed between 6 and 8 for decades; outside 1–20 is a typing slip.
RATE_LOW, RATE_HIGH = Decimal(1), Decimal(20)
_DOLLARS = re.compile(r"(美元|美金|usd|us\$|\$|dollars?)", re.IGNORECASE)
MAX_LISTED = 20


class InvalidRate(ValueError):
    """Text that is not a plausible yuan-per-dollar rate."""


def parse_rate(text: str) -> int:
    """``7.1234`` (or ``1美元=7.12元``) as ten-thousandths of a yuan per dollar."""
    cleaned = unicodedata.normalize("NFKC", text).replace("元", "").strip()
    cleaned = cleaned.split("=")[-1].strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise InvalidRate(text) from exc
    if not RATE_LOW <= value <= RATE_HIGH:
        raise InvalidRate(text)
    return int((value * RATE_SCALE).to_integral_value())


def parse_dollars(text: str) -> int:
    """``2000万美元``, ``USD 20m``-free forms the money reader knows, in whole dollars."""
    return parse_money(_DOLLARS.sub("", unicodedata.normalize("NFKC", text)).strip())


def in_yuan(usd: int, rate_e4: int) -> int:
    return usd * rate_e4 // RATE_SCALE


def dollars_text(usd: int, locale: str) -> str:
    return format_decimal(usd, format="#,##0", locale=locale)


def rate_text(rate_e4: int) -> str:
    return f"{Decimal(rate_e4) / RATE_SCALE:.4f}"


async def workable(db: Database, member: Member) -> list[tuple[Project, str]]:
    """The projects this person works on (the latest first), with their enterprise's name."""
    async with db.session() as session:
        rows = await session.exec(
            select(Project, Enterprise.name)
            .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
            .where(scope(member, Project, Purpose.WORK))
            .order_by(col(Project.id).desc())
            .limit(MAX_LISTED)
        )
        return list(rows.all())


async def workable_one(db: Database, member: Member, project_id: int) -> tuple[Project, Enterprise] | None:
    async with db.session() as session:
        return await _workable(session, member, project_id)


async def _workable(session: AsyncSession, member: Member, project_id: int) -> tuple[Project, Enterprise] | None:
    row = (
        await session.exec(
            select(Project, Enterprise)
            .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
            .where(Project.id == project_id, scope(member, Project, Purpose.WORK))
        )
    ).first()
    return (row[0], row[1]) if row else None


async def set_fund(
    db: Database,
    *,
    member: Member,
    project_id: int,
    mode: FundMode,
    fund_name: str,
    fund_yuan: int,
    now: datetime | None = None,
) -> Project | None:
    now = now or utcnow()
    async with db.session() as session:
        found = await _workable(session, member, project_id)
        if found is None:
            return None
        project = found[0]
        before = {"fund_mode": project.fund_mode, "fund_name": project.fund_name, "fund_yuan": project.fund_yuan}
        project.fund_mode, project.fund_name, project.fund_yuan = mode.value, fund_name, fund_yuan
        session.add(project)
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=project_id,
            action="fund_set",
            at=now,
            before=before,
            fund_mode=mode.value,
            fund_name=fund_name,
            fund_yuan=fund_yuan,
        )
        return project


async def set_foreign(
    db: Database,
    *,
    member: Member,
    project_id: int,
    usd: int,
    rate_e4: int,
    tags: set[EnterpriseTag],
    now: datetime | None = None,
) -> Project | None:
    """Record the project's foreign capital and add the enterprise's foreign/Global 500 tags."""
    now = now or utcnow()
    async with db.session() as session:
        found = await _workable(session, member, project_id)
        if found is None:
            return None
        project, enterprise = found
        before = {"foreign_usd": project.foreign_usd, "usd_rate_e4": project.usd_rate_e4}
        project.foreign_usd, project.usd_rate_e4 = usd, rate_e4
        session.add(project)
        added = [t.value for t in EnterpriseTag if t in tags and t.value not in enterprise.tags]
        if added:
            old_tags = list(enterprise.tags)
            enterprise.tags = [*enterprise.tags, *added]
            enterprise.updated_at = now
            session.add(enterprise)
            audit.record(
                session,
                actor_id=member.id,
                entity="enterprise",
                entity_id=enterprise.id or 0,
                action="tagged",
                at=now,
                before=old_tags,
                after=enterprise.tags,
            )
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=project_id,
            action="foreign_set",
            at=now,
            before=before,
            foreign_usd=usd,
            usd_rate=rate_text(rate_e4),
            foreign_yuan=in_yuan(usd, rate_e4),
        )
        return project
