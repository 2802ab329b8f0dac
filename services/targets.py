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
from datetime import date, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, true
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
from services import audit
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

    @property
    def expected(self) -> Fraction:
        """What the unit should have by ``day``: the target times the elapsed share of the period.

        Kept as a fraction: rounded down, a yearly target of 1 would expect nothing until the
        last day, and a unit with nothing done would read as on pace all year.
        """
        return Fraction(self.value * self.day, self.period.days)

    @property
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


async def _count(
    session: AsyncSession,
    metric: str,
    keys: set[int],
    period: Period,
    until: date,
    tz: ZoneInfo,
    threshold: int,
    ratio: int,
    *,
    every: bool = False,
) -> dict[int, int]:
    """Counts per unit id (or chain id for chain metrics) within ``[period.start, until)``.

    With ``every`` (all active units are counted) the query counts every unit in one pass
    and the keys are picked afterwards: a list of hundreds of ids would make the database
    walk an index once per id, slower than reading the table once, and slower the more
    records there are.
    """
    if not keys:
        return {}
    q: Any

    def among(column: Any) -> Any:
        return true() if every else col(column).in_(keys)

    if metric == "effective_leads":
        start, end = local_midnight(period.start, tz), local_midnight(until, tz)
        q = (
            select(col(Lead.unit_id), func.count())
            .where(Lead.status == LeadStatus.EFFECTIVE, among(Lead.unit_id))
            .where(col(Lead.created_at) >= start, col(Lead.created_at) < end)
            .group_by(col(Lead.unit_id))
        )
    elif metric in ("projects_over_threshold", "major_project", "project_over_threshold"):
        q = (
            select(col(Project.first_talk_unit_id), func.count())
            .where(among(Project.first_talk_unit_id), col(Project.stage).in_(LANDED))
            .where(func.coalesce(col(Project.planned_yuan), 0) >= threshold)
            .where(landed_on() >= period.start, landed_on() < until)
            .group_by(col(Project.first_talk_unit_id))
        )
        if ratio:
            # §4: funds in place within the year, from the entries dated in the period.
            arrived = (
                select(func.coalesce(func.sum(col(FundsEntry.amount_yuan)), 0))
                .where(col(FundsEntry.project_id) == col(Project.id))
                .where(col(FundsEntry.on_date) >= period.start, col(FundsEntry.on_date) < until)
                .scalar_subquery()
            )
            q = q.where(arrived * 100 >= func.coalesce(col(Project.planned_yuan), 0) * ratio)
    elif metric == "library_size":
        end_utc = local_midnight(until, tz)
        q = (
            select(col(LibraryEntry.chain_id), func.count())
            .where(among(LibraryEntry.chain_id), col(LibraryEntry.added_at) < end_utc)
            .where((col(LibraryEntry.removed_at).is_(None)) | (col(LibraryEntry.removed_at) >= end_utc))
            .group_by(col(LibraryEntry.chain_id))
        )
    elif metric == "chain_leader_landed":
        q = (
            select(col(Project.chain_id), func.count())
            .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
            .where(among(Project.chain_id), col(Project.stage).in_(LANDED))
            .where(landed_on() >= period.start, landed_on() < until)
            .where(cast(Enterprise.tags, String).like(f'%"{EnterpriseTag.CHAIN_LEADER.value}"%'))
            .group_by(col(Project.chain_id))
        )
    else:
        return {}
    rows = await session.exec(q)
    return {int(key): int(n) for key, n in rows.all() if key is not None and key in keys}


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
        return await _measure(session, units, applied, today, tz, every=unit_ids is None)


async def _applied(session: AsyncSession, units: Sequence[Unit]) -> list[_Applied]:
    targets = list((await session.exec(select(Target).order_by(col(Target.id)))).all())
    chains = list((await session.exec(select(Chain).order_by(col(Chain.id)))).all())
    return applicable(targets, units, chains)


async def _measure(
    session: AsyncSession, units: Sequence[Unit], applied: Sequence[_Applied], today: date, tz: ZoneInfo, *, every: bool
) -> dict[int, list[Line]]:
    groups: dict[tuple[str, str, int, int], set[int]] = defaultdict(set)
    for item in applied:
        t = item.target
        groups[(t.metric, t.period, t.threshold_yuan or 0, t.funds_ratio_pct or 0)].add(item.key)
    counts: dict[tuple[str, str, int, int], dict[int, int]] = {}
    for group, keys in groups.items():
        metric, period_kind, threshold, ratio = group
        period = of_kind(period_kind, today)
        until = min(period.end, date.fromordinal(today.toordinal() + 1))
        counts[group] = await _count(session, metric, keys, period, until, tz, threshold, ratio, every=every)

    result: dict[int, list[Line]] = {unit.id: [] for unit in units if unit.id is not None}
    for item in applied:
        t = item.target
        assert t.id is not None
        period = of_kind(t.period, today)
        group = (t.metric, t.period, t.threshold_yuan or 0, t.funds_ratio_pct or 0)
        chain = item.chain
        result[item.unit_id].append(
            Line(
                target_id=t.id,
                metric=t.metric,
                unit_id=item.unit_id,
                chain_id=chain.id if chain else None,
                chain_zh=chain.name_zh if chain else "",
                chain_en=chain.name_en if chain else "",
                period=period,
                value=t.value,
                threshold_yuan=t.threshold_yuan,
                funds_ratio_pct=t.funds_ratio_pct,
                actual=counts[group].get(item.key, 0),
                day=period.day_number(today),
            )
        )
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
        self._resolved: tuple[list[Unit], list[_Applied]] | None = None

    async def on(self, day: date) -> dict[int, list[Line]]:
        if day not in self._days:
            async with self.db.session() as session:
                if self._resolved is None:
                    units_q = select(Unit).where(col(Unit.active)).order_by(col(Unit.id))
                    units = list((await session.exec(units_q)).all())
                    self._resolved = units, await _applied(session, units)
                units, applied = self._resolved
                self._days[day] = await _measure(session, units, applied, day, self.tz, every=True)
        return self._days[day]


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
