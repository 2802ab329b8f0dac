"""What makes a signed project land (policy §15–§19): funds in place as dated entries, the
reviews before signing, task forces and their tasks, the approvals checklist, element needs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, money_field, time_field


class FundsEntry(SQLModel, table=True):
    """Funds that arrived (or a correction, negative) on a day; a project's total is their sum."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    on_date: date = Field(index=True)
    amount_yuan: int = money_field(nullable=False)
    recorded_by: int | None = Field(default=None, foreign_key="user.id")
    recorded_at: datetime = created_at_field()
    # "migrated": the running total the project had before entries were kept.
    origin: str = Field(default="", max_length=16)


class ReviewKind(StrEnum):
    """§17: the four reviews a major project has before it is signed."""

    ESTIMATE = "estimate"  # 综合测算
    DUE_DILIGENCE = "due_diligence"  # 尽职调查
    LEGALITY = "legality"  # 合法性审查
    FAIR_COMPETITION = "fair_competition"  # 公平竞争审查


class ProjectReview(SQLModel, table=True):
    """One review of a major project (§17): who did it, when, what it concluded."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    kind: str = Field(max_length=24)
    reviewer: str = Field(max_length=200)
    reviewed_on: date
    conclusion: str = Field(max_length=1000)
    # A document as the chat sent it (a file id to send it again) and its name.
    document_file_id: str | None = Field(default=None, max_length=256)
    document_name: str | None = Field(default=None, max_length=256)
    recorded_by: int = Field(foreign_key="user.id")
    recorded_at: datetime = created_at_field()


class SigningException(SQLModel, table=True):
    """The bureau let a major project be signed without all its reviews, and said why (§17)."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    reason: str = Field(max_length=1000)
    granted_by: int = Field(foreign_key="user.id")
    granted_at: datetime = created_at_field()


class TaskForce(SQLModel, table=True):
    """§15 组建专班: the unit that pushes a project with an agreed intention, and who helps it."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", unique=True)
    # 谁考察谁负责谁推进: the unit that registered it, unless the bureau names another.
    responsible_unit_id: int = Field(foreign_key="unit.id", index=True)
    formed_by: int | None = Field(default=None, foreign_key="user.id")
    formed_at: datetime = created_at_field()


class TaskForceMember(SQLModel, table=True):
    """A department on a project's task force."""

    __table_args__ = (UniqueConstraint("project_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    added_at: datetime = created_at_field()


class TaskState(StrEnum):
    OPEN = "open"
    DONE = "done"


class ForceTask(SQLModel, table=True):
    """A task of a project's task force: what, who, by when."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    title: str = Field(max_length=300)
    owner_user_id: int = Field(foreign_key="user.id", index=True)
    due_on: date = Field(index=True)
    state: str = Field(default=TaskState.OPEN, max_length=16, index=True)
    done_on: date | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = created_at_field()


class ApprovalKind(SQLModel, table=True):
    """An approval a project may need (立项/备案, 用地预审 …): seeded, editable by the bureau."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name_zh: str = Field(max_length=64)
    name_en: str = Field(max_length=128)
    position: int = 0
    active: bool = True

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


class ApprovalState(StrEnum):
    PENDING = "pending"  # 未启动
    IN_PROGRESS = "in_progress"  # 办理中
    DONE = "done"  # 已办结
    NOT_NEEDED = "not_needed"  # 不需要


class ApprovalMode(StrEnum):
    """§15 全程代办: how an approval is handled."""

    STANDARD = "standard"
    SHORTFALL = "shortfall"  # 容缺受理
    PARALLEL = "parallel"  # 并联审批
    PLEDGE = "pledge"  # 承诺制


class ApprovalItem(SQLModel, table=True):
    """One approval on a project's checklist: who handles it, how, by when, where it stands."""

    __table_args__ = (UniqueConstraint("project_id", "kind_code"),)
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    kind_code: str = Field(max_length=32)
    handler: str = Field(default="", max_length=200)
    mode: str = Field(default=ApprovalMode.STANDARD, max_length=16)
    due_on: date | None = Field(default=None, index=True)
    done_on: date | None = None
    state: str = Field(default=ApprovalState.PENDING, max_length=16, index=True)
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = created_at_field()


class NeedKind(StrEnum):
    """§19 要素保障: what a project needs secured."""

    LAND = "land"  # 用地
    ENERGY = "energy"  # 用能
    ENVIRONMENT = "environment"  # 环境容量
    FINANCING = "financing"  # 融资
    OTHER = "other"


class NeedState(StrEnum):
    OPEN = "open"  # waiting for the department
    ACCEPTED = "accepted"
    NEEDS_INFO = "needs_info"
    REFUSED = "refused"  # cannot be secured, with a reason


class ElementNeed(SQLModel, table=True):
    """A unit's request that a department secure land, energy, capacity or financing for a project."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    kind: str = Field(max_length=16)
    size: str = Field(max_length=200)  # as typed: 200亩, 5万吨标煤, 3亿元
    needed_by: date
    department_unit_id: int = Field(foreign_key="unit.id", index=True)
    raised_by: int = Field(foreign_key="user.id")
    raised_unit_id: int = Field(foreign_key="unit.id", index=True)
    raised_at: datetime = created_at_field()
    state: str = Field(default=NeedState.OPEN, max_length=16, index=True)
    answer: str = Field(default="", max_length=1000)
    answered_by: int | None = Field(default=None, foreign_key="user.id")
    answered_at: datetime | None = time_field()


class LeaderQuestion(SQLModel, table=True):
    """§16 点题询问: a city leader asks a unit about a project or an indicator, to answer by a day."""

    id: int | None = Field(default=None, primary_key=True)
    asked_by: int = Field(foreign_key="user.id", index=True)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="project.id")
    question: str = Field(max_length=1000)
    due_on: date = Field(index=True)
    asked_at: datetime = created_at_field()
    answer: str = Field(default="", max_length=2000)
    answered_by: int | None = Field(default=None, foreign_key="user.id")
    answered_at: datetime | None = time_field()
    late: bool = False


class SupervisionItem(SQLModel, table=True):
    """§16 联合督导: a lagging project or a slow unit the bureau supervises with the offices."""

    id: int | None = Field(default=None, primary_key=True)
    project_id: int | None = Field(default=None, foreign_key="project.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    issue: str = Field(max_length=1000)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = created_at_field()
    closed_at: datetime | None = time_field()


class SupervisionAction(SQLModel, table=True):
    """What was done about a supervised project or unit, and when."""

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="supervisionitem.id", index=True)
    action: str = Field(max_length=1000)
    on_date: date
    recorded_by: int = Field(foreign_key="user.id")
    recorded_at: datetime = created_at_field()


class UnitHeadContact(SQLModel, table=True):
    """§15: the person of a unit that overdue task-force tasks and unanswered element needs go to.

    Set by the bureau; it counts only while the person is active and still in the unit, so
    a move or a deactivation falls back to telling the whole unit, never to a stranger.
    """

    unit_id: int = Field(foreign_key="unit.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    set_by: int | None = Field(default=None, foreign_key="user.id")
    set_at: datetime = created_at_field()
