"""§15: a task force for every project with an agreed intention, its tasks, and the approvals
checklist of 全程代办.

A project gets its task force when it reaches 洽谈 (``services.projects`` forms it in the
same transaction as the stage change, or at registration) or when the bureau says so. The
responsible unit is the one that registered it (谁考察谁负责谁推进) unless the bureau names
another; the leader is the project's assigned leader (§15 包抓), read from the project, never
copied. The checklist starts from the bureau's approval kinds (``seed/zhangye.toml``).

Reminders are decided here from the database, each under its own delivery key, so the
scheduler waking twice or a restart sends each once: before a task is due (to its owner),
when it is overdue (to the responsible unit's head contact, ``services.heads``, or the whole
unit when it has none), and ``task_escalate_after_days`` later (to the assigned leader).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import (
    ApprovalItem,
    ApprovalKind,
    ApprovalMode,
    ApprovalState,
    ForceTask,
    Member,
    Project,
    Role,
    TaskForce,
    TaskForceMember,
    TaskState,
    Unit,
    User,
)
from services import audit, heads, settings
from services.access import Purpose, scope

REMIND_SETTING, DEFAULT_REMIND = "task_reminder_days_before", 3
ESCALATE_SETTING, DEFAULT_ESCALATE = "task_escalate_after_days", 7
OPEN_APPROVALS = (ApprovalState.PENDING, ApprovalState.IN_PROGRESS)


class TaskForceError(Exception):
    """A change refused; ``code`` picks the message ``taskforce.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _log(
    session: AsyncSession, actor_id: int | None, project_id: int, action: str, at: datetime, **detail: object
) -> None:
    audit.record(session, actor_id=actor_id, entity="project", entity_id=project_id, action=action, at=at, **detail)


async def form(
    session: AsyncSession, project: Project, *, by: int | None, now: datetime, unit_id: int | None = None
) -> TaskForce | None:
    """Form the project's task force with its approvals checklist, unless it has one."""
    assert project.id is not None
    if (await session.exec(select(TaskForce).where(TaskForce.project_id == project.id))).first() is not None:
        return None
    force = TaskForce(
        project_id=project.id,
        responsible_unit_id=unit_id or project.first_talk_unit_id,
        formed_by=by,
        formed_at=now,
    )
    session.add(force)
    kinds = await session.exec(
        select(ApprovalKind).where(col(ApprovalKind.active)).order_by(col(ApprovalKind.position))
    )
    for kind in kinds.all():
        session.add(ApprovalItem(project_id=project.id, kind_code=kind.code, updated_by=by, updated_at=now))
    _log(session, by, project.id, "task_force_formed", now, unit_id=force.responsible_unit_id)
    return force


# -- who may do what --------------------------------------------------------------------------
def sees(member: Member) -> ColumnElement[bool]:
    """Projects whose task force this person sees: what they see anyway, or a force they are on."""
    if member.role is Role.BUREAU:
        return true()
    on_force = col(Project.id).in_(
        select(col(TaskForceMember.project_id)).where(TaskForceMember.unit_id == member.unit_id)
    )
    responsible = col(Project.id).in_(
        select(col(TaskForce.project_id)).where(TaskForce.responsible_unit_id == member.unit_id)
    )
    return or_(scope(member, Project, Purpose.SEE), on_force, responsible)


def _manages(member: Member, project: Project, force: TaskForce | None) -> bool:
    """The bureau, the executing unit and the responsible unit run a task force."""
    if member.role is Role.BUREAU:
        return True
    units = {project.executing_unit_id} | ({force.responsible_unit_id} if force else set())
    return member.unit_id is not None and member.unit_id in units


# -- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskLine:
    task: ForceTask
    owner: User

    @property
    def id(self) -> int:
        assert self.task.id is not None
        return self.task.id


@dataclass(frozen=True)
class ApprovalLine:
    item: ApprovalItem
    kind: ApprovalKind

    @property
    def id(self) -> int:
        assert self.item.id is not None
        return self.item.id

    @property
    def open(self) -> bool:
        return self.item.state in OPEN_APPROVALS


