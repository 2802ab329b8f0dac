"""/find and the near-name check at 100,000 enterprises, on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.bench_find [count] [--sqlite-only]

Builds the register once per backend (names, pinyin, the name index, as the bot writes
them), then times every kind of search the way the bot runs it — ``search.find`` for
/find, the lookup a lead or visit makes when a name is typed (exact name, then "did you
mean …?") — in interleaved rounds, so that a slow moment of the machine falls on every kind
alike. Prints the median, the spread (fastest–slowest) and the median against the goal of
50 ms; then the check of a 2,000-row import against the same register.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench.register import CATL_CODE, enterprise_rows, fill, postgres, synthetic_names
from bot.core.db import Database
from models import Member, Role
from services import enterprises, imports, search
from services.sheets import to_bytes

GOAL_MS = 50.0
ROUNDS = 7
FIND = (
    ("initials", "ndsd"),
    ("pinyin", "ningdeshidai"),
    ("alias (Latin)", "CATL"),
    ("alias (Chinese)", "宁德时代"),
    ("exact name", "宁德时代新能源科技股份有限公司"),
    ("substring", "新能源科"),
    ("short substring", "宁德"),
    ("near name (typo)", "宁德时代新能原科技"),
    ("credit code", CATL_CODE),
    ("no match", "完全不存在的企业名称"),
)
TYPED = (
    ("typo in a long name", "宁德时代新能原科技"),
    ("official name of a short one", "比亚迪汽车工业有限公司"),
    ("short name of a long one", "隆基绿能"),
    ("nothing like it", "完全不存在的企业名称"),
)


def member(role: Role, unit_id: int | None) -> Member:
    return Member(
        id=0, telegram_id=0, full_name="", role=role, unit_id=unit_id, unit_code=None, unit_name_zh="",
        unit_name_en="", unit_kind=None, leader_level=None, locale=None,
    )  # fmt: skip


async def lead_lookup(db: Database, typed: str) -> None:
    """What a lead or visit does with a typed name (``handlers.lookup.take_name``)."""
    if await enterprises.by_name(db, typed) is None:
        await enterprises.similar(db, typed)


async def rounds(cases: list[tuple[str, Callable[[], Awaitable[object]]]]) -> dict[str, list[float]]:
    for _, run in cases:
        await run()  # warm caches and plans once
    times: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(ROUNDS):
        for label, run in cases:
            started = time.perf_counter()
            await run()
            times[label].append((time.perf_counter() - started) * 1000)
    return times


def report(backend: str, times: dict[str, list[float]]) -> None:
    for label, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{backend:<10} {label:<44} median {median:7.1f} ms  spread {min(samples):6.1f}–{max(samples):6.1f} ms"
            f"  {median / GOAL_MS:5.2f}× goal"
        )


async def bench(backend: str, url: str, rows: list[dict[str, object]]) -> None:
    db = Database(url)
    try:
        started = time.perf_counter()
        await fill(db, rows)  # type: ignore[arg-type]
        print(f"{backend}: {len(rows):,} enterprises written in {time.perf_counter() - started:.1f} s")
        bureau, county = member(Role.BUREAU, None), member(Role.COUNTY, 1)
        cases: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        for who, person in (("bureau", bureau), ("county", county)):
            for label, query in FIND:
                cases.append((f"/find {who}: {label}", lambda p=person, q=query: search.find(db, p, q)))
        for label, typed in TYPED:
            cases.append((f"lead lookup: {label}", lambda t=typed: lead_lookup(db, t)))
        report(backend, await rounds(cases))
        await time_import(backend, db, min(len(rows), imports.MAX_ROWS))
    finally:
        await db.dispose()


async def time_import(backend: str, db: Database, count: int) -> None:
    """Checking a spreadsheet matches every row against the same register."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "产业链", "意向投资额（万元）"])
    for name in synthetic_names(count, seed=7):
        ws.append([name, "新能源", 1000])
    content = to_bytes(wb)
    started = time.perf_counter()
    checked = await imports.check(db, member(Role.BUREAU, None), content)
    print(
        f"{backend:<10} import check of {count:,} rows: {time.perf_counter() - started:.1f} s "
        f"({len(checked.new)} new, {len(checked.matched)} matched, {len(checked.rejected)} rejected)"
    )


async def main() -> None:
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    count = int(numbers[0]) if numbers else 100_000
    started = time.perf_counter()
    rows = enterprise_rows(count)
    print(f"{len(rows):,} names with pinyin in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        await bench("sqlite", f"sqlite:///{Path(folder) / 'bench.sqlite3'}", rows)
    if "--sqlite-only" in sys.argv:
        return
    async with postgres() as url:
        if url is None:
            print("postgresql: no server (set BENCH_PG_URL)")
            return
        await bench("postgresql", url, rows)


if __name__ == "__main__":
    asyncio.run(main())
