"""Where each person is in a conversation, and the drafts they set aside: kept in the database.

The state is written on every message with a compare-and-set on its version, so a second
process that moved the same conversation meanwhile wins and a stale write is dropped. A
draft set aside by another command is parked per flow until it is resumed or replaced.
Every call joins the update's transaction when there is one (see ``Database.unit``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import delete, select

from bot.core.db import Database
from models import ConversationState, ParkedDraft, utcnow

log = logging.getLogger(__name__)

_TABLE = ConversationState.__table__  # type: ignore[attr-defined]
_INSERT = _TABLE.insert()
_UPDATE = _TABLE.update().where(
    _TABLE.c.chat_id == bindparam("k_chat"),
    _TABLE.c.user_id == bindparam("k_user"),
    _TABLE.c.version == bindparam("k_version"),
)
_DELETE = _TABLE.delete().where(_TABLE.c.chat_id == bindparam("k_chat"), _TABLE.c.user_id == bindparam("k_user"))
_LOAD = select(
    ConversationState.flow, ConversationState.step, ConversationState.draft, ConversationState.version
).where(
    ConversationState.chat_id == bindparam("chat_id"),
    ConversationState.user_id == bindparam("user_id"),
)


@dataclass
class State:
    """A person's place in a flow: which step, the draft so far, and how often it moved."""

    flow: str
    step: str
    draft: dict[str, Any]
    version: int


@dataclass(frozen=True)
class Parked:
    step: str
    draft: dict[str, Any]
    parked_at: datetime


class ConversationStore:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        # The app's clock, not the machine's: "saved at …" must agree with every other time
        # the bot shows, and a test that lets hours pass must see them pass here too.
        self.clock = clock

    async def load(self, chat_id: int, user_id: int) -> State | None:
        async with self.db.session() as session:
            # Plain columns, not a tracked row: the state is written back by ``save``.
            row = (await session.exec(_LOAD, params={"chat_id": chat_id, "user_id": user_id})).first()
            if row is None:
                return None
            flow, step, draft, version = row
            return State(flow, step, dict(draft or {}), version)

    async def save(self, chat_id: int, user_id: int, old: State | None, new: State | None) -> None:
        if new is old:
            return
        key = {"k_chat": chat_id, "k_user": user_id}
        # A failed save fails the update: no savepoint of its own. Plain statements, made once:
        # the ORM's bookkeeping bought nothing here and cost more than the write.
        async with self.db.session(savepoint=False) as session:
            connection = await session.connection()
            if new is None:
                await connection.execute(_DELETE, key)
                return
            values = {"flow": new.flow, "step": new.step, "draft": new.draft, "version": new.version}
            if old is None:
                row = {"chat_id": chat_id, "user_id": user_id, **values, "updated_at": self.clock()}
                await connection.execute(_INSERT, row)
                return
            result = await connection.execute(
                _UPDATE, {**key, "k_version": old.version, **values, "updated_at": self.clock()}
            )
            if result.rowcount == 0:
                log.warning("conversation of user %s moved elsewhere; keeping that state", user_id)

    async def park(self, chat_id: int, user_id: int, state: State) -> None:
        async with self.db.session() as session:
            row = await session.get(ParkedDraft, (chat_id, user_id, state.flow))
            if row is None:
                row = ParkedDraft(chat_id=chat_id, user_id=user_id, flow=state.flow, step=state.step)
            row.step, row.draft, row.parked_at = state.step, state.draft, self.clock()
            session.add(row)

    async def parked(self, chat_id: int, user_id: int, flow: str) -> Parked | None:
        async with self.db.session() as session:
            row = await session.get(ParkedDraft, (chat_id, user_id, flow))
            return Parked(row.step, dict(row.draft), row.parked_at) if row is not None else None

    async def unpark(self, chat_id: int, user_id: int, flow: str) -> None:
        async with self.db.session() as session:
            await session.exec(
                delete(ParkedDraft).where(
                    ParkedDraft.chat_id == chat_id,  # type: ignore[arg-type]
                    ParkedDraft.user_id == user_id,  # type: ignore[arg-type]
                    ParkedDraft.flow == flow,  # type: ignore[arg-type]
                )
            )

    async def parked_flows(self, chat_id: int, user_id: int) -> list[str]:
        async with self.db.session() as session:
            rows = await session.exec(
                select(ParkedDraft.flow).where(ParkedDraft.chat_id == chat_id, ParkedDraft.user_id == user_id)
            )
            return list(rows.all())
