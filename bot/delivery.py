"""The one way out: every reply, edit and notification is a row here before it is sent.

A row is written in the same transaction as whatever caused it (an update's records, a
scheduled job's decision), so a crash loses nothing and a dedupe key makes a scheduled send
happen once. The delivery worker is woken the moment that transaction commits; a person who
just wrote is served at once by the update's own task (:meth:`Outbox.serve`), ahead of any
broadcast.

The queue is keyed by platform (``Outbox(..., platform=...)`` serves its platform's rows
alone) and each platform has its :class:`Limits` (``TELEGRAM``, ``DINGTALK``). Under them at
most ``per_second`` messages reach the server in any second and one a second reaches a chat
(a reply to someone who just wrote may come in a burst), in order per chat, counted across
every process that shares the database (:class:`Pacer`). A 429's ``retry_after`` holds every
sender of every process, including those that already took a slot.
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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy import (
    JSON,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    insert,
    literal_column,
    null,
    or_,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from bot.core import Outgoing, from_payload, to_payload
from models import Delivery, DeliveryPace, User, utcnow

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


@runtime_checkable
class PartedTransport(Transport, Protocol):
    """A transport that sends some items as several messages (DingTalk: a long text in parts,
    a file and then its caption). It names the parts, and the queue sends them one by one and
    records how many went out, so a retry resumes at the part that failed instead of sending
    the first ones again. The parts of an item must be the same at every try."""

    def parts(self, item: Outgoing) -> Sequence[Outgoing]: ...


@dataclass(frozen=True)
class Limits:
    """How fast one platform lets a bot send: overall, per chat, and how long a 429 may hold."""

    per_second: float = 30.0
    chat_interval: float = 1.0
    # A 429 asking for longer than this puts the row back in the queue instead of waiting.
    max_wait: float = 60.0
    # Shared slots are ``window / per_second`` apart, an even pace rather than a second's
    # worth at once; what the server counts is kept by the answers (see ``Pacer``).
    window: float = 1.0


# Telegram's advice: about 30 messages a second overall and one a second to any one chat
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
TELEGRAM = Limits()
# DingTalk: an app's OpenAPI calls are held to 20 a second on the standard edition (40 on the
# professional, 60 on the dedicated one). The bot writes to people one to one (robot
# batch-send), which the group robots' 20-a-minute rule does not cover; a second per person
# keeps one person's answers in order without crowding them.
DINGTALK = Limits(per_second=20.0, chat_interval=1.0)
LIMITS = {"telegram": TELEGRAM, "dingtalk": DINGTALK}

# A broadcast sender takes a shared slot at most this far ahead, so the queue of slots already
# promised stays short and someone who just wrote gets one within about this long.
HORIZON = 0.05
# A broadcast sender takes this many slots in one transaction (each of them no further ahead
# than the horizon plus its place in the batch), so a slot costs a fraction of a transaction.
BATCH = 4
# A send not answered after this long is taken to be over (its process died mid-send).
IN_FLIGHT = 10.0
# How often the one sender of a process asks again while the send a second back is unanswered.
POLL = 0.01
# Answers are written with the next slot taken, or after this long when none is: longer than a
# broadcast's batches take, so they ride on those, and well within the second after which the
# sends ``per_second`` places later need them.
ANSWERS = 0.3
# A slot taken for an update's answer in the update's transaction is given back if the answer
# has not used it this long after its time (its process is stuck, or the answer failed).
HELD = 2.0

# A write that reads: it takes the lock (the row lock on PostgreSQL, the write lock on
# SQLite) and returns the row in the same statement, so the read cannot go stale.
_LOCK_READ = text(
    "UPDATE deliverypace SET seq = seq WHERE platform = :platform RETURNING next_at, paused_until, seq, recent"
).columns(recent=JSON)
_RECENT = text("UPDATE deliverypace SET recent = :recent WHERE platform = :platform").bindparams(
    bindparam("recent", type_=JSON)
)
_TAKE = text(
    "UPDATE deliverypace SET next_at = :next_at, seq = :seq, recent = :recent WHERE platform = :platform"
).bindparams(bindparam("recent", type_=JSON))


def _later(a: Any, b: Any) -> ColumnElement[Any]:
    """The greater of two SQL values, written the same on SQLite and PostgreSQL."""
    return case((a > b, a), else_=b)


@dataclass
class _PaceRow:
    next_at: float
    paused_until: float
    seq: int
    recent: list[list[float]]
    written: bool = False


class Pacer:
    """When a message may leave: a shared slot, a gap per chat, a 429's pause for everyone.

    **Shared by every process on the database.** Each platform has one ``DeliveryPace`` row,
    on the wall clock: ``next_at`` (the first free slot), ``paused_until`` (the end of the
    latest 429's hold) and ``recent``, the last ``per_second`` sends with, for each, when
    its answer came back, or that it is still on its way. A slot is taken in one short
    transaction that locks the row (a write first: the row lock on PostgreSQL, the write lock
    on SQLite), so no two processes get the same slot:

    - slots are ``window / per_second`` apart, whoever holds them;
    - a send may start only a second after the answer to the send ``per_second`` slots
      before it, and not at all while that one is unanswered. The server sees each send
      between its start and its answer, so it never sees more than ``per_second`` in any
      second, however the sends bunch on the way (a stalled loop, an HTTP client's queue,
      a second process): the bunching slows the pace instead of breaking it;
    - a 429 moves ``paused_until`` and ``next_at`` past its ``retry_after`` for every
      process; a sender that slept towards a slot taken earlier reads ``paused_until`` again
      before it sends, so a pause that began meanwhile holds it too.

    One sender per process asks at a time (the others queue in the event loop) and only
    ``HORIZON`` ahead, so the slots already promised are few and someone who just wrote
    (``urgent``: no queue, no horizon) gets the next one. A broadcast takes up to ``BATCH``
    slots in one transaction of two statements (the locking read and the write), each no
    further ahead than the horizon plus its place in the batch; slots nobody came for are
    given back just after their time (and at ``close``), so none lapses slowly and holds up
    the slots a second later. The answer to an update takes its slots in the update's own
    transaction (:meth:`take_within`), so it costs no commit of its own. Answers are written
    with the process's next batch or update, or within ``ANSWERS`` when neither comes; the
    queue's rows sent by a broadcast are marked sent in the same transaction. A bare
    ``UPDATE … RETURNING`` of a next-slot time would be one statement, but could not know when
    sends were answered, and bunched sends reached the server 34–38 to a second under load.

    **Per chat.** A chat's next message keeps ``chat_interval`` from its last one's answer: in
    this process from memory, across processes from the row's ``left_at``, read when the
    chat's next row is claimed (only one process can hold a chat's head row at a time).
    """

    def __init__(self, limits: Limits, db: Database, platform: str = "telegram") -> None:
        self.limits = limits
        self.db = db
        self.platform = platform
        self._capacity = max(1, int(limits.per_second))
        self._gap = limits.window / limits.per_second
        self._turn = asyncio.Lock()
        self._next: dict[int, float] = {}
        self._paused_until = 0.0
        self._ready = False
        self._answers: dict[int, float] = {}  # answered sends not yet written: seq → when
        self._flushing: asyncio.Task[None] | None = None
        self._reserved: list[tuple[float, int]] = []  # slots taken for this process's broadcast, in order
        self._expiry: asyncio.TimerHandle | None = None
        self._held: dict[int, float] = {}  # slots taken for answers, not yet used: seq → its time
        self._taken: set[int] = set()  # slots this process took whose send is not over
        self._over: set[int] = set()  # sends over, not yet counted so: an earlier one is not
        self._held_expiry: asyncio.TimerHandle | None = None
        # Writes that go with the pace's next transaction (the queue's finished rows); returns
        # what to do once it committed (True) or rolled back (False).
        self.rider: Callable[[AsyncConnection], Awaitable[Callable[[bool], None] | None]] | None = None

    async def _ensure_row(self) -> None:
        if self._ready:
            return
        async with self.db.engine.connect() as conn:
            exists = (
                await conn.execute(select(DeliveryPace.platform).where(DeliveryPace.platform == self.platform))
            ).first()
        if exists is None:
            with contextlib.suppress(IntegrityError):  # another process made it first
                async with self.db.writing(), self.db.engine.begin() as conn:
                    await conn.execute(
                        insert(DeliveryPace).values(
                            platform=self.platform, next_at=0.0, paused_until=0.0, seq=0, recent=[]
                        )
                    )
        self._ready = True

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[tuple[AsyncConnection, _PaceRow]]:
        """The platform's pace row, locked against every other process until the block ends.

        The answers this process owes are written first, in the same transaction, and what
        the ``rider`` has to write goes with it.
        """
        await self._ensure_row()
        answers: dict[int, float] = {}
        settled: Callable[[bool], None] | None = None
        try:
            # In turn with this process's other writers: SQLite's own busy wait, in coarse steps,
            # would hold up the update of someone who just wrote.
            async with self.db.writing(), self.db.engine.begin() as conn:
                row, answers = await self._lock(conn)
                yield conn, row
                if answers and not row.written:
                    await conn.execute(_RECENT, {"platform": self.platform, "recent": row.recent})
                if self.rider is not None:
                    settled = await self.rider(conn)
        except BaseException:
            # Rolled back: the answers are still owed.
            self._answers = {**answers, **self._answers}
            if settled is not None:
                settled(False)
            raise
        if settled is not None:
            settled(True)

    async def _lock(self, conn: AsyncConnection) -> tuple[_PaceRow, dict[int, float]]:
        """Lock and read the pace row on ``conn``, with this process's owed answers merged in."""
        found = (await conn.execute(_LOCK_READ, {"platform": self.platform})).one()
        row = _PaceRow(float(found[0]), float(found[1]), int(found[2]), list(found[3]))
        answers, self._answers = self._answers, {}
        if answers:
            row.recent = [
                [n, answers[int(n)], 0] if int(n) in answers else [n, at, flying] for n, at, flying in row.recent
            ]
        return row, answers

    async def _take(self, horizon: float, count: int = 1) -> list[tuple[float, int]] | float:
        """Take up to ``count`` next shared slots, each within ``horizon`` of its turn: a list of
        (its time, its number), at least one.

        Otherwise returns when to ask again.
        """
        async with self._locked() as (conn, row):
            taken = await self._assign(conn, row, horizon, count)
        self._paused_until = max(self._paused_until, row.paused_until)
        if isinstance(taken, list):
            self._taken.update(seq for _, seq in taken)
        return taken

    async def _assign(
        self, conn: AsyncConnection, row: _PaceRow, horizon: float, count: int
    ) -> list[tuple[float, int]] | float:
        """Take the slots on the locked row (see :meth:`_take`)."""
        now = time.time()
        recent = {int(entry[0]): (float(entry[1]), bool(entry[2])) for entry in row.recent}
        free = max(row.next_at, row.paused_until, now)
        slots: list[tuple[float, int]] = []
        for n in range(count):
            seq = row.seq + n
            back = recent.get(seq - self._capacity)
            if back is not None:
                at, flying = back
                if flying and at > now:
                    if slots:
                        break
                    return now + POLL  # a second's worth back is still on its way
                free = max(free, at + 1.0)
            # The later slots of a batch are promised that many gaps further ahead.
            if free > now + horizon + n * self._gap:
                if slots:
                    break
                return free - horizon
            recent[seq] = (free + IN_FLIGHT, True)
            slots.append((free, seq))
            free += self._gap
        last = slots[-1][1]
        # A send answered more than a second ago holds nobody back: only the others are kept, so
        # the row stays small however high the limit (the pipeline bench sets it unbounded).
        kept = [
            [n, at, int(flying)]
            for n, (at, flying) in sorted(recent.items())
            if n > last - self._capacity and (flying or at + 1.0 > now)
        ]
        await conn.execute(_TAKE, {"platform": self.platform, "next_at": free, "seq": last + 1, "recent": kept})
        row.written = True
        return slots

    async def take_within(self, unit: Unit, count: int) -> list[tuple[float, int]]:
        """Slots for an update's answer, taken in the update's own transaction: no commit of their
        own. Empty when the pace says to wait (the answer then takes its own when it is sent).

        Taken last, just before the commit, so on PostgreSQL the pace row is held only for it.
        The slots are the answer's from the commit on (see :meth:`sending`); not used within
        ``HELD`` of their time, they are given back.
        """
        conn = await unit.session.connection()
        if not self._ready:
            # Made here if missing, not in a transaction of its own: on SQLite the unit holds the
            # write lock, and that transaction would wait for it.
            await conn.execute(
                _insert_pace(self.db.is_sqlite),
                {"platform": self.platform, "next_at": 0.0, "paused_until": 0.0, "seq": 0, "recent": []},
            )
        row, answers = await self._lock(conn)
        taken = await self._assign(conn, row, float("inf"), count)
        if not isinstance(taken, list):
            taken = []
            if answers:
                await conn.execute(_RECENT, {"platform": self.platform, "recent": row.recent})
        paused = row.paused_until

        def committed() -> None:
            self._ready = True
            self._paused_until = max(self._paused_until, paused)
            for at, seq in taken:
                self._held[seq] = at
                self._taken.add(seq)
            if taken:
                self._expire_held(taken[-1][0])

        def rolled_back() -> None:
            self._answers = {**answers, **self._answers}

        unit.after_commit(committed)
        unit.after_rollback(rolled_back)
        return taken

    def _expire_held(self, last: float) -> None:
        if self._held_expiry is None:
            delay = max(0.0, last - time.time()) + HELD
            self._held_expiry = asyncio.get_running_loop().call_later(delay, self._give_back_held)

    def _give_back_held(self) -> None:
        self._held_expiry = None
        now = time.time()
        for seq, at in list(self._held.items()):
            if at + HELD <= now:
                del self._held[seq]
                self._answered(seq)
        if self._held:
            self._expire_held(max(self._held.values()))

    def release(self, slots: Sequence[tuple[float, int]]) -> None:
        """Give back slots taken for an answer that did not use them."""
        for _, seq in slots:
            if self._held.pop(seq, None) is not None:
                self._answered(seq)

    def _answered(self, seq: int) -> None:
        """The send in slot ``seq`` is over: the server has seen it, if it ever will.

        Written with this process's next slot, or within ``ANSWERS`` if none is taken before.
        A slot is counted over only once every earlier slot of this process is: a send that
        went late (its sender held up after its slot) may reach the server after a later one
        was answered or given back, and the slot 30 places after that later one must still
        keep a second from it.
        """
        self._taken.discard(seq)
        self._over.add(seq)
        first = min(self._taken, default=None)
        over = [n for n in self._over if first is None or n < first]
        if not over:
            return
        now = time.time()
        for n in over:
            self._over.discard(n)
            self._answers[n] = now
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_answers(), name=f"pace:{self.platform}")

    async def _flush_answers(self) -> None:
        await asyncio.sleep(ANSWERS)
        # Those written with a slot meanwhile are gone; the rest wait ANSWERS from the oldest.
        while self._answers and (wait := min(self._answers.values()) + ANSWERS - time.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        if self._answers:
            try:
                async with self._locked():
                    pass
            except Exception:
                # Its slot lapses after IN_FLIGHT instead; the sends themselves are not in question.
                log.exception("recording the answers of sends failed")

    async def _shared_pause(self) -> float:
        pace = DeliveryPace.__table__.c  # type: ignore[attr-defined]
        async with self.db.engine.connect() as conn:
            paused = (await conn.execute(select(pace.paused_until).where(pace.platform == self.platform))).scalar()
        self._paused_until = max(self._paused_until, float(paused or 0.0))
        return self._paused_until

    async def _wait_to_take(self, urgent: bool) -> list[tuple[float, int]]:
        # Waits for a time, not for an event: the slot frees itself.
        while not isinstance(  # noqa: ASYNC110
            taken := await (self._take(float("inf")) if urgent else self._take(HORIZON, BATCH)), list
        ):
            await asyncio.sleep(max(0.001, taken - time.time()))
        return taken

    async def _slot(self, urgent: bool, held: tuple[float, int] | None = None) -> int:
        """A shared slot that no pause covers, waited for until its moment; returns its number.

        ``held``: one taken for this send beforehand (:meth:`take_within`), used if still held.
        """
        while True:
            if held is not None and self._held.pop(held[1], None) is not None:
                start, seq = held
                held = None
            elif urgent:
                start, seq = (await self._wait_to_take(urgent))[0]
            else:
                # A broadcast's slots are reserved a few at a time, one transaction for them all;
                # taken in turn, so none is left unused.
                async with self._turn:
                    if not self._reserved:
                        self._reserved = await self._wait_to_take(urgent)
                        self._expire(self._reserved[-1][0])
                    start, seq = self._reserved.pop(0)
            try:
                slept = start > time.time() + 0.001
                if slept:
                    await asyncio.sleep(start - time.time())
                # Slept towards it: a 429 may have come meanwhile, here or in another process.
                paused = await self._shared_pause() if slept else self._paused_until
            except BaseException:
                self._answered(seq)
                raise
            if paused <= time.time():
                return seq
            # Never sent: the slot is given back, and those reserved after it lie in the pause too.
            self._answered(seq)
            self._give_back()

    def _expire(self, last: float) -> None:
        """Reserved slots nobody came for are given back soon after their time, not left to
        lapse after ``IN_FLIGHT``: the slots a second later wait for their answers."""
        if self._expiry is not None:
            self._expiry.cancel()
        delay = max(0.0, last - time.time()) + 2 * self._gap
        self._expiry = asyncio.get_running_loop().call_later(delay, self._give_back)

    def _give_back(self, *, write: bool = True) -> None:
        reserved, self._reserved = self._reserved, []
        for _, seq in reserved:
            if write:
                self._answered(seq)
            else:
                self._taken.discard(seq)
                self._answers[seq] = time.time()

    @contextlib.asynccontextmanager
    async def sending(
        self,
        chat_id: int,
        *,
        spaced: bool = True,
        urgent: bool = False,
        after: float = 0.0,
        held: tuple[float, int] | None = None,
    ) -> AsyncIterator[None]:
        """Wait until a message to ``chat_id`` may go out; send it inside the block.

        ``after``: when the chat's last message was answered, as another process recorded it.
        ``held``: a slot taken for it beforehand (:meth:`take_within`).
        """
        if spaced:
            ready = max(self._next.get(chat_id, 0.0), after + self.limits.chat_interval if after else 0.0)
            if (wait := ready - time.time()) > 0:
                await asyncio.sleep(wait)
        seq = await self._slot(urgent, held)
        try:
            yield
        except RetryAfter as exc:
            # Held here at once, before any await lets another sender of this process through.
            self._paused_until = max(self._paused_until, time.time() + exc.seconds)
            raise
        finally:
            self.sent(chat_id)
            self._answered(seq)

    def sent(self, chat_id: int) -> None:
        now = time.time()
        self._next[chat_id] = now + self.limits.chat_interval
        if len(self._next) > 10_000:
            self._next = {chat: at for chat, at in self._next.items() if at > now}

    async def pause(self, seconds: float) -> None:
        """A 429 is about the bot as a whole: hold every sender of every process for ``seconds``."""
        until = time.time() + seconds
        self._paused_until = max(self._paused_until, until)
        await self._ensure_row()
        pace = DeliveryPace.__table__.c  # type: ignore[attr-defined]
        async with self.db.writing(), self.db.engine.begin() as conn:
            await conn.execute(
                update(DeliveryPace)
                .where(pace.platform == self.platform)
                .values(paused_until=_later(pace.paused_until, until), next_at=_later(pace.next_at, until))
            )

    async def close(self) -> None:
        """Write the answers still owed, so no other process waits for their slots to lapse."""
        if self._flushing is not None:
            self._flushing.cancel()
        if self._expiry is not None:
            self._expiry.cancel()
        self._give_back(write=False)  # written just below
        if self._held_expiry is not None:
            self._held_expiry.cancel()
        for seq in [*self._held, *self._taken, *self._over]:
            self._answers[seq] = time.time()
        self._held.clear()
        self._taken.clear()
        self._over.clear()
        if self._answers:
            with contextlib.suppress(Exception):
                async with self._locked():
                    pass

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.time())


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
# The worker looks for more due chats when fewer than this are being sent (or every BUSY
# seconds), so one lookup serves a batch of finished chats.
REFILL = MAX_CHATS // 2
BUSY = 1.0
# Rows sent that end their chat's queue are marked sent with the pace's next transaction, or
# alone after this long.
FINISHES = 0.2
IDLE = 60.0  # a worker with nothing due looks again after this long anyway


