"""Alembic, driven from inside the bot: ``investbot migrate`` and the migration on start.

Alembic (and Mako under it) costs a running bot some 11 MB it would keep for its whole
life, so it is imported only when there is something to do: a database already at the
newest revision, as on every start but the first after a release, is seen to be so from
the revision files and the ``alembic_version`` table alone.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.core.db import ROOT, Database

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\b[^=]*=\s*(.+)$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")

# Search indexes only one backend has, made by hand in the migrations (FTS5 on SQLite, with its
# shadow tables; pg_trgm on PostgreSQL): the models cannot describe them, so comparing the
# models with the database looks past them.
_BACKEND_ONLY_PREFIXES = ("enterprisename_fts", "enterprisename_pair", "trgm_")


def include_object(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    return not (reflected and name is not None and name.startswith(_BACKEND_ONLY_PREFIXES))


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def newest_revisions() -> frozenset[str]:
    """The heads of the revision files: every revision no other one comes after."""
    revisions: set[str] = set()
    earlier: set[str] = set()
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found[1])
        down = _DOWN.search(source)
        if down is not None:
            earlier.update(_QUOTED.findall(down[1]))
    return frozenset(revisions - earlier)


async def _applied(db: Database) -> frozenset[str] | None:
    """The revisions recorded in the database; ``None`` when it has never been migrated."""
    async with db.engine.connect() as conn:
        has_table = await conn.run_sync(lambda sync: sync.dialect.has_table(sync, "alembic_version"))
        if not has_table:
            return None
        return frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())


async def upgrade(db: Database, revision: str = "heads") -> None:
    if revision == "heads" and await _applied(db) == newest_revisions():
        return
    from alembic import command

    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def downgrade(db: Database, revision: str) -> None:
    from alembic import command

    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current(db: Database) -> str | None:
    """The applied revision(s), comma-separated when branches from parallel work co-exist."""
    from alembic.runtime.migration import MigrationContext

    async with db.engine.connect() as conn:
        heads = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    return ",".join(sorted(heads)) or None
