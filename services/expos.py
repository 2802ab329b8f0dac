"""Expos and events 节会 (§10): who takes part, what was signed there, and what became of it.

An event's signing list is the projects tagged to it. Follow-through 履约 is read from
those projects as they move: signed → started → in operation, and funds in place against
what was planned. A laggard is a project of the list that has not started yet, or whose
stage or funds have not moved for the bureau's lagging days (§16).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import col, func, select

from bot.core.db import Database
from models import Enterprise, Expo, ExpoUnit, Member, Origin, OriginKind, Project, Role, Stage, Unit, utcnow
from services import audit

STARTED = frozenset({Stage.STARTED, Stage.OPERATING})


@dataclass(frozen=True)
class Signed:
    project_id: int
    name: str
    enterprise: str
    stage: str
    planned_yuan: int | None
    funds_in_place_yuan: int
    lagging: bool


@dataclass(frozen=True)
class FollowThrough:
    expo: Expo
    units: int
    leads: int
    visits: int
    signed: list[Signed]

    @property
    def count(self) -> int:
        return len([s for s in self.signed if s.stage != Stage.DROPPED])

    @property
    def started(self) -> int:
        return sum(1 for s in self.signed if s.stage in STARTED)

    @property
    def operating(self) -> int:
        return sum(1 for s in self.signed if s.stage == Stage.OPERATING)

    @property
    def planned_yuan(self) -> int:
        return sum(s.planned_yuan or 0 for s in self.signed if s.stage != Stage.DROPPED)

    @property
    def funds_yuan(self) -> int:
        return sum(s.funds_in_place_yuan for s in self.signed if s.stage != Stage.DROPPED)

    def rate(self, part: int) -> int | None:
        """Percent of the signing list, or None when nothing was signed."""
        return round(100 * part / self.count) if self.count else None

    @property
    def funds_rate(self) -> int | None:
        return round(100 * self.funds_yuan / self.planned_yuan) if self.planned_yuan else None

    @property
    def laggards(self) -> list[Signed]:
        return [s for s in self.signed if s.lagging]


async def listing(db: Database) -> list[Expo]:
    """Every event: dated ones by date (the latest first), then the undated."""
    async with db.session() as session:
        rows = (await session.exec(select(Expo))).all()
    return sorted(rows, key=lambda e: (e.starts_on is None, -(e.starts_on.toordinal() if e.starts_on else 0), e.id))


async def get(db: Database, expo_id: int) -> Expo | None:
    async with db.session() as session:
        return await session.get(Expo, expo_id)


async def create(
    db: Database, *, member: Member, name: str, starts_on: date, ends_on: date, now: datetime | None = None
) -> Expo:
    if member.role is not Role.BUREAU:
        raise PermissionError("the bureau creates events")
    now = now or utcnow()
    async with db.session() as session:
        expo = Expo(
            name_zh=name, name_en=name, starts_on=starts_on, ends_on=ends_on, created_by=member.id, created_at=now
        )
        session.add(expo)
        await session.flush()
        assert expo.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="expo",
            entity_id=expo.id,
            action="created",
            at=now,
            name=name,
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
        )
        return expo


async def set_dates(
    db: Database, *, member: Member, expo_id: int, starts_on: date, ends_on: date, now: datetime | None = None
) -> Expo | None:
    if member.role is not Role.BUREAU:
        return None
    async with db.session() as session:
        expo = await session.get(Expo, expo_id)
        if expo is None:
            return None
        before = [
            expo.starts_on.isoformat() if expo.starts_on else None,
            expo.ends_on.isoformat() if expo.ends_on else None,
        ]
        expo.starts_on, expo.ends_on = starts_on, ends_on
        session.add(expo)
        audit.record(
            session,
            actor_id=member.id,
            entity="expo",
            entity_id=expo_id,
            action="dated",
            at=now,
            before=before,
            after=[starts_on.isoformat(), ends_on.isoformat()],
        )
        return expo


async def take_part(db: Database, *, member: Member, expo_id: int, now: datetime | None = None) -> bool:
    """Register the person's unit for the event; False when it already was."""
    if member.unit_id is None:
        raise PermissionError("a unit takes part")
    now = now or utcnow()
    async with db.session() as session:
        found = (
            await session.exec(select(ExpoUnit).where(ExpoUnit.expo_id == expo_id, ExpoUnit.unit_id == member.unit_id))
        ).first()
        if found is not None:
            return False
        session.add(ExpoUnit(expo_id=expo_id, unit_id=member.unit_id, registered_by=member.id, registered_at=now))
        audit.record(
            session, actor_id=member.id, entity="expo", entity_id=expo_id, action="unit_registered", at=now,
            unit_id=member.unit_id,
        )  # fmt: skip
        return True


async def units_of(db: Database, expo_id: int) -> list[Unit]:
    async with db.session() as session:
        rows = await session.exec(
            select(Unit)
            .join(ExpoUnit, col(ExpoUnit.unit_id) == Unit.id)
            .where(ExpoUnit.expo_id == expo_id)
            .order_by(col(ExpoUnit.registered_at), col(ExpoUnit.id))
        )
        return list(rows.all())


async def follow_through(db: Database, expo_ids: list[int], now: datetime, lagging_days: int) -> list[FollowThrough]:
    """Each event's participation, tagged records and signing list, in the order given."""
    if not expo_ids:
        return []
    stalled_before = now - timedelta(days=lagging_days)
    async with db.session() as session:
        expos = {int(e.id or 0): e for e in (await session.exec(select(Expo).where(col(Expo.id).in_(expo_ids)))).all()}
        units = dict(
            (
                await session.exec(
                    select(ExpoUnit.expo_id, func.count())
                    .where(col(ExpoUnit.expo_id).in_(expo_ids))
                    .group_by(col(ExpoUnit.expo_id))
                )
            ).all()
        )
        tagged: dict[tuple[int, str], int] = {}
        for expo_id, record, count in (
            await session.exec(
                select(Origin.expo_id, Origin.record, func.count())
                .where(col(Origin.expo_id).in_(expo_ids))
                .group_by(col(Origin.expo_id), col(Origin.record))
            )
        ).all():
            tagged[(int(expo_id or 0), record)] = int(count)
        projects = (
            await session.exec(
                select(Origin.expo_id, Project, Enterprise.name)
                .join(Project, col(Project.id) == Origin.record_id)
                .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
                .where(col(Origin.expo_id).in_(expo_ids), Origin.record == OriginKind.PROJECT.value)
                .order_by(col(Project.id))
            )
        ).all()
    signed: dict[int, list[Signed]] = {}
    for expo_id, project, enterprise in projects:
        live = project.stage not in (Stage.OPERATING, Stage.DROPPED)
        signed.setdefault(int(expo_id or 0), []).append(
            Signed(
                project_id=int(project.id or 0),
                name=project.name,
                enterprise=enterprise,
                stage=project.stage,
                planned_yuan=project.planned_yuan,
                funds_in_place_yuan=project.funds_in_place_yuan,
                lagging=live and (project.stage not in STARTED or project.last_progress_at < stalled_before),
            )
        )
    return [
        FollowThrough(
            expo=expos[i],
            units=int(units.get(i, 0)),
            leads=tagged.get((i, OriginKind.LEAD.value), 0),
            visits=tagged.get((i, OriginKind.VISIT.value), 0),
            signed=signed.get(i, []),
        )
        for i in expo_ids
        if i in expos
    ]
