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
