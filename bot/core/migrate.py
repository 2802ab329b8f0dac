"""Alembic, driven from inside the bot: ``investbot migrate`` and the migration on start."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from bot.core.db import ROOT, Database

# Search indexes only one backend has, made by hand in the migrations (FTS5 on SQLite, with its
# shadow tables; pg_trgm on PostgreSQL): the models cannot describe them, so comparing the
# models with the database looks past them.
_BACKEND_ONLY_PREFIXES = ("enterprisename_fts", "trgm_")


def include_object(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    return not (reflected and name is not None and name.startswith(_BACKEND_ONLY_PREFIXES))


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "heads") -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(db: Database, revision: str) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current(db: Database) -> str | None:
    """The applied revision(s), comma-separated when branches from parallel work co-exist."""
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        heads = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    return ",".join(sorted(heads)) or None
