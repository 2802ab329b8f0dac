"""Funds in place as dated entries: what /progress records, the year's exact figures, and the
migration that turns each existing running total into one entry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bot.app import App
from bot.core.db import Database
from bot.core.migrate import upgrade
from services import digests, projects, targets
from services.periods import of_kind
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat
from tests.test_project import COUNTY, all_projects, register, unit_id

TZ = ZoneInfo("Asia/Shanghai")


async def report_funds(chat_: Chat, total: str) -> None:
    """Tell /progress the project's funds in place to date, as a unit does."""
    await chat_.send("/progress 1")
    await chat_.press("到位资金")
    await chat_.send(total)
    if "更正" in chat_.last_text or "超过了计划投资" in chat_.last_text:
        await chat_.press("确定，保存")
    await chat_.press("完成")


async def test_each_report_is_a_dated_entry_and_the_total_their_sum(chat: ChatFactory, app: App, clock: Clock) -> None:
    county = chat(COUNTY)
    await register(county, amount="2亿")
    await report_funds(county, "3000万")
    clock.now = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
    await report_funds(county, "8000万")
    clock.now += timedelta(days=1)
    await report_funds(county, "7000万")  # a correction downwards
    entries = await projects.funds_entries(app.db, 1)
    assert [(e.on_date, e.amount_yuan) for e in entries] == [
        (date(2026, 11, 28), 30_000_000),
        (date(2027, 1, 5), 50_000_000),
        (date(2027, 1, 6), -10_000_000),
    ]
    [project] = await all_projects(app)
    assert project.funds_in_place_yuan == sum(e.amount_yuan for e in entries) == 70_000_000


async def test_the_years_funds_are_the_entries_dated_in_it(chat: ChatFactory, app: App, clock: Clock) -> None:
    county = chat(COUNTY)
    await register(county, amount="2亿")
    await report_funds(county, "3000万")
    clock.now = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)
    await report_funds(county, "8000万")
    ganzhou = await unit_id(app, "甘州区")
    december = of_kind("month", date(2026, 12, 1))
    january = of_kind("month", date(2027, 1, 1))
    row_2026 = next(r for r in (await digests.build_bureau_digest(app.db, december, TZ)).rows if r.unit_id == ganzhou)
    row_2027 = next(r for r in (await digests.build_bureau_digest(app.db, january, TZ)).rows if r.unit_id == ganzhou)
    # Before entries, the whole 8000万 counted in 2026 (the first-talk year) and none in 2027.
    assert row_2026.funds_year == 30_000_000
    assert row_2027.funds_year == 50_000_000


async def test_a_departments_half_within_the_year_counts_only_that_years_funds(
    chat: ChatFactory, app: App, clock: Clock
) -> None:
    department = chat(1006)
    await register(department, amount="2000万", stage="签约")
    await report_funds(department, "1500万")
    assert await _projects_met(app, date(2026, 12, 31)) == 1
    await register(department, enterprise="比亚迪", name="电池厂", amount="2000万", stage="洽谈")
    await department.send("/progress 2")
    await department.press("到位资金")
    await department.send("1500万")
    await department.press("完成")
    clock.now = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    await department.send("/progress 2")
    await department.press("推进阶段")
    await department.press("签约")
    await department.press("到位资金")
    await department.send("1900万")
    await department.press("完成")
    # Signed in 2027 with 1900万 of 2000万 in place, but only 400万 of it arrived in 2027.
    assert await _projects_met(app, date(2027, 12, 31)) == 0


async def _projects_met(app: App, today: date) -> int:
    czj = await unit_id(app, "市财政局")
    lines = (await targets.progress(app.db, today=today, tz=TZ, unit_ids=[czj]))[czj]
    [line] = [line for line in lines if line.metric == "project_over_threshold"]
    assert line.period.start.year == today.year
    return line.actual


async def test_existing_totals_become_one_entry_each(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await upgrade(db, "0002")
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO unit (code, kind, name_zh, name_en, region_zh, region_en, example, active, created_at)"
                    " VALUES ('ganzhou', 'county', '甘州区', 'Ganzhou', '', '', 0, 1, '2026-01-01')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO user (telegram_id, full_name, unit_id, role, active, created_at)"
                    " VALUES (1003, '赵干事', 1, 'county', 1, '2026-01-01')"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO enterprise (name, normalized_name, tags, aliases, pinyin, initials, contact_name,"
                    " contact_phone, region, registration_seq, created_at, updated_at)"
                    " VALUES ('宁德时代', '宁德时代', '[]', '[]', '', '', '', '', '', 0, '2026-01-01', '2026-01-01')"
                )
            )
            for name, funds, moved in (("有资金", 120_000_000, "2026-06-30 18:00:00"), ("无资金", 0, "2026-06-01")):
                await conn.execute(
                    text(
                        "INSERT INTO project (enterprise_id, name, normalized_name, funds_in_place_yuan,"
                        " first_talk_date, stage, description, industrial, first_talk_unit_id, executing_unit_id,"
                        " registered_by, last_progress_at, created_at)"
                        " VALUES (1, :name, :name, :funds, '2026-03-01', 'signed', '', 1, 1, 1, 1, :moved, :moved)"
                    ),
                    {"name": name, "funds": funds, "moved": moved},
                )
            # The last funds change was on 2026-05-20 local time (UTC 16:30 is the next day in Zhangye).
            await conn.execute(
                text(
                    "INSERT INTO auditentry (at, actor_id, entity, entity_id, action, detail) VALUES"
                    " ('2026-05-19 16:30:00', 1, 'project', 1, 'funds', '{}')"
                )
            )
        await upgrade(db, "heads")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT project_id, on_date, amount_yuan, origin FROM fundsentry"))).all()
        assert [(r[0], str(r[1]), r[2], r[3]) for r in rows] == [(1, "2026-05-20", 120_000_000, "migrated")]
    finally:
        await db.dispose()
