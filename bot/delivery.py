"""The one way out: every reply, edit and notification is a row here before it is sent.

A row is written in the same transaction as whatever caused it (an update's records, a
scheduled job's decision), so a crash loses nothing and a dedupe key makes a scheduled send
happen once. The delivery worker is woken the moment that transaction commits; a person who
just wrote is served at once by the update's own task (:meth:`Outbox.serve`), ahead of any
broadcast.

Under Telegram's limits (:class:`Limits`) at most ``per_second`` messages leave in any
second, one a second to a chat (a reply to someone who just wrote may come in a burst), in
order per chat. A 429's ``retry_after`` holds every sender of the process: the pause is
checked in the same step that takes a slot, so nobody who waited for a slot slips through.
Transient failures (5xx, timeouts, lost connections) are retried with back-off for as long
as they last; only a permanent answer (blocked, chat not found, bad request) stops a
message, and it is recorded. Rows are claimed with a compare-and-set, only the oldest
unfinished row of a chat can be claimed, and a worker with nothing sendable sleeps until
the next row falls due or a commit wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, bindparam, case, func, null, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from bot.core import Outgoing, from_payload, to_payload
from models import Delivery, User, utcnow

if TYPE_CHECKING:
    from bot.core.db import Database, Unit

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
    # Counted from our side of the wire; the margin absorbs the network's jitter so that the
    # server, too, never sees more than ``per_second`` within one second.
    window: float = 1.02


class Pacer:
    """When a message may leave: a sliding one-second window, a gap per chat, a 429's pause.

    ``slot`` decides and counts in one step (no ``await`` between), so a pause that starts
    while a sender waits holds that sender too.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._capacity = max(1, int(limits.per_second))
        self._recent: deque[float] = deque(maxlen=self._capacity)
        self._next: dict[int, float] = {}
        self._paused_until = 0.0
        self._urgent = 0

    def _ready_at(self, chat_id: int, now: float, *, spaced: bool, urgent: bool) -> float:
        ready = self._paused_until
        if spaced:
            ready = max(ready, self._next.get(chat_id, 0.0))
        if len(self._recent) >= self._capacity:
            ready = max(ready, self._recent[0] + self.limits.window)
        if self._urgent and not urgent:
            # Someone who just wrote is waiting for a slot: they go first.
            ready = max(ready, now + 0.002)
        return ready

    async def slot(self, chat_id: int, *, spaced: bool = True, urgent: bool = False) -> None:
        """Wait until a message to ``chat_id`` may go out, and count it as sent."""
        if urgent:
            self._urgent += 1
        try:
            while True:
                now = time.monotonic()
                ready = self._ready_at(chat_id, now, spaced=spaced, urgent=urgent)
                if ready <= now:
                    break
                await asyncio.sleep(ready - now)
        finally:
            if urgent:
                self._urgent -= 1
        self._recent.append(now)
        self.sent(chat_id)

    def sent(self, chat_id: int) -> None:
        now = time.monotonic()
        self._next[chat_id] = now + self.limits.chat_interval
        if len(self._next) > 10_000:
            self._next = {chat: at for chat, at in self._next.items() if at > now}

    def pause(self, seconds: float) -> None:
        """A 429 is about the bot as a whole: hold every sender for ``seconds``."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())


SENT, PENDING, SENDING, FAILED, UNREACHABLE = "sent", "pending", "sending", "failed", "unreachable"
REPLY = "reply"  # the kind of a row holding an update's answer
LEASE = timedelta(minutes=5)
# An update's answer is claimed as it is queued, by the process that will send it right after
# the commit; if that process dies first, the claim lapses this soon and the worker sends it.
ANSWER_LEASE = timedelta(seconds=15)
# A sent answer is marked sent by the next update's transaction (or after this long by itself),
# so an update costs one commit; a crash in between sends it again once its claim lapses.
ACK_DELAY = 0.5
MAX_BACKOFF = 60.0  # an outage's end is noticed within this many seconds
MAX_CHATS = 100  # chats drained at once; the pacer, not this, sets the pace
IDLE = 60.0  # a worker with nothing due looks again after this long anyway


_TABLE = Delivery.__table__  # type: ignore[attr-defined]
_INSERT = _TABLE.insert().returning(_TABLE.c.id)


def _claiming_insert() -> Any:
    """Queue an answer in one statement: claimed by this process unless something of the chat
    is still to be sent before it (then it waits its turn like any row)."""
    earlier = _TABLE.alias("earlier")
    behind = (
        select(earlier.c.id)
        .where(earlier.c.chat_id == bindparam("chat_id"), earlier.c.status.in_([PENDING, SENDING]))
        .exists()
    )
    columns = ("chat_id", "kind", "dedupe_key", "payload", "last_error", "created_at", "sent_at")
    values = [bindparam(name, type_=_TABLE.c[name].type) for name in columns]
    lease = bindparam("lease_until", type_=_TABLE.c.not_before.type)
    chosen_columns: list[Any] = [
        *values,
        case((behind, PENDING), else_=SENDING),
        case((behind, 0), else_=1),
        case((behind, null()), else_=lease),
    ]
    chosen = select(*chosen_columns)
    return (
        _TABLE.insert()
        .from_select([*columns, "status", "attempts", "not_before"], chosen)
        .returning(_TABLE.c.id, _TABLE.c.status)
    )


_CLAIMING_INSERT = _claiming_insert()


class Outbox:
    def __init__(
        self,
        db: Database,
        transport: Transport | None = None,
        *,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.transport = transport
        self.pacer = Pacer(limits) if limits is not None else None
        self.clock = clock
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._draining: dict[int, asyncio.Task[int]] = {}
        # Answers claimed in a committed update, waiting for that update's ``serve``.
        self._claimed: dict[int, list[Delivery]] = {}
        # Answers sent and not yet marked so (row id → when), and the timer that marks them.
        self._acks: dict[int, datetime] = {}
        self._riding: dict[int, datetime] = {}  # being marked by a unit not yet committed
        self._landed = asyncio.Event()  # set while nothing is being marked
        self._landed.set()
        self._answers: set[int] = set()
        self._ack_timer: asyncio.TimerHandle | None = None
        self._acks_since = 0.0  # loop time of the oldest unmarked answer
        self._others_at = -1e9  # loop time of the last row queued that is not a claimed answer
        self._behind: set[int] = set()  # chats whose answer was queued behind another row
        self._ack_task: asyncio.Task[None] | None = None
        db.ride(self._ride)
        self._stopping = False

    def use(self, transport: Transport, limits: Limits | None = None) -> None:
        """Send through ``transport`` from now on (the running adapter's), paced by ``limits``."""
        self.transport = transport
        self.pacer = Pacer(limits) if limits is not None else None

    def wake(self) -> None:
        self._wake.set()

    async def enqueue(
        self,
        chat_id: int,
        items: Sequence[Outgoing],
        *,
        kind: str,
        key: str | None = None,
        answer: bool = False,
    ) -> bool:
        """Queue a message; ``False`` when one with the same ``key`` was queued before.

        Inside an update (or any unit of work) the row is part of its transaction and the
        worker is woken when that commits; outside one it is committed at once.

        ``answer``: the answer to the update being handled, which :meth:`serve` sends right
        after the commit. When nothing else waits for the chat, the row is queued already
        claimed by this process, so sending it takes no claim and no lookup of its own.
        """
        now = self.clock()
        row = Delivery(
            chat_id=chat_id,
            kind=kind,
            dedupe_key=key,
            payload={"items": [to_payload(item) for item in items]},
            created_at=now,
        )
        unit = self.db.current_unit()
        claimed = False
        if answer and unit is not None and key is None:
            # The hot path of every update: plain statements, made once (_CLAIMING_INSERT).
            connection = await unit.session.connection()
            values = row.model_dump()
            values.pop("id", None)
            if self.transport is None:
                row.id = (await connection.execute(_INSERT, values)).scalar_one()
            else:
                # Answers already sent are marked so first, or they would read as still to be sent.
                await self._ride(unit)
                values["lease_until"] = now + ANSWER_LEASE
                row.id, row.status = (await connection.execute(_CLAIMING_INSERT, values)).one()
                if row.status == SENDING:
                    row.attempts, row.not_before = 1, values["lease_until"]
                    claimed = True
                else:
                    self._behind.add(chat_id)
        else:
            try:
                # Only a dedupe key's clash is caught here; any other failure fails the unit.
                async with self.db.session(savepoint=key is not None) as session:
                    session.add(row)
            except IntegrityError:
                return False
        if claimed and unit is not None:
            unit.after_commit(lambda: self._hand_over(row))
        else:
            self._others_at = asyncio.get_running_loop().time()
            self.db.after_commit(self._wake.set)
        return True

    def _hand_over(self, row: Delivery) -> None:
        assert row.id is not None
        self._answers.add(row.id)
        self._claimed.setdefault(row.chat_id, []).append(row)

    def _acknowledge(self, row: Delivery) -> None:
        """Mark an answer sent with the next unit of work, or on its own after ``ACK_DELAY``."""
        assert row.id is not None
        self._answers.discard(row.id)
        if not self._acks:
            self._acks_since = asyncio.get_running_loop().time()
        self._acks[row.id] = self.clock()
        row.status, row.last_error = SENT, None
        if self._ack_timer is None and self._ack_task is None:
            loop = asyncio.get_running_loop()
            self._ack_timer = loop.call_later(ACK_DELAY, self._ack_alone)

    def _ack_alone(self) -> None:
        self._ack_timer = None
        if not self._acks:
            return
        loop = asyncio.get_running_loop()
        waited = loop.time() - self._acks_since
        if waited < ACK_DELAY:
            # Those marked meanwhile rode on a unit; the ones waiting now are younger.
            self._ack_timer = loop.call_later(ACK_DELAY - waited, self._ack_alone)
            return
        if self._ack_task is None:
            self._ack_task = asyncio.create_task(self._write_acks_alone(), name="outbox:acks")

    async def _write_acks_alone(self) -> None:
        try:
            async with self.db.unit():
                pass  # the rider writes them
        except Exception:
            log.exception("marking sent answers failed; will retry")
        finally:
            self._ack_task = None
            if self._acks and not self._stopping:
                self._ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._ack_alone)

    async def _ride(self, unit: Unit) -> None:
        """In a unit's transaction: mark the answers sent since the last one."""
        if not self._acks:
            return
        acks, self._acks = self._acks, {}
        self._riding.update(acks)
        self._landed.clear()
        connection = await unit.session.connection()
        await connection.execute(
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("row_id"))
            .values(status=SENT, last_error=None, not_before=None, sent_at=bindparam("at")),
            [{"row_id": row_id, "at": at} for row_id, at in acks.items()],
        )

        def marked() -> None:
            for row_id in acks:
                self._riding.pop(row_id, None)
            if not self._riding:
                self._landed.set()
            if asyncio.get_running_loop().time() - self._others_at < ANSWER_LEASE.total_seconds():
                # A row queued lately may have waited behind an answer that was still unmarked.
                self._wake.set()

        def put_back() -> None:
            marked()
            if not self._acks:
                self._acks_since = asyncio.get_running_loop().time()
            self._acks = {**acks, **self._acks}

        unit.after_commit(marked)
        unit.after_rollback(put_back)

    def _due_clause(self, now: datetime) -> object:
        return or_(
            and_(
                col(Delivery.status) == PENDING,
                or_(col(Delivery.not_before).is_(None), col(Delivery.not_before) <= now),
            ),
            # A worker that died mid-send left its claim; it lapses with the lease.
            and_(col(Delivery.status) == SENDING, col(Delivery.not_before) <= now),
        )

    @staticmethod
    def _head_clause() -> object:
        """The oldest unfinished row of its chat: only it may be sent, so order holds."""
        earlier = aliased(Delivery)
        return ~(
            select(earlier.id)
            .where(
                earlier.chat_id == Delivery.chat_id,
                col(earlier.id) < col(Delivery.id),
                col(earlier.status).in_([PENDING, SENDING]),
            )
            .exists()
        )

    async def pending(self) -> list[Delivery]:
        async with self.db.session() as session:
            result = await session.exec(select(Delivery).where(Delivery.status == PENDING).order_by(col(Delivery.id)))
            return list(result.all())

    async def _head(self, chat_id: int) -> Delivery | None:
        """The chat's oldest unfinished row (only it may be sent), if it is due now."""
        query = (
            select(Delivery)
            .where(Delivery.chat_id == chat_id, col(Delivery.status).in_([PENDING, SENDING]))
            .order_by(col(Delivery.id))
            .limit(1)
        )
        async with self.db.session() as session:
            row = (await session.exec(query)).first()
        if row is None or row.not_before is None:
            return row if row is not None and row.status == PENDING else None
        not_before = row.not_before if row.not_before.tzinfo else row.not_before.replace(tzinfo=UTC)
        return row if not_before <= self.clock() else None

    async def flush(self) -> int:
        """Send everything due now, in order per chat; returns how many rows were delivered."""
        if self.transport is None:
            return 0
        async with self._lock:
            sent = 0
            while True:
                tasks = await self._pump()
                if not tasks:
                    return sent
                results = await asyncio.gather(*tasks, return_exceptions=True)
                done = sum(r for r in results if isinstance(r, int))
                sent += done
                if not done:
                    return sent

    async def serve(self, chat_id: int) -> int:
        """Send what is due for one chat now, ahead of broadcasts: the answer to an update."""
        if self.transport is None:
            return 0
        claimed = self._claimed.pop(chat_id, None)
        if claimed:
            # Claimed with the update and the chat's oldest: nothing to look up, nobody to wait for.
            sent = 0
            for row in claimed:
                if await self._send(row, urgent=True) != SENT:
                    break  # the rest keep their claim until it lapses; the worker takes them then
                sent += 1
            return sent
        if not self._landed.is_set():
            # The answer may have been queued behind one of ours whose sent mark another
            # transaction is writing just now: let it land, or the answer would wait its turn.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._landed.wait(), timeout=5.0)
        behind = chat_id in self._behind
        self._behind.discard(chat_id)
        sent = await self._serve_waiting(chat_id)
        if behind and not sent:
            # Behind another process's answer, sent but maybe not yet marked so (it marks its
            # answers within ACK_DELAY): look again for that long rather than wait for the lease.
            loop = asyncio.get_running_loop()
            until = loop.time() + ACK_DELAY + 1.5
            while not sent and loop.time() < until and not self._stopping:
                await asyncio.sleep(0.1)
                sent = await self._serve_waiting(chat_id)
        return sent

    async def _serve_waiting(self, chat_id: int) -> int:
        sent = 0
        while (task := self._draining.get(chat_id)) is not None:
            # Another sender holds the chat (the worker, woken by the same commit): let it
            # finish, then look again, so this update's rows are out when we return.
            with contextlib.suppress(Exception):
                sent += await asyncio.shield(task)
        task = asyncio.create_task(self._drain(chat_id, urgent=True), name=f"outbox:{chat_id}")
        self._draining[chat_id] = task
        return sent + await asyncio.shield(task)

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
        """Chats whose next row is due, those waiting longest first."""
        query = (
            select(Delivery.chat_id)
            .where(self._due_clause(self.clock()), self._head_clause())  # type: ignore[arg-type]
            .order_by(col(Delivery.id))
            .limit(MAX_CHATS + len(self._draining))
        )
        async with self.db.session() as session:
            return list((await session.exec(query)).all())

    async def _next_due(self) -> float | None:
        """Seconds until the earliest waiting row falls due (``None``: nothing waits)."""
        now = self.clock()
        query = select(func.min(Delivery.not_before)).where(
            col(Delivery.status).in_([PENDING, SENDING]), col(Delivery.not_before) > now
        )
        async with self.db.session() as session:
            at = (await session.exec(query)).first()
        if at is None:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=now.tzinfo)
        return max(0.0, (at - now).total_seconds())

    async def _drain(self, chat_id: int, *, urgent: bool = False) -> int:
        """Send one chat's rows in order; stop at the first that must wait."""
        sent = 0
        try:
            # Someone who just wrote is reachable (their message cleared the mark).
            if not urgent and await self._known_unreachable(chat_id):
                # Until the person writes again (which clears the mark), asking is pointless.
                await self._give_up_chat(chat_id)
                return sent
            while not self._stopping:
                row = await self._head(chat_id)
                if row is None or not await self._claim(row):
                    break  # nothing due, or another worker holds this chat for now
                outcome = await self._send(row, urgent=urgent)
                if outcome == SENT:
                    sent += 1
                elif outcome == PENDING:
                    break  # waiting on a retry: later rows must not overtake it
                elif outcome == UNREACHABLE:
                    await self._give_up_chat(chat_id)
                    break
        except Exception:
            log.exception("sending to chat %s failed; will retry", chat_id)
        finally:
            if self._draining.get(chat_id) is asyncio.current_task():
                del self._draining[chat_id]
            self._wake.set()
        return sent

    async def _claim(self, row: Delivery) -> bool:
        """Take the row for this worker: pending → sending, only if nobody else did."""
        now = self.clock()
        async with self.db.writing(), self.db.session() as session:
            result = await session.exec(
                update(Delivery)
                .where(col(Delivery.id) == row.id, self._due_clause(now), self._head_clause())  # type: ignore[arg-type]
                .values(status=SENDING, not_before=now + LEASE, attempts=col(Delivery.attempts) + 1)
            )
            claimed = bool(result.rowcount == 1)
        if claimed:
            row.status, row.attempts = SENDING, row.attempts + 1
        return claimed

    async def _send(self, row: Delivery, *, urgent: bool = False) -> str:
        """Deliver a claimed row; returns its outcome (SENT, PENDING, FAILED or UNREACHABLE)."""
        assert self.transport is not None
        items = [from_payload(p) for p in row.payload.get("items", [])]
        done = int(row.payload.get("done", 0))
        status, error, not_before = SENT, None, None
        unreachable = False
        # The answer to an update may come as a burst; anything else keeps a chat's gap.
        spaced = row.kind != REPLY
        try:
            while done < len(items):
                try:
                    if self.pacer is not None:
                        await self.pacer.slot(row.chat_id, spaced=spaced, urgent=urgent)
                    await self.transport.deliver(row.chat_id, items[done])
                    done += 1
                    if self.pacer is not None:
                        # Counted from the answer, so the server never sees two closer than the interval.
                        self.pacer.sent(row.chat_id)
                except RetryAfter as exc:
                    if self.pacer is None or urgent or exc.seconds > self.pacer.limits.max_wait:
                        raise
                    log.info("chat %s: 429, holding every sender %ss", row.chat_id, exc.seconds)
                    self.pacer.pause(exc.seconds)
        except ChatUnreachable as exc:
            status, error = FAILED, str(exc)[:500]
            unreachable = True
            log.warning("delivery %s to chat %s given up: %s", row.id, row.chat_id, exc)
        except Rejected as exc:
            status, error = FAILED, str(exc)[:500]
            log.error("delivery %s to chat %s refused: %s", row.id, row.chat_id, exc)
        except Exception as exc:
            # Network trouble, a 5xx, a 429 to wait out, or a bug in a transport: try again
            # later, for as long as it takes, with a growing pause.
            if not isinstance(exc, DeliveryError):
                log.exception("delivery %s to chat %s: transport error", row.id, row.chat_id)
            else:
                log.warning("delivery %s to chat %s: %s (attempt %s)", row.id, row.chat_id, exc, row.attempts)
            error = str(exc)[:500]
            if isinstance(exc, RetryAfter):
                seconds = exc.seconds
                if self.pacer is not None:
                    self.pacer.pause(seconds)
            else:
                seconds = min(2.0 ** max(row.attempts - 1, 0), MAX_BACKOFF)
            status, not_before = PENDING, self.clock() + timedelta(seconds=seconds)
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
        if status == SENT and row.id in self._answers:
            self._acknowledge(row)
            return
        self._answers.discard(row.id or 0)
        values: dict[str, object] = {"status": status, "last_error": error, "not_before": not_before}
        if status == SENT:
            values["sent_at"] = self.clock()
        if 0 < done < total:
            # Items already delivered are not sent again when the row is retried.
            values["payload"] = {**row.payload, "done": done}
        async with self.db.writing(), self.db.session() as session:
            await session.exec(update(Delivery).where(col(Delivery.id) == row.id).values(**values))
            if unreachable:
                await session.exec(
                    update(User)
                    .where(col(User.telegram_id) == row.chat_id, col(User.unreachable_at).is_(None))
                    .values(unreachable_at=self.clock())
                )
        row.status, row.last_error = status, error
        if status == PENDING:
            self._wake.set()  # the worker's sleep must end when this row falls due

    async def _known_unreachable(self, chat_id: int) -> bool:
        async with self.db.session() as session:
            result = await session.exec(
                select(User.id).where(User.telegram_id == chat_id, col(User.unreachable_at).is_not(None))
            )
            return result.first() is not None

    async def _give_up_chat(self, chat_id: int) -> None:
        """The chat is gone: what else is queued for it fails now instead of hitting the server."""
        async with self.db.writing(), self.db.session() as session:
            await session.exec(
                update(Delivery)
                .where(col(Delivery.chat_id) == chat_id, col(Delivery.status) == PENDING)
                .values(status=FAILED, last_error="chat unreachable")
            )

    async def run(self) -> None:
        """The background worker: send what is due, then sleep until more is or a commit wakes it."""
        while not self._stopping:
            self._wake.clear()
            delay: float | None = IDLE
            try:
                if self.transport is not None:
                    await self._pump()
                    delay = await self._next_due()
            except Exception:
                log.exception("delivery worker failed; retrying")
            if self._stopping:
                break
            timeout = IDLE if delay is None else min(max(delay, 0.01), IDLE)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking rows; let senders finish what they hold for up to ``grace`` seconds."""
        self._stopping = True
        self._wake.set()
        tasks = list(self._draining.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._ack_task is not None:
            await asyncio.gather(self._ack_task, return_exceptions=True)
        if self._acks:
            try:
                async with self.db.unit():
                    pass  # the rider marks what was sent
            except Exception:
                log.exception("marking sent answers at shutdown failed; they will be sent again")
