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
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, case, exists, func, literal, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.sql.base import Executable
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from bot.core.db import Database
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
from services import disputes, members, needs, networks, rankings, taskforce
from services import settings as bureau_settings
from services.needs import NeedRow
from services.networks import NetworksOverview
from services.periods import Period, local_midnight, year_of
from services.rankings import Rankings
from services.targets import Line, ProgressByDay, progress
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
    library_target: int | None = None  # the chain's ≥ N target enterprises (§3), when one is set

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
    def expected(self) -> Fraction:
        """As :attr:`services.targets.Line.expected`: a fraction, never rounded down to zero."""
        return Fraction(self.target * self.day, self.period.days)

    @property
    def behind(self) -> Fraction:
        return max(Fraction(0), self.expected - self.effective)


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
class StaleDispute:
    dispute_id: int
    project_id: int
    project: str
    first: Named
    claimant: Named
    days_open: int


@dataclass(frozen=True)
class AgainstTarget(Named):
    """One unit's count against its target, for a chart."""

    unit_id: int
    actual: int
    value: int | None


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
    # §9–§13: foreign investment, funds, events' follow-through, directories, scenario lists.
    networks: NetworksOverview | None = None
    # Open disputes older than the bureau's ``dispute_stale_after_days``, oldest first.
    stale_disputes: list[StaleDispute] = field(default_factory=list)
    stale_after_days: int = 0
    # Projects of ≥ 1亿 landed this year per county and the zone, against §8's 10 or §2's 1.
    big_landed: list[AgainstTarget] = field(default_factory=list)
    # Each liaison office's effective leads of the month against its 10 (§5).
    leads_by_office: list[AgainstTarget] = field(default_factory=list)
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


async def _lagging(
    session: AsyncSession, *, by: Any, keys: Sequence[int] | None, as_of: datetime, days: int, shown: int
) -> tuple[dict[int, int], dict[int, list[LaggingProject]]]:
    """Lagging projects (stage or funds unmoved for ``days``) per key: counts, and the longest idle.

    With ``keys`` None, ``by`` is one value for every project (the city as a whole). Each
    key's list is its own ``LIMIT`` over the projects in idle order, all keys in one
    statement: a window over every lagging project (half the register of a big city)
    sorted them all to keep a few.
    """
    cutoff = as_of - timedelta(days=days)
    conditions = [
        col(Project.stage).in_(ACTIVE),
        col(Project.last_progress_at) < cutoff,
        col(Project.created_at) < as_of,
    ]
    counted = [*conditions, by.in_(keys)] if keys is not None else conditions
    counts_q = select(by, func.count()).where(*counted).group_by(by)
    counts = {int(k): int(n) for k, n in (await session.exec(counts_q)).all() if k is not None}

    def oldest(key: Any, *more: Any) -> Any:
        return (
            sa_select(
                key.label("k"),
                col(Project.id).label("pid"),
                col(Project.name).label("pname"),
                col(Project.stage).label("pstage"),
                col(Project.last_progress_at).label("moved"),
                col(Project.planned_yuan).label("planned"),
            )
            .where(*conditions, *more)
            .order_by(col(Project.last_progress_at), col(Project.id))
            .limit(shown)
        )

    if keys is None:
        lists_q = oldest(by)
    else:
        wanted = [k for k in keys if counts.get(k)]
        if not wanted:
            return counts, {}
        parts = [sa_select(oldest(literal(k), by == k).subquery()) for k in wanted]
        lists_q = parts[0] if len(parts) == 1 else union_all(*parts)
    lists: dict[int, list[LaggingProject]] = defaultdict(list)
    # A union keeps no order of its own: each list is put in idle order here.
    for row in sorted(await _rows(session, lists_q), key=lambda r: (r.k, r.moved, r.pid)):
        moved = row.moved
        idle = (as_of - moved).days if moved is not None else days
        lists[int(row.k)].append(LaggingProject(row.pname, row.pname, int(row.pid), row.pstage, idle, row.planned))
    return counts, lists