_TABLE = Delivery.__table__  # type: ignore[attr-defined]
_INSERT = _TABLE.insert().returning(_TABLE.c.id)


def _claiming_insert() -> Any:
    """Queue an answer in one statement: claimed by this process unless something of the chat
    is still to be sent before it (then it waits its turn like any row).

    Whether something is ahead is looked up once (a one-row subquery the CASEs read), and the
    two statuses are plain parameters: an IN list is an expanding parameter, which makes
    SQLAlchemy render the statement's text again on every execution, and this runs on every
    update.
    """
    earlier = _TABLE.alias("earlier")
    ahead = select(
        exists()
        .where(
            earlier.c.platform == bindparam("platform"),
            earlier.c.chat_id == bindparam("chat_id"),
            or_(earlier.c.status == PENDING, earlier.c.status == SENDING),
        )
        .label("behind")
    ).subquery("ahead")
    behind = ahead.c.behind == true()
    columns = ("platform", "chat_id", "kind", "dedupe_key", "payload", "last_error", "created_at", "sent_at")
    values = [bindparam(name, type_=_TABLE.c[name].type) for name in columns]
    lease = bindparam("lease_until", type_=_TABLE.c.not_before.type)
    chosen_columns: list[Any] = [
        *values,
        case((behind, PENDING), else_=SENDING),
        case((behind, 0), else_=1),
        case((behind, null()), else_=lease),
    ]
    chosen = select(*chosen_columns).select_from(ahead)
    return (
        _TABLE.insert()
        .from_select([*columns, "status", "attempts", "not_before"], chosen)
        .returning(_TABLE.c.id, _TABLE.c.status)
    )


