"""Time /find's search over 100,000 enterprises in a fresh SQLite database.

    .venv/bin/python bench/bench_find.py [count]

Building the register (names, pinyin, initials) takes a few minutes at 100,000; the
timings printed are those of the searches, of the "did you mean …?" lookup, and of
checking a 2,000-row import against it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import insert

from bench.bench_names import synthetic_names
from bot.core import migrate
from bot.core.db import Database
from models import Enterprise, Member, Role, utcnow
from services import enterprises, imports, search, seed
from services.names import normalize_name, pinyin_full, pinyin_initials
from services.sheets import to_bytes

QUERIES = (
    ("initials", "ndsd"),
    ("pinyin", "ningdeshidai"),
    ("alias", "CATL"),
    ("exact name", "宁德时代新能源科技股份有限公司"),
    ("substring", "宁德时代"),
    ("near name (typo)", "宁德时代新能原科技"),
    ("credit code", "91350900587527783P"),
    ("no match", "完全不存在的企业名称"),
)


async def build(db: Database, count: int) -> None:
    await migrate.upgrade(db)
    await seed.seed(db)
    rows = [
        {
            "name": name,
            "normalized_name": normalize_name(name),
            "pinyin": pinyin_full(name)[:512],
            "initials": pinyin_initials(name)[:128],
            "tags": [],
            "aliases": [],
            "contact_name": "",
            "contact_phone": "",
            "region": "",
            "registration_seq": 0,
            "credit_code": None,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        for _, name in synthetic_names(count)
    ]
    rows.append(
        {
            **rows[0],
            "name": "宁德时代新能源科技股份有限公司",
            "normalized_name": normalize_name("宁德时代新能源科技股份有限公司"),
            "pinyin": pinyin_full("宁德时代新能源科技股份有限公司"),
            "initials": pinyin_initials("宁德时代新能源科技股份有限公司"),
            "aliases": ["CATL"],
            "credit_code": "91350900587527783P",
        }
    )
    async with db.session() as session:
        for start in range(0, len(rows), 5000):
            await session.exec(insert(Enterprise).values(rows[start : start + 5000]))  # type: ignore[call-overload]


def _member(role: Role, unit_id: int | None) -> Member:
    return Member(
        id=0,
        telegram_id=0,
        full_name="",
        role=role,
        unit_id=unit_id,
        unit_code=None,
        unit_name_zh="",
        unit_name_en="",
        unit_kind=None,
        leader_level=None,
        locale=None,
    )


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        started = time.perf_counter()
        await build(db, count)
        print(f"{count:,} enterprises built in {time.perf_counter() - started:.1f} s")
        bureau = _member(Role.BUREAU, None)
        county = _member(Role.COUNTY, 1)
        for who, scope in (("bureau", bureau), ("county", county)):
            for label, query in QUERIES:
                await search.find(db, scope, query)  # warm the caches once
                runs = 3
                started = time.perf_counter()
                for _ in range(runs):
                    found = await search.find(db, scope, query)
                per_run = (time.perf_counter() - started) / runs
                best = found.enterprises[0].name if found.enterprises else "-"
                print(f"{who:<7} {label:<18} {query!r:<36} {per_run * 1000:8.1f} ms  best: {best}")
        await time_similar(db, count)
        await time_import(db, min(count, imports.MAX_ROWS))
        await db.dispose()


async def time_similar(db: Database, count: int) -> None:
    """The "did you mean …?" step of every flow asks this once per typed enterprise name."""
    for query in ("宁德时代新能原科技", synthetic_names(count)[count // 2][1], "比亚迪"):
        await enterprises.similar(db, query)
        runs = 3
        started = time.perf_counter()
        for _ in range(runs):
            found = await enterprises.similar(db, query)
        per_run = (time.perf_counter() - started) / runs
        best = found[0].name if found else "-"
        print(f"similar on {count:,} enterprises {query!r:<36} {per_run * 1000:8.1f} ms  best: {best}")


async def time_import(db: Database, rows: int) -> None:
    """Checking a spreadsheet matches every row against the same register."""
    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "产业链", "意向投资额（万元）"])
    for _, name in synthetic_names(rows, seed=7):
        ws.append([name, "新能源", 1000])
    content = to_bytes(wb)
    member = Member(
        id=0, telegram_id=0, full_name="", role=Role.BUREAU, unit_id=None, unit_code=None, unit_name_zh="",
        unit_name_en="", unit_kind=None, leader_level=None, locale=None,
    )  # fmt: skip
    started = time.perf_counter()
    checked = await imports.check(db, member, content)
    print(
        f"import check of {rows:,} rows: {time.perf_counter() - started:.1f} s "
        f"({len(checked.new)} new, {len(checked.matched)} matched, {len(checked.rejected)} rejected)"
    )


if __name__ == "__main__":
    asyncio.run(main())
