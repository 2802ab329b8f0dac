"""§15 全程代办: the bureau's list of approval kinds (立项/备案, 用地预审 …), kept in the chat.

The seed file brings the first list; from then on the bureau adds, renames and retires kinds
with ``/approvals``, each change audited under the entity ``approval_kind``. A kind is never
deleted: a retired kind stays on the checklists that have it (their items keep its name)
and is left off the checklists of task forces formed afterwards (``services.taskforce.form``).
A kind is known by a stable code, never by its name, so renaming it renames it everywhere.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import ApprovalKind, Member, Role
from services import audit
from services.names import normalize_name

MAX_NAME = 64
MAX_NAME_EN = 128


class ApprovalKindError(Exception):
    """A change refused; ``code`` picks the message ``approvals.err.<code>``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _bureau(member: Member) -> None:
    if member.role is not Role.BUREAU:
        raise ApprovalKindError("bureau_only")


async def kinds(db: Database) -> list[ApprovalKind]:
    """Every kind, in checklist order, retired ones included."""
    async with db.session() as session:
        rows = await session.exec(select(ApprovalKind).order_by(col(ApprovalKind.position), col(ApprovalKind.id)))
        return list(rows.all())


async def get(db: Database, kind_id: int) -> ApprovalKind | None:
    async with db.session() as session:
        return await session.get(ApprovalKind, kind_id)


async def _same_name(session: AsyncSession, name_zh: str, but: int | None = None) -> bool:
    """Whether another kind already has this Chinese name, however it is spaced or punctuated."""
    key = normalize_name(name_zh)
    others = (await session.exec(select(ApprovalKind).where(col(ApprovalKind.id) != (but or 0)))).all()
    return any(normalize_name(k.name_zh) == key for k in others)


async def add(db: Database, *, member: Member, name_zh: str, name_en: str, now: datetime) -> ApprovalKind:
    """A new kind, last on the list; task forces formed from now on get it on their checklist."""
    _bureau(member)
    async with db.session() as session:
        if await _same_name(session, name_zh):
            raise ApprovalKindError("duplicate")
        last = (await session.exec(select(func.max(ApprovalKind.position)))).one()
        kind = ApprovalKind(
            # Codes are ASCII keys for buttons and the checklist; the bureau never sees them.
            code=f"b{secrets.token_hex(6)}",
            name_zh=name_zh,
            name_en=name_en,
            position=(last or 0) + 1,
        )
        session.add(kind)
        await session.flush()
        assert kind.id is not None
        audit.record(
            session,
            actor_id=member.id,
            entity="approval_kind",
            entity_id=kind.id,
            action="kind_added",
            at=now,
            name_zh=name_zh,
            name_en=name_en,
        )
        return kind


async def rename(
    db: Database, *, member: Member, kind_id: int, name_zh: str, name_en: str, now: datetime
) -> ApprovalKind:
    _bureau(member)
    async with db.session() as session:
        kind = await session.get(ApprovalKind, kind_id)
        if kind is None:
            raise ApprovalKindError("not_found")
        if (name_zh, name_en) == (kind.name_zh, kind.name_en):
            raise ApprovalKindError("same_name")
        if await _same_name(session, name_zh, but=kind_id):
            raise ApprovalKindError("duplicate")
        before = {"name_zh": kind.name_zh, "name_en": kind.name_en}
        kind.name_zh, kind.name_en = name_zh, name_en
        session.add(kind)
        audit.record(
            session,
            actor_id=member.id,
            entity="approval_kind",
            entity_id=kind_id,
            action="kind_renamed",
            at=now,
            before=before["name_zh"],
            after=name_zh,
            name_en=name_en,
        )
        return kind


async def set_active(db: Database, *, member: Member, kind_id: int, active: bool, now: datetime) -> ApprovalKind:
    """Retire a kind (off new checklists, kept on existing ones) or bring it back."""
    _bureau(member)
    async with db.session() as session:
        kind = await session.get(ApprovalKind, kind_id)
        if kind is None:
            raise ApprovalKindError("not_found")
        if kind.active == active:
            raise ApprovalKindError("already_active" if active else "already_retired")
        kind.active = active
        session.add(kind)
        audit.record(
            session,
            actor_id=member.id,
            entity="approval_kind",
            entity_id=kind_id,
            action="kind_restored" if active else "kind_retired",
            at=now,
            name=kind.name_zh,
        )
        return kind
