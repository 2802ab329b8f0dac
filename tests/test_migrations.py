"""Migrations go up, down and up again, and leave the schema the models describe."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlmodel import SQLModel

from bot.core.db import Database
from bot.core.migrate import current, downgrade, include_object, upgrade


async def tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_up_down_up(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        await upgrade(db, "heads")
        head = await current(db)
        assert head is not None
        assert set(SQLModel.metadata.tables) <= await tables(db)
        await downgrade(db, "base")
        assert await current(db) is None
        assert await tables(db) <= {"alembic_version"}
        await upgrade(db, "heads")
        assert await current(db) == head
        assert set(SQLModel.metadata.tables) <= await tables(db)
    finally:
        await db.dispose()


async def test_models_and_migrations_agree(empty_database_url: str) -> None:
    """A model change without a migration fails here (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    db = Database(empty_database_url)
    try:
        await upgrade(db, "heads")
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_object": include_object}), SQLModel.metadata
                )
            )
        assert diff == []
    finally:
        await db.dispose()


async def test_a_database_at_the_newest_revision_starts_without_alembic(empty_database_url: str) -> None:
    """The start-up check reads the same heads alembic does, and skips alembic only when nothing is due."""
    import asyncio
    import sys

    from alembic.script import ScriptDirectory

    from bot.core.migrate import alembic_config, newest_revisions

    assert newest_revisions() == frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
    db = Database(empty_database_url)
    try:
        await upgrade(db, "heads")
        await downgrade(db, "-1")
        # One revision behind: the start-up migration runs it.
        await upgrade(db)
        assert frozenset((await current(db) or "").split(",")) == newest_revisions()
    finally:
        await db.dispose()
    # At the newest revision a fresh process migrates without loading alembic at all.
    script = (
        "import asyncio, sys\n"
        "from bot.core.db import Database\n"
        "from bot.core.migrate import upgrade\n"
        f"db = Database({empty_database_url!r})\n"
        "asyncio.run(upgrade(db))\n"
        "print('alembic' in sys.modules)\n"
    )
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0
    assert out.decode().strip() == "False"
