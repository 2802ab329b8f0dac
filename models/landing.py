"""What makes a signed project land (policy §15–§19): funds in place as dated entries, the
reviews before signing, task forces and their tasks, the approvals checklist, element needs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from models.base import created_at_field, money_field


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
