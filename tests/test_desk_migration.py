"""Migration 0002 fills the pinyin and initials of enterprises saved before /find needed them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.core.db import Database
from bot.core.migrate import upgrade


async def test_pinyin_is_backfilled(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await upgrade(db, "0001")
        async with db.engine.begin() as conn:
            for name, pinyin in (("宁德时代新能源科技股份有限公司", ""), ("比亚迪股份有限公司", "byd-kept")):
                await conn.execute(
                    text(
                        "INSERT INTO enterprise (name, normalized_name, tags, aliases, pinyin, initials, contact_name,"
                        " contact_phone, region, registration_seq, created_at, updated_at)"
                        " VALUES (:name, :name, '[]', '[]', :pinyin, '', '', '', '', 0, '2026-01-01', '2026-01-01')"
                    ),
                    {"name": name, "pinyin": pinyin},
                )
        await upgrade(db, "0002")
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT name, pinyin, initials FROM enterprise ORDER BY id"))).all()
        assert rows[0][1:] == ("ningdeshidaixinnengyuankeji", "ndsdxnykj")
        # Only empty values are filled; the initials were empty, so the whole pair is recomputed.
        assert rows[1][1:] == ("biyadi", "byd")
    finally:
        await db.dispose()
