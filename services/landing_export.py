"""The landing workbook (§15–§19), written with the exporter's own sheets and headers.

Task forces, their tasks, the approvals checklists, element needs, the §17 reviews (and the
bureau's exceptions), leaders' questions, supervision entries and funds-in-place entries.
Most of these are states rather than events, so a sheet holds the records made up to the
period's end as they stand now; funds entries are events and are those dated in the period.

Each sheet follows the rule its records follow in the chat: a task force, its tasks and
approvals as ``/taskforce`` shows them, needs as ``/needs`` does, reviews and funds with the
project; a question goes to the leader who asked it and the unit asked; the supervision list
is the bureau's alone. No sheet carries an enterprise's contact.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, or_, true
from sqlmodel import col, select

from models import (
    ApprovalItem,
    ApprovalKind,
    ElementNeed,
    ForceTask,
    FundsEntry,
    LeaderQuestion,
    Member,
    Project,
    ProjectReview,
    Role,
    SigningException,
    SupervisionAction,
    SupervisionItem,
    TaskForce,
    TaskForceMember,
)
from services import needs, taskforce
from services.access import scope

if TYPE_CHECKING:
    from services.export import Exporter


async def write_landing(ex: Exporter) -> None:
    units, _chains, people = await ex._names()
    names = await _project_names(ex)
    await _task_forces(ex, units, people, names)
    await _tasks(ex, people, names)
    await _approvals(ex, names)
    await _needs(ex, units, people, names)
    await _reviews(ex, people, names)
    await _questions(ex, units, people, names)
    if ex.member.role is Role.BUREAU:
        await _supervision(ex, units, names)
    await _funds(ex, people, names)


async def _project_names(ex: Exporter) -> dict[int, str]:
    async with ex.db.session() as session:
        return {int(i or 0): n for i, n in (await session.exec(select(Project.id, Project.name))).all()}


def _forces_seen(member: Member) -> Any:
    """The projects whose task force this reader sees (the same rule as ``/taskforce``)."""
    return select(col(Project.id)).where(taskforce.sees(member))


def _projects_seen(member: Member) -> Any:
    return select(col(Project.id)).where(scope(member, Project))


async def _task_forces(ex: Exporter, units: dict[int, str], people: dict[int, str], names: dict[int, str]) -> None:
    _start, end = ex._bounds()
    async with ex.db.session() as session:
        forces = (
            await session.exec(
                select(TaskForce, Project)
                .join(Project, col(Project.id) == TaskForce.project_id)
                .where(col(TaskForce.project_id).in_(_forces_seen(ex.member)), col(TaskForce.formed_at) < end)
                .order_by(col(TaskForce.project_id))
            )
        ).all()
        members: dict[int, list[str]] = defaultdict(list)
        for row in (await session.exec(select(TaskForceMember).order_by(col(TaskForceMember.id)))).all():
            members[row.project_id].append(units.get(row.unit_id, ""))
    columns = [
        ("number", "int"), ("project", "text"), ("responsible_unit", "text"), ("leader", "text"),
        ("force_members", "text"), ("formed_on", "date"),
    ]  # fmt: skip
    sep = ex._("taskforce.sep")
    rows = [
        [
            force.project_id, names.get(force.project_id, ""), units.get(force.responsible_unit_id, ""),
            people.get(project.leader_user_id or 0, ""), sep.join(members.get(force.project_id, [])),
            ex._local(force.formed_at),
        ]
        for force, project in forces
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.task_forces"), columns, rows)


async def _tasks(ex: Exporter, people: dict[int, str], names: dict[int, str]) -> None:
    _start, end = ex._bounds()
    async with ex.db.session() as session:
        tasks = (
            await session.exec(
                select(ForceTask)
                .where(col(ForceTask.project_id).in_(_forces_seen(ex.member)), col(ForceTask.created_at) < end)
                .order_by(col(ForceTask.project_id), col(ForceTask.due_on), col(ForceTask.id))
            )
        ).all()
    columns = [
        ("number", "int"), ("project", "text"), ("task", "text"), ("owner", "text"), ("due", "date"),
        ("status", "text"), ("done_on", "date"),
    ]  # fmt: skip
    rows = [
        [
            t.project_id, names.get(t.project_id, ""), t.title, people.get(t.owner_user_id, ""), t.due_on,
            ex._(f"landing.task_state.{t.state}"), t.done_on,
        ]
        for t in tasks
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.tasks"), columns, rows)


async def _approvals(ex: Exporter, names: dict[int, str]) -> None:
    _start, end = ex._bounds()
    async with ex.db.session() as session:
        items = (
            await session.exec(
                select(ApprovalItem, ApprovalKind)
                .join(ApprovalKind, col(ApprovalKind.code) == ApprovalItem.kind_code)
                .join(TaskForce, col(TaskForce.project_id) == ApprovalItem.project_id)
                .where(col(ApprovalItem.project_id).in_(_forces_seen(ex.member)), col(TaskForce.formed_at) < end)
                .order_by(col(ApprovalItem.project_id), col(ApprovalKind.position), col(ApprovalItem.id))
            )
        ).all()
    columns = [
        ("number", "int"), ("project", "text"), ("approval", "text"), ("status", "text"), ("handler", "text"),
        ("mode", "text"), ("due", "date"), ("done_on", "date"),
    ]  # fmt: skip
    rows = [
        [
            item.project_id, names.get(item.project_id, ""), kind.name(ex.req.locale),
            ex._(f"approval.state.{item.state}"), item.handler, ex._(f"approval.mode.{item.mode}"), item.due_on,
            item.done_on,
        ]
        for item, kind in items
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.approvals"), columns, rows)


async def _needs(ex: Exporter, units: dict[int, str], people: dict[int, str], names: dict[int, str]) -> None:
    _start, end = ex._bounds()
    async with ex.db.session() as session:
        found = (
            await session.exec(
                select(ElementNeed)
                .where(needs.sees(ex.member), col(ElementNeed.raised_at) < end)
                .order_by(col(ElementNeed.raised_at), col(ElementNeed.id))
            )
        ).all()
    columns = [
        ("number", "int"), ("project_number", "int"), ("project", "text"), ("kind", "text"), ("size", "text"),
        ("needed_by", "date"), ("department", "text"), ("raised_by", "text"), ("person", "text"),
        ("date", "date"), ("status", "text"), ("answer", "text"),
    ]  # fmt: skip
    rows = [
        [
            n.id, n.project_id, names.get(n.project_id, ""), ex._(f"need.kind.{n.kind}"), n.size, n.needed_by,
            units.get(n.department_unit_id, ""), units.get(n.raised_unit_id, ""), people.get(n.raised_by, ""),
            ex._local(n.raised_at), ex._(f"need.state.{n.state}"), n.answer,
        ]
        for n in found
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.needs"), columns, rows)


async def _reviews(ex: Exporter, people: dict[int, str], names: dict[int, str]) -> None:
    """The §17 reviews, and the bureau's exceptions as rows of their own."""
    _start, end = ex._bounds()
    seen = _projects_seen(ex.member)
    async with ex.db.session() as session:
        reviews = (
            await session.exec(
                select(ProjectReview)
                .where(col(ProjectReview.project_id).in_(seen), col(ProjectReview.recorded_at) < end)
                .order_by(col(ProjectReview.project_id), col(ProjectReview.recorded_at), col(ProjectReview.id))
            )
        ).all()
        exceptions = (
            await session.exec(
                select(SigningException)
                .where(col(SigningException.project_id).in_(seen), col(SigningException.granted_at) < end)
                .order_by(col(SigningException.project_id), col(SigningException.id))
            )
        ).all()
    columns = [
        ("number", "int"), ("project", "text"), ("review", "text"), ("reviewer", "text"), ("date", "date"),
        ("conclusion", "text"), ("document", "text"), ("person", "text"),
    ]  # fmt: skip
    rows: list[list[Any]] = [
        [
            r.project_id, names.get(r.project_id, ""), ex._(f"signing.kind.{r.kind}"), r.reviewer, r.reviewed_on,
            r.conclusion, r.document_name or "", people.get(r.recorded_by, ""),
        ]
        for r in reviews
    ]  # fmt: skip
    rows += [
        [
            e.project_id, names.get(e.project_id, ""), ex._("landing.review.exception"),
            people.get(e.granted_by, ""), ex._local(e.granted_at), e.reason, "", people.get(e.granted_by, ""),
        ]
        for e in exceptions
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.reviews"), columns, rows)


def _questions_seen(member: Member) -> ColumnElement[bool]:
    """The bureau every question; a leader those they asked; a unit those put to it."""
    if member.role is Role.BUREAU:
        return true()
    mine = col(LeaderQuestion.asked_by) == member.id
    if member.unit_id is None:
        return mine
    return or_(mine, col(LeaderQuestion.unit_id) == member.unit_id)


async def _questions(ex: Exporter, units: dict[int, str], people: dict[int, str], names: dict[int, str]) -> None:
    _start, end = ex._bounds()
    async with ex.db.session() as session:
        found = (
            await session.exec(
                select(LeaderQuestion)
                .where(_questions_seen(ex.member), col(LeaderQuestion.asked_at) < end)
                .order_by(col(LeaderQuestion.asked_at), col(LeaderQuestion.id))
            )
        ).all()
    columns = [
        ("number", "int"), ("leader", "text"), ("unit", "text"), ("project", "text"), ("question", "text"),
        ("date", "date"), ("due", "date"), ("answer", "text"), ("answered_on", "date"), ("late", "text"),
    ]  # fmt: skip
    rows = [
        [
            q.id, people.get(q.asked_by, ""), units.get(q.unit_id, ""), names.get(q.project_id or 0, ""),
            q.question, ex._local(q.asked_at), q.due_on, q.answer, ex._local(q.answered_at),
            ex._("desk.export.yes") if q.late else "",
        ]
        for q in found
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.questions"), columns, rows)


async def _supervision(ex: Exporter, units: dict[int, str], names: dict[int, str]) -> None:
    """The bureau's list: one row per action taken, an entry without actions on a row of its own."""
    _start, end = ex._bounds()
    async with ex.db.session() as session:
        items = (
            await session.exec(
                select(SupervisionItem).where(col(SupervisionItem.created_at) < end).order_by(col(SupervisionItem.id))
            )
        ).all()
        actions: dict[int, list[SupervisionAction]] = defaultdict(list)
        for action in (
            await session.exec(
                select(SupervisionAction).order_by(col(SupervisionAction.on_date), col(SupervisionAction.id))
            )
        ).all():
            actions[action.item_id].append(action)
    columns = [
        ("number", "int"), ("project", "text"), ("unit", "text"), ("issue", "text"), ("date", "date"),
        ("closed_on", "date"), ("action", "text"), ("action_date", "date"),
    ]  # fmt: skip
    rows: list[list[Any]] = []
    for item in items:
        head = [
            item.id, names.get(item.project_id or 0, ""), units.get(item.unit_id or 0, ""), item.issue,
            ex._local(item.created_at), ex._local(item.closed_at),
        ]  # fmt: skip
        taken = actions.get(int(item.id or 0), [])
        rows += [[*head, a.action, a.on_date] for a in taken] or [[*head, "", None]]
    ex._sheet(ex._("landing.sheet.supervision"), columns, rows)


async def _funds(ex: Exporter, people: dict[int, str], names: dict[int, str]) -> None:
    """Funds in place as they came (dated entries) in the period: the year's figures add up from these."""
    async with ex.db.session() as session:
        entries = (
            await session.exec(
                select(FundsEntry)
                .where(
                    col(FundsEntry.project_id).in_(_projects_seen(ex.member)),
                    col(FundsEntry.on_date).between(ex.req.start, ex.req.end),
                )
                .order_by(col(FundsEntry.on_date), col(FundsEntry.id))
            )
        ).all()
    columns = [
        ("number", "int"), ("project", "text"), ("date", "date"), ("funds_change", "wan"), ("person", "text"),
        ("note", "text"),
    ]  # fmt: skip
    rows = [
        [
            e.project_id, names.get(e.project_id, ""), e.on_date, e.amount_yuan, people.get(e.recorded_by or 0, ""),
            ex._("landing.funds.migrated") if e.origin == "migrated" else "",
        ]
        for e in entries
    ]  # fmt: skip
    ex._sheet(ex._("landing.sheet.funds"), columns, rows)
