"""Backups: taken while the bot writes, restored into a fresh database, nothing missing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot import backup as backups
from bot.app import App
from bot.cli import main
from bot.core import migrate
from bot.core.db import Database
from bot.core.migrate import current
from models import AuditEntry, Enterprise, Lead
from tests.conftest import ChatFactory


class Writer:
    """Keeps writing audit entries, one transaction each, until stopped."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.committed: list[int] = []
        self.stopped = asyncio.Event()
        self.warmed_up = asyncio.Event()

    async def run(self) -> None:
        n = 0
        while not self.stopped.is_set():
            async with self.db.session() as session:
                session.add(AuditEntry(entity="writer", entity_id=n, action="tick"))
            self.committed.append(n)
            if n == 20:
                self.warmed_up.set()
            n += 1
            await asyncio.sleep(0.002)


async def test_backup_while_writing_then_restore_finds_every_record(
    app: App, chat: ChatFactory, empty_database_url: str, tmp_path: Path
) -> None:
    liaison = chat(1002)
    await liaison.send("/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源")
    await liaison.press("确认保存")
    async with app.db.session() as session:
        for i in range(200):
            session.add(Enterprise(name=f"企业{i}", normalized_name=f"企业{i}", tags=["链主"], aliases=[f"E{i}"]))
    async with app.db.session() as session:
        enterprises = {(e.id, e.name, tuple(e.tags)) for e in (await session.exec(select(Enterprise))).all()}
        leads = {(le.id, le.amount_yuan, le.plan) for le in (await session.exec(select(Lead))).all()}
    assert len(leads) == 1

    writer = Writer(app.db)
    task = asyncio.create_task(writer.run())
    await writer.warmed_up.wait()
    before = len(writer.committed)
    path = await backups.backup(app.settings.database_url, tmp_path / "copy.bak")
    await asyncio.sleep(0.05)
    writer.stopped.set()
    await task
    assert len(writer.committed) > before, "the writer kept writing during the backup"

    await backups.restore(empty_database_url, path)
    restored = Database(empty_database_url)
    try:
        assert await current(restored) == await current(app.db)
        async with restored.session() as session:
            rows = (await session.exec(select(Enterprise))).all()
            assert {(e.id, e.name, tuple(e.tags)) for e in rows} == enterprises
            assert {(le.id, le.amount_yuan, le.plan) for le in (await session.exec(select(Lead))).all()} == leads
            ticks = (
                await session.exec(
                    select(AuditEntry.entity_id).where(AuditEntry.entity == "writer").order_by(col(AuditEntry.id))
                )
            ).all()
        # A snapshot: every tick committed before the backup began, then an unbroken run.
        assert len(ticks) >= before
        assert list(ticks) == list(range(len(ticks)))
        # The restored database is a working one: the bot migrates it (nothing to do) and writes.
        await migrate.upgrade(restored)
        async with restored.session() as session:
            session.add(Enterprise(name="恢复后", normalized_name="恢复后"))
    finally:
        await restored.dispose()


async def test_restore_refuses_to_overwrite_without_replace(app: App, tmp_path: Path) -> None:
    path = await backups.backup(app.settings.database_url, tmp_path / "copy.bak")
    with pytest.raises(backups.BackupError):
        await backups.backup(app.settings.database_url, path)
    with pytest.raises(backups.BackupError, match=r"exists|already"):
        await backups.restore(app.settings.database_url, path)


async def test_a_missing_pg_dump_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backups.shutil, "which", lambda _name: None)
    with pytest.raises(backups.BackupError, match="pg_dump not found: install the PostgreSQL client tools"):
        await backups.backup("postgresql://bot:secret@db.example/investbot", tmp_path / "x.dump")


def test_pg_tools_get_the_password_from_the_environment() -> None:
    env = backups.pg_environment("postgresql://bot:s3cret@db.example:6543/investbot")
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"], env["PGDATABASE"]) == (
        "db.example",
        "6543",
        "bot",
        "s3cret",
        "investbot",
    )


@pytest.mark.usefixtures("quiet_root_logger")
def test_cli_backup_and_restore(
    database_url: str, empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    target = tmp_path / "cli.bak"
    assert main(["backup", str(target)]) == 0
    assert target.is_file() and target.stat().st_size > 0
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    assert main(["restore", str(target)]) == 0
    assert main(["restore", str(target)]) == 1  # now it holds data: --replace is needed
