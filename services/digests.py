"""What the scheduled digests say, as data; ``handlers/digest.py`` turns it into text and charts.

Every figure comes from one set-based query over all the chains or units a digest covers
(GROUP BY, conditional sums, EXISTS), never one query per row, so a city ten times
Zhangye's size costs the same number of queries. Everything is "as of" the end of the
digest's window: records dated later do not count, whenever the digest is built.

Funds in place: a year's funds are the entries (``FundsEntry``) dated in that year, whenever
the project was first talked; projects dropped since are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, case, exists, func, literal
from sqlalchemy import select as sa_select
from sqlalchemy.sql.base import Executable
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from models import (
    ACTIVE_STAGES,
    LANDED_STAGES,
    Chain,
    Dispute,
    DisputeStatus,
    Enterprise,
    FundsEntry,
    Lead,
    LeadStatus,
    LibraryEntry,
    Project,
    Stage,
    Target,
    Unit,
    UnitKind,
    Visit,
)
from services import needs, rankings, taskforce
from services import settings as bureau_settings
from services.needs import NeedRow
from services.periods import Period, local_midnight, year_of
from services.rankings import Rankings
from services.targets import Line, progress
from services.taskforce import OverdueApproval

BIG_PROJECT_YUAN = 100_000_000  # 亿元以上项目 (§8)
COVERAGE = ("landed", "in_talks", "visited", "contacted", "untouched")
STAGES = (*(s.value for s in Stage),)
LANDED = tuple(s.value for s in LANDED_STAGES)
ACTIVE = tuple(s.value for s in ACTIVE_STAGES)
LAGGING_SHOWN = 5


@dataclass(frozen=True)
class Window:
    """Local dates ``[start, end)`` a digest reports on."""

    start: date
    end: date

    def utc(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return local_midnight(self.start, tz), local_midnight(self.end, tz)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


@dataclass(frozen=True)
class Named:
    name_zh: str
    name_en: str

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


@dataclass(frozen=True)
class LaggingProject(Named):
    project_id: int
    stage: str
    idle_days: int
    planned_yuan: int | None


@dataclass(frozen=True)
class ChainSection(Named):
    chain_id: int
    new_leads: int
    new_visits: int
    by_stage: dict[str, int]
    coverage: dict[str, int]
    lagging_count: int
    lagging: list[LaggingProject]
    funds_this_year: int
    funds_last_year: int

    @property
    def library_size(self) -> int:
        return sum(self.coverage.values())


@dataclass(frozen=True)
class ChainDigest:
    unit_id: int
    window: Window
    sections: list[ChainSection]


@dataclass(frozen=True)
class RejectedLead:
    lead_id: int
    enterprise: str
    reason: str


@dataclass(frozen=True)
class LiaisonDigest:
    unit_id: int
    period: Period
    day: int
    effective: int
    target: int
    pending: int
    rejected: list[RejectedLead]

    @property
    def expected(self) -> int:
        return self.target * self.day // self.period.days

    @property
    def behind(self) -> int:
        return max(0, self.expected - self.effective)


@dataclass(frozen=True)
class UnitRow(Named):
    unit_id: int
    funds_year: int
    big_projects: int
    new_first_talk: int
    signed: int
    started: int


@dataclass(frozen=True)
class BehindLine(Named):
    line: Line


@dataclass(frozen=True)
class BureauDigest:
    period: Period
    rows: list[UnitRow]
    total: UnitRow
    behind: list[BehindLine]
    lagging_count: int
    lagging: list[LaggingProject]
    open_disputes: int
    flagged_visits: int
    # Landing a project (§15–§19): the rankings and, for the bureau only, its candidate lists;
    # approvals past their date; element needs waiting for a department.
    rankings: Rankings | None = None
    overdue_approvals: list[OverdueApproval] = field(default_factory=list)
    open_needs: list[NeedRow] = field(default_factory=list)


@dataclass(frozen=True)
class AssignedProject(Named):
    project_id: int
    stage: str
    planned_yuan: int | None
    funds_yuan: int


@dataclass(frozen=True)
class LeaderDigest:
    user_id: int
    period: Period
    projects: list[AssignedProject]
    targets_met: int
    targets_total: int
    behind: list[BehindLine] = field(default_factory=list)
    rankings: Rankings | None = None

    @property
    def landed(self) -> int:
        return sum(1 for p in self.projects if p.stage in LANDED)

    @property
    def planned_total(self) -> int:
        return sum(p.planned_yuan or 0 for p in self.projects)

    @property
    def funds_total(self) -> int:
        return sum(p.funds_yuan for p in self.projects)


async def _rows(session: AsyncSession, statement: Executable) -> Sequence[Row[Any]]:
    """Rows of a query wider than SQLModel's typed ``select`` overloads go."""
    result = await session.exec(statement)  # type: ignore[call-overload]
    rows: Sequence[Row[Any]] = result.all()
    return rows


