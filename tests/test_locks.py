"""Locks across processes: one holder at a time, and free again when the holder dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.bootstrap import prepare_database
from bot.core.config import Settings
from bot.core.db import APPLICATION_NAME, Database
from bot.core.migrate import current
from bot.locks import AdvisoryLock, lock_key
from models import Unit
from tests import pg

ROOT = Path(__file__).resolve().parent.parent


def test_keys_are_stable_and_distinct() -> None:
    assert lock_key("scheduler") == lock_key("scheduler")
    assert lock_key("scheduler") != lock_key("startup")
    assert -(2**63) <= lock_key("scheduler") < 2**63


async def test_one_holder_at_a_time(database_url: str) -> None:
    # Two Database objects stand for two processes: separate pools, separate connections.
    one, two = Database(database_url), Database(database_url)
    try:
        first, second = AdvisoryLock(one, "job"), AdvisoryLock(two, "job")
        assert await first.acquire(wait=False)
        assert not await second.acquire(wait=False)
        assert await first.still_held()
        waiting = asyncio.create_task(second.acquire(wait=True))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await first.release()
        assert await asyncio.wait_for(waiting, 10)
        assert not await first.acquire(wait=False)
        await second.release()
        assert await first.acquire(wait=False)
        await first.release()
    finally:
        await one.dispose()
        await two.dispose()


HOLDER = """
import asyncio, sys
from bot.core.db import Database
from bot.locks import AdvisoryLock

async def main():
    lock = AdvisoryLock(Database(sys.argv[1]), "job")
    assert await lock.acquire(wait=False)
    print("locked", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_the_lock_is_free_again_when_its_process_dies(database_url: str) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLDER, database_url, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    db = Database(database_url)
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 30) == b"locked\n"
        lock = AdvisoryLock(db, "job")
        assert not await lock.acquire(wait=False)
        os.kill(holder.pid, signal.SIGKILL)
        await holder.wait()
        # The server notices the closed connection within moments; a waiting acquire gets it.
        assert await asyncio.wait_for(lock.acquire(wait=True), 10)
        await lock.release()
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await db.dispose()


@pytest.mark.parametrize("backend", ["pg"])
async def test_a_lock_whose_connection_is_killed_is_known_lost(database_url: str) -> None:
    one, two = Database(database_url), Database(database_url)
    conn = await pg.connect(database_url)
    try:
        first = AdvisoryLock(one, "job")
        assert await first.acquire(wait=False)
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
        assert not await first.still_held()
        second = AdvisoryLock(two, "job")
        assert await second.acquire(wait=False)
        await second.release()
    finally:
        await conn.close()
        await one.dispose()
        await two.dispose()


async def test_processes_starting_together_migrate_and_seed_once(empty_database_url: str) -> None:
    settings = Settings(_env_file=None, database_url=empty_database_url)  # type: ignore[call-arg]
    # Without the lock the racing migrations deadlock; fail rather than hang if that returns.
    dbs = await asyncio.wait_for(asyncio.gather(*(prepare_database(settings) for _ in range(3))), 60)
    try:
        assert len({await current(db) for db in dbs}) == 1
        async with dbs[0].session() as session:
            units = (await session.exec(select(func.count()).select_from(Unit))).one()
            codes = (await session.exec(select(func.count(func.distinct(Unit.code))))).one()
        assert units == codes > 0
    finally:
        for db in dbs:
            await db.dispose()