_CLAIMING_INSERT = _claiming_insert()
_CLAIMED_CHAT: Any = literal_column(f"{_TABLE.name}.chat_id", type_=_TABLE.c.chat_id.type)
_CLAIMED_ID: Any = literal_column(f"{_TABLE.name}.id", type_=_TABLE.c.id.type)


@dataclass
class _Head:
    row: Delivery
    left_at: float
    unreachable: bool
    more: bool = True  # the chat has other rows unfinished
    claimed_at: float = 0.0  # loop time just before the claim


class Outbox:
    def __init__(
        self,
        db: Database,
        transport: Transport | None = None,
        *,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utcnow,
        platform: str = "telegram",
    ) -> None:
        self.db = db
        self.transport = transport
        # The queue is keyed by platform: this outbox serves its platform's rows alone.
        self.platform = platform
        self.pacer: Pacer | None = None
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
        self._more: dict[int, bool] = {}  # a finished row's id → whether its chat has rows still to send
        self._ack_timer: asyncio.TimerHandle | None = None
        self._acks_since = 0.0  # loop time of the oldest unmarked answer
        self._others_at = -1e9  # loop time of the last row queued that is not a claimed answer
        self._behind: set[int] = set()  # chats whose answer was queued behind another row
        self._ack_task: asyncio.Task[None] | None = None
        # Answers claimed in a unit not yet committed, which take their pace slots with it.
        self._to_pace: dict[Unit, list[Delivery]] = {}
        self._slots: dict[int, list[tuple[float, int]]] = {}  # an answer's id → its slots
        # Sent rows whose chat has nothing else to send, marked sent with the pace's next
        # transaction (or alone after FINISHES): row id → (values, loop time of its claim).
        self._sent: dict[int, tuple[dict[str, Any], float]] = {}
        self._sent_timer: asyncio.TimerHandle | None = None
        self._sent_since = 0.0  # loop time of the oldest row not yet marked sent
        self._sent_task: asyncio.Task[None] | None = None
        db.ride(self._ride)
        db.ride(self._ride_pace)
        if limits is not None:
            self._pace(limits)
        self._stopping = False

    def use(self, transport: Transport, limits: Limits | None = None) -> None:
        """Send through ``transport`` from now on (the running adapter's), paced by ``limits``."""
        self.transport = transport
        self.pacer = None
        if limits is not None:
            self._pace(limits)

    def _pace(self, limits: Limits) -> None:
        self.pacer = Pacer(limits, self.db, self.platform)
        self.pacer.rider = self._write_sent

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
            platform=self.platform,
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
                    if self.pacer is not None:
                        if unit not in self._to_pace:
                            unit.after_rollback(lambda: self._to_pace.pop(unit, None))
                        self._to_pace.setdefault(unit, []).append(row)
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

    async def enqueue_many(self, messages: Sequence[tuple[int, Sequence[Outgoing], str, str]]) -> int:
        """Queue many keyed messages, each ``(chat_id, items, kind, key)``, in one transaction.

        A message whose key was queued before (by an earlier run, or by another process
        at the same moment) is skipped, not an error that would undo the others; returns
        how many were queued. Rows keep the order given, so a chat gets its messages in it.
        The rows go in batches of one compiled statement, and the event loop is given back
        between batches: a run of thousands of digests never holds it for long.
        """
        if not messages:
            return 0
        statement = _insert_new(self.db.is_sqlite).returning(col(Delivery.id))
        now = self.clock()
        queued = 0
        async with self.db.writing(), self.db.session() as session:
            connection = await session.connection()
            for start in range(0, len(messages), 100):
                rows = [
                    {
                        "platform": self.platform,
                        "chat_id": chat_id,
                        "kind": kind,
                        "dedupe_key": key,
                        "payload": {"items": [to_payload(item) for item in items]},
                        "status": PENDING,
                        "attempts": 0,
                        "created_at": now,
                    }
                    for chat_id, items, kind, key in messages[start : start + 100]
                ]
                queued += len((await connection.execute(statement, rows)).all())
                await asyncio.sleep(0)
        if queued:
            self._others_at = asyncio.get_running_loop().time()
            self.db.after_commit(self._wake.set)
        return queued

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
        """In a unit's transaction: mark the answers and other rows sent since the last one."""
        if self._sent:
            settled = await self._write_sent(await unit.session.connection())
            if settled is not None:
                unit.after_commit(lambda: settled(True))
                unit.after_rollback(lambda: settled(False))
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

    async def _ride_pace(self, unit: Unit) -> None:
        """In a unit's transaction, last: the pace slots of the answers it claimed, so sending
        them right after the commit takes no transaction of its own."""
        rows = self._to_pace.pop(unit, None)
        if not rows or self.pacer is None or self.transport is None:
            return
        parted = self.transport if isinstance(self.transport, PartedTransport) else None
        counts = [
            sum(len(parted.parts(from_payload(p))) for p in row.payload.get("items", []))
            if parted is not None
            else len(row.payload.get("items", []))
            for row in rows
        ]
        if not sum(counts):
            return
        slots = await self.pacer.take_within(unit, sum(counts))

        def held() -> None:
            start = 0
            for row, count in zip(rows, counts, strict=True):
                if row.id is not None and slots[start : start + count]:
                    self._slots[row.id] = slots[start : start + count]
                start += count

        if slots:
            unit.after_commit(held)

    def _due_clause(self, now: datetime) -> object:
        return and_(col(Delivery.platform) == self.platform, self._due(now))

    @staticmethod
    def _due(now: datetime) -> ColumnElement[bool]:
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
                earlier.platform == Delivery.platform,
                col(earlier.id) < col(Delivery.id),
                col(earlier.status).in_([PENDING, SENDING]),
            )
            .exists()
        )

    async def pending(self) -> list[Delivery]:
        async with self.db.session() as session:
            result = await session.exec(
                select(Delivery)
                .where(Delivery.platform == self.platform, Delivery.status == PENDING)
                .order_by(col(Delivery.id))
            )
            return list(result.all())

    async def _claim_head(self, chat_id: int, *, urgent: bool) -> _Head | None:
        """Claim the chat's oldest unfinished row (only it may be sent) if it is due now."""
        return (await self._claim([chat_id], urgent=urgent)).get(chat_id)

    async def _claim(self, chats: Sequence[int], *, urgent: bool = False) -> dict[int, _Head]:
        """Claim the oldest unfinished row of each of ``chats`` that is due now, in one statement.

        A compare-and-set: pending → sending only if nobody else took it. Each row comes back
        with when its chat's last message left (``left_at``), so the chat's gap holds across
        processes (once the row is claimed nobody else can send to the chat before it), whether
        the chat has anything else unfinished (so its sender knows whether to look again), and,
        for a broadcast, whether the person is known to be unreachable: someone who just wrote
        is reachable (their message cleared the mark).
        """
        now = self.clock()
        earlier = _TABLE.alias("earlier")
        oldest = (
            select(func.min(earlier.c.id))
            .where(
                earlier.c.platform == self.platform,
                earlier.c.chat_id.in_(chats),
                earlier.c.status.in_([PENDING, SENDING]),
            )
            .group_by(earlier.c.chat_id)
        )
        # The claimed row's own columns, named with the table: SQLite renders a RETURNING clause
        # without table names, and inside a subquery a bare name is the subquery's own column.
        chat, claimed = _CLAIMED_CHAT, _CLAIMED_ID
        sent = _TABLE.alias("sent")
        left = (
            select(func.max(sent.c.left_at))
            .where(sent.c.platform == self.platform, sent.c.chat_id == chat, sent.c.left_at.is_not(None))
            .scalar_subquery()
        )
        later = _TABLE.alias("later")
        more = (
            select(later.c.id)
            .where(
                later.c.platform == self.platform,
                later.c.chat_id == chat,
                later.c.id != claimed,
                later.c.status.in_([PENDING, SENDING]),
            )
            .exists()
        )
        unreachable: Any = false()
        if not urgent and self.platform == "telegram":  # the mark is kept on a person's Telegram id
            people = User.__table__.c  # type: ignore[attr-defined]
            unreachable = (
                select(people.id).where(people.telegram_id == chat, people.unreachable_at.is_not(None)).exists()
            )
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id.in_(oldest), self._due(now))
            .values(status=SENDING, not_before=now + LEASE, attempts=_TABLE.c.attempts + 1)
            .returning(*_TABLE.c, left.label("last_left_at"), more.label("more"), unreachable.label("unreachable"))
        )
        claimed_at = asyncio.get_running_loop().time()
        async with self.db.writing(), self.db.engine.begin() as conn:
            found = (await conn.execute(statement)).all()
        heads: dict[int, _Head] = {}
        for values in (found_row._mapping for found_row in found):
            row = Delivery(**{column.name: values[column] for column in _TABLE.c})
            heads[row.chat_id] = _Head(
                row,
                float(values["last_left_at"] or 0.0),
                bool(values["unreachable"]),
                bool(values["more"]),
                claimed_at,
            )
        return heads

    async def flush(self) -> int:
        """Send everything due now, in order per chat; returns how many rows were delivered."""
        if self.transport is None:
            return 0
        async with self._lock:
            sent = 0
            while True:
                tasks = await self._pump()
                if not tasks:
                    await self._settle_sent()
                    return sent
                results = await asyncio.gather(*tasks, return_exceptions=True)
                done = sum(r for r in results if isinstance(r, int))
                sent += done
                if not done:
                    await self._settle_sent()
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
                outcome = await self._send(row, urgent=True)
                self._more.pop(row.id or 0, None)
                if outcome != SENT:
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
        """Start a sender for every chat with something due that has none running.

        Their rows are claimed together, in one statement, not one transaction per chat: a
        burst of claims would hold up the pace's slots behind them.
        """
        chats: list[int] = []
        for chat_id in await self._due_chats():
            if self._stopping or len(self._draining) + len(chats) >= MAX_CHATS:
                break
            if chat_id not in self._draining:
                chats.append(chat_id)
        if chats:
            claiming = asyncio.create_task(self._claim(chats), name="outbox:claim")
            for chat_id in chats:
                task = asyncio.create_task(self._drain(chat_id, claiming=claiming), name=f"outbox:{chat_id}")
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
            Delivery.platform == self.platform,
            col(Delivery.status).in_([PENDING, SENDING]),
            col(Delivery.not_before) > now,
        )
        async with self.db.session() as session:
            at = (await session.exec(query)).first()
        if at is None:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=now.tzinfo)
        return max(0.0, (at - now).total_seconds())

    async def _drain(
        self, chat_id: int, *, urgent: bool = False, claiming: asyncio.Task[dict[int, _Head]] | None = None
    ) -> int:
        """Send one chat's rows in order; stop at the first that must wait.

        ``claiming``: the claim of several chats' rows, this one's among them.
        """
        sent = 0
        try:
            while not self._stopping:
                if claiming is not None:
                    head = (await asyncio.shield(claiming)).get(chat_id)
                    claiming = None
                else:
                    head = await self._claim_head(chat_id, urgent=urgent)
                if head is None:
                    break  # nothing due, or another worker holds this chat for now
                if head.unreachable:
                    # Until the person writes again (which clears the mark), asking is pointless.
                    await self._give_up_chat(chat_id, head.row)
                    break
                last = None if head.more else head.claimed_at
                outcome = await self._send(head.row, urgent=urgent, after=head.left_at, last=last)
                more = self._more.pop(head.row.id or 0, True)
                if outcome == SENT:
                    sent += 1
                    if not more:
                        break  # its finish saw nothing else of the chat unfinished
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
            if len(self._draining) < REFILL:
                # Looked for due rows once per batch of finished chats, not once per chat;
                # the worker also looks every BUSY seconds while chats are still being sent.
                self._wake.set()
        return sent

    async def _send(self, row: Delivery, *, urgent: bool = False, after: float = 0.0, last: float | None = None) -> str:
        """Deliver a claimed row; returns its outcome (SENT, PENDING, FAILED or UNREACHABLE).

        ``last``: the chat had nothing else unfinished when this row was claimed, at this loop time.
        """
        assert self.transport is not None
        slots = self._slots.pop(row.id or 0, [])
        try:
            return await self._send_items(row, urgent=urgent, after=after, last=last, slots=slots)
        finally:
            if slots and self.pacer is not None:
                self.pacer.release(slots)

    async def _send_items(
        self, row: Delivery, *, urgent: bool, after: float, last: float | None, slots: list[tuple[float, int]]
    ) -> str:
        assert self.transport is not None
        items = [from_payload(p) for p in row.payload.get("items", [])]
        done = int(row.payload.get("done", 0))
        # Parts of items[done] already sent (a transport that sends an item in parts).
        part = int(row.payload.get("part", 0))
        status, error, not_before = SENT, None, None
        unreachable = False
        # The answer to an update may come as a burst; anything else keeps a chat's gap.
        spaced = row.kind != REPLY
        left_at: float | None = None
        parted = self.transport if isinstance(self.transport, PartedTransport) else None
        pieces: Sequence[Outgoing] = ()
        try:
            while done < len(items):
                if not pieces:
                    pieces = parted.parts(items[done]) if parted is not None else (items[done],)
                if part >= len(pieces):
                    done, part, pieces = done + 1, 0, ()
                    continue
                try:
                    if self.pacer is None:
                        await self.transport.deliver(row.chat_id, pieces[part])
                    else:
                        held = slots.pop(0) if slots else None
                        async with self.pacer.sending(
                            row.chat_id, spaced=spaced, urgent=urgent, after=after, held=held
                        ):
                            await self.transport.deliver(row.chat_id, pieces[part])
                    part += 1
                    # Counted from the answer, so the server never sees two closer than the interval.
                    left_at = time.time()
                except RetryAfter as exc:
                    if self.pacer is None or urgent or exc.seconds > self.pacer.limits.max_wait:
                        raise
                    log.info("chat %s: 429, holding every sender %ss", row.chat_id, exc.seconds)
                    await self.pacer.pause(exc.seconds)
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
                    with contextlib.suppress(Exception):  # the row's own wait holds regardless
                        await self.pacer.pause(seconds)
            else:
                seconds = min(2.0 ** max(row.attempts - 1, 0), MAX_BACKOFF)
            status, not_before = PENDING, self.clock() + timedelta(seconds=seconds)
        except asyncio.CancelledError:
            await self._finish(row, PENDING, "interrupted", None, done, len(items), part=part, left_at=left_at)
            raise
        if (
            status == SENT
            and last is not None
            and left_at is not None
            and self.pacer is not None
            and row.id is not None
        ):
            # Nothing else of the chat to send after it: marked sent with others, not alone.
            self._answers.discard(row.id)
            self._more[row.id] = False
            self._mark_sent(row, left_at, last)
            return SENT
        await self._finish(
            row, status, error, not_before, done, len(items), part=part, unreachable=unreachable, left_at=left_at
        )
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
        part: int = 0,
        unreachable: bool = False,
        left_at: float | None = None,
    ) -> None:
        if status == SENT and row.id in self._answers:
            self._acknowledge(row)
            return
        self._answers.discard(row.id or 0)
        values: dict[str, object] = {"status": status, "last_error": error, "not_before": not_before}
        if left_at is not None:
            values["left_at"] = left_at
        if status == SENT:
            values["sent_at"] = self.clock()
        if status != SENT and (0 < done < total or part):
            # Items and parts already delivered are not sent again when the row is retried.
            values["payload"] = {**row.payload, "done": done, "part": part}
        later = _TABLE.alias("later")
        more = (
            select(later.c.id)
            .where(
                later.c.platform == self.platform,
                later.c.chat_id == row.chat_id,
                later.c.id != row.id,
                later.c.status.in_([PENDING, SENDING]),
            )
            .exists()
        )
        async with self.db.writing(), self.db.session() as session:
            connection = await session.connection()
            found = await connection.execute(
                update(_TABLE).where(_TABLE.c.id == row.id).values(**values).returning(more.label("more"))
            )
            if row.id is not None:
                # Read in the finish's own statement, so the chat's sender needs no lookup to stop.
                self._more[row.id] = bool(found.scalar())
            if unreachable and self.platform == "telegram":
                await session.exec(
                    update(User)
                    .where(col(User.telegram_id) == row.chat_id, col(User.unreachable_at).is_(None))
                    .values(unreachable_at=self.clock())
                )
        row.status, row.last_error = status, error
        if status == PENDING:
            self._wake.set()  # the worker's sleep must end when this row falls due

    def _mark_sent(self, row: Delivery, left_at: float, claimed_at: float) -> None:
        """Mark ``row`` sent with the pace's next transaction, or alone after ``FINISHES``.

        A crash before then sends it again once its claim lapses, as a crash between a send and
        its own mark would."""
        assert row.id is not None
        loop = asyncio.get_running_loop()
        values = {"row_id": row.id, "at": self.clock(), "left": left_at}
        if not self._sent:
            self._sent_since = loop.time()
        self._sent[row.id] = (values, claimed_at)
        row.status, row.last_error = SENT, None
        if self._sent_timer is None and self._sent_task is None:
            self._sent_timer = loop.call_later(FINISHES, self._mark_sent_alone)

    async def _write_sent(self, conn: AsyncConnection) -> Callable[[bool], None] | None:
        """Write the rows sent and not yet marked so, in ``conn``'s transaction."""
        if not self._sent:
            return None
        sent, self._sent = self._sent, {}
        await conn.execute(
            update(_TABLE)
            .where(_TABLE.c.id == bindparam("row_id"))
            .values(status=SENT, last_error=None, not_before=None, sent_at=bindparam("at"), left_at=bindparam("left")),
            [values for values, _ in sent.values()],
        )
        claimed = min(at for _, at in sent.values())

        def settled(committed: bool) -> None:
            if not committed:
                self._sent = {**sent, **self._sent}
                if self._sent_timer is None and self._sent_task is None:
                    self._sent_timer = asyncio.get_running_loop().call_later(FINISHES, self._mark_sent_alone)
            elif self._others_at >= claimed:
                # A row queued for one of these chats since waited behind it: it is due now.
                self._wake.set()

        return settled

    def _mark_sent_alone(self) -> None:
        self._sent_timer = None
        loop = asyncio.get_running_loop()
        if self._sent and (wait := self._sent_since + FINISHES - loop.time()) > 0:
            # Those marked meanwhile went with the pace's transaction; the ones waiting now are younger.
            self._sent_timer = loop.call_later(wait, self._mark_sent_alone)
            return
        if self._sent and self._sent_task is None:
            self._sent_task = asyncio.create_task(self._write_sent_alone(), name="outbox:sent")

    async def _write_sent_alone(self) -> None:
        settled: Callable[[bool], None] | None = None
        try:
            async with self.db.writing(), self.db.engine.begin() as conn:
                settled = await self._write_sent(conn)
        except Exception:
            if settled is not None:
                settled(False)
            log.exception("marking sent rows failed; will retry")
        else:
            if settled is not None:
                settled(True)
        finally:
            self._sent_task = None
            if self._sent and self._sent_timer is None and not self._stopping:
                self._sent_timer = asyncio.get_running_loop().call_later(FINISHES, self._mark_sent_alone)

    async def _settle_sent(self) -> None:
        """Write now what is sent and not yet marked (before returning from ``flush``, at stop)."""
        if self._sent_timer is not None:
            self._sent_timer.cancel()
            self._sent_timer = None
        if self._sent_task is not None:
            await asyncio.gather(self._sent_task, return_exceptions=True)
        if self._sent:
            await self._write_sent_alone()

    async def _give_up_chat(self, chat_id: int, claimed: Delivery | None = None) -> None:
        """The chat is gone: what else is queued for it fails now instead of hitting the server.

        ``claimed``: a row this worker holds for the chat, which fails with the rest.
        """
        waiting = col(Delivery.status) == PENDING
        if claimed is not None:
            waiting = or_(waiting, col(Delivery.id) == claimed.id)
        async with self.db.writing(), self.db.session() as session:
            await session.exec(
                update(Delivery)
                .where(col(Delivery.platform) == self.platform, col(Delivery.chat_id) == chat_id, waiting)
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
            if self._draining:
                timeout = min(timeout, BUSY)
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
        try:
            await self._settle_sent()
        except Exception:
            log.exception("marking sent rows at shutdown failed; they will be sent again")
        if self.pacer is not None:
            await self.pacer.close()


def _insert_new(sqlite: bool) -> Any:
    """An INSERT of deliveries that skips a dedupe key queued before, in the dialect in use.

    Only that dialect is imported: a bot on SQLite never loads PostgreSQL's (2 MB).
    """
    if sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(Delivery).on_conflict_do_nothing(index_elements=["dedupe_key"])
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(Delivery).on_conflict_do_nothing(index_elements=["dedupe_key"])


def _insert_pace(sqlite: bool) -> Any:
    """An INSERT of a platform's pace row that does nothing when it is there already."""
    if sqlite:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(DeliveryPace).on_conflict_do_nothing(index_elements=["platform"])
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert(DeliveryPace).on_conflict_do_nothing(index_elements=["platform"])