# -- chain lead, weekly ---------------------------------------------------------------------
async def chains_led_by(db: Database, unit_id: int) -> list[Chain]:
    async with db.session() as session:
        q = select(Chain).where(Chain.lead_unit_id == unit_id, col(Chain.active)).order_by(col(Chain.id))
        return list((await session.exec(q)).all())


async def _lagging_days(db: Database) -> int:
    return await bureau_settings.get_int(db, "lagging_after_days", 30)


async def _lagging(
    session: AsyncSession, *, by: Any, keys: Sequence[int] | None, as_of: datetime, days: int, shown: int
) -> tuple[dict[int, int], dict[int, list[LaggingProject]]]:
    """Lagging projects (stage or funds unmoved for ``days``) per key: counts, and the longest idle."""
    cutoff = as_of - timedelta(days=days)
    conditions = [
        col(Project.stage).in_(ACTIVE),
        col(Project.last_progress_at) < cutoff,
        col(Project.created_at) < as_of,
    ]
    if keys is not None:
        conditions.append(by.in_(keys))
    counts_q = select(by, func.count()).where(*conditions).group_by(by)
    counts = {int(k): int(n) for k, n in (await session.exec(counts_q)).all() if k is not None}
    rank = func.row_number().over(partition_by=by, order_by=(col(Project.last_progress_at), col(Project.id)))
    inner = (
        sa_select(
            by.label("k"),
            col(Project.id).label("pid"),
            col(Project.name).label("pname"),
            col(Project.stage).label("pstage"),
            col(Project.last_progress_at).label("moved"),
            col(Project.planned_yuan).label("planned"),
            rank.label("rank"),
        )
        .where(*conditions)
        .subquery()
    )
    lists: dict[int, list[LaggingProject]] = defaultdict(list)
    for row in await _rows(session, sa_select(inner).where(inner.c.rank <= shown).order_by(inner.c.k, inner.c.rank)):
        moved = row.moved
        idle = (as_of - moved).days if moved is not None else days
        lists[int(row.k)].append(LaggingProject(row.pname, row.pname, int(row.pid), row.pstage, idle, row.planned))
    return counts, lists


async def chain_sections(
    db: Database, chains: Sequence[Chain], window: Window, tz: ZoneInfo, *, as_of: datetime | None = None
) -> list[ChainSection]:
    """The weekly figures of several chains at once."""
    ids = [c.id for c in chains if c.id is not None]
    if not ids:
        return []
    start_utc, end_utc = window.utc(tz)
    as_of = as_of or end_utc
    days = await _lagging_days(db)
    this_year = year_of(window.last_day)
    last_year = year_of(this_year.start - timedelta(days=1))
    async with db.session() as session:
        leads_q = (
            select(col(Lead.chain_id), func.count())
            .where(col(Lead.chain_id).in_(ids), col(Lead.created_at) >= start_utc, col(Lead.created_at) < end_utc)
            .group_by(col(Lead.chain_id))
        )
        leads = {int(k): int(n) for k, n in (await session.exec(leads_q)).all() if k is not None}
        visits_q = (
            select(col(Enterprise.chain_id), func.count())
            .select_from(Visit)
            .join(Enterprise, col(Enterprise.id) == Visit.enterprise_id)
            .where(col(Enterprise.chain_id).in_(ids))
            .where(col(Visit.visit_date) >= window.start, col(Visit.visit_date) < window.end)
            .group_by(col(Enterprise.chain_id))
        )
        visits = {int(k): int(n) for k, n in (await session.exec(visits_q)).all() if k is not None}
        stage_q = (
            select(col(Project.chain_id), col(Project.stage), func.count())
            .where(col(Project.chain_id).in_(ids), col(Project.first_talk_date) < window.end)
            .group_by(col(Project.chain_id), col(Project.stage))
        )
        stages: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STAGES, 0))
        for k, stage, n in (await session.exec(stage_q)).all():
            if k is not None:
                stages[k][stage] = int(n)
        coverage = await _coverage(session, ids, window, end_utc)
        funds = await _funds_by(session, col(Project.chain_id), ids, this_year, last_year, window.end)
        lag_counts, lag_lists = await _lagging(
            session, by=col(Project.chain_id), keys=ids, as_of=as_of, days=days, shown=LAGGING_SHOWN
        )
    sections = []
    for chain in chains:
        assert chain.id is not None
        this_funds, last_funds = funds.get(chain.id, (0, 0))
        sections.append(
            ChainSection(
                chain.name_zh,
                chain.name_en,
                chain_id=chain.id,
                new_leads=leads.get(chain.id, 0),
                new_visits=visits.get(chain.id, 0),
                by_stage=dict(stages[chain.id]),
                coverage=coverage.get(chain.id, dict.fromkeys(COVERAGE, 0)),
                lagging_count=lag_counts.get(chain.id, 0),
                lagging=lag_lists.get(chain.id, []),
                funds_this_year=this_funds,
                funds_last_year=last_funds,
            )
        )
    return sections


