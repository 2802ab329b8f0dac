"""Alembic environment: runs on the bot's own connection, or on DATABASE_URL from the CLI."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from bot.core.migrate import include_object

target_metadata = SQLModel.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return

    from bot.core.config import Settings
    from bot.core.db import Database

    async def run() -> None:
        db = Database(Settings().database_url)
        async with db.engine.begin() as conn:
            await conn.run_sync(run_with)
        await db.dispose()

    asyncio.run(run())


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `investbot migrate`")
run_online()
