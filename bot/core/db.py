"""One engine per process, a session per unit of work, migrations on start.

An update is one :meth:`Database.unit`: every ``session()`` opened while it runs joins its
transaction (through a savepoint, so a failing service undoes only its own writes), and it
commits once at the end.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, SessionTransaction
from sqlalchemy.orm import Session as SyncSession
from sqlalchemy.util import greenlet_spawn
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.cache import Cache

A = TypeVar("A")
B = TypeVar("B")

ROOT = Path(__file__).resolve().parents[2]
# How the bot's connections show in pg_stat_activity (operators, and the tests, find them by it).
APPLICATION_NAME = "investbot"


def async_url(url: str) -> URL:
    """Accept plain ``sqlite:///`` and ``postgresql://`` URLs and pick the async driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def is_sqlite(url: str | URL) -> bool:
    return make_url(str(url) if isinstance(url, URL) else url).get_backend_name() == "sqlite"


def private_file(path: Path) -> None:
    """Create ``path`` (and its directory) readable by the bot's user alone, whatever the umask.

    The database and its backups hold people's names, phone numbers and the city's plans.
    SQLite gives its -wal and -shm files the database file's permissions.
    """
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700)
        directory.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        path.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets the scheduler read while a handler writes; busy_timeout makes two
    # processes on one file wait for each other instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL stays consistent at NORMAL; a power cut may lose the last commits, never corrupt.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means "the database cannot be reached now" rather than a bug.

    SQLAlchemy wraps most of these (a dropped or refused connection is an
    ``OperationalError``/``InterfaceError``, a full pool a ``TimeoutError``); a few arrive
    unwrapped from the driver while connecting, so the causes are looked at too.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if type(current).__module__.startswith("asyncpg") and type(current).__name__ in _ASYNCPG_GONE:
            return True
        current = current.__cause__ or current.__context__
    return False


_ASYNCPG_GONE = frozenset(
    {
        "ConnectionDoesNotExistError",
        # "connection is closed" while a new connection is being set up, and a protocol
        # left mid-operation by a connection killed under it (both arrive unwrapped).
        "InterfaceError",
        "InternalClientError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "CannotConnectNowError",
        "CrashShutdownError",
        "TooManyConnectionsError",
    }
)


class Unit:
    """One transaction that every ``Database.session()`` opened inside it joins.

    An update runs in one: its records, audit rows, conversation state and queued replies
    are committed together or not at all. What must wait for the commit (waking the
    delivery worker) waits in :meth:`after_commit`.
    """

    def __init__(self, db: Database, session: AsyncSession) -> None:
        self.db = db
        self.session = session
        self.open = True
        self.hooks: list[Callable[[], object]] = []
        self.undo: list[Callable[[], object]] = []

    def after_commit(self, hook: Callable[[], object]) -> None:
        self.hooks.append(hook)

    def after_rollback(self, hook: Callable[[], object]) -> None:
        self.undo.append(hook)


_unit: ContextVar[Unit | None] = ContextVar("investbot_unit", default=None)


async def _writing(session: AsyncSession) -> bool:
    """Whether this SQLite session's transaction has begun, i.e. holds the write lock."""
    connection = await (await session.connection()).get_raw_connection()
    return bool(connection.driver_connection.in_transaction)  # type: ignore[union-attr]


class _UnitSession(Session):
    """The synchronous session under every ``AsyncSession`` here: it takes a block's savepoint lazily."""


@dataclass
class _Block:
    wanted: bool
    savepoint: SessionTransaction | None = None


_BLOCKS = "investbot_blocks"


def _before_write(session: SyncSession) -> None:
    """Open the savepoints of the blocks around this write that have none yet, outermost first."""
    for block in session.info.get(_BLOCKS, ()):
        if block.wanted and block.savepoint is None:
            block.savepoint = session.begin_nested()


@event.listens_for(_UnitSession, "before_flush")
def _flushing(session: SyncSession, _context: object, _instances: object) -> None:
    if session.new or session.deleted or session.dirty:
        _before_write(session)


