"""People and departments of chat platforms other than Telegram, mapped onto the core's ids.

The core knows a person by one integer (``User.telegram_id``, the chat id of a one-to-one
chat). A DingTalk staff id is a string, so each one gets a stable integer of its own here,
far above any Telegram id, and everything downstream (members, invites, the delivery queue)
stays as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, json_field, telegram_id_field

#: Internal chat ids of platform accounts start here: Telegram's ids stay below 2**40.
PLATFORM_CHAT_BASE = 8_000_000_000_000_000


class PlatformAccount(SQLModel, table=True):
    __tablename__ = "platform_accounts"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    chat_id: int = telegram_id_field(unique=True, index=True)
    created_at: datetime = created_at_field()


class PlatformDepartment(SQLModel, table=True):
    """A platform's department (DingTalk's dept id) bound by the bureau to one of our units."""

    __tablename__ = "platform_departments"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    unit_id: int = Field(foreign_key="unit.id", index=True)
    bound_by: int | None = telegram_id_field(nullable=True)
    created_at: datetime = created_at_field()


class PlatformCard(SQLModel, table=True):
    """What a card sent on a platform shows now, so a press on it after a restart still edits it.

    DingTalk's card callback names the card and the button's data, not the card's text or the
    button's label; the bot keeps both here. The id is the platform message id the bot chose
    (milliseconds, then a counter), so old cards are pruned by id alone.
    """

    __tablename__ = "platform_cards"
    message_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    platform: str = Field(max_length=16)
    chat_id: int = telegram_id_field()
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    labels: dict[str, Any] = json_field(dict)
