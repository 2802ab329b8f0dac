"""Targets 目标任务: which apply to a unit, how far it has come, and whether it keeps pace.

A target row applies to one unit (``unit_id``), to every unit of a kind (``unit_kind``),
or to every chain (``chain_scope``, owed by the chain's lead department through
``Chain.lead_unit_id``; a row with ``chain_id`` set overrides it for that chain). A row
for one unit overrides the row for its kind with the same metric.

Counting is set-based: one GROUP BY per metric and threshold, whatever the number of units.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, case, cast, func, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import (
    LANDED_STAGES,
    Chain,
    Enterprise,
    EnterpriseTag,
    FundsEntry,
    Lead,
    LeadStatus,
    LibraryEntry,
    Project,
    Target,
    Unit,
    utcnow,
)
from services import audit, members
from services.periods import Period, local_midnight, of_kind

METRICS = (
    "effective_leads",
    "projects_over_threshold",
    "major_project",
    "project_over_threshold",
    "library_size",
    "chain_leader_landed",
)
CHAIN_METRICS = frozenset({"library_size", "chain_leader_landed"})
LANDED = tuple(s.value for s in LANDED_STAGES)


def landed_on() -> ColumnElement[Any]:
    """The day a project counts as landed: signed, else started, else (no date kept) its first talk."""
    return func.coalesce(col(Project.signed_on), col(Project.started_on), col(Project.first_talk_date))


@dataclass(frozen=True)
class Line:
    """One target of one unit (or one of its chains) and where it stands on a given day."""

    target_id: int
    metric: str
    unit_id: int
    chain_id: int | None
    chain_zh: str
    chain_en: str
    period: Period
    value: int
    threshold_yuan: int | None
    funds_ratio_pct: int | None
    actual: int
    day: int

    @cached_property
    def expected(self) -> Fraction:
        """What the unit should have by ``day``: the target times the elapsed share of the period.

        Kept as a fraction: rounded down, a yearly target of 1 would expect nothing until the
        last day, and a unit with nothing done would read as on pace all year.
        """
        return Fraction(self.value * self.day, self.period.days)

    @cached_property
    def behind(self) -> Fraction:
        return max(Fraction(0), self.expected - self.actual)

    @property
    def ahead(self) -> Fraction:
        return max(Fraction(0), self.actual - self.expected)

    @property
    def met(self) -> bool:
        return self.actual >= self.value

    def chain_name(self, locale: str) -> str:
        return self.chain_en if locale == "en" and self.chain_en else self.chain_zh


@dataclass(frozen=True)
class _Applied:
    target: Target
    unit_id: int
    chain: Chain | None

    @property
    def key(self) -> int:
        """What the metric counts by: the chain for chain metrics, else the unit."""
        if self.chain is not None and self.target.metric in CHAIN_METRICS:
            assert self.chain.id is not None
            return self.chain.id
        return self.unit_id


def applicable(targets: Sequence[Target], units: Iterable[Unit], chains: Sequence[Chain]) -> list[_Applied]:
    """Resolve which target rows apply to which unit (and chain)."""
    # Indexed once, so that resolving every unit of a city is one pass over its units.
    order = {id(target): index for index, target in enumerate(targets)}

    def in_order(found: Iterable[Target]) -> list[Target]:
        return sorted(found, key=lambda target: order[id(target)])

    own: dict[int, list[Target]] = defaultdict(list)
    by_kind: dict[str, list[Target]] = defaultdict(list)
    per_chain: dict[int, list[Target]] = defaultdict(list)
    every_chain: list[Target] = []
    for target in targets:
        if target.chain_scope:
            (every_chain if target.chain_id is None else per_chain[target.chain_id]).append(target)
        elif target.unit_id is not None:
            own[target.unit_id].append(target)
        elif target.unit_kind is not None:
            by_kind[target.unit_kind].append(target)
    led: dict[int, list[Chain]] = defaultdict(list)
    for chain in chains:
        if chain.active and chain.lead_unit_id is not None:
            led[chain.lead_unit_id].append(chain)
    applied: list[_Applied] = []
    for unit in units:
        assert unit.id is not None
        by_metric: dict[str, Target] = {}
        # In the targets' order: a unit's own row wins over its kind's, the first row of each wins.
        for target in in_order([*own.get(unit.id, ()), *by_kind.get(unit.kind, ())]):
            if target.unit_id == unit.id:
                by_metric[target.metric] = target
            else:
                by_metric.setdefault(target.metric, target)
        applied.extend(_Applied(t, unit.id, None) for t in by_metric.values())
        for chain in led.get(unit.id, ()):
            chosen: dict[str, Target] = {}
            for target in in_order([*per_chain.get(chain.id or 0, ()), *every_chain]):
                if target.chain_id == chain.id:
                    chosen[target.metric] = target
                else:
                    chosen.setdefault(target.metric, target)
            applied.extend(_Applied(t, unit.id, chain) for t in chosen.values())
    return applied


# The metrics that count the same rows: a landed project over a threshold, keyed by its
# first-talk unit. One query serves them all (§4's funds ratio is a condition of its own).
_SAME_QUERY = {"major_project": "projects_over_threshold", "project_over_threshold": "projects_over_threshold"}

Window = tuple[date, date]
"""Days ``[start, until)`` a count covers."""


def _within(column: Any, window: Window, tz: ZoneInfo | None = None) -> ColumnElement[bool]:
    start, until = window
    if tz is None:
        return and_(column >= start, column < until)
    return and_(column >= local_midnight(start, tz), column < local_midnight(until, tz))


async def _counts(
    session: AsyncSession,
    metric: str,
    keys: set[int],
    windows: Sequence[Window],
    tz: ZoneInfo,
    threshold: int,
    ratio: int,
    *,
    every: bool = False,
) -> list[dict[int, int]]:
    """Counts per unit id (or chain id for chain metrics) within each window, in one pass.

    Each window is a column of the one GROUP BY (``sum(CASE WHEN … )``), so the month-ends a
    run looks back on cost one reading of the table, not one each. With ``every`` (all
    active units are counted) the query counts every unit and the keys are picked
    afterwards: a list of hundreds of ids would make the database walk an index once per
    id, slower than reading the table once, and slower the more records there are.
    """
    if not keys or not windows:
        return [{} for _ in windows]
    first = min(w[0] for w in windows), max(w[1] for w in windows)

    def among(column: Any) -> Any:
        return true() if every else col(column).in_(keys)

    def tally(*conditions: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((and_(*conditions), 1), else_=0))

    key: Any
    if metric == "effective_leads":
        key = col(Lead.unit_id)
        created = col(Lead.created_at)
        q = select(key, *(tally(_within(created, w, tz)) for w in windows)).where(
            Lead.status == LeadStatus.EFFECTIVE, among(Lead.unit_id), _within(created, first, tz)
        )
    elif _SAME_QUERY.get(metric, metric) == "projects_over_threshold":
        key = col(Project.first_talk_unit_id)
        columns = []
        for window in windows:
            conditions = [_within(landed_on(), window)]
            if ratio:
                # §4: funds in place within the year, from the entries dated in the period.
                arrived = (
                    select(func.coalesce(func.sum(col(FundsEntry.amount_yuan)), 0))
                    .where(col(FundsEntry.project_id) == col(Project.id), _within(col(FundsEntry.on_date), window))
                    .scalar_subquery()
                )
                conditions.append(arrived * 100 >= func.coalesce(col(Project.planned_yuan), 0) * ratio)
            columns.append(tally(*conditions))
        q = (
            select(key, *columns)
            .where(among(Project.first_talk_unit_id), col(Project.stage).in_(LANDED))
            .where(func.coalesce(col(Project.planned_yuan), 0) >= threshold, _within(landed_on(), first))
        )
    elif metric == "library_size":
        key = col(LibraryEntry.chain_id)
        added, removed = col(LibraryEntry.added_at), col(LibraryEntry.removed_at)

        def held(until: date) -> ColumnElement[bool]:
            end = local_midnight(until, tz)
            return and_(added < end, or_(removed.is_(None), removed >= end))

        q = select(key, *(tally(held(w[1])) for w in windows)).where(among(LibraryEntry.chain_id))
        q = q.where(added < local_midnight(first[1], tz))
    elif metric == "chain_leader_landed":
        key = col(Project.chain_id)
        q = (
            select(key, *(tally(_within(landed_on(), w)) for w in windows))
            .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
            .where(among(Project.chain_id), col(Project.stage).in_(LANDED), _within(landed_on(), first))
            .where(cast(Enterprise.tags, String).like(f'%"{EnterpriseTag.CHAIN_LEADER.value}"%'))
        )
    else:
        return [{} for _ in windows]
    out: list[dict[int, int]] = [{} for _ in windows]
    for row in (await session.exec(q.group_by(key))).all():
        if row[0] is None or row[0] not in keys:
            continue
        for index, n in enumerate(row[1:]):
            if n:
                out[index][int(row[0])] = int(n)
    return out


async def progress(
    db: Database, *, today: date, tz: ZoneInfo, unit_ids: Iterable[int] | None = None
) -> dict[int, list[Line]]:
    """Every target of the given units (all active units when ``None``) as it stands on ``today``.

    Each target is measured over its period containing ``today``, counting up to the end
    of ``today``; pacing compares with ``value × day / days``.
    """
    async with db.session() as session:
        unit_q = select(Unit).where(col(Unit.active))
        if unit_ids is not None:
            unit_q = unit_q.where(col(Unit.id).in_(list(unit_ids)))
        units = list((await session.exec(unit_q.order_by(col(Unit.id)))).all())
        applied = await _applied(session, units)
        return (await _measure(session, units, applied, [today], tz, every=unit_ids is None))[today]


async def _applied(session: AsyncSession, units: Sequence[Unit]) -> list[_Applied]:
    targets = list((await session.exec(select(Target).order_by(col(Target.id)))).all())
    chains = list((await session.exec(select(Chain).order_by(col(Chain.id)))).all())
    return applicable(targets, units, chains)


def _window(period_kind: str, day: date) -> Window:
    """The days a target of ``period_kind`` counts on ``day``: its period, up to the end of ``day``."""
    period = of_kind(period_kind, day)
    return period.start, min(period.end, date.fromordinal(day.toordinal() + 1))


async def _measure(
    session: AsyncSession,
    units: Sequence[Unit],
    applied: Sequence[_Applied],
    days: Sequence[date],
    tz: ZoneInfo,
    *,
    every: bool,
) -> dict[date, dict[int, list[Line]]]:
    """Every applied target on each of ``days``: one query per kind of count, all days in it."""
    Group = tuple[str, str, int, int]
    groups: dict[Group, set[int]] = defaultdict(set)
    for item in applied:
        t = item.target
        groups[(_SAME_QUERY.get(t.metric, t.metric), t.period, t.threshold_yuan or 0, t.funds_ratio_pct or 0)].add(
            item.key
        )
    counts: dict[tuple[Group, Window], dict[int, int]] = {}
    for group, keys in groups.items():
        metric, period_kind, threshold, ratio = group
        windows = sorted({_window(period_kind, day) for day in days})
        found = await _counts(session, metric, keys, windows, tz, threshold, ratio, every=every)
        counts.update(((group, w), n) for w, n in zip(windows, found, strict=True))

    # The ORM rows' attributes read once, not once a day: a city has thousands of applied targets.
    plain: list[tuple[dict[str, Any], str, Group, int]] = []
    for item in applied:
        t, chain = item.target, item.chain
        assert t.id is not None
        fields: dict[str, Any] = {
            "target_id": t.id,
            "metric": t.metric,
            "unit_id": item.unit_id,
            "chain_id": chain.id if chain else None,
            "chain_zh": chain.name_zh if chain else "",
            "chain_en": chain.name_en if chain else "",
            "value": t.value,
            "threshold_yuan": t.threshold_yuan,
            "funds_ratio_pct": t.funds_ratio_pct,
        }
        group = (_SAME_QUERY.get(t.metric, t.metric), t.period, t.threshold_yuan or 0, t.funds_ratio_pct or 0)
        plain.append((fields, t.period, group, item.key))
    result: dict[date, dict[int, list[Line]]] = {}
    for day in days:
        lines: dict[int, list[Line]] = {unit.id: [] for unit in units if unit.id is not None}
        periods = {kind: of_kind(kind, day) for kind in {kind for _, kind, _, _ in plain}}
        for fields, kind, group, key in plain:
            period = periods[kind]
            actual = counts[(group, (period.start, min(period.end, day + timedelta(days=1))))].get(key, 0)
            lines[fields["unit_id"]].append(Line(**fields, period=period, actual=actual, day=period.day_number(day)))
        result[day] = lines
    return result


class ProgressByDay:
    """Every active unit's :func:`progress` on each day asked for, counted once however many readers ask.

    A scheduled run reads the same day's progress for the bureau's overview, its rankings,
    every leader's summary and every unit's targets note; one count serves them all, and
    the units and their targets are read once for every day.
    """

    def __init__(self, db: Database, tz: ZoneInfo) -> None:
        self.db = db
        self.tz = tz
        self._days: dict[date, dict[int, list[Line]]] = {}
        self._expected: set[date] = set()
        self._resolved: tuple[list[Unit], list[_Applied]] | None = None

    def expect(self, days: Iterable[date]) -> None:
        """Days a reader will ask for later: they are counted in the same pass as the next day asked."""
        self._expected.update(days)

    async def on(self, day: date) -> dict[int, list[Line]]:
        return (await self.on_days([day]))[day]

    async def on_days(self, days: Sequence[date]) -> dict[date, dict[int, list[Line]]]:
        """Progress on each of ``days``; the days not yet counted are counted together, in one pass."""
        wanted = set(days)
        if wanted - self._days.keys():
            missing = sorted((wanted | self._expected) - self._days.keys())
            async with self.db.session() as session:
                if self._resolved is None:
                    units = await members.units(self.db)
                    self._resolved = units, await _applied(session, units)
                units, applied = self._resolved
                self._days.update(await _measure(session, units, applied, missing, self.tz, every=True))
            self._expected.clear()
        return {day: self._days[day] for day in days}


async def for_unit(db: Database, unit_id: int, *, today: date, tz: ZoneInfo) -> list[Line]:
    return (await progress(db, today=today, tz=tz, unit_ids=[unit_id])).get(unit_id, [])


# -- editing (the bureau) ------------------------------------------------------------------
@dataclass(frozen=True)
class TargetRow:
    target: Target
    scope_zh: str
    scope_en: str

    def scope(self, locale: str) -> str:
        return self.scope_en if locale == "en" and self.scope_en else self.scope_zh


async def all_targets(db: Database) -> list[TargetRow]:
    async with db.session() as session:
        targets = list((await session.exec(select(Target).order_by(col(Target.id)))).all())
        units = {u.id: u for u in (await session.exec(select(Unit))).all()}
        chains = {c.id: c for c in (await session.exec(select(Chain))).all()}
    rows = []
    for t in targets:
        if t.unit_id is not None and t.unit_id in units:
            zh, en = units[t.unit_id].name_zh, units[t.unit_id].name_en
        elif t.chain_id is not None and t.chain_id in chains:
            zh, en = chains[t.chain_id].name_zh, chains[t.chain_id].name_en
        else:
            zh = en = ""
        rows.append(TargetRow(t, zh, en))
    return rows


async def get_target(db: Database, target_id: int) -> Target | None:
    async with db.session() as session:
        return await session.get(Target, target_id)


async def update_target(
    db: Database,
    target_id: int,
    *,
    actor_id: int,
    value: int | None = None,
    threshold_yuan: int | None = None,
    now: datetime | None = None,
) -> Target | None:
    """Change a target's number or threshold, with an audit entry of old and new."""
    async with db.session() as session:
        target = await session.get(Target, target_id)
        if target is None:
            return None
        before = {"value": target.value, "threshold_yuan": target.threshold_yuan}
        if value is not None:
            target.value = value
        if threshold_yuan is not None:
            target.threshold_yuan = threshold_yuan
        now = now or utcnow()
        target.updated_by, target.updated_at = actor_id, now
        session.add(target)
        audit.record(
            session,
            actor_id=actor_id,
            entity="target",
            entity_id=target_id,
            action="updated",
            at=now,
            before=before,
            after={"value": target.value, "threshold_yuan": target.threshold_yuan},
        )
        await session.flush()
        await session.refresh(target)
        return target