@event.listens_for(_UnitSession, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if not state.is_select:
        _before_write(state.session)


@asynccontextmanager
async def _savepoint_at_first_write(session: AsyncSession, *, wanted: bool) -> AsyncIterator[None]:
    """A block inside a unit whose writes can be undone alone, as ``begin_nested`` would, without
    a SAVEPOINT and RELEASE round trip for the blocks that never write."""
    blocks: list[_Block] = session.info.setdefault(_BLOCKS, [])
    block = _Block(wanted)
    blocks.append(block)
    before = {id(item) for item in session.new}  # table rows are not hashable
    try:
        yield
        await session.flush()
    except BaseException:
        blocks.pop()
        if block.savepoint is not None:
            await greenlet_spawn(block.savepoint.rollback)
        else:
            # Nothing of this block reached the database; what it staged must not later.
            for item in [item for item in session.new if id(item) not in before]:
                session.expunge(item)
            for item in list(session.dirty):
                session.expire(item)
        raise
    blocks.pop()
    if block.savepoint is not None:
        await greenlet_spawn(block.savepoint.commit)


class Database:
    """The engine and its sessions. Services open a session per call; handlers never do."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = async_url(url)
        if self.url.get_backend_name() == "sqlite" and self.url.database not in (None, "", ":memory:"):
            private_file(Path(self.url.database))
        # pre_ping replaces a pooled connection the server dropped (a restart, a failover,
        # pg_terminate_backend) before it is handed out, so the bot recovers by itself.
        kwargs: dict[str, object] = {
            "echo": echo,
            "pool_pre_ping": True,
            "connect_args": {"server_settings": {"application_name": APPLICATION_NAME}, "timeout": 10},
        }
        if self.url.get_backend_name() == "sqlite":
            from bot.core import sqlite_driver

            kwargs = {"echo": echo, "module": sqlite_driver.module()}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        # Copies of people, units, chains and settings, dropped when they change (bot.core.cache).
        self.cache = Cache()
        self.cache.watch(self.engine.sync_engine)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, sync_session_class=_UnitSession, expire_on_commit=False
        )
        # Writes that ride along with the next unit's commit instead of a commit of their own.
        self._riders: list[Callable[[Unit], Awaitable[None]]] = []
        # SQLite has one writer at a time: this process's writers queue here, in the event
        # loop, instead of in SQLite's busy handler, which sleeps in coarse steps.
        self._writer = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def current_unit(self) -> Unit | None:
        unit = _unit.get()
        return unit if unit is not None and unit.open and unit.db is self else None

    async def both(self, first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
        """Two reads that share nothing, each on a connection of its own at the same time.

        A page's two halves then take as long as the slower one, not the sum: SQLite's readers
        run side by side in WAL, each on its own thread, and so do PostgreSQL's. Inside a unit
        of work they share its one session, so there they run one after the other.
        """
        if self.current_unit() is not None:
            return await first, await second
        a, b = await asyncio.gather(first, second)
        return a, b

    @asynccontextmanager
    async def session(self, *, savepoint: bool = True) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back on an exception.

        Inside a :meth:`unit` the block joins that transaction instead, and an exception
        undoes this block's writes alone, as its own transaction would have: through a
        savepoint taken just before the block's first write (a block that only reads takes
        none: most do), or on SQLite before the unit's first write, by rolling back (there is
        nothing else to lose, and a savepoint there would open the transaction too early).
        ``savepoint=False``: the block's failure fails the whole unit, so it needs none.
        """
        unit = self.current_unit()
        if unit is not None:
            session = unit.session
            if self.is_sqlite and not await _writing(session):
                try:
                    yield session
                    await session.flush()
                except BaseException:
                    await session.rollback()
                    raise
                return
            async with _savepoint_at_first_write(session, wanted=savepoint):
                yield session
            return
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One transaction for a whole piece of work (an update), committed once at the end.

        On SQLite the transaction begins at its first write (reads before it see the latest
        commit), so a person whose handler waits on something slow before writing does not
        hold up everyone else's.
        """
        current = self.current_unit()
        if current is not None:
            yield current
            return
        async with self._sessions() as session:
            unit = Unit(self, session)
            token = _unit.set(unit)
            try:
                yield unit
                for ride in self._riders:
                    await ride(unit)
                await session.commit()
            except BaseException:
                await session.rollback()
                for hook in unit.undo:
                    hook()
                raise
            finally:
                unit.open = False
                _unit.reset(token)
        for hook in unit.hooks:
            hook()

    def ride(self, rider: Callable[[Unit], Awaitable[None]]) -> None:
        """Run ``rider`` at the end of every unit, in its transaction, just before it commits."""
        self._riders.append(rider)

    def after_commit(self, hook: Callable[[], object]) -> None:
        """Run ``hook`` once the current unit commits (at once outside one)."""
        unit = self.current_unit()
        if unit is None:
            hook()
        else:
            unit.after_commit(hook)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Around a short write outside a unit: on SQLite, wait for this process's other writer."""
        if self._writer is None or self.current_unit() is not None:
            yield
            return
        async with self._writer:
            yield

    async def dispose(self) -> None:
        await self.engine.dispose()
