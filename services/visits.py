"""Visits 考察/拜访: who met which enterprise, and the repeat-visit guard of §17.

The policy forbids several units visiting the same enterprise again and again: before a
visit is saved, :func:`repeat_conflicts` finds other units that visited the enterprise, or
hold an active project with it, within the window the bureau sets. The person is told
which unit and when — nothing more — and a visit filed anyway is flagged for the bureau.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import ACTIVE_STAGES, Enterprise, Member, Project, Unit, User, Visit, utcnow
from services import audit, settings
from services.access import Purpose, scope
from services.enterprises import resolve_draft

WINDOW_SETTING = "repeat_visit_window_days"
DEFAULT_WINDOW = 30
MAX_PHOTOS = 10


@dataclass(frozen=True)
class VisitDraft:
    enterprise_id: int | None
    enterprise_name: str
    credit_code: str | None
    visit_date: date
    follow_up_date: date
    latitude: float | None = None
    longitude: float | None = None
    place: str = ""
    no_location_reason: str = ""
    participants: str = ""
    outcome: str = ""
    next_step: str = ""
    photos: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Conflict:
    """Another unit's recent contact with the enterprise: which unit, when, and how."""

    unit_id: int
    unit_zh: str
    unit_en: str
    kind: str  # "visit" | "project"
    on: date

    def unit_name(self, locale: str) -> str:
        return self.unit_en if locale == "en" and self.unit_en else self.unit_zh

    def as_detail(self) -> dict[str, Any]:
        return {"unit_id": self.unit_id, "kind": self.kind, "on": self.on.isoformat()}