async def _coverage(
    session: AsyncSession, chain_ids: Sequence[int], window: Window, end_utc: datetime
) -> dict[int, dict[str, int]]:
    """The library's enterprises by the furthest they got: landed, in talks, visited, contacted, untouched."""
    ent = LibraryEntry.enterprise_id

    def project_in(stages: tuple[str, ...]) -> Any:
        return exists().where(
            col(Project.enterprise_id) == ent,
            col(Project.stage).in_(stages),
            col(Project.first_talk_date) < window.end,
        )

    category = case(
        (project_in(LANDED), literal("landed")),
        (project_in(ACTIVE), literal("in_talks")),
        (exists().where(col(Visit.enterprise_id) == ent, col(Visit.visit_date) < window.end), literal("visited")),
        (exists().where(col(Lead.enterprise_id) == ent, col(Lead.created_at) < end_utc), literal("contacted")),
        else_=literal("untouched"),
    ).label("category")
    inner = (
        select(col(LibraryEntry.chain_id).label("chain_id"), category)
        .where(col(LibraryEntry.chain_id).in_(chain_ids), col(LibraryEntry.added_at) < end_utc)
        .where((col(LibraryEntry.removed_at).is_(None)) | (col(LibraryEntry.removed_at) >= end_utc))
        .subquery()
    )
    q = sa_select(inner.c.chain_id, inner.c.category, func.count()).group_by(inner.c.chain_id, inner.c.category)
    result: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COVERAGE, 0))
    for chain_id, cat, n in await _rows(session, q):
        result[int(chain_id)][str(cat)] = int(n)
    return dict(result)


async def _funds_by(
    session: AsyncSession, by: Any, keys: Sequence[int] | None, this_year: Period, last_year: Period, end: date
) -> dict[int, tuple[int, int]]:
    """Funds in place that arrived this year (up to ``end``) and last year, per key, in one pass."""

    def in_year(period: Period) -> Any:
        upper = min(period.end, end)
        day = col(FundsEntry.on_date)
        return func.coalesce(
            func.sum(case((and_(day >= period.start, day < upper), col(FundsEntry.amount_yuan)), else_=0)), 0
        )

    q = (
        select(by, in_year(this_year), in_year(last_year))
        .select_from(FundsEntry)
        .join(Project, col(Project.id) == FundsEntry.project_id)
        .where(col(Project.stage) != Stage.DROPPED)
    )
    if keys is not None:
        q = q.where(by.in_(keys))
    rows = await session.exec(q.group_by(by))
    return {int(k): (int(a), int(b)) for k, a, b in rows.all() if k is not None}


async def build_chain_digest(
    db: Database, unit_id: int, window: Window, tz: ZoneInfo, *, as_of: datetime | None = None
) -> ChainDigest:
    chains = await chains_led_by(db, unit_id)
    return ChainDigest(unit_id, window, await chain_sections(db, chains, window, tz, as_of=as_of))