@dataclass(frozen=True)
class ForceView:
    project: Project
    force: TaskForce | None
    responsible: Unit | None
    leader: User | None
    members: list[Unit]
    tasks: list[TaskLine]
    approvals: list[ApprovalLine]
    manages: bool
    # The responsible unit's head contact, whom overdue tasks go to (``services.heads``).
    head: User | None = None

    @property
    def open_tasks(self) -> list[TaskLine]:
        return [t for t in self.tasks if t.task.state == TaskState.OPEN]

    @property
    def pending_approvals(self) -> list[ApprovalLine]:
        return [a for a in self.approvals if a.open]


async def view(db: Database, member: Member, project_id: int) -> ForceView | None:
    """A project's task force as this person may see it; ``None`` when they may not."""
    async with db.session() as session:
        project = (await session.exec(select(Project).where(Project.id == project_id, sees(member)))).first()
        if project is None:
            return None
        return await _view(session, member, project)


async def summary_of(db: Database, project_id: int) -> ForceView | None:
    """The task force of a project the caller already showed to the person (a card)."""
    async with db.session() as session:
        project = await session.get(Project, project_id)
        if project is None:
            return None
        return await _view(session, None, project)


async def _view(session: AsyncSession, member: Member | None, project: Project) -> ForceView:
    force = (await session.exec(select(TaskForce).where(TaskForce.project_id == project.id))).first()
    responsible = await session.get(Unit, force.responsible_unit_id) if force else None
    leader = await session.get(User, project.leader_user_id) if project.leader_user_id else None
    members = await session.exec(
        select(Unit)
        .join(TaskForceMember, col(TaskForceMember.unit_id) == Unit.id)
        .where(TaskForceMember.project_id == project.id)
        .order_by(col(TaskForceMember.id))
    )
    tasks = await session.exec(
        select(ForceTask, User)
        .join(User, col(User.id) == ForceTask.owner_user_id)
        .where(ForceTask.project_id == project.id)
        .order_by(col(ForceTask.state), col(ForceTask.due_on), col(ForceTask.id))
    )
    approvals = await session.exec(
        select(ApprovalItem, ApprovalKind)
        .join(ApprovalKind, col(ApprovalKind.code) == ApprovalItem.kind_code)
        .where(ApprovalItem.project_id == project.id)
        .order_by(col(ApprovalKind.position), col(ApprovalItem.id))
    )
    return ForceView(
        project,
        force,
        responsible,
        leader,
        list(members.all()),
        [TaskLine(t, u) for t, u in tasks.all()],
        [ApprovalLine(i, k) for i, k in approvals.all()],
        member is not None and _manages(member, project, force),
        (await heads.heads_of(session, [force.responsible_unit_id])).get(force.responsible_unit_id) if force else None,
    )


async def task_owners(db: Database, project_id: int) -> list[User]:
    """Who may own a task: the people of the responsible, executing and member units."""
    async with db.session() as session:
        project = await session.get(Project, project_id)
        if project is None:
            return []
        units = {project.executing_unit_id}
        force = (await session.exec(select(TaskForce).where(TaskForce.project_id == project_id))).first()
        if force is not None:
            units.add(force.responsible_unit_id)
        units |= set(
            (await session.exec(select(TaskForceMember.unit_id).where(TaskForceMember.project_id == project_id))).all()
        )
        rows = await session.exec(
            select(User).where(col(User.unit_id).in_(units), col(User.active)).order_by(col(User.unit_id), col(User.id))
        )
        return list(rows.all())


async def member_candidates(db: Database, project_id: int) -> list[Unit]:
    """Departments that may join a task force (§19 names 发改, 自然资源, 生态环境, 金融 …)."""
    async with db.session() as session:
        taken = set(
            (await session.exec(select(TaskForceMember.unit_id).where(TaskForceMember.project_id == project_id))).all()
        )
        rows = await session.exec(
            select(Unit)
            .where(col(Unit.kind).in_(("department", "chain_dept")), col(Unit.active))
            .order_by(col(Unit.id))
        )
        return [u for u in rows.all() if u.id not in taken]


async def approval_kind_names(db: Database, locale: str) -> dict[str, str]:
    async with db.session() as session:
        return {k.code: k.name(locale) for k in (await session.exec(select(ApprovalKind))).all()}


