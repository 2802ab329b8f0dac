"""What makes a signed project land (policy §15–§19): funds in place as dated entries, the
reviews before signing, task forces and their tasks, the approvals checklist, element needs."""

from __future__ import annotations

from datetime import date, datetime

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