class RepeatVisit(Exception):
    """Saving needs the person's go-ahead: other units were there within the window."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} other unit(s) within the window")
        self.conflicts = conflicts


async def window_days(db: Database) -> int:
    return await settings.get_int(db, WINDOW_SETTING, DEFAULT_WINDOW)


async def repeat_conflicts(db: Database, *, enterprise_id: int, unit_id: int, visit_date: date) -> list[Conflict]:
    days = await window_days(db)
    async with db.session() as session:
        return await _conflicts(session, enterprise_id=enterprise_id, unit_id=unit_id, on=visit_date, days=days)


async def _conflicts(session: AsyncSession, *, enterprise_id: int, unit_id: int, on: date, days: int) -> list[Conflict]:
    start, end = on - timedelta(days=days), on + timedelta(days=days)
    visits = await session.exec(
        select(Visit, Unit)
        .join(Unit, col(Unit.id) == Visit.unit_id)
        .where(
            Visit.enterprise_id == enterprise_id,
            Visit.unit_id != unit_id,
            col(Visit.visit_date) >= start,
            col(Visit.visit_date) <= end,
        )
    )
    latest: dict[tuple[int, str], Conflict] = {}
    for visit, unit in visits.all():
        _keep_latest(latest, Conflict(visit.unit_id, unit.name_zh, unit.name_en, "visit", visit.visit_date))
    # An active project counts while its unit is working on it: registered or moved
    # within the window.
    since = datetime.combine(start, time(), tzinfo=UTC)
    projects = await session.exec(
        select(Project, Unit)
        .join(Unit, col(Unit.id) == Project.executing_unit_id)
        .where(
            Project.enterprise_id == enterprise_id,
            Project.executing_unit_id != unit_id,
            col(Project.stage).in_([s.value for s in ACTIVE_STAGES]),
        )
    )
    for project, unit in projects.all():
        talked, moved = project.first_talk_date, project.last_progress_at
        if talked >= start or moved >= since:
            conflict = Conflict(
                project.executing_unit_id, unit.name_zh, unit.name_en, "project", max(talked, moved.date())
            )
            _keep_latest(latest, conflict)
    return sorted(latest.values(), key=lambda c: (c.on, c.unit_id), reverse=True)


def _keep_latest(found: dict[tuple[int, str], Conflict], conflict: Conflict) -> None:
    key = (conflict.unit_id, conflict.kind)
    if key not in found or found[key].on < conflict.on:
        found[key] = conflict


async def create_visit(
    db: Database,
    *,
    member: Member,
    draft: VisitDraft,
    go_ahead: bool = False,
    accepted: Callable[[Conflict], bool] | None = None,
    now: datetime | None = None,
) -> Visit:
    """Save a visit. Raises :class:`RepeatVisit` unless the person went ahead past the guard.

    The guard is checked again here, in the saving transaction: another unit may have
    filed a visit while this one was being typed, or the date was corrected. Conflicts the
    person already went on past (``accepted``) do not stop the save; a new one does.
    """
    if member.unit_id is None:
        raise PermissionError("a visit belongs to a unit")
    if draft.follow_up_date <= draft.visit_date:
        raise ValueError("the follow-up comes after the visit")
    days = await window_days(db)
    async with db.session() as session:
        enterprise = await resolve_draft(session, draft, chain_id=None, actor_id=member.id, now=now)
        assert enterprise.id is not None
        conflicts = await _conflicts(
            session, enterprise_id=enterprise.id, unit_id=member.unit_id, on=draft.visit_date, days=days
        )
        if conflicts and not go_ahead and not (accepted is not None and all(accepted(c) for c in conflicts)):
            raise RepeatVisit(conflicts)
        visit = Visit(
            enterprise_id=enterprise.id,
            unit_id=member.unit_id,
            user_id=member.id,
            visit_date=draft.visit_date,
            latitude=draft.latitude,
            longitude=draft.longitude,
            place=draft.place,
            no_location_reason=draft.no_location_reason,
            participants=draft.participants,
            outcome=draft.outcome,
            next_step=draft.next_step,
            follow_up_date=draft.follow_up_date,
            photos=list(draft.photos[:MAX_PHOTOS]),
            flagged=bool(conflicts),
            flag_detail={"window_days": days, "conflicts": [c.as_detail() for c in conflicts]} if conflicts else {},
            created_at=now or utcnow(),
        )
        session.add(visit)
        await session.flush()
        assert visit.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="visit",
            entity_id=visit.id,
            action="created",
            at=now,
            enterprise=enterprise.name,
            visit_date=draft.visit_date.isoformat(),
            flagged=visit.flagged,
        )
        return visit


@dataclass(frozen=True)
class VisitRow:
    visit: Visit
    enterprise: Enterprise
    unit: Unit
    filer: User


def _rows() -> Any:
    return (
        select(Visit, Enterprise, Unit, User)
        .join(Enterprise, col(Enterprise.id) == Visit.enterprise_id)
        .join(Unit, col(Unit.id) == Visit.unit_id)
        .join(User, col(User.id) == Visit.user_id)
    )


async def get(db: Database, member: Member, visit_id: int, purpose: Purpose = Purpose.SEE) -> VisitRow | None:
    """One visit, if this person may see (or work on) it."""
    async with db.session() as session:
        row = (await session.exec(_rows().where(Visit.id == visit_id, scope(member, Visit, purpose)))).first()
        return VisitRow(*row) if row else None


async def visible(db: Database, member: Member, *, limit: int = 20) -> list[VisitRow]:
    """The most recent visits this person may see."""
    async with db.session() as session:
        rows = await session.exec(
            _rows()
            .where(scope(member, Visit))
            .order_by(col(Visit.visit_date).desc(), col(Visit.id).desc())
            .limit(limit)
        )
        return [VisitRow(*row) for row in rows.all()]


# -- follow-up reminders ------------------------------------------------------------------
@dataclass(frozen=True)
class FollowUp:
    visit_id: int
    enterprise_id: int
    enterprise: str
    visit_date: date
    next_step: str
    follow_up_date: date
    telegram_id: int
    locale: str | None
    language_code: str | None


async def due_follow_ups(db: Database, day: date) -> list[FollowUp]:
    """Visits whose follow-up falls on ``day``, unless the unit has visited the enterprise again since."""
    later = aliased(Visit)
    again = exists().where(
        and_(
            col(later.enterprise_id) == Visit.enterprise_id,
            col(later.unit_id) == Visit.unit_id,
            col(later.visit_date) > Visit.visit_date,
        )
    )
    async with db.session() as session:
        rows = await session.exec(
            select(Visit, Enterprise, User)
            .join(Enterprise, col(Enterprise.id) == Visit.enterprise_id)
            .join(User, col(User.id) == Visit.user_id)
            .where(Visit.follow_up_date == day, col(User.active), ~again)
            .order_by(col(Visit.id))
        )
        found = []
        for visit, enterprise, user in rows.all():
            assert visit.id is not None and visit.follow_up_date is not None
            found.append(
                FollowUp(
                    visit.id,
                    visit.enterprise_id,
                    enterprise.name,
                    visit.visit_date,
                    visit.next_step,
                    visit.follow_up_date,
                    user.telegram_id,
                    user.locale,
                    user.language_code,
                )
            )
        return found


async def push_follow_up(db: Database, *, member: Member, visit_id: int, to: date) -> Visit | None:
    """Move a visit's follow-up date (the filer only); ``None`` when they may not."""
    async with db.session() as session:
        visit = (
            await session.exec(select(Visit).where(Visit.id == visit_id, scope(member, Visit, Purpose.WORK)))
        ).first()
        if visit is None:
            return None
        if to <= visit.visit_date:
            raise ValueError("the follow-up comes after the visit")
        before = visit.follow_up_date
        visit.follow_up_date = to
        session.add(visit)
        audit.record(
            session,
            actor_id=member.id,
            entity="visit",
            entity_id=visit_id,
            action="follow_up_moved",
            before=before.isoformat() if before else None,
            after=to.isoformat(),
        )
        return visit