# -- changing ---------------------------------------------------------------------------------
async def _managed(session: AsyncSession, member: Member, project_id: int) -> tuple[Project, TaskForce | None]:
    project = (await session.exec(select(Project).where(Project.id == project_id, sees(member)))).first()
    if project is None:
        raise TaskForceError("not_found")
    force = (await session.exec(select(TaskForce).where(TaskForce.project_id == project_id))).first()
    if not _manages(member, project, force):
        raise TaskForceError("not_yours")
    return project, force


async def form_now(db: Database, *, member: Member, project_id: int, now: datetime) -> TaskForce:
    """The bureau (or the unit) forms a task force before 洽谈."""
    async with db.session() as session:
        project, force = await _managed(session, member, project_id)
        if force is not None:
            raise TaskForceError("already_formed")
        formed = await form(session, project, by=member.id, now=now)
        assert formed is not None
        return formed


async def add_member(db: Database, *, member: Member, project_id: int, unit_id: int, now: datetime) -> Unit:
    async with db.session() as session:
        _project, force = await _managed(session, member, project_id)
        if force is None:
            raise TaskForceError("no_force")
        unit = await session.get(Unit, unit_id)
        if unit is None or not unit.active:
            raise TaskForceError("bad_unit")
        taken = await session.exec(
            select(TaskForceMember).where(TaskForceMember.project_id == project_id, TaskForceMember.unit_id == unit_id)
        )
        if taken.first() is not None:
            raise TaskForceError("already_member")
        session.add(TaskForceMember(project_id=project_id, unit_id=unit_id, added_at=now))
        _log(session, member.id, project_id, "task_force_member", now, unit_id=unit_id)
        return unit


async def add_task(
    db: Database, *, member: Member, project_id: int, title: str, owner_user_id: int, due_on: date, now: datetime
) -> TaskLine:
    owners = {u.id: u for u in await task_owners(db, project_id)}
    async with db.session() as session:
        _project, force = await _managed(session, member, project_id)
        if force is None:
            raise TaskForceError("no_force")
        owner = owners.get(owner_user_id)
        if owner is None:
            raise TaskForceError("bad_owner")
        task = ForceTask(
            project_id=project_id,
            title=title,
            owner_user_id=owner_user_id,
            due_on=due_on,
            created_by=member.id,
            created_at=now,
        )
        session.add(task)
        await session.flush()
        _log(
            session,
            member.id,
            project_id,
            "task_added",
            now,
            title=title,
            owner=owner.full_name,
            due_on=due_on.isoformat(),
        )
        return TaskLine(task, owner)


async def finish_task(db: Database, *, member: Member, task_id: int, today: date, now: datetime) -> ForceTask:
    """The owner, or whoever runs the task force, marks a task done."""
    async with db.session() as session:
        task = await session.get(ForceTask, task_id)
        if task is None:
            raise TaskForceError("not_found")
        if task.owner_user_id != member.id:
            await _managed(session, member, task.project_id)
        if task.state == TaskState.DONE:
            raise TaskForceError("already_done")
        task.state, task.done_on = TaskState.DONE, today
        session.add(task)
        _log(session, member.id, task.project_id, "task_done", now, title=task.title)
        return task


@dataclass(frozen=True)
class ApprovalChange:
    state: ApprovalState
    handler: str = ""
    mode: ApprovalMode = ApprovalMode.STANDARD
    due_on: date | None = None


async def update_approval(
    db: Database, *, member: Member, item_id: int, change: ApprovalChange, today: date, now: datetime
) -> ApprovalItem:
    async with db.session() as session:
        item = await session.get(ApprovalItem, item_id)
        if item is None:
            raise TaskForceError("not_found")
        await _managed(session, member, item.project_id)
        before = item.state
        item.state = change.state
        if change.state is ApprovalState.IN_PROGRESS:
            item.handler, item.mode, item.due_on = change.handler, change.mode, change.due_on
        item.done_on = today if change.state is ApprovalState.DONE else None
        item.updated_by, item.updated_at = member.id, now
        session.add(item)
        _log(
            session,
            member.id,
            item.project_id,
            "approval",
            now,
            kind=item.kind_code,
            before=before,
            after=change.state.value,
            handler=item.handler,
            mode=item.mode,
            due_on=item.due_on.isoformat() if item.due_on else None,
        )
        return item


