"""The one outbound path: everything the bot says outside a reply goes through here.

Messages are first written to the ``delivery`` table (so a crash loses nothing and a
dedupe key makes a scheduled send happen once), then handed to the transport of the
running adapter by :meth:`Outbox.flush` or the background worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.core import Outgoing, from_payload, to_payload
from models import Delivery, utcnow

if TYPE_CHECKING:
    from bot.db import Database

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The transport could not deliver; subclasses say whether to retry."""


class RetryAfter(DeliveryError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class ChatUnreachable(DeliveryError):
    """Blocked by the person, or the chat is gone: retrying will not help."""


class Transport(Protocol):
    async def deliver(self, chat_id: int, item: Outgoing) -> None: ...


class Outbox:
    def __init__(self, db: Database, transport: Transport | None = None) -> None:
        self.db = db
        self.transport = transport
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def enqueue(self, chat_id: int, items: Sequence[Outgoing], *, kind: str, key: str | None = None) -> bool:
        """Queue a message; ``False`` when one with the same ``key`` was queued before."""
        row = Delivery(
            chat_id=chat_id,
            kind=kind,
            dedupe_key=key,
            payload={"items": [to_payload(item) for item in items]},
        )
        try:
            async with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            return False
        self._wake.set()
        return True

    async def pending(self) -> list[Delivery]:
        async with self.db.session() as session:
            result = await session.exec(select(Delivery).where(Delivery.status == "pending").order_by(col(Delivery.id)))
            return list(result.all())

    async def flush(self) -> int:
        """Send everything pending, in order; returns how many were delivered."""
        if self.transport is None:
            return 0
        sent = 0
        async with self._lock:
            for row in await self.pending():
                if await self._send(row):
                    sent += 1
        return sent

    async def _send(self, row: Delivery) -> bool:
        assert self.transport is not None
        items = [from_payload(p) for p in row.payload.get("items", [])]
        status, error = "sent", None
        try:
            for item in items:
                await self.transport.deliver(row.chat_id, item)
        except ChatUnreachable as exc:
            status, error = "failed", str(exc)[:500]
            log.warning("delivery %s to chat %s given up: %s", row.id, row.chat_id, exc)
        except DeliveryError as exc:
            status, error = "pending", str(exc)[:500]
        async with self.db.session() as session:
            stored = await session.get(Delivery, row.id)
            if stored is not None:
                stored.status = status
                stored.attempts += 1
                stored.last_error = error
                if status == "sent":
                    stored.sent_at = utcnow()
                session.add(stored)
        return status == "sent"

    async def run(self, idle: float = 5.0) -> None:
        """The background worker: flush whenever something is queued (or every ``idle`` s)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("delivery worker failed; retrying")
