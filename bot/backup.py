"""``investbot backup`` and ``investbot restore``: a consistent copy while the bot runs.

SQLite: the online backup API (the same as the ``.backup`` command of the sqlite3 shell)
copies every page inside one read transaction; with the write-ahead log, writers carry on
meanwhile and the copy is the database as it was when the copy began.

PostgreSQL: ``pg_dump --format=custom`` runs in one repeatable-read transaction, so it too
is a snapshot while the bots keep writing; ``pg_restore`` reads it back. Both come with the
PostgreSQL client tools (Debian: ``postgresql-client``), whose major version must be at
least the server's. The password travels in ``PGPASSWORD``, never on the command line.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.core.db import is_sqlite, private_file
from models import utcnow

BACKUP_DIR = Path("backups")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def default_path(database_url: str, directory: Path = BACKUP_DIR, now: datetime | None = None) -> Path:
    stamp = (now or utcnow()).strftime("%Y%m%d-%H%M%S")
    suffix = "sqlite3" if is_sqlite(database_url) else "dump"
    return directory / f"investbot-{stamp}.{suffix}"


async def backup(database_url: str, path: Path | None = None, *, directory: Path = BACKUP_DIR) -> Path:
    """Write a consistent copy of the database to ``path`` (a fresh file); return the path."""
    target = path or default_path(database_url, directory)
    _fresh_file(target)
    try:
        if is_sqlite(database_url):
            await asyncio.to_thread(_sqlite_copy, _sqlite_file(database_url), target)
        else:
            args = ["--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
            await _pg_run("pg_dump", args, database_url)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


async def restore(database_url: str, path: Path, *, replace: bool = False) -> None:
    """Load a backup into the database of ``database_url``. Stop the bot first.

    Refuses to overwrite a database that already holds tables unless ``replace`` is set.
    """
    _existing_file(path)
    if is_sqlite(database_url):
        target = _sqlite_file(database_url)
        _restorable(target, replace=replace)
        await asyncio.to_thread(_sqlite_copy, path, target)
        return
    args = ["--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
    if replace:
        args += ["--clean", "--if-exists"]
    elif await _pg_has_tables(database_url):
        raise BackupError(f"{make_url(database_url).database} already has tables; pass --replace to overwrite them")
    await _pg_run("pg_restore", [*args, str(path)], database_url)


def _fresh_file(target: Path) -> None:
    if target.exists():
        raise BackupError(f"{target} already exists; choose another path")
    # Created before pg_dump or SQLite write into it, so it is never readable by others.
    private_file(target)


def _existing_file(path: Path) -> None:
    if not path.is_file():
        raise BackupError(f"no backup at {path}")


def _restorable(target: Path, *, replace: bool) -> None:
    if target.exists() and target.stat().st_size > 0 and not replace:
        raise BackupError(f"{target} exists; pass --replace to overwrite it")
    private_file(target)


def _sqlite_file(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # pages=-1: all pages in one step, inside one read transaction (a snapshot).
        src.backup(dst, pages=-1)
        # A restored file is read without its old -wal file; keep it self-contained.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


async def _pg_has_tables(database_url: str) -> bool:
    from sqlalchemy import inspect

    from bot.core.db import Database

    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await db.dispose()
    return bool(names)


def pg_environment(database_url: str) -> dict[str, str]:
    """libpq's variables for this URL, so no secret appears in a process listing."""
    url: URL = make_url(database_url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


async def _pg_run(tool: str, args: list[str], database_url: str) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(
            f"{tool} not found: install the PostgreSQL client tools (Debian/Ubuntu: "
            f"apt-get install postgresql-client; the image in our Dockerfile has them), "
            f"of the server's major version or newer"
        )
    env = pg_environment(database_url)
    if tool == "pg_restore":
        args = [f"--dbname={env.get('PGDATABASE', '')}", *args]
    process = await asyncio.create_subprocess_exec(
        executable, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip()
        password = make_url(database_url).password
        if password:
            message = message.replace(str(password), "***")
        raise BackupError(f"{tool} failed ({process.returncode}): {message}")
