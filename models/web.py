"""The dashboard's sign-in: one-time links from /web and the short sessions they open.

Only a hash of each token is kept, so a copy of the database opens nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from models.base import created_at_field, time_field


class TicketKind(StrEnum):
    LINK = "link"  # from /web: single use, minutes
    SESSION = "session"  # the cookie a link or a Mini App signature opens


class WebTicket(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = time_field(nullable=False, index=True)
    used_at: datetime | None = time_field()
