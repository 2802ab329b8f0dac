"""Two people saving the same new enterprise at the same moment (a /lead and a /lead, a /lead and
a /visit): exactly one enterprise record results, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlmodel import col, select

from bot.app import App
from bot.core.db import Database
from models import Enterprise, Lead, LeadSource, Visit
from services import leads, members, visits
from services.credit_code import make_credit_code
from services.leads import LeadDraft
from services.visits import VisitDraft

LIAISON, COUNTY, ZONE = 1002, 1003, 1004


def lead_draft(name: str, credit_code: str | None = None) -> LeadDraft:
    return LeadDraft(
        enterprise_id=None,
        enterprise_name=name,
        credit_code=credit_code,
        chain_id=None,
        plan="扩产",
        amount_yuan=None,
        source=LeadSource.OTHER,
    )


def visit_draft(name: str) -> VisitDraft:
    return VisitDraft(
        enterprise_id=None,
        enterprise_name=name,
        credit_code=None,
        visit_date=date(2026, 11, 27),
        follow_up_date=date(2026, 12, 5),
        place="企业",
        no_location_reason="补录",
    )


async def enterprises_named(db: Database, normalized: str) -> list[Enterprise]:
    async with db.session() as session:
        return list((await session.exec(select(Enterprise).where(Enterprise.normalized_name == normalized))).all())


async def race(db: Database) -> None:
    liaison_m, county_m, zone_m = [
        await members.load_member(db, t, admin_ids=frozenset()) for t in (LIAISON, COUNTY, ZONE)
    ]
    assert liaison_m and county_m and zone_m

    # Two leads, the same new enterprise typed two ways.
    results = await asyncio.gather(
        leads.create_lead(db, member=liaison_m, draft=lead_draft("华为技术有限公司")),
        leads.create_lead(db, member=county_m, draft=lead_draft("华为技术")),
    )
    assert all(isinstance(r, Lead) for r in results)
    [huawei] = await enterprises_named(db, "华为技术")
    assert {r.enterprise_id for r in results} == {huawei.id}

    # A lead and a visit.
    lead, visit = await asyncio.gather(
        leads.create_lead(db, member=liaison_m, draft=lead_draft("宁德时代新能源科技股份有限公司")),
        visits.create_visit(db, member=zone_m, draft=visit_draft("宁德时代新能源科技"), go_ahead=True),
    )
    assert isinstance(lead, Lead) and isinstance(visit, Visit)
    [catl] = await enterprises_named(db, "宁德时代新能源科技")
    assert lead.enterprise_id == visit.enterprise_id == catl.id

    # The same credit code under two names: still one record.
    code = make_credit_code("91440300192317458")
    results = await asyncio.gather(
        leads.create_lead(db, member=liaison_m, draft=lead_draft("比亚迪股份有限公司", code)),
        leads.create_lead(db, member=county_m, draft=lead_draft("BYD Company Limited", code)),
    )
    async with db.session() as session:
        found = (await session.exec(select(Enterprise).where(col(Enterprise.credit_code) == code))).all()
    assert len(found) == 1 and {r.enterprise_id for r in results} == {found[0].id}


async def test_race(app: App) -> None:
    await race(app.db)
