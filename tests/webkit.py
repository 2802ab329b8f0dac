"""For the dashboard's tests: signed ``initData`` as Telegram makes it, and a small city with figures.

The city is the seeded one with the demo people (tests.deskkit's ids) and records for two
counties, a liaison office and a chain, so a page can be checked against the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import SecretStr
from sqlmodel import col, select

from bot.app import App
from bot.core.config import Settings
from models import Chain, Lead, LeaderLevel, LeadStatus, Project, Stage
from services.webauth import sign_init_data
from tests import deskkit as k
from tests.conftest import ADMIN_ID

TOKEN = "123456:TEST-dashboard-token"
WEB_URL = "https://dash.example.test"
ROLES = {
    "bureau": k.BUREAU,
    "leader": k.LEADER,
    "county": k.GANZHOU,
    "zone": k.ZONE,
    "chain_lead": k.GXJ,
    "liaison": k.LIAISON,
    "department": k.CZJ,
}


def web_settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        bot_admin_ids=frozenset({ADMIN_ID}),
        bot_token=SecretStr(TOKEN),
        web_url=WEB_URL,
    )


def init_data(telegram_id: int, *, at: datetime, token: str = TOKEN, language: str = "zh-hans", **extra: str) -> str:
    """What Telegram hands a Mini App it opens for this person."""
    user = json.dumps({"id": telegram_id, "first_name": "测试", "language_code": language}, ensure_ascii=False)
    fields = {"auth_date": str(int(at.timestamp())), "query_id": "AAHdF6IQAAAAAN0XohDhrOrc", "user": user, **extra}
    return sign_init_data(fields, token)


@dataclass
class City:
    ganzhou_project: Project
    zone_project: Project
    lagging_project: Project
    chain_id: int
    chain_name: str


async def small_city(app: App) -> City:
    """Projects, funds, visits with a place, leads and a library, as of the test clock (2026-11-28)."""
    gxj = await k.user(app, k.GXJ)
    async with app.db.session() as session:
        led = select(Chain).where(Chain.lead_unit_id == gxj.unit_id).order_by(col(Chain.id))
        chain = (await session.exec(led)).first()
    assert chain is not None and chain.id is not None
    e1 = await k.enterprise(app, "甘州新材料有限公司", chain_id=chain.id)
    e2 = await k.enterprise(app, "经开区光伏科技有限公司")
    e3 = await k.enterprise(app, "甘州食品加工有限公司")
    ganzhou_project = await k.project(
        app, e1.id or 0, k.GANZHOU, "甘州新材料扩产项目", stage=Stage.SIGNED, planned=300_000_000,
        funds=120_000_000, chain_id=chain.id, first_talk=date(2026, 11, 2),
    )  # fmt: skip
    zone_project = await k.project(
        app, e2.id or 0, k.ZONE, "经开区光伏组件项目", stage=Stage.NEGOTIATION, planned=800_000_000,
        funds=50_000_000, first_talk=date(2026, 10, 12),
    )  # fmt: skip
    lagging_project = await k.project(
        app, e3.id or 0, k.GANZHOU, "甘州冷链物流项目", stage=Stage.FIRST_TALK, planned=20_000_000,
        first_talk=date(2026, 8, 3),
    )  # fmt: skip
    async with app.db.session() as session:
        waiting = await session.get(Project, zone_project.id)
        assert waiting is not None
        waiting.leader_level_needed = LeaderLevel.MUNICIPAL  # ≥ 1亿 industrial, no leader yet (§15)
        session.add(waiting)
        stale = await session.get(Project, lagging_project.id)
        assert stale is not None
        stale.last_progress_at = datetime(2026, 8, 3, 2, tzinfo=UTC)
        session.add(stale)
    placed = await k.visit(app, e1.id or 0, k.GANZHOU, on=date(2026, 11, 10))
    zone_visit = await k.visit(app, e2.id or 0, k.ZONE, on=date(2026, 11, 12))
    async with app.db.session() as session:
        for visit, (lat, lon) in ((placed, (38.93, 100.45)), (zone_visit, (38.95, 100.52))):
            visit.latitude, visit.longitude = lat, lon
            session.add(visit)
    now = app.now()
    for index in range(3):
        lead = await k.lead(app, e1.id or 0, k.LIAISON, at=now - timedelta(days=20 - index))
        if index < 2:
            async with app.db.session() as session:
                row = await session.get(Lead, lead.id)
                assert row is not None
                row.status = LeadStatus.EFFECTIVE
                session.add(row)
    kept = [await k.enterprise(app, name, chain_id=chain.id) for name in ("链上企业甲", "链上企业乙")]
    for enterprise in [*kept, e1]:
        entry = await k.library_entry(app, chain.id, enterprise.id or 0)
        async with app.db.session() as session:
            # Kept before the test's "today", as the digests count the library as of a day.
            entry.added_at = now - timedelta(days=30)
            session.add(entry)
    return City(ganzhou_project, zone_project, lagging_project, chain.id, chain.name_zh)


def today_of(app: App) -> date:
    return app.now().astimezone(app.tz).date()
