"""The database, its write-ahead log and its backups are readable by the bot's user alone,
whatever the umask (they hold people's names, phone numbers and the city's plans)."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.backup import backup
from bot.core import migrate
from bot.core.db import Database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_a_new_sqlite_database_and_its_backup_are_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "data" / "investbot.sqlite3"
    db = Database(f"sqlite:///{path}")
    try:
        await migrate.upgrade(db)
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            assert mode(path.parent) == 0o700 and mode(path) == 0o600
            wal = path.with_name(path.name + "-wal")
            assert wal.exists() and mode(wal) == 0o600
    finally:
        await db.dispose()
    written = await backup(f"sqlite:///{path}", directory=tmp_path / "backups")
    assert mode(written.parent) == 0o700 and mode(written) == 0o600


async def test_a_pg_dump_is_private(database_url: str, backend: str, tmp_path: Path, open_umask: None) -> None:
    if backend != "pg" or shutil.which("pg_dump") is None:
        pytest.skip("pg_dump against PostgreSQL only")
    written = await backup(database_url, directory=tmp_path / "backups")
    assert written.stat().st_size > 0
    assert mode(written.parent) == 0o700 and mode(written) == 0o600
