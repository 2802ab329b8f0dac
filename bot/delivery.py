"""The one outbound path: everything the bot says outside a reply goes through here.

Messages are first written to the ``delivery`` table (so a crash loses nothing and a
dedupe key makes a scheduled send happen once), then handed to the transport of the
running adapter by :meth:`Outbox.flush` or the background worker.

Under Telegram's limits (:class:`Limits`) the worker sends at most ~30 messages a second
overall and one a second per chat, in order per chat, waits out a 429's ``retry_after``,
and gives up on a chat that blocked the bot or no longer exists. A row is claimed with a
compare-and-set before it is sent, so two workers sharing the database never send it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy import and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from bot.core import Outgoing, from_payload, to_payload
from models import Delivery, User, utcnow

if TYPE_CHECKING:
    from bot.core.db import Database

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The transport could not deliver; subclasses say whether to retry."""


class RetryAfter(DeliveryError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds


class ChatUnreachable(DeliveryError):
    """Blocked by the person, or the chat is gone: retrying will not help."""


class Rejected(DeliveryError):
    """The server refused this message itself (too long, bad markup): retrying will not help."""


def classify_error(status: int | None, description: str, retry_after: float | None = None) -> DeliveryError:
    """One reading of a Bot API error for every adapter, so both frameworks give up alike."""
    text = description.lower()
    if retry_after is not None or status == 429:
        return RetryAfter(retry_after if retry_after is not None else 1.0)
    if status == 403 or "chat not found" in text or "user is deactivated" in text or "bot was blocked" in text:
        return ChatUnreachable(description)
    if status == 400:
        return Rejected(description)
    return DeliveryError(description)


class Transport(Protocol):
    async def deliver(self, chat_id: int, item: Outgoing) -> None: ...


@dataclass(frozen=True)
class Limits:
    """Telegram's advice: ~30 messages a second overall, one a second to any one chat."""

    per_second: float = 30.0
    chat_interval: float = 1.0
    # A 429 asking for longer than this puts the row back in the queue instead of waiting.
    max_wait: float = 60.0


class Pacer:
    """Spaces messages: overall through a leaky bucket, per chat by the last send time."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # A bucket of one: evenly spaced sends, never a burst on top of the rate.
        self._bucket = AsyncLimiter(1, 1.0 / limits.per_second)
        self._next: dict[int, float] = {}
        self._paused_until = 0.0

    async def slot(self, chat_id: int, *, spaced: bool = True) -> None:
        """Wait until a message to ``chat_id`` may go out, and count it as sent."""
        while True:
            wait = self._paused_until - time.monotonic()
            if spaced:
                wait = max(wait, self._next.get(chat_id, 0.0) - time.monotonic())
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        await self._bucket.acquire()
        self.sent(chat_id)

    def sent(self, chat_id: int) -> None:
        self._next[chat_id] = time.monotonic() + self.limits.chat_interval

    def pause(self, seconds: float) -> None:
        """A 429 is about the bot as a whole: hold every sender for ``seconds``."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


SENT, PENDING, SENDING, FAILED, UNREACHABLE = "sent", "pending", "sending", "failed", "unreachable"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
MAX_CHATS = 100  # chats drained at once; the pacer, not this, sets the pace


class Outbox:
    def __init__(self, db: Database, transport: Transport | None = None, *, limits: Limits | None = None) -> None:
        self.db = db
        self.transport = transport
        self.pacer = Pacer(limits) if limits is not None else None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._draining: dict[int, asyncio.Task[int]] = {}
        self._stopping = False

    def use(self, transport: Transport, limits: Limits | None = None) -> None:
        """Send through ``transport`` from now on (the running adapter's), paced by ``limits``."""
        self.transport = transport
        self.pacer = Pacer(limits) if limits is not None else None

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

    def _due_clause(self) -> object:
        now = utcnow()
        return or_(
            and_(
                col(Delivery.status) == "pending",
                or_(col(Delivery.not_before).is_(None), col(Delivery.not_before) <= now),
            ),
            # A worker that died mid-send left its claim; it lapses with the lease.
            and_(col(Delivery.status) == "sending", col(Delivery.not_before) <= now),
        )

    async def pending(self) -> list[Delivery]:
        async with self.db.session() as session:
            result = await session.exec(select(Delivery).where(Delivery.status == "pending").order_by(col(Delivery.id)))
            return list(result.all())

    async def _due(self, chat_id: int | None = None, limit: int = 500) -> list[Delivery]:
        query = select(Delivery).where(self._due_clause())  # type: ignore[arg-type]
        if chat_id is not None:
            query = query.where(Delivery.chat_id == chat_id)
        async with self.db.session() as session:
            result = await session.exec(query.order_by(col(Delivery.id)).limit(limit))
            return list(result.all())

    async def flush(self) -> int:
        """Send everything due, in order per chat; returns how many were delivered."""
        if self.transport is None:
            return 0
        async with self._lock:
            if self.pacer is None:
                sent = 0
                for row in await self._due():
                    if await self._claim(row) and await self._send(row) == SENT:
                        sent += 1
                return sent
            sent = 0
            while True:
                tasks = await self._pump()
                if not tasks:
                    return sent
                results = await asyncio.gather(*tasks, return_exceptions=True)
                sent += sum(r for r in results if isinstance(r, int))
                if not any(isinstance(r, int) and r for r in results):
                    return sent

    async def _pump(self) -> list[asyncio.Task[int]]:
        """Start a sender for every chat with something due that has none running."""
        for chat_id in await self._due_chats():
            if self._stopping or len(self._draining) >= MAX_CHATS:
                break
            if chat_id not in self._draining:
                task = asyncio.create_task(self._drain(chat_id), name=f"outbox:{chat_id}")
                self._draining[chat_id] = task
        return list(self._draining.values())

    async def _due_chats(self) -> list[int]:
        """Chats with something due, those waiting longest first."""
        query = (
            select(Delivery.chat_id)
            .where(self._due_clause())  # type: ignore[arg-type]
            .group_by(col(Delivery.chat_id))
            .order_by(func.min(Delivery.id))
            .limit(MAX_CHATS + len(self._draining))
        )
        async with self.db.session() as session:
            return list((await session.exec(query)).all())

    async def _drain(self, chat_id: int) -> int:
        """Send one chat's due rows in order; stop at the first that must wait."""
        sent = 0
        try:
            if await self._known_unreachable(chat_id):
                # Until the person writes again (which clears the mark), asking is pointless.
                await self._give_up_chat(chat_id)
                return sent
            while not self._stopping:
                rows = await self._due(chat_id, limit=50)
                if not rows:
                    break
                for row in rows:
                    if self._stopping:
                        return sent
                    if not await self._claim(row):
                        return sent  # another worker holds this chat for now
                    outcome = await self._send(row)
                    if outcome == SENT:
                        sent += 1
                    elif outcome == PENDING:
                        return sent  # waiting on a retry: later rows must not overtake it
                    elif outcome == UNREACHABLE:
                        await self._give_up_chat(chat_id)
                        return sent
        except Exception:
            log.exception("sending to chat %s failed; will retry", chat_id)
        finally:
            self._draining.pop(chat_id, None)
            self._wake.set()
        return sent

    async def _claim(self, row: Delivery) -> bool:
        """Take the row for this worker: pending → sending, only if nobody else did.

        Only a chat's oldest unfinished row can be taken, so workers sharing the database
        keep each chat's messages in order too.
        """
        now = utcnow()
        earlier = aliased(Delivery)
        unfinished_before = (
            select(earlier.id)
            .where(
                earlier.chat_id == row.chat_id,
                col(earlier.id) < row.id,
                col(earlier.status).in_([PENDING, SENDING]),
            )
            .exists()
        )
        async with self.db.session() as session:
            result = await session.exec(
                update(Delivery)
                .where(col(Delivery.id) == row.id, self._due_clause(), ~unfinished_before)  # type: ignore[arg-type]
                .values(status=SENDING, not_before=now + LEASE, attempts=col(Delivery.attempts) + 1)
            )
            claimed = bool(result.rowcount == 1)
        if claimed:
            row.status, row.attempts = SENDING, row.attempts + 1
        return claimed

    async def _send(self, row: Delivery) -> str:
        """Deliver a claimed row; returns its outcome (SENT, PENDING, FAILED or UNREACHABLE)."""
        assert self.transport is not None
        items = [from_payload(p) for p in row.payload.get("items", [])]
        done = int(row.payload.get("done", 0))
        status, error, not_before = SENT, None, None
        unreachable = False
        try:
            while done < len(items):
                try:
                    if self.pacer is not None:
                        await self.pacer.slot(row.chat_id)
                    await self.transport.deliver(row.chat_id, items[done])
                    done += 1
                    if self.pacer is not None:
                        # Counted from the answer, so the server never sees two closer than the interval.
                        self.pacer.sent(row.chat_id)
                except RetryAfter as exc:
                    if self.pacer is None or exc.seconds > self.pacer.limits.max_wait:
                        raise
                    log.info("chat %s: 429, waiting %ss", row.chat_id, exc.seconds)
                    self.pacer.pause(exc.seconds)
        except ChatUnreachable as exc:
            status, error = FAILED, str(exc)[:500]
            unreachable = True
            log.warning("delivery %s to chat %s given up: %s", row.id, row.chat_id, exc)
        except Rejected as exc:
            status, error = FAILED, str(exc)[:500]
            log.error("delivery %s to chat %s refused: %s", row.id, row.chat_id, exc)
        except Exception as exc:
            # Network trouble, or a bug in a transport: retry later with a growing pause.
            if not isinstance(exc, DeliveryError):
                log.exception("delivery %s to chat %s: transport error", row.id, row.chat_id)
            error = str(exc)[:500]
            seconds = exc.seconds if isinstance(exc, RetryAfter) else min(2.0**row.attempts, 300.0)
            if row.attempts >= MAX_ATTEMPTS:
                status = FAILED
                log.error("delivery %s to chat %s failed %s times: %s", row.id, row.chat_id, row.attempts, exc)
            else:
                status, not_before = PENDING, utcnow() + timedelta(seconds=seconds)
        except asyncio.CancelledError:
            await self._finish(row, PENDING, "interrupted", None, done, len(items))
            raise
        await self._finish(row, status, error, not_before, done, len(items), unreachable=unreachable)
        return UNREACHABLE if unreachable else status

    async def _finish(
        self,
        row: Delivery,
        status: str,
        error: str | None,
        not_before: datetime | None,
        done: int,
        total: int,
        *,
        unreachable: bool = False,
    ) -> None:
        values: dict[str, object] = {"status": status, "last_error": error, "not_before": not_before}
        if status == SENT:
            values["sent_at"] = utcnow()
        if 0 < done < total:
            # Items already delivered are not sent again when the row is retried.
            values["payload"] = {**row.payload, "done": done}
        async with self.db.session() as session:
            await session.exec(update(Delivery).where(col(Delivery.id) == row.id).values(**values))
            if unreachable:
                await session.exec(
                    update(User)
                    .where(col(User.telegram_id) == row.chat_id, col(User.unreachable_at).is_(None))
                    .values(unreachable_at=utcnow())
                )
        row.status, row.last_error = status, error

    async def _known_unreachable(self, chat_id: int) -> bool:
        async with self.db.session() as session:
            result = await session.exec(
                select(User.id).where(User.telegram_id == chat_id, col(User.unreachable_at).is_not(None))
            )
            return result.first() is not None

    async def _give_up_chat(self, chat_id: int) -> None:
        """The chat is gone: what else is queued for it fails now instead of hitting the server."""
        async with self.db.session() as session:
            await session.exec(
                update(Delivery)
                .where(col(Delivery.chat_id) == chat_id, col(Delivery.status) == PENDING)
                .values(status=FAILED, last_error="chat unreachable")
            )

    async def run(self, idle: float = 5.0) -> None:
        """The background worker: send whenever something is queued (or every ``idle`` s)."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle)
            self._wake.clear()
            if self._stopping:
                break
            try:
                if self.transport is None:
                    continue
                if self.pacer is None:
                    await self.flush()
                else:
                    await self._pump()
            except Exception:
                log.exception("delivery worker failed; retrying")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking rows; let senders finish what they hold for up to ``grace`` seconds."""
        self._stopping = True
        self._wake.set()
        tasks = list(self._draining.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
