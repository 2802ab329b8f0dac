"""Named locks across processes: who migrates on start, who runs the scheduled jobs.

On PostgreSQL a session-level advisory lock, held on a connection of its own: when the
holding process dies its connection closes and the lock is free again, so another process
takes over instead of the work not happening at all. On SQLite (one host by nature) an
``flock`` on a file next to the database does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.db import Database

log = logging.getLogger(__name__)

STARTUP = "startup"  # migrations and the first seed
SCHEDULER = "scheduler"  # the process that runs scheduled jobs


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (the same in every process)."""
    digest = hashlib.sha256(f"investbot:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.key = lock_key(name)
        self._conn: AsyncConnection | None = None
        self._file: IO[bytes] | None = None
        self._in_memory = False  # an in-memory SQLite database lives in one process only

    @property
    def acquired(self) -> bool:
        return self._conn is not None or self._file is not None or self._in_memory

    async def acquire(self, *, wait: bool = True) -> bool:
        """Take the lock; with ``wait=False`` give up at once when another process has it."""
        if self.acquired:
            return True
        if self.db.is_sqlite:
            return await asyncio.to_thread(self._flock, wait)
        conn = await self.db.engine.connect()
        try:
            # Autocommit: holding the lock must not hold a transaction open for hours.
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            if wait:
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": self.key})
                got = True
            else:
                got = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar())
        except BaseException:
            await _close_quietly(conn)
            raise
        if not got:
            await _close_quietly(conn)
            return False
        self._conn = conn
        return True

    async def still_held(self) -> bool:
        """Whether the lock is still ours: on PostgreSQL, whether its connection still lives."""
        if self._file is not None or self._in_memory:
            return True
        if self._conn is None:
            return False
        try:
            await self._conn.execute(text("SELECT 1"))
        except Exception:
            log.warning("lost the %s lock: its database connection is gone", self.name)
            await _close_quietly(self._conn)
            self._conn = None
            return False
        return True

    async def release(self) -> None:
        self._in_memory = False
        if self._file is not None:
            file, self._file = self._file, None
            await asyncio.to_thread(_unflock, file)
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            await _close_quietly(conn)

    async def __aenter__(self) -> AdvisoryLock:
        await self.acquire(wait=True)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.release()

    def _flock(self, wait: bool) -> bool:
        database = self.db.url.database
        if not database or database == ":memory:":
            self._in_memory = True
            return True
        self._file = open(Path(f"{database}.{self.name}.lock"), "ab")  # noqa: SIM115  (held until release)
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            self._file.close()
            self._file = None
            return False
        return True


def _unflock(file: IO[bytes]) -> None:
    try:
        fcntl.flock(file, fcntl.LOCK_UN)
    finally:
        file.close()


async def _close_quietly(conn: AsyncConnection) -> None:
    try:
        await conn.close()
    except Exception:
        with contextlib.suppress(Exception):
            await conn.invalidate()