# -- what is due ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskNotice:
    """A reminder owed about one task: ``kind`` is task_due, task_overdue or task_escalated."""

    kind: str
    task: ForceTask
    project: Project
    owner: User
    recipients: list[User]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.task.id}"


async def task_notices(db: Database, day: date) -> list[TaskNotice]:
    """Every reminder owed on ``day`` (a local date) about open tasks; the caller's keys make each once."""
    remind = await settings.get_int(db, REMIND_SETTING, DEFAULT_REMIND)
    escalate = await settings.get_int(db, ESCALATE_SETTING, DEFAULT_ESCALATE)
    async with db.session() as session:
        rows = (
            await session.exec(
                select(ForceTask, Project, User, TaskForce)
                .join(Project, col(Project.id) == ForceTask.project_id)
                .join(User, col(User.id) == ForceTask.owner_user_id)
                .join(TaskForce, col(TaskForce.project_id) == ForceTask.project_id)
                .where(ForceTask.state == TaskState.OPEN, col(ForceTask.due_on) <= day + timedelta(days=remind))
                .order_by(col(ForceTask.due_on), col(ForceTask.id))
            )
        ).all()
        people = (await session.exec(select(User).where(col(User.active)))).all()
        head = await heads.heads_of(session, {force.responsible_unit_id for *_, force in rows})
    by_unit: dict[int | None, list[User]] = {}
    by_id = {u.id: u for u in people}
    for person in people:
        by_unit.setdefault(person.unit_id, []).append(person)
    notices = []
    for task, project, owner, force in rows:
        if task.due_on >= day:
            notices.append(TaskNotice("task_due", task, project, owner, [owner]))
            continue
        unit = force.responsible_unit_id
        told = [head[unit]] if unit in head else by_unit.get(unit, [])
        notices.append(TaskNotice("task_overdue", task, project, owner, told))
        leader = by_id.get(project.leader_user_id)
        if leader is not None and task.due_on + timedelta(days=escalate) <= day:
            notices.append(TaskNotice("task_escalated", task, project, owner, [leader]))
    return notices


@dataclass(frozen=True)
class OverdueApproval:
    project_id: int
    project_name: str
    kind: ApprovalKind
    due_on: date
    handler: str


def _overdue(day: date) -> list[ColumnElement[bool]]:
    return [col(ApprovalItem.state).in_(OPEN_APPROVALS), col(ApprovalItem.due_on) < day]


async def overdue_approvals(
    db: Database,
    day: date,
    unit_ids: list[int] | None = None,
    *,
    within: ColumnElement[bool] | None = None,
    limit: int | None = None,
) -> list[OverdueApproval]:
    """Approvals past their date and not done, the longest overdue first, for the digests
    (``unit_ids``: executing units) and the dashboard (``within``: a condition on the project)."""
    query = (
        select(ApprovalItem, ApprovalKind, Project)
        .join(ApprovalKind, col(ApprovalKind.code) == ApprovalItem.kind_code)
        .join(Project, col(Project.id) == ApprovalItem.project_id)
        .where(*_overdue(day))
        .order_by(col(ApprovalItem.due_on), col(ApprovalItem.id))
    )
    if unit_ids is not None:
        query = query.where(col(Project.executing_unit_id).in_(unit_ids))
    if within is not None:
        query = query.where(within)
    if limit is not None:
        query = query.limit(limit)
    async with db.session() as session:
        rows = (await session.exec(query)).all()
    return [
        OverdueApproval(p.id or 0, p.name, kind, item.due_on, item.handler) for item, kind, p in rows if item.due_on
    ]


async def count_overdue(db: Database, day: date, within: ColumnElement[bool]) -> int:
    query = (
        select(func.count())
        .select_from(ApprovalItem)
        .join(Project, col(Project.id) == ApprovalItem.project_id)
        .where(*_overdue(day), within)
    )
    async with db.session() as session:
        return int((await session.exec(query)).one())
