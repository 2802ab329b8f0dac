"""Every digest figure equals an independent count over the fixture year."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import event

from bot.app import App
from services import digests, targets
from services.digests import Window
from services.periods import half_of, month_of, week_of, year_of
from tests.fixtures_year import TZ, YearData, build_year, utc_midnight


@pytest.fixture
async def year(app: App) -> YearData:
    return await build_year(app.db)


WEEKS = [date(2026, 1, 5), date(2026, 3, 16), date(2026, 6, 29), date(2026, 9, 7), date(2026, 12, 28)]
MONTHS = [date(2026, m, 1) for m in (1, 2, 5, 6, 9, 11, 12)]


async def test_chain_digest_figures(app: App, year: YearData) -> None:
    for monday in WEEKS:
        await check_chain_week(app, year, monday)


async def check_chain_week(app: App, year: YearData, monday: date) -> None:
    window = Window(monday - timedelta(days=7), monday)
    digest = await digests.build_chain_digest(app.db, year.units["gxj"].id or 0, window, TZ)
    assert [s.chain_id for s in digest.sections] == year.chain_ids_of("gxj")
    assert len(digest.sections) == 4
    for section in digest.sections:
        expected = year.chain_figures(section.chain_id, window.start, window.end)
        got = {
            "new_leads": section.new_leads,
            "new_visits": section.new_visits,
            "by_stage": section.by_stage,
            "coverage": section.coverage,
            "lagging_count": section.lagging_count,
            "funds_this_year": section.funds_this_year,
            "funds_last_year": section.funds_last_year,
        }
        assert got == expected, section.name_zh
        assert len(section.lagging) == min(5, section.lagging_count)


async def test_fixture_year_is_not_trivial(year: YearData) -> None:
    """The figures compared above are not all zeros."""
    totals = [year.chain_figures(c, date(2026, 1, 1), date(2027, 1, 1)) for c in year.chain_ids_of("gxj")]
    assert sum(int(t["new_leads"]) for t in totals) > 10  # type: ignore[call-overload]
    assert sum(t["coverage"]["landed"] + t["coverage"]["untouched"] for t in totals) > 0  # type: ignore[index]
    assert sum(int(t["lagging_count"]) for t in totals) > 0  # type: ignore[call-overload]


async def test_liaison_digest_figures(app: App, year: YearData) -> None:
    for first in MONTHS:
        await check_liaison_month(app, year, first)


async def check_liaison_month(app: App, year: YearData, first: date) -> None:
    period = month_of(first)
    for as_of in (first + timedelta(days=19), period.last_day):
        digest = await digests.build_liaison_digest(app.db, year.units["liaison_beijing"].id or 0, period, as_of, TZ)
        expected = year.liaison_figures("liaison_beijing", period.start, as_of)
        assert digest.effective == expected["effective"]
        assert digest.pending == expected["pending"]
        assert [r.lead_id for r in digest.rejected] == expected["rejected"]
        assert digest.target == 10
        assert digest.day == as_of.day
        assert digest.expected == Fraction(10 * as_of.day, period.days)


async def test_bureau_digest_figures(app: App, year: YearData) -> None:
    for first in MONTHS:
        await check_bureau_month(app, year, first)


async def check_bureau_month(app: App, year: YearData, first: date) -> None:
    period = month_of(first)
    digest = await digests.build_bureau_digest(app.db, period, TZ)
    counties = ["ganzhou", "linze", "gaotai", "shandan", "minle", "sunan", "zone"]
    assert [r.unit_id for r in digest.rows] == [year.units[c].id for c in counties]
    for row, code in zip(digest.rows, counties, strict=True):
        expected = year.bureau_row(code, period.start, period.end)
        assert (row.funds_year, row.big_projects, row.new_first_talk, row.signed, row.started) == expected, code
    assert digest.total.funds_year == sum(r.funds_year for r in digest.rows)
    s, e = utc_midnight(period.start), utc_midnight(period.end)
    assert digest.flagged_visits == sum(1 for v in year.visits if v.flagged and s <= v.created_at < e)
    assert digest.open_disputes == sum(1 for d in year.disputes if d.status == "open" and d.created_at < e)
    lagging = [
        p
        for p in year.projects
        if p.stage in {"first_talk", "negotiation", "signed", "started"}
        and p.last_progress_at < e - timedelta(days=30)
        and p.created_at < e
    ]
    assert digest.lagging_count == len(lagging)
    assert [p.project_id for p in digest.lagging] == [
        p.id for p in sorted(lagging, key=lambda p: (p.last_progress_at, p.id))[:10]
    ]


async def test_target_progress_matches_counts(app: App, year: YearData) -> None:
    for today in (date(2026, 3, 20), date(2026, 6, 30), date(2026, 11, 15)):
        await check_targets_on(app, year, today)


async def test_a_runs_days_of_progress_are_counted_together_and_each_matches_the_counts(
    app: App, year: YearData
) -> None:
    """A scheduled run looks at several days (today, the month-ends the interview list reads):
    they are counted in one pass, and each day's figures are those counted alone."""
    days = [date(2026, 11, 15), date(2026, 3, 20), date(2026, 6, 30)]
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    await targets.ProgressByDay(app.db, TZ).on(date(2026, 1, 31))  # the units as a running bot keeps them
    event.listen(app.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        alone = await targets.ProgressByDay(app.db, TZ).on(days[0])
        one_day = len(statements)
        statements.clear()
        run = targets.ProgressByDay(app.db, TZ)
        run.expect(days[1:])
        first = await run.on(days[0])
        several_days = len(statements)
        later = await run.on_days(days[1:])
        assert len(statements) == several_days, "the expected days were counted in the first pass"
    finally:
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", seen)
    assert several_days == one_day
    assert first == alone
    for day in days:
        lines = first if day == days[0] else later[day]
        assert lines == await targets.progress(app.db, today=day, tz=TZ)
        await check_targets_on(app, year, day, lines)


async def check_targets_on(
    app: App, year: YearData, today: date, lines: dict[int, list[targets.Line]] | None = None
) -> None:
    lines = lines if lines is not None else await targets.progress(app.db, today=today, tz=TZ)
    until = today + timedelta(days=1)
    y0, m0 = year_of(today).start, month_of(today).start

    def line(code: str, metric: str, chain: int | None = None) -> targets.Line:
        unit_lines = lines[year.units[code].id or 0]
        return next(x for x in unit_lines if x.metric == metric and x.chain_id == chain)

    leads = line("liaison_beijing", "effective_leads")
    assert leads.actual == year.effective_leads("liaison_beijing", m0, until)
    assert (leads.day, leads.expected) == (today.day, Fraction(10 * today.day, month_of(today).days))
    assert line("zone", "projects_over_threshold").actual == year.landed_over("zone", 100_000_000, y0, until)
    assert line("zone", "major_project").actual == year.landed_over("zone", 100_000_000, y0, until)
    assert line("ganzhou", "major_project").actual == year.landed_over("ganzhou", 100_000_000, y0, until)
    assert line("czj", "project_over_threshold").actual == year.landed_over("czj", 10_000_000, y0, until, ratio=50)
    assert line("gxj", "project_over_threshold").actual == year.landed_over("gxj", 10_000_000, y0, until, ratio=50)
    for chain_id in year.chain_ids_of("gxj"):
        assert line("gxj", "library_size", chain_id).actual == year.library_size(chain_id, until)
        assert line("gxj", "chain_leader_landed", chain_id).actual == year.chain_leaders_landed(chain_id, y0, until)
    # Units without targets have none; the zone's own row overrides nothing of the counties'.
    assert lines[year.units["bureau"].id or 0] == []
    assert {x.metric for x in lines[year.units["zone"].id or 0]} == {"projects_over_threshold", "major_project"}


async def test_leader_digest_lists_assigned_projects(app: App, year: YearData) -> None:
    leader = year.users[1008]
    period = half_of(date(2026, 6, 30))
    digest = await digests.build_leader_digest(app.db, leader.id or 0, period, date(2026, 6, 30), TZ)
    mine = [p for p in year.projects if p.leader_user_id == leader.id and p.first_talk_date <= date(2026, 6, 30)]
    assert [p.project_id for p in digest.projects] == [p.id for p in mine]
    assert digest.landed == sum(1 for p in mine if p.stage in {"signed", "started", "operating"})
    assert digest.funds_total == sum(p.funds_in_place_yuan for p in mine)
    lines = await targets.progress(app.db, today=date(2026, 6, 30), tz=TZ)
    flat = [x for xs in lines.values() for x in xs]
    assert (digest.targets_met, digest.targets_total) == (sum(x.met for x in flat), len(flat))


async def test_leaders_summaries_of_one_run_match_each_asked_alone(app: App, year: YearData) -> None:
    """A scheduled run builds every leader's summary in one pass; each reads as if asked alone."""
    period, day = half_of(date(2026, 6, 30)), date(2026, 6, 30)
    leaders = [year.users[1008].id or 0, year.users[1001].id or 0]  # one with projects, one without
    together = await digests.build_leader_digests(app.db, leaders, period, day, TZ)
    for leader in leaders:
        assert together[leader] == await digests.build_leader_digest(app.db, leader, period, day, TZ)
    assert together[leaders[0]].projects and not together[leaders[1]].projects


async def test_week_period_keys() -> None:
    assert week_of(date(2025, 12, 29)).key == "2026-W01"
    assert week_of(date(2026, 11, 23)).key == "2026-W48"
