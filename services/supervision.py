"""§16: city leaders ask units about a project or an indicator (点题询问) and units answer by a
deadline; the bureau keeps a joint supervision list (联合督导) of lagging projects and slow
units, with the actions taken and their dates.

An answer after the deadline is marked late and put before the bureau; a question still
unanswered after its deadline is put before the bureau by the scheduler, under the delivery
key ``question_late:<id>``, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select

from bot.core.db import Database
from models import LeaderQuestion, Member, Project, Role, SupervisionAction, SupervisionItem, Unit, User
from services import audit

ASKED_UNIT_KINDS = ("county", "zone", "chain_dept", "department", "soe", "support")


class SupervisionError(Exception):
    """Refused; ``code`` picks the message ``supervision.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class QuestionRow:
    question: LeaderQuestion
    leader: User
    unit: Unit
    project: Project | None

    @property
    def id(self) -> int:
        assert self.question.id is not None
        return self.question.id


async def askable_units(db: Database) -> list[Unit]:
    async with db.session() as session:
        rows = await session.exec(
            select(Unit).where(col(Unit.kind).in_(ASKED_UNIT_KINDS), col(Unit.active)).order_by(col(Unit.id))
        )
        return list(rows.all())


async def unit_projects(db: Database, unit_id: int) -> list[Project]:
    async with db.session() as session:
        rows = await session.exec(
            select(Project)
            .where(Project.executing_unit_id == unit_id, Project.stage != "dropped")
            .order_by(col(Project.id).desc())
            .limit(12)
        )
        return list(rows.all())


async def ask(
    db: Database,
    *,
    member: Member,
    unit_id: int,
    project_id: int | None,
    question: str,
    due_on: date,
    now: datetime,
) -> QuestionRow:
    if member.role not in (Role.LEADER, Role.BUREAU):
        raise SupervisionError("not_a_leader")
    async with db.session() as session:
        unit = await session.get(Unit, unit_id)
        if unit is None or unit.kind not in ASKED_UNIT_KINDS:
            raise SupervisionError("bad_unit")
        row = LeaderQuestion(
            asked_by=member.id, unit_id=unit_id, project_id=project_id, question=question, due_on=due_on, asked_at=now
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="question",
            entity_id=row.id,
            action="asked",
            at=now,
            unit_id=unit_id,
            text=question,
        )
    found = await get(db, row.id)
    assert found is not None
    return found


async def get(db: Database, question_id: int) -> QuestionRow | None:
    async with db.session() as session:
        row = await session.get(LeaderQuestion, question_id)
        if row is None:
            return None
        leader = await session.get(User, row.asked_by)
        unit = await session.get(Unit, row.unit_id)
        project = await session.get(Project, row.project_id) if row.project_id else None
        assert leader is not None and unit is not None
        return QuestionRow(row, leader, unit, project)


async def answer(
    db: Database, *, member: Member, question_id: int, text: str, today: date, now: datetime
) -> QuestionRow:
    """The asked unit answers; after the deadline the answer is marked late."""
    async with db.session() as session:
        row = await session.get(LeaderQuestion, question_id)
        if row is None:
            raise SupervisionError("not_found")
        if member.unit_id != row.unit_id:
            raise SupervisionError("not_yours")
        if row.answered_at is not None:
            raise SupervisionError("answered")
        row.answer, row.answered_by, row.answered_at = text, member.id, now
        row.late = today > row.due_on
        session.add(row)
        audit.record(
            session,
            actor_id=member.id,
            entity="question",
            entity_id=question_id,
            action="answered",
            at=now,
            late=row.late,
        )
    found = await get(db, question_id)
    assert found is not None
    return found


async def overdue_questions(db: Database, today: date) -> list[QuestionRow]:
    """Questions past their deadline without an answer (the scheduler tells the bureau once each)."""
    async with db.session() as session:
        ids = (
            await session.exec(
                select(LeaderQuestion.id)
                .where(col(LeaderQuestion.answered_at).is_(None), col(LeaderQuestion.due_on) < today)
                .order_by(col(LeaderQuestion.id))
            )
        ).all()
    rows = [await get(db, int(i)) for i in ids if i is not None]
    return [r for r in rows if r is not None]


# -- the supervision list ---------------------------------------------------------------------
@dataclass(frozen=True)
class SupervisedRow:
    item: SupervisionItem
    project: Project | None
    unit: Unit | None
    actions: list[SupervisionAction]

    @property
    def id(self) -> int:
        assert self.item.id is not None
        return self.item.id


async def add_item(
    db: Database, *, member: Member, project_id: int | None, unit_id: int | None, issue: str, now: datetime
) -> SupervisionItem:
    if member.role is not Role.BUREAU:
        raise SupervisionError("bureau_only")
    async with db.session() as session:
        if project_id is not None and await session.get(Project, project_id) is None:
            raise SupervisionError("not_found")
        item = SupervisionItem(
            project_id=project_id, unit_id=unit_id, issue=issue, created_by=member.id, created_at=now
        )
        session.add(item)
        await session.flush()
        assert item.id is not None
        audit.record(
            session, actor_id=member.id, entity="supervision", entity_id=item.id, action="created", at=now, issue=issue
        )
        return item


async def add_action(
    db: Database, *, member: Member, item_id: int, action: str, on: date, now: datetime, close: bool = False
) -> SupervisionAction:
    if member.role is not Role.BUREAU:
        raise SupervisionError("bureau_only")
    async with db.session() as session:
        item = await session.get(SupervisionItem, item_id)
        if item is None or item.closed_at is not None:
            raise SupervisionError("not_found")
        row = SupervisionAction(item_id=item_id, action=action, on_date=on, recorded_by=member.id, recorded_at=now)
        session.add(row)
        if close:
            item.closed_at = now
            session.add(item)
        audit.record(
            session, actor_id=member.id, entity="supervision", entity_id=item_id, action="action", at=now, text=action
        )
        return row


async def open_items(db: Database) -> list[SupervisedRow]:
    async with db.session() as session:
        items = (
            await session.exec(
                select(SupervisionItem)
                .where(col(SupervisionItem.closed_at).is_(None))
                .order_by(col(SupervisionItem.id))
            )
        ).all()
        out = []
        for item in items:
            actions = await session.exec(
                select(SupervisionAction)
                .where(SupervisionAction.item_id == item.id)
                .order_by(col(SupervisionAction.on_date), col(SupervisionAction.id))
            )
            project = await session.get(Project, item.project_id) if item.project_id else None
            unit = await session.get(Unit, item.unit_id) if item.unit_id else None
            out.append(SupervisedRow(item, project, unit, list(actions.all())))
        return out
