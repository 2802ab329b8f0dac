"""The networks in the bureau's figures (§9–§13): what the monthly overview and ``/digest`` add.

- foreign investment (§13): projects of the year with foreign capital, its dollars and yuan,
  and projects of Fortune Global 500 enterprises (引进外资项目, 世界500强);
- capital tools (§11): fund-backed projects of the year and the funds' amounts;
- events (§10): each event's signing list and its follow-through;
- directories (§9): entries overdue for contact, across units;
- opportunity lists (§12): open opportunities, and interests logged in the period.

And what ``/find`` adds: directory entries, events and opportunities by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import String, cast
from sqlmodel import col, func, or_, select

from bot.core.db import Database
from models import (
    Contact,
    Enterprise,
    EnterpriseTag,
    Expo,
    Interest,
    Member,
    Opportunity,
    Origin,
    OriginKind,
    Project,
    Role,
    Stage,
)
from services import contacts, expos
from services.capital import in_yuan
from services.expos import FollowThrough


@dataclass(frozen=True)
class NetworksOverview:
    foreign_projects: int
    foreign_usd: int
    foreign_yuan: int
    global500_projects: int
    fund_projects: int
    fund_yuan: int
    events: list[FollowThrough]
    overdue_contacts: int
    open_opportunities: int
    new_interests: int


async def overview(
    db: Database, *, year_start: date, today: date, start: datetime, end: datetime, now: datetime, lagging_days: int
) -> NetworksOverview:
    """Figures of the year up to ``today``; interests logged between ``start`` and ``end``."""
    live = (col(Project.stage) != Stage.DROPPED, col(Project.first_talk_date) >= year_start)
    async with db.session() as session:
        foreign = (
            await session.exec(
                select(Project.foreign_usd, Project.usd_rate_e4).where(*live, col(Project.foreign_usd) > 0)
            )
        ).all()
        # Counted where the tags are: reading every project's tags to count them grows with the register.
        global500 = (
            await session.exec(
                select(func.count())
                .select_from(Project)
                .join(Enterprise, col(Project.enterprise_id) == Enterprise.id)
                .where(*live, cast(Enterprise.tags, String).like(f'%"{EnterpriseTag.GLOBAL500.value}"%'))
            )
        ).one()
        funded = (
            await session.exec(
                select(func.count(), func.coalesce(func.sum(Project.fund_yuan), 0)).where(
                    *live, col(Project.fund_mode).is_not(None)
                )
            )
        ).one()
        event_ids = (
            await session.exec(
                select(Origin.expo_id)
                .where(Origin.record == OriginKind.PROJECT.value, col(Origin.expo_id).is_not(None))
                .distinct()
            )
        ).all()
        units = (await session.exec(select(Contact.unit_id).where(col(Contact.removed_at).is_(None)).distinct())).all()
        open_count = (
            await session.exec(
                select(func.count())
                .select_from(Opportunity)
                .where(
                    col(Opportunity.closed_at).is_(None),
                    or_(col(Opportunity.deadline).is_(None), col(Opportunity.deadline) >= today),
                )
            )
        ).one()
        interests = (
            await session.exec(
                select(func.count()).select_from(Interest).where(col(Interest.at) >= start, col(Interest.at) < end)
            )
        ).one()
    overdue = sum([len(await contacts.overdue(db, unit_id, now)) for unit_id in units])
    events = await expos.follow_through(db, sorted(int(i or 0) for i in event_ids), now, lagging_days)
    return NetworksOverview(
        foreign_projects=len(foreign),
        foreign_usd=sum(usd or 0 for usd, _ in foreign),
        foreign_yuan=sum(in_yuan(usd or 0, rate or 0) for usd, rate in foreign),
        global500_projects=int(global500),
        fund_projects=int(funded[0]),
        fund_yuan=int(funded[1] or 0),
        events=[ft for ft in events if ft.count],
        overdue_contacts=overdue,
        open_opportunities=int(open_count),
        new_interests=int(interests),
    )


@dataclass(frozen=True)
class NetworkFound:
    contacts: list[Contact]
    events: list[Expo]
    opportunities: list[Opportunity]

    @property
    def empty(self) -> bool:
        return not (self.contacts or self.events or self.opportunities)


def _like(text: str) -> str:
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


async def find(db: Database, member: Member, text: str, *, limit: int = 10) -> NetworkFound:
    """Directory entries (the person's unit's; the bureau's every unit's), events and
    opportunities whose name, place, relation or title holds ``text``."""
    pattern = _like(text.strip())
    async with db.session() as session:
        entries = select(Contact).where(
            col(Contact.removed_at).is_(None),
            or_(*(col(c).like(pattern, escape="!") for c in (Contact.name, Contact.place, Contact.relation))),
        )
        if member.role is not Role.BUREAU:
            entries = entries.where(Contact.unit_id == (member.unit_id if contacts.may_keep(member) else -1))
        found_contacts = (await session.exec(entries.order_by(col(Contact.id)).limit(limit))).all()
        found_events = (
            await session.exec(
                select(Expo)
                .where(or_(col(Expo.name_zh).like(pattern, escape="!"), col(Expo.name_en).like(pattern, escape="!")))
                .order_by(col(Expo.id))
                .limit(limit)
            )
        ).all()
        found_opportunities = (
            await session.exec(
                select(Opportunity)
                .where(col(Opportunity.title).like(pattern, escape="!"))
                .order_by(col(Opportunity.id))
                .limit(limit)
            )
        ).all()
    return NetworkFound(list(found_contacts), list(found_events), list(found_opportunities))
