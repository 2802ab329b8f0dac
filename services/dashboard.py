"""The dashboard's figures, each read the way the digests and /export read it.

The overview is the bureau digest's county rows and rankings, the targets' progress lines
and the weekly chain sections for a chosen month, quarter or year; the projects page is the
project listings, lagging projects, element needs and overdue approvals the chat shows.
What is new here is only what no chat message had: the leads funnel per liaison office
and where visits and projects stand on the map.

Scoping is ``services.access``'s rule with one reading of it: a city leader sees the whole
city, as the bureau does (the leaders read the city's results, §1 §17), while the chat
shows a leader the projects assigned to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from bot.core.db import Database
from models import (
    STAGE_ORDER,
    Chain,
    Enterprise,
    FundsEntry,
    Lead,
    LeadStatus,
    Member,
    Project,
    Role,
    Stage,
    Unit,
    UnitKind,
    Visit,
)
from services import digests, members, needs, projects, rankings, taskforce
from services import settings as bureau_settings
from services.access import scope
from services.digests import ChainSection, Named, UnitRow, Window
from services.needs import NeedRow
from services.periods import Period, local_midnight, month_of, quarter_of, year_of
from services.projects import Event, ProjectRow
from services.rankings import Ranked
from services.targets import Line, ProgressByDay
from services.taskforce import OverdueApproval

PROJECTS_SHOWN = 200
STUCK_SHOWN = 50  # of each list of stuck projects; the count is of them all
RANKS_SHOWN = 10  # the top of each ranking (a unit's own place is always shown)
MAP_POINTS = 1000  # the latest of each kind; a phone shows no more than that usefully


class Span(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def span_period(span: Span, day: date) -> Period:
    return {Span.MONTH: month_of, Span.QUARTER: quarter_of, Span.YEAR: year_of}[span](day)


def sees_city(member: Member) -> bool:
    return member.role in (Role.BUREAU, Role.LEADER)


def viewer(member: Member) -> Member:
    """The person as ``services.access`` should judge them here (see the module's note on leaders)."""
    return dataclasses.replace(member, role=Role.BUREAU) if member.role is Role.LEADER else member


def scope_key(member: Member) -> Hashable:
    """Who sees the same figures on every page: the city's people alike, otherwise by role and unit.

    Everything these pages count depends on the person only through ``viewer`` (its role and
    unit) and ``sees_city``. Someone of the city's whose own unit is ranked (a county, the zone,
    a liaison office) also sees that unit's place in the rankings, so their unit counts too.
    """
    if sees_city(member):
        ranked = member.unit_kind in (UnitKind.COUNTY, UnitKind.ZONE, UnitKind.LIAISON)
        return "city", member.unit_id if ranked else None
    return viewer(member).role, member.unit_id


async def visible_chains(db: Database, member: Member) -> list[Chain]:
    if sees_city(member):
        async with db.session() as session:
            return list((await session.exec(select(Chain).where(col(Chain.active)).order_by(col(Chain.id)))).all())
    if member.role is Role.CHAIN_LEAD and member.unit_id is not None:
        return await digests.chains_led_by(db, member.unit_id)
    return []


# -- overview (通报) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class UnitLines(Named):
    unit_id: int
    lines: list[Line]


@dataclass(frozen=True)
class Overview:
    period: Period
    last_day: date
    rows: list[UnitRow]
    total: UnitRow | None
    targets: list[UnitLines]
    chains: list[ChainSection]
    ranking: dict[str, list[Ranked]]
    ranked_counts: dict[str, int]


@dataclass(frozen=True)
class CityFigures:
    """What every overview of a period reads whoever asks: every county's row, the rankings and
    every unit's targets' progress on the last day. Each person's overview picks its part."""

    period: Period
    last_day: date
    rows: list[UnitRow]
    ranks: rankings.Rankings
    lines: dict[int, list[Line]]


async def city_figures(db: Database, span: Span, today: date, tz: ZoneInfo) -> CityFigures:
    period = span_period(span, today)
    last = min(period.last_day, today)
    every_row = await digests.county_rows(db, period, last + timedelta(days=1))
    # One count of every unit's targets on the last day serves the rankings and the progress lines.
    lines_on = ProgressByDay(db, tz)
    figures = [digests.ranking_figures(r) for r in every_row]
    ranks = await rankings.build(db, figures, last, tz, bureau=False, lines_on=lines_on)
    return CityFigures(period, last, every_row, ranks, await lines_on.on(last))


async def overview(
    db: Database,
    member: Member,
    span: Span,
    today: date,
    tz: ZoneInfo,
    city_wide: Awaitable[CityFigures] | None = None,
) -> Overview:
    """Core indicators per county/zone and per chain for the period of ``today``, counted up to today.

    ``city_wide`` gives :func:`city_figures` of the same span and day, when the caller keeps it.
    The city's part and the chains' are counted at the same time.
    """
    period = span_period(span, today)
    chains_shown = await visible_chains(db, member)
    window = Window(period.start, min(period.last_day, today) + timedelta(days=1))
    whole, chains = await db.both(
        city_wide or city_figures(db, span, today, tz),
        digests.chain_sections(db, chains_shown, window, tz, lagging=False),
    )
    last, every_row, ranks = whole.last_day, whole.rows, whole.ranks
    city = sees_city(member)
    rows = every_row if city else [r for r in every_row if r.unit_id == member.unit_id]
    total = None
    if city:
        total = UnitRow(
            "合计", "Total", 0,
            sum(r.funds_year for r in rows), sum(r.big_projects for r in rows), sum(r.new_first_talk for r in rows),
            sum(r.signed for r in rows), sum(r.started for r in rows),
        )  # fmt: skip
    ranking = {
        indicator: [r for r in items if (city and r.rank <= RANKS_SHOWN) or r.unit_id == member.unit_id]
        for indicator, items in ranks.by_indicator.items()
    }
    units = await members.every_unit(db)
    if city:
        # Only the units whose lines are shown: a city of 500 units has 70 of them.
        lead_units = {c.lead_unit_id for c in chains_shown}
        unit_ids = [
            uid for uid, u in units.items() if uid is not None and (u.kind in ("county", "zone") or uid in lead_units)
        ]
    else:
        unit_ids = [member.unit_id] if member.unit_id is not None else []
    lines = {uid: whole.lines[uid] for uid in unit_ids if uid in whole.lines}
    if city:
        # The city's view keeps the overview's indicators: counties, the zone and chains (the liaison
        # offices' effective leads are in the ranking, against their target, and on the leads page).
        core = {UnitKind.COUNTY, UnitKind.ZONE}
        lines = {
            uid: [x for x in unit_lines if x.chain_id is not None or units[uid].kind in core]
            for uid, unit_lines in lines.items()
            if uid in units
        }
    targets = [
        UnitLines(units[uid].name_zh, units[uid].name_en, uid, unit_lines)
        for uid, unit_lines in sorted(lines.items())
        if unit_lines and uid in units
    ]
    return Overview(
        period, last, rows, total, targets, chains, ranking, {k: len(v) for k, v in ranks.by_indicator.items()}
    )


# -- projects ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectsPage:
    by_stage: dict[str, int]
    planned_by_stage: dict[str, int]
    listed: list[ProjectRow]
    total: int
    lagging: list[ProjectRow]
    lagging_count: int
    lagging_days: int
    waiting_leader: list[ProjectRow]
    waiting_leader_count: int
    overdue: list[OverdueApproval]
    overdue_count: int
    needs: list[NeedRow]
    needs_count: int


async def projects_page(db: Database, member: Member, now: datetime, today: date) -> ProjectsPage:
    """The pipeline by stage and what is stuck: lagging, waiting on a leader, a task force, an element need."""
    seen = viewer(member)
    where = scope(seen, Project)
    async with db.session() as session:
        q = (
            select(col(Project.stage), func.count(), func.coalesce(func.sum(col(Project.planned_yuan)), 0))
            .where(where)
            .group_by(col(Project.stage))
        )
        counted = {str(stage): (int(n), int(planned or 0)) for stage, n, planned in (await session.exec(q)).all()}
    days = await bureau_settings.lagging_days(db)
    # Each list is read as far as it is shown and counted in SQL: the city has thousands of each.
    return ProjectsPage(
        by_stage={s.value: counted.get(s.value, (0, 0))[0] for s in STAGE_ORDER},
        planned_by_stage={s.value: counted.get(s.value, (0, 0))[1] for s in STAGE_ORDER},
        listed=await projects.visible(db, seen, limit=PROJECTS_SHOWN),
        total=sum(n for n, _ in counted.values()),
        lagging=await projects.lagging(db, now, days, seen, limit=STUCK_SHOWN),
        lagging_count=await projects.count_lagging(db, now, days, seen),
        lagging_days=days,
        waiting_leader=await projects.waiting_for_leader(db, seen, limit=STUCK_SHOWN),
        waiting_leader_count=await projects.count_waiting_for_leader(db, seen),
        overdue=await taskforce.overdue_approvals(db, today, within=where, limit=STUCK_SHOWN),
        overdue_count=await taskforce.count_overdue(db, today, where),
        needs=await needs.visible(db, seen, limit=STUCK_SHOWN),
        needs_count=await needs.count_open(db, seen),
    )


@dataclass(frozen=True)
class ProjectCard:
    row: ProjectRow
    events: list[Event]
    funds: list[FundsEntry]


async def project_card(db: Database, member: Member, project_id: int) -> ProjectCard | None:
    """One project and its history, if this person may see it — otherwise as if it did not exist."""
    row = await projects.get(db, viewer(member), project_id)
    if row is None:
        return None
    return ProjectCard(row, await projects.history(db, project_id), await projects.funds_entries(db, project_id))


# -- leads funnel ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunnelRow(Named):
    unit_id: int
    submitted: int
    effective: int
    visited: int
    project: int


async def leads_funnel(db: Database, member: Member, span: Span, today: date, tz: ZoneInfo) -> list[FunnelRow]:
    """Per liaison office: leads submitted in the period → found effective → visited since → a project since.

    Effective leads are counted as the liaison offices' target counts them (``services.targets``):
    by the day the lead was submitted, whenever the bureau reviewed it.
    """
    period = span_period(span, today)
    start, end = local_midnight(period.start, tz), local_midnight(min(period.end, today + timedelta(days=1)), tz)
    effective = col(Lead.status) == LeadStatus.EFFECTIVE
    visited = exists().where(
        col(Visit.enterprise_id) == col(Lead.enterprise_id), col(Visit.created_at) >= Lead.created_at
    )
    project = exists().where(
        col(Project.enterprise_id) == col(Lead.enterprise_id), col(Project.created_at) >= Lead.created_at
    )

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    q = (
        select(col(Lead.unit_id), func.count(), total(effective), total(and_(effective, visited)))
        .add_columns(total(and_(effective, project)))
        .join(Unit, col(Unit.id) == Lead.unit_id)
        .where(col(Unit.kind) == UnitKind.LIAISON, col(Lead.created_at) >= start, col(Lead.created_at) < end)
        .where(scope(viewer(member), Lead))
        .group_by(col(Lead.unit_id))
    )
    async with db.session() as session:
        result = await session.exec(q)  # type: ignore[call-overload]
        found = {int(r[0]): tuple(int(v) for v in r[1:]) for r in result.all()}
        offices_q = select(Unit).where(col(Unit.kind) == UnitKind.LIAISON).order_by(col(Unit.id))
        offices = list((await session.exec(offices_q)).all())
    shown = [u for u in offices if u.id in found or (u.active and (sees_city(member) or u.id == member.unit_id))]
    out = []
    for unit in shown:
        assert unit.id is not None
        submitted, eff, vis, proj = found.get(unit.id, (0, 0, 0, 0))
        out.append(FunnelRow(unit.name_zh, unit.name_en, unit.id, submitted, eff, vis, proj))
    return out


# -- chains -----------------------------------------------------------------------------------
async def chains_page(db: Database, member: Member, today: date, tz: ZoneInfo) -> list[ChainSection]:
    """Each visible chain's target-enterprise library as it stands today, against its ≥ N (§3)."""
    window = Window(year_of(today).start, today + timedelta(days=1))
    return await digests.chain_sections(db, await visible_chains(db, member), window, tz, lagging=False)


# -- map --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    kind: str  # "visit" or "project"
    record_id: int
    label: str
    stage: str | None
    unit_code: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class MapData:
    period: Period
    visits: list[Point]
    projects: list[Point]
    unit_codes: list[str]  # the counties this person's view is about (all, for the city)


async def map_data(db: Database, member: Member, span: Span, today: date) -> MapData:
    """Visits filed in the period where they were filed, and projects where their enterprise was last visited.

    A project has no place of its own: it stands where the latest located visit to its
    enterprise was filed, or (none) in its executing county, which the drawing places.
    """
    period = span_period(span, today)
    seen = viewer(member)
    async with db.session() as session:
        # The latest visits are picked on the visit table alone and only they are joined for their
        # names: joining first would look up the enterprise and unit of every visit of the year.
        latest_visits = (
            select(col(Visit.id), col(Visit.enterprise_id), col(Visit.unit_id), col(Visit.latitude))
            .add_columns(col(Visit.longitude))
            .where(scope(seen, Visit), col(Visit.latitude).is_not(None), col(Visit.longitude).is_not(None))
            .where(col(Visit.visit_date) >= period.start, col(Visit.visit_date) <= today)
            .order_by(col(Visit.id).desc())
            .limit(MAP_POINTS)
            .subquery()
        )
        vq = (
            sa_select(latest_visits.c.id, col(Enterprise.name), col(Unit.code), latest_visits.c.latitude)
            .add_columns(latest_visits.c.longitude)
            .join(Enterprise, col(Enterprise.id) == latest_visits.c.enterprise_id)
            .join(Unit, col(Unit.id) == latest_visits.c.unit_id)
            .order_by(latest_visits.c.id.desc())
        )
        visits = [
            Point("visit", int(vid), name, None, code, lat, lon)
            for vid, name, code, lat, lon in (await session.exec(vq)).all()  # type: ignore[call-overload]
        ]
        # Per project, through the visit table's enterprise index: only the projects shown are looked up.
        located = aliased(Visit)
        latest = (
            select(func.max(located.id))
            .where(located.enterprise_id == Project.enterprise_id)
            .where(located.latitude.is_not(None), located.longitude.is_not(None))  # type: ignore[union-attr]
            .correlate(Project)
            .scalar_subquery()
        )
        pq = (
            select(Project, Unit.code, Visit.latitude, Visit.longitude)
            .join(Unit, col(Unit.id) == Project.executing_unit_id)
            .outerjoin(Visit, col(Visit.id) == latest)
            .where(scope(seen, Project), col(Project.stage) != Stage.DROPPED)
            .order_by(col(Project.id).desc())
            .limit(MAP_POINTS)
        )
        placed = [
            Point("project", p.id or 0, p.name, p.stage, code, lat, lon)
            for p, code, lat, lon in (await session.exec(pq)).all()
        ]
        if sees_city(member):
            counties = select(Unit.code).where(col(Unit.kind).in_((UnitKind.COUNTY, UnitKind.ZONE)))
            codes = list((await session.exec(counties)).all())
        else:
            codes = [member.unit_code] if member.unit_code and member.unit_kind in ("county", "zone") else []
    return MapData(period, visits, placed, codes)
