"""What keeps the bot running: targets, audit, conversation state, deliveries, settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, PrimaryKeyConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import created_at_field, json_field, money_field, telegram_id_field, time_field


class Target(SQLModel, table=True):
    """A number a unit (or a chain) owes per period; the policy's numbers are defaults."""

    id: int | None = Field(default=None, primary_key=True)
    metric: str = Field(max_length=48, index=True)
    unit_kind: str | None = Field(default=None, max_length=32)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    chain_scope: bool = False
    chain_id: int | None = Field(default=None, foreign_key="chain.id", index=True)
    period: str = Field(max_length=8)  # month | year
    value: int
    threshold_yuan: int | None = money_field()
    funds_ratio_pct: int | None = None
    policy: str = Field(default="", max_length=16)
    note_zh: str = Field(default="", max_length=500)
    note_en: str = Field(default="", max_length=500)
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = created_at_field()


class AuditEntry(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    entity: str = Field(max_length=32, index=True)
    entity_id: int = Field(index=True)
    action: str = Field(max_length=32)
    detail: dict[str, Any] = json_field(dict)


class ConversationState(SQLModel, table=True):
    """Where a person is in a conversation, and the draft so far — survives restarts."""

    __table_args__ = (PrimaryKeyConstraint("chat_id", "user_id"),)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    flow: str = Field(max_length=32)
    step: str = Field(max_length=48)
    draft: dict[str, Any] = json_field(dict)
    # Bumped at every step; keyboards carry it so a press on an old one is recognised.
    version: int = 0
    updated_at: datetime = created_at_field()


class ParkedDraft(SQLModel, table=True):
    """A draft set aside when a command interrupted its conversation; it can be resumed."""

    __table_args__ = (PrimaryKeyConstraint("chat_id", "user_id", "flow"),)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    user_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    flow: str = Field(max_length=32)
    step: str = Field(max_length=48)
    draft: dict[str, Any] = json_field(dict)
    parked_at: datetime = created_at_field()


class ProcessedUpdate(SQLModel, table=True):
    """Telegram redelivers updates; one row per update id makes handling happen once."""

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    bot_id: int = telegram_id_field(nullable=True)
    at: datetime = created_at_field()


class Delivery(SQLModel, table=True):
    """A message the bot sends outside a reply; the key makes a scheduled send happen once."""

    __table_args__ = (UniqueConstraint("dedupe_key"),)
    id: int | None = Field(default=None, primary_key=True)
    # Which chat service the chat id belongs to: each has its own queue, limits and pace.
    platform: str = Field(
        default="telegram", max_length=16, index=True, sa_column_kwargs={"server_default": "telegram"}
    )
    chat_id: int = telegram_id_field(index=True)
    kind: str = Field(max_length=32, index=True)
    dedupe_key: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] = json_field(dict)
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=500)
    not_before: datetime | None = time_field()
    created_at: datetime = created_at_field()
    sent_at: datetime | None = time_field()
    # When its last message left, on the wall clock every process shares (seconds since the
    # epoch): the chat's next message keeps its gap from it, whichever process sends it.
    left_at: float | None = None


class DeliveryPace(SQLModel, table=True):
    """The shared pace of one platform's sends, for every process on this database.

    Times are on the wall clock in seconds since the epoch (see ``bot.delivery.Pacer``):
    ``next_at`` is the first free send slot, ``paused_until`` the end of the latest 429's
    hold, ``seq`` how many slots were ever given, and ``recent`` the last second's worth of
    sends as ``[seq, time]`` pairs: when each was answered, or until when it may still be
    on its way.
    """

    platform: str = Field(primary_key=True, max_length=16)
    next_at: float = 0.0
    paused_until: float = 0.0
    seq: int = 0
    recent: list[list[float]] = json_field(list)


class Setting(SQLModel, table=True):
    """A value the bureau can change without a release (windows, schedule times)."""

    key: str = Field(primary_key=True, max_length=64)
    value: Any = Field(sa_column=Column(JSON, nullable=False))
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = created_at_field()
