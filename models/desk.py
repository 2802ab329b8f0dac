"""The bureau's desk: spreadsheets waiting for a confirmation before they are imported."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from models.base import created_at_field, json_field, time_field


class ImportStatus(StrEnum):
    PENDING = "pending"
    IMPORTED = "imported"
    CANCELLED = "cancelled"


class ImportBatch(SQLModel, table=True):
    """A checked spreadsheet: its rows wait here (not in a draft) until the sender confirms."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    file_name: str = Field(default="", max_length=256)
    status: str = Field(default=ImportStatus.PENDING, max_length=16)
    rows: list[dict[str, Any]] = json_field(list)
    created_at: datetime = created_at_field()
    finished_at: datetime | None = time_field()
