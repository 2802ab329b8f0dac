"""PostgreSQL for the test suite: is a server there, and a cheap clean database per test.

One database per test session (its name is random, so several sessions can share a server),
migrated and seeded once. Its seeded rows are copied into a ``snapshot`` schema; before each
test every table is emptied and refilled from the snapshot in one round trip, and the id
sequences are moved past the restored ids. That costs a few tens of milliseconds, where
``CREATE DATABASE … TEMPLATE`` plus ``DROP DATABASE`` costs most of a second (the drop waits
for a checkpoint). Tests that need an empty database get one of their own, dropped at the end.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets

import asyncpg
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

DEFAULT_URL = "postgresql://127.0.0.1:5432/test"
SNAPSHOT = "snapshot"


def server_url() -> str | None:
    """``TEST_DATABASE_URL``; empty, ``none`` or ``off`` turns PostgreSQL off."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_URL).strip()
    return None if url.lower() in ("", "none", "off", "0") else url


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(_asyncpg_dsn(url), timeout=3)


@functools.cache
def availability() -> tuple[bool, str]:
    """Whether PostgreSQL answers, and a line saying so (asked once per session)."""
    url = server_url()
    if url is None:
        return False, "PostgreSQL skipped: TEST_DATABASE_URL turns it off"

    async def probe() -> str:
        conn = await connect(url)
        try:
            version = await conn.fetchval("SHOW server_version")
            can_create = await conn.fetchval(
                "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
            )
        finally:
            await conn.close()
        if not can_create:
            raise PermissionError("the role may not CREATE DATABASE")
        return str(version)

    try:
        version = asyncio.run(probe())
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:160]
        return False, f"PostgreSQL skipped: no server at {shown(url)} ({reason}); set TEST_DATABASE_URL"
    return True, f"PostgreSQL {version} at {shown(url)}: database tests run on SQLite and PostgreSQL"


class PgServer:
    """Databases this session created on the server, and the per-test reset of the seeded one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tag = f"investbot_t{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []
        self._reset_sql: str | None = None

    async def create(self, suffix: str) -> str:
        name = f"{self.tag}_{suffix}"
        conn = await connect(self.url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
            # A test database need not survive a power cut: commits skip the WAL flush.
            await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        finally:
            await conn.close()
        self.created.append(name)
        return with_database(self.url, name)

    async def drop(self, url: str) -> None:
        name = make_url(url).database
        conn = await connect(self.url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        if name in self.created:
            self.created.remove(name)

    async def drop_all(self) -> None:
        conn = await connect(self.url)
        try:
            for name in self.created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        self.created.clear()

    async def snapshot(self, url: str) -> None:
        """Keep the seeded rows aside and prepare the SQL that puts them back."""
        conn = await connect(url)
        try:
            present = {
                r["tablename"]
                for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                if r["tablename"] != "alembic_version"
            }
            # Parents before children, so foreign keys hold while refilling.
            ordered = [t.name for t in SQLModel.metadata.sorted_tables if t.name in present]
            ordered += sorted(present - set(ordered))
            serials = await conn.fetch(
                """SELECT table_name, column_name FROM information_schema.columns
                   WHERE table_schema = 'public' AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"""
            )
            await conn.execute(f"CREATE SCHEMA {SNAPSHOT}")
            refill: list[str] = []
            for table in ordered:
                await conn.execute(f'CREATE TABLE {SNAPSHOT}."{table}" AS TABLE public."{table}"')
                if await conn.fetchval(f'SELECT count(*) FROM {SNAPSHOT}."{table}"'):
                    refill.append(f'INSERT INTO public."{table}" SELECT * FROM {SNAPSHOT}."{table}";')
        finally:
            await conn.close()
        sequences = [
            f"SELECT setval(pg_get_serial_sequence('public.\"{r['table_name']}\"', '{r['column_name']}'), "
            f'coalesce(max("{r["column_name"]}"), 0) + 1, false) FROM public."{r["table_name"]}";'
            for r in serials
        ]
        self._reset_sql = "\n".join(
            [
                "SET lock_timeout = '10s';",
                # DELETE, not TRUNCATE: on a few hundred rows it is many times faster.
                *(f'DELETE FROM public."{t}";' for t in reversed(ordered)),
                *refill,
                *sequences,
            ]
        )

    async def reset(self, url: str) -> None:
        assert self._reset_sql is not None, "snapshot() first"
        conn = await connect(url)
        try:
            # A connection a previous test left open would hold the reset up.
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await conn.execute(self._reset_sql)
        finally:
            await conn.close()