# -- liaison office, monthly ----------------------------------------------------------------
async def _target_value(db: Database, unit: Unit, metric: str, fallback: int) -> int:
    async with db.session() as session:
        rows = (await session.exec(select(Target).where(Target.metric == metric))).all()
    for target in rows:
        if target.unit_id == unit.id:
            return target.value
    for target in rows:
        if target.unit_id is None and target.unit_kind == unit.kind and not target.chain_scope:
            return target.value
    return fallback


async def build_liaison_digest(db: Database, unit_id: int, period: Period, today: date, tz: ZoneInfo) -> LiaisonDigest:
    """Effective leads of the month so far against the target, what waits, what was turned down."""
    until = min(period.end, today + timedelta(days=1))
    start_utc, end_utc = local_midnight(period.start, tz), local_midnight(until, tz)
    async with db.session() as session:
        unit = await session.get(Unit, unit_id)
        assert unit is not None
        month = and_(col(Lead.created_at) >= start_utc, col(Lead.created_at) < end_utc)
        # Pending counts whatever month it came in: it still waits for the bureau.
        effective_q = (
            select(func.count()).select_from(Lead).where(Lead.unit_id == unit_id, Lead.status == LeadStatus.EFFECTIVE)
        ).where(month)
        pending_q = (
            select(func.count())
            .select_from(Lead)
            .where(Lead.unit_id == unit_id, Lead.status == LeadStatus.PENDING, col(Lead.created_at) < end_utc)
        )
        effective = int((await session.exec(effective_q)).one())
        pending = int((await session.exec(pending_q)).one())
        rejected_q = (
            select(Lead.id, Enterprise.name, Lead.review_reason)
            .join(Enterprise, col(Enterprise.id) == Lead.enterprise_id)
            .where(Lead.unit_id == unit_id, Lead.status == LeadStatus.REJECTED)
            .where(month)
            .order_by(col(Lead.id))
        )
        rejected = [
            RejectedLead(int(lid or 0), name, reason or "")
            for lid, name, reason in (await session.exec(rejected_q)).all()
        ]
    target = await _target_value(db, unit, "effective_leads", 10)
    return LiaisonDigest(unit_id, period, period.day_number(today), effective, target, pending, rejected)


# -- the bureau, monthly --------------------------------------------------------------------
async def _unit_rows(session: AsyncSession, units: Sequence[Unit], period: Period, until: date) -> dict[int, UnitRow]:
    ids = [u.id for u in units if u.id is not None]
    year = year_of(period.start)
    ftd = col(Project.first_talk_date)
    period = Period(period.kind, period.key, period.start, until)

    def total(condition: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((condition, value), else_=0)), 0)

    in_year = and_(ftd >= year.start, ftd < period.end, col(Project.stage) != Stage.DROPPED)
    funds = await _funds_by(session, col(Project.first_talk_unit_id), ids, year, year, period.end)
    q = (
        sa_select(
            col(Project.first_talk_unit_id),
            total(and_(in_year, func.coalesce(col(Project.planned_yuan), 0) >= BIG_PROJECT_YUAN)),
            total(and_(ftd >= period.start, ftd < period.end)),
            total(and_(col(Project.signed_on) >= period.start, col(Project.signed_on) < period.end)),
            total(and_(col(Project.started_on) >= period.start, col(Project.started_on) < period.end)),
        )
        .where(col(Project.first_talk_unit_id).in_(ids))
        .group_by(col(Project.first_talk_unit_id))
    )
    found = {int(r[0]): tuple(int(v) for v in r[1:]) for r in await _rows(session, q)}
    rows = {}
    for unit in units:
        assert unit.id is not None
        big, new, signed, started = found.get(unit.id, (0, 0, 0, 0))
        year_funds = funds.get(unit.id, (0, 0))[0]
        rows[unit.id] = UnitRow(unit.name_zh, unit.name_en, unit.id, year_funds, big, new, signed, started)
    return rows


