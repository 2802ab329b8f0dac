"""§19 要素保障: element needs a unit raises for a project, routed to the department that
secures them, answered in the chat, escalated when nobody answers: to the bureau, and to
the department's head contact (``services.heads``) when it has one.

The route from a kind of need (用地, 用能, 环境容量, 融资, other) to a department is the
bureau's setting ``element_need_departments`` (unit codes, from ``seed/zhangye.toml``).
Escalation is decided here from the database; the caller's delivery key
``need_escalated:<id>`` makes it go once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.sql.expression import Select

from bot.core.db import Database
from models import ElementNeed, Member, NeedKind, NeedState, Project, Role, Unit, User
from services import audit, heads, settings
from services.access import Purpose, scope

ROUTES_SETTING = "element_need_departments"
ESCALATE_SETTING, DEFAULT_ESCALATE = "element_need_escalate_after_days", 5
ANSWERS = (NeedState.ACCEPTED, NeedState.NEEDS_INFO, NeedState.REFUSED)


class NeedError(Exception):
    """A need or answer refused; ``code`` picks the message ``need.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class NeedRow:
    need: ElementNeed
    project: Project
    department: Unit
    raised_unit: Unit
    raiser: User

    @property
    def id(self) -> int:
        assert self.need.id is not None
        return self.need.id


async def department_for(db: Database, kind: NeedKind) -> Unit | None:
    routes: Any = await settings.get(db, ROUTES_SETTING)
    code = routes.get(kind.value) or routes.get(NeedKind.OTHER.value) if isinstance(routes, dict) else None
    async with db.session() as session:
        return (await session.exec(select(Unit).where(Unit.code == code, col(Unit.active)))).first() if code else None


async def raise_need(
    db: Database,
    *,
    member: Member,
    project_id: int,
    kind: NeedKind,
    size: str,
    needed_by: date,
    now: datetime,
) -> NeedRow:
    """A unit working on the project asks; the need goes to the department of its kind."""
    department = await department_for(db, kind)
    if department is None or department.id is None:
        raise NeedError("no_department")
    async with db.session() as session:
        project = (
            await session.exec(select(Project).where(Project.id == project_id, scope(member, Project, Purpose.WORK)))
        ).first()
        if project is None or member.unit_id is None:
            raise NeedError("not_found")
        need = ElementNeed(
            project_id=project_id,
            kind=kind,
            size=size,
            needed_by=needed_by,
            department_unit_id=department.id,
            raised_by=member.id,
            raised_unit_id=member.unit_id,
            raised_at=now,
        )
        session.add(need)
        await session.flush()
        assert need.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=project_id,
            action="need_raised",
            at=now,
            need_id=need.id,
            kind=kind.value,
            size=size,
            needed_by=needed_by.isoformat(),
            unit_id=department.id,
        )
    row = await get(db, need.id)
    assert row is not None
    return row


def _rows() -> Any:
    department, raised = aliased(Unit), aliased(Unit)
    return (
        Select(ElementNeed, Project, department, raised, User)
        .join(Project, col(Project.id) == ElementNeed.project_id)
        .join(department, col(department.id) == ElementNeed.department_unit_id)
        .join(raised, col(raised.id) == ElementNeed.raised_unit_id)
        .join(User, col(User.id) == ElementNeed.raised_by)
    )


async def get(db: Database, need_id: int) -> NeedRow | None:
    async with db.session() as session:
        found = (await session.exec(_rows().where(ElementNeed.id == need_id))).first()
        return NeedRow(*found) if found else None


def sees(member: Member) -> ColumnElement[bool]:
    """The bureau every need; a department those routed to it; a unit those it raised."""
    if member.role is Role.BUREAU:
        return true()
    if member.unit_id is None:
        return col(ElementNeed.id) < 0
    return or_(col(ElementNeed.department_unit_id) == member.unit_id, col(ElementNeed.raised_unit_id) == member.unit_id)


def _open() -> ColumnElement[bool]:
    return col(ElementNeed.state).in_((NeedState.OPEN, NeedState.NEEDS_INFO))


async def visible(db: Database, member: Member, *, open_only: bool = True, limit: int | None = None) -> list[NeedRow]:
    query = _rows().where(sees(member))
    if open_only:
        query = query.where(_open())
    query = query.order_by(col(ElementNeed.needed_by), col(ElementNeed.id))
    if limit is not None:
        query = query.limit(limit)
    async with db.session() as session:
        rows = await session.exec(query)
        return [NeedRow(*r) for r in rows.all()]


async def count_open(db: Database, member: Member) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(ElementNeed).where(sees(member), _open())
        return int((await session.exec(query)).one())


async def answer(
    db: Database, *, member: Member, need_id: int, state: NeedState, reason: str, now: datetime
) -> NeedRow:
    """The department answers: accepted, needs information, or cannot (the last two with a reason)."""
    if state not in ANSWERS:
        raise NeedError("bad_answer")
    if state is not NeedState.ACCEPTED and not reason:
        raise NeedError("reason_needed")
    async with db.session() as session:
        need = await session.get(ElementNeed, need_id)
        if need is None:
            raise NeedError("not_found")
        if member.role is not Role.BUREAU and member.unit_id != need.department_unit_id:
            raise NeedError("not_yours")
        before = need.state
        need.state, need.answer, need.answered_by, need.answered_at = state, reason, member.id, now
        session.add(need)
        audit.record(
            session,
            actor_id=member.id,
            entity="project",
            entity_id=need.project_id,
            action="need_answered",
            at=now,
            need_id=need_id,
            kind=need.kind,
            before=before,
            after=state.value,
            reason=reason,
        )
    row = await get(db, need_id)
    assert row is not None
    return row


@dataclass(frozen=True)
class Unanswered:
    """A need left waiting too long, and the department's head contact to push it (if any)."""

    row: NeedRow
    head: User | None


async def unanswered(db: Database, now: datetime) -> list[Unanswered]:
    """Needs still waiting for the department ``element_need_escalate_after_days`` after they were raised."""
    days = await settings.get_int(db, ESCALATE_SETTING, DEFAULT_ESCALATE)
    query = _rows().where(ElementNeed.state == NeedState.OPEN, col(ElementNeed.raised_at) <= now - timedelta(days=days))
    async with db.session() as session:
        rows = [
            NeedRow(*r)
            for r in (await session.exec(query.order_by(col(ElementNeed.raised_at), col(ElementNeed.id)))).all()
        ]
        head = await heads.heads_of(session, {r.need.department_unit_id for r in rows})
    return [Unanswered(r, head.get(r.need.department_unit_id)) for r in rows]


async def visible_to_bureau(db: Database) -> list[NeedRow]:
    """Every need still waiting for a department (or for information), for the bureau's overview."""
    query = _rows().where(col(ElementNeed.state).in_((NeedState.OPEN, NeedState.NEEDS_INFO)))
    async with db.session() as session:
        rows = await session.exec(query.order_by(col(ElementNeed.needed_by), col(ElementNeed.id)))
        return [NeedRow(*r) for r in rows.all()]