async def chain_sections(
    db: Database,
    chains: Sequence[Chain],
    window: Window,
    tz: ZoneInfo,
    *,
    as_of: datetime | None = None,
    lagging: bool = True,
) -> list[ChainSection]:
    """The weekly figures of several chains at once; ``lagging=False`` leaves the lagging lists
    out (a page that does not show them need not pay for their window query)."""
    ids = [c.id for c in chains if c.id is not None]
    if not ids:
        return []
    start_utc, end_utc = window.utc(tz)
    as_of = as_of or end_utc
    days = await bureau_settings.lagging_days(db)
    this_year = year_of(window.last_day)
    last_year = year_of(this_year.start - timedelta(days=1))
    async with db.session() as session:
        # The week's leads and visits of every chain: bounded by the window's index range,
        # where a filter on the chains would walk each chain's whole history instead.
        leads_q = (
            select(col(Lead.chain_id), func.count())
            .where(col(Lead.created_at) >= start_utc, col(Lead.created_at) < end_utc)
            .group_by(col(Lead.chain_id))
        )
        leads = {int(k): int(n) for k, n in (await session.exec(leads_q)).all() if k is not None}
        visits_q = (
            select(col(Enterprise.chain_id), func.count())
            .select_from(Visit)
            .join(Enterprise, col(Enterprise.id) == Visit.enterprise_id)
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
        lag_counts, lag_lists = (
            await _lagging(session, by=col(Project.chain_id), keys=ids, as_of=as_of, days=days, shown=LAGGING_SHOWN)
            if lagging
            else ({}, {})
        )
        library_rows = (
            await session.exec(select(Target).where(Target.metric == "library_size", col(Target.chain_scope)))
        ).all()
    default_library = next((t.value for t in library_rows if t.chain_id is None), None)
    library_targets = {t.chain_id: t.value for t in library_rows if t.chain_id is not None}
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
                library_target=library_targets.get(chain.id, default_library),
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
        # Only the two years' entries are read (the date index), not every entry ever made.
        .where(col(FundsEntry.on_date) >= min(this_year.start, last_year.start))
        .where(col(FundsEntry.on_date) < min(max(this_year.end, last_year.end), end))
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


async def build_chain_digests(
    db: Database, unit_ids: Sequence[int], window: Window, tz: ZoneInfo
) -> dict[int, ChainDigest]:
    """The weekly digest of several chain lead departments from one pass over all their chains."""
    async with db.session() as session:
        q = select(Chain).where(col(Chain.lead_unit_id).in_(list(unit_ids)), col(Chain.active)).order_by(col(Chain.id))
        chains = list((await session.exec(q)).all())
    sections = {s.chain_id: s for s in await chain_sections(db, chains, window, tz)}
    return {
        uid: ChainDigest(uid, window, [sections[c.id] for c in chains if c.lead_unit_id == uid and c.id is not None])
        for uid in unit_ids
    }


# -- liaison office, monthly ----------------------------------------------------------------
def _target_value(rows: Sequence[Target], unit: Unit, fallback: int) -> int:
    for target in rows:
        if target.unit_id == unit.id:
            return target.value
    for target in rows:
        if target.unit_id is None and target.unit_kind == unit.kind and not target.chain_scope:
            return target.value
    return fallback


async def build_liaison_digest(db: Database, unit_id: int, period: Period, today: date, tz: ZoneInfo) -> LiaisonDigest:
    """Effective leads of the month so far against the target, what waits, what was turned down."""
    return (await build_liaison_digests(db, [unit_id], period, today, tz))[unit_id]


async def build_liaison_digests(
    db: Database, unit_ids: Sequence[int], period: Period, today: date, tz: ZoneInfo
) -> dict[int, LiaisonDigest]:
    """The liaison digest of several offices at once: one GROUP BY per figure, whatever their number."""
    until = min(period.end, today + timedelta(days=1))
    start_utc, end_utc = local_midnight(period.start, tz), local_midnight(until, tz)
    ids = list(unit_ids)
    async with db.session() as session:
        units = {u.id: u for u in (await session.exec(select(Unit).where(col(Unit.id).in_(ids)))).all()}
        month = and_(col(Lead.created_at) >= start_utc, col(Lead.created_at) < end_utc)
        mine = col(Lead.unit_id).in_(ids)
        effective_q = (
            select(col(Lead.unit_id), func.count())
            .where(mine, Lead.status == LeadStatus.EFFECTIVE, month)
            .group_by(col(Lead.unit_id))
        )
        # Pending counts whatever month it came in: it still waits for the bureau.
        pending_q = (
            select(col(Lead.unit_id), func.count())
            .where(mine, Lead.status == LeadStatus.PENDING, col(Lead.created_at) < end_utc)
            .group_by(col(Lead.unit_id))
        )
        effective = {int(k): int(n) for k, n in (await session.exec(effective_q)).all()}
        pending = {int(k): int(n) for k, n in (await session.exec(pending_q)).all()}
        rejected_q = (
            select(Lead.unit_id, Lead.id, Enterprise.name, Lead.review_reason)
            .join(Enterprise, col(Enterprise.id) == Lead.enterprise_id)
            .where(mine, Lead.status == LeadStatus.REJECTED, month)
            .order_by(col(Lead.id))
        )
        rejected: dict[int, list[RejectedLead]] = defaultdict(list)
        for uid, lid, name, reason in (await session.exec(rejected_q)).all():
            rejected[int(uid)].append(RejectedLead(int(lid or 0), name, reason or ""))
        targets = (await session.exec(select(Target).where(Target.metric == "effective_leads"))).all()
    day = period.day_number(today)
    return {
        uid: LiaisonDigest(
            uid,
            period,
            day,
            effective.get(uid, 0),
            _target_value(targets, units[uid], 10),
            pending.get(uid, 0),
            rejected.get(uid, []),
        )
        for uid in ids
        if uid in units
    }


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


async def county_rows(db: Database, period: Period, until: date) -> list[UnitRow]:
    """The bureau overview's row of every active county and the zone, counted up to ``until``."""
    async with db.session() as session:
        units = list((await session.exec(_counties())).all())
        rows = await _unit_rows(session, units, period, until)
    return [rows[u.id] for u in units if u.id is not None]


def _counties() -> SelectOfScalar[Unit]:
    return (
        select(Unit)
        .where(col(Unit.kind).in_((UnitKind.COUNTY, UnitKind.ZONE)), col(Unit.active))
        .order_by(col(Unit.kind) == UnitKind.ZONE, col(Unit.id))
    )


async def build_bureau_digest(
    db: Database,
    period: Period,
    tz: ZoneInfo,
    *,
    as_of: datetime | None = None,
    today: date | None = None,
    lines_on: ProgressByDay | None = None,
) -> BureauDigest:
    """The month in figures per county and the zone, who is behind, what lags, what is disputed.

    ``today`` cuts a month still under way short (``/digest``); by default the whole month.
    ``lines_on`` is the caller's target progress by day, when it keeps one (a scheduled
    run counts each day once for every digest).
    """
    lines_on = lines_on or ProgressByDay(db, tz)
    last = min(period.last_day, today) if today is not None else period.last_day
    until = last + timedelta(days=1)
    start_utc, end_utc = local_midnight(period.start, tz), local_midnight(until, tz)
    as_of = as_of or end_utc
    days = await bureau_settings.lagging_days(db)
    async with db.session() as session:
        units = list((await session.exec(_counties())).all())
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
        names = await members.every_unit(db)
        offices_q = select(Unit).where(Unit.kind == UnitKind.LIAISON, col(Unit.active)).order_by(col(Unit.id))
        offices = list((await session.exec(offices_q)).all())
    lines = await lines_on.on(last)
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
    network_figures = await networks.overview(
        db,
        year_start=date(last.year, 1, 1),
        today=last,
        start=start_utc,
        end=end_utc,
        now=as_of,
        lagging_days=days,
    )
    ranks = await rankings.build(db, [ranking_figures(r) for r in ordered], last, tz, bureau=True, lines_on=lines_on)
    stale_after = await disputes.stale_days(db)
    stale = [
        StaleDispute(
            d.id,
            d.project.id or 0,
            d.project.name,
            Named(d.first.name_zh, d.first.name_en),
            Named(d.claimant.name_zh, d.claimant.name_en),
            (as_of - d.dispute.created_at).days,
        )
        for d in await disputes.open_disputes(db, before=as_of - timedelta(days=stale_after))
    ]
    return BureauDigest(
        period, ordered, total, behind, lag_counts.get(0, 0), lag_lists.get(0, []), open_disputes, flagged,
        network_figures, stale, stale_after,
        big_landed=[_against(u, lines, ("projects_over_threshold", "major_project")) for u in units],
        leads_by_office=[_against(u, lines, ("effective_leads",)) for u in offices],
        rankings=ranks,
        overdue_approvals=await taskforce.overdue_approvals(db, last),
        open_needs=await needs.visible_to_bureau(db),
    )  # fmt: skip


def ranking_figures(row: UnitRow) -> rankings.UnitFigures:
    return rankings.UnitFigures(
        row.unit_id, row.name_zh, row.name_en, row.funds_year, row.big_projects, row.new_first_talk
    )


def _against(unit: Unit, lines: dict[int, list[Line]], metrics: Sequence[str]) -> AgainstTarget:
    """The unit's count of the first of ``metrics`` it has a target for (none: no target, nothing counted)."""
    assert unit.id is not None
    mine = {line.metric: line for line in lines.get(unit.id, []) if line.chain_id is None}
    line = next((mine[m] for m in metrics if m in mine), None)
    if line is None:
        return AgainstTarget(unit.name_zh, unit.name_en, unit.id, 0, None)
    return AgainstTarget(unit.name_zh, unit.name_en, unit.id, line.actual, line.value)


# -- city leaders, half-yearly --------------------------------------------------------------
async def build_leader_digest(
    db: Database,
    user_id: int,
    period: Period,
    today: date,
    tz: ZoneInfo,
    *,
    lines_on: ProgressByDay | None = None,
) -> LeaderDigest:
    """The projects assigned to a leader, and the city's units against their targets."""
    return (await build_leader_digests(db, [user_id], period, today, tz, lines_on=lines_on))[user_id]


async def build_leader_digests(
    db: Database,
    user_ids: Sequence[int],
    period: Period,
    today: date,
    tz: ZoneInfo,
    *,
    lines_on: ProgressByDay | None = None,
) -> dict[int, LeaderDigest]:
    """Several leaders' summaries: the city's figures counted once, each leader's projects in one query."""
    lines_on = lines_on or ProgressByDay(db, tz)
    ids = list(user_ids)
    assigned: dict[int, list[AssignedProject]] = {uid: [] for uid in ids}
    async with db.session() as session:
        q = (
            sa_select(
                col(Project.leader_user_id),
                col(Project.id),
                col(Project.name),
                col(Project.stage),
                col(Project.planned_yuan),
                col(Project.funds_in_place_yuan),
            )
            .where(col(Project.leader_user_id).in_(ids), col(Project.first_talk_date) <= today)
            .order_by(col(Project.id))
        )
        for leader, pid, name, stage, planned, funds in await _rows(session, q):
            assigned[int(leader)].append(AssignedProject(name, name, int(pid), stage, planned, int(funds)))
        names = await members.every_unit(db)
        counties = [u for u in names.values() if u.kind in (UnitKind.COUNTY, UnitKind.ZONE) and u.active]
        counties.sort(key=lambda u: (u.kind == UnitKind.ZONE, u.id or 0))
        rows = await _unit_rows(session, counties, period, today + timedelta(days=1))
    ranks = await rankings.build(
        db,
        [ranking_figures(rows[u.id]) for u in counties if u.id is not None],
        today,
        tz,
        bureau=False,
        lines_on=lines_on,
    )
    lines = await lines_on.on(today)
    all_lines = [line for unit_lines in lines.values() for line in unit_lines]
    behind = [
        BehindLine(names[line.unit_id].name_zh, names[line.unit_id].name_en, line)
        for line in all_lines
        if line.behind > 0
    ]
    met = sum(1 for line in all_lines if line.met)
    return {uid: LeaderDigest(uid, period, assigned[uid], met, len(all_lines), behind, ranks) for uid in ids}


# -- every unit with a yearly target, monthly --------------------------------------------------
@dataclass(frozen=True)
class UnitTargetsDigest:
    unit_id: int
    period: Period  # the month the note is sent in
    as_of: date
    lines: list[Line]

    @property
    def missing(self) -> list[Line]:
        return [line for line in self.lines if not line.met]


async def build_unit_targets_digest(
    db: Database,
    unit_id: int,
    period: Period,
    today: date,
    tz: ZoneInfo,
    *,
    lines: dict[int, list[Line]] | None = None,
) -> UnitTargetsDigest:
    """A unit's targets, its pace and what is missing, as of ``today``."""
    if lines is None:
        lines = await progress(db, today=today, tz=tz, unit_ids=[unit_id])
    return UnitTargetsDigest(unit_id, period, today, lines.get(unit_id, []))