async def build_bureau_digest(
    db: Database, period: Period, tz: ZoneInfo, *, as_of: datetime | None = None, today: date | None = None
) -> BureauDigest:
    """The month in figures per county and the zone, who is behind, what lags, what is disputed.

    ``today`` cuts a month still under way short (``/digest``); by default the whole month.
    """
    last = min(period.last_day, today) if today is not None else period.last_day
    until = last + timedelta(days=1)
    start_utc, end_utc = local_midnight(period.start, tz), local_midnight(until, tz)
    as_of = as_of or end_utc
    days = await _lagging_days(db)
    async with db.session() as session:
        units_q = (
            select(Unit)
            .where(col(Unit.kind).in_((UnitKind.COUNTY, UnitKind.ZONE)), col(Unit.active))
            .order_by(col(Unit.kind) == UnitKind.ZONE, col(Unit.id))
        )
        units = list((await session.exec(units_q)).all())
        rows = await _unit_rows(session, units, period, until)
        lag_counts, lag_lists = await _lagging(
            session, by=literal(0), keys=None, as_of=as_of, days=days, shown=2 * LAGGING_SHOWN
        )
        disputes_q = (
            select(func.count())
            .select_from(Dispute)
            .where(Dispute.status == DisputeStatus.OPEN, col(Dispute.created_at) < end_utc)
        )
        open_disputes = int((await session.exec(disputes_q)).one())
        flagged_q = (
            select(func.count())
            .select_from(Visit)
            .where(col(Visit.flagged), col(Visit.created_at) >= start_utc, col(Visit.created_at) < end_utc)
        )
        flagged = int((await session.exec(flagged_q)).one())
        names = {u.id: u for u in (await session.exec(select(Unit))).all()}
    lines = await progress(db, today=last, tz=tz)
    behind = [
        BehindLine(names[uid].name_zh, names[uid].name_en, line)
        for uid, unit_lines in lines.items()
        for line in unit_lines
        if line.behind > 0
    ]
    ordered = [rows[u.id] for u in units if u.id is not None]
    total = UnitRow(
        "合计",
        "Total",
        0,
        sum(r.funds_year for r in ordered),
        sum(r.big_projects for r in ordered),
        sum(r.new_first_talk for r in ordered),
        sum(r.signed for r in ordered),
        sum(r.started for r in ordered),
    )
    ranks = await rankings.build(db, [_figures(r) for r in ordered], last, tz, bureau=True)
    return BureauDigest(
        period,
        ordered,
        total,
        behind,
        lag_counts.get(0, 0),
        lag_lists.get(0, []),
        open_disputes,
        flagged,
        ranks,
        await taskforce.overdue_approvals(db, last),
        await needs.visible_to_bureau(db),
    )


def _figures(row: UnitRow) -> rankings.UnitFigures:
    return rankings.UnitFigures(
        row.unit_id, row.name_zh, row.name_en, row.funds_year, row.big_projects, row.new_first_talk
    )


# -- city leaders, half-yearly --------------------------------------------------------------
async def build_leader_digest(db: Database, user_id: int, period: Period, today: date, tz: ZoneInfo) -> LeaderDigest:
    """The projects assigned to a leader, and the city's units against their targets."""
    async with db.session() as session:
        q = select(Project).where(Project.leader_user_id == user_id, col(Project.first_talk_date) <= today)
        projects = [
            AssignedProject(p.name, p.name, p.id or 0, p.stage, p.planned_yuan, p.funds_in_place_yuan)
            for p in (await session.exec(q.order_by(col(Project.id)))).all()
        ]
        names = {u.id: u for u in (await session.exec(select(Unit))).all()}
        counties = [u for u in names.values() if u.kind in (UnitKind.COUNTY, UnitKind.ZONE) and u.active]
        counties.sort(key=lambda u: (u.kind == UnitKind.ZONE, u.id or 0))
        rows = await _unit_rows(session, counties, period, today + timedelta(days=1))
    ranks = await rankings.build(
        db, [_figures(rows[u.id]) for u in counties if u.id is not None], today, tz, bureau=False
    )
    lines = await progress(db, today=today, tz=tz)
    all_lines = [line for unit_lines in lines.values() for line in unit_lines]
    behind = [
        BehindLine(names[line.unit_id].name_zh, names[line.unit_id].name_en, line)
        for line in all_lines
        if line.behind > 0
    ]
    met = sum(1 for line in all_lines if line.met)
    return LeaderDigest(user_id, period, projects, met, len(all_lines), behind, ranks)
