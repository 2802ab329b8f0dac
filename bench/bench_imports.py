"""Imports at ten times Zhangye: a 2,000-row spreadsheet against 100,000 enterprises.

    .venv/bin/python -m bench.bench_imports [--scale 0.05] [--rounds 5] [--database-url URL]

Each round checks a fresh file (read in the worker process, rows checked, matched against
the register) and imports it, half its rows already registered and half new; interleaved
with it, the same kind of file is imported the way the chat saves one record at a time
(``find_or_create`` and ``library.put`` per row, one transaction) — the peer the bulk import
is measured against. Meanwhile a ticker on the event loop records how late it ran: the
longest stall is what another person waiting for an answer would have felt, read against the
idle loop's on the same machine at the same time. Printed: wall and CPU seconds, median and
spread (min–max) over the rounds. Goals: check ≤ 2 s, import ≤ 2 s, stall ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import insert
from sqlmodel import select

from bench.register import synthetic_names
from bot.core import migrate
from bot.core.db import Database
from models import Chain, Enterprise, Member, utcnow
from services import enterprises, imports, library, members, seed
from services.names import normalize_name
from services.sheets import to_bytes

REGISTER = 100_000
ROWS = 2_000
ADMIN = 900_000_000_777


async def build(db: Database, count: int) -> None:
    await migrate.upgrade(db)
    await seed.seed(db)
    now = utcnow()
    rows = [
        {
            "name": name,
            "normalized_name": normalize_name(name),
            "pinyin": "",
            "initials": "",
            "tags": [],
            "aliases": [],
            "contact_name": "",
            "contact_phone": "",
            "region": "",
            "registration_seq": 0,
            "credit_code": None,
            "created_at": now,
            "updated_at": now,
        }
        for name in synthetic_names(count)
    ]
    async with db.session() as session:
        # 2,000 rows of 13 values a statement: PostgreSQL takes at most 32,767 parameters.
        for start in range(0, len(rows), 2000):
            await session.exec(insert(Enterprise).values(rows[start : start + 2000]))  # type: ignore[call-overload]


def spreadsheet(names: list[str]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "产业链", "意向投资额（万元）", "备注"])
    for name in names:
        ws.append([name, "新能源", 1000, "储能"])
    return to_bytes(wb)


class Ticker:
    """How late a 10 ms sleep on the event loop wakes up: the loop's longest stall.

    On a machine shared with other work a sleep also wakes late when the process simply got
    no CPU; ``idle`` measures that with nothing to do, the peer each stall is read against.
    The CPU seconds the bot's own process spent are the figure least moved by that load
    (the file itself is read in a worker process, not counted).
    """

    #: A stall this long has what holds the loop written down.
    HELD = 0.1

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None
        self._label = ""
        self._beat = time.perf_counter()
        self._loop_thread = threading.get_ident()
        #: Where the loop was, in the project's code, when a stall passed ``HELD``.
        self.holders: Counter[str] = Counter()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        """Looks at the loop's stack from beside it when the beat is late past ``HELD``."""
        seen = 0.0
        while True:
            time.sleep(0.02)
            beat = self._beat
            if self._task is None or beat == seen or time.perf_counter() - beat < self.HELD:
                continue
            seen = beat
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            ours = [
                f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno} {f.name}"
                for f in traceback.extract_stack(frame)
                if any(part in f.filename for part in ("/services/", "/bot/", "/handlers/", "/models/"))
            ]
            self.holders[f"{self._label}: " + (" ← ".join(reversed(ours[-3:])) or "(outside the project's code)")] += 1

    async def _run(self) -> None:
        while True:
            started = self._beat = time.perf_counter()
            await asyncio.sleep(0.01)
            self._beat = time.perf_counter()
            self.worst = max(self.worst, time.perf_counter() - started - 0.01)

    async def measure(self, work: Callable[[], Awaitable[Any]], label: str = "idle") -> tuple[float, float, float, Any]:
        """Wall seconds, longest stall, CPU seconds of this process, and the work's result."""
        self.worst, self._label = 0.0, label
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.02)
        started, cpu = time.perf_counter(), time.process_time()
        result = await work()
        took, used = time.perf_counter() - started, time.process_time() - cpu
        self._task.cancel()
        self._task = None
        return took, self.worst, used, result

    async def idle(self, seconds: float = 1.0) -> float:
        """The longest stall while the loop has nothing to do."""
        _took, worst, _cpu, _ = await self.measure(lambda: asyncio.sleep(seconds))
        return worst


async def per_row(db: Database, member: Member, names: list[str], chain_id: int) -> None:
    """The peer: what saving each row as the chat saves one record would cost."""
    async with db.session() as session:
        await enterprises.take_register(session)
        for name in names:
            enterprise, _ = await enterprises.find_or_create(
                session, name=name, credit_code=None, chain_id=chain_id, actor_id=member.id, turn_taken=True
            )
            await library.put(
                session, chain_id=chain_id, enterprise=enterprise, actor_id=member.id, expected_yuan=10**7
            )


def figure(values: list[float], unit: str = "s", scale: float = 1.0) -> str:
    shown = [v * scale for v in values]
    return f"median {statistics.median(shown):7.2f} {unit} (spread {min(shown):.2f}–{max(shown):.2f})"


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 100,000 enterprises and 2,000 rows")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    count, rows = max(int(REGISTER * args.scale), 100), max(int(ROWS * args.scale), 20)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        started = time.perf_counter()
        await build(db, count)
        print(
            f"register of {count:,} enterprises built in {time.perf_counter() - started:.1f} s; files of {rows:,} rows"
        )
        member = await members.load_member(db, ADMIN, admin_ids=frozenset({ADMIN}))
        assert member is not None
        async with db.session() as session:
            chain = (await session.exec(select(Chain).where(Chain.code == "new_energy"))).one()
        registered = synthetic_names(count)
        fresh = iter(name for name in synthetic_names(count + 2 * rows * (args.rounds + 1), seed=99))
        ticker = Ticker()
        checks, applies, peers, check_stalls, apply_stalls, idles = [], [], [], [], [], []
        check_cpu, apply_cpu = [], []
        for round_ in range(args.rounds):
            half = rows // 2
            known = registered[round_ * half : (round_ + 1) * half]
            names = known + [next(fresh) for _ in range(rows - half)]
            # Made before the clock starts: the person's spreadsheet program writes the file, not the bot.
            content = spreadsheet(names)
            idles.append(await ticker.idle())
            took, stall, cpu, checked = await ticker.measure(
                lambda content=content: imports.check(db, member, content), "check"
            )
            checks.append(took)
            check_cpu.append(cpu)
            check_stalls.append(stall)
            batch = await imports.hold(db, member, "bench.xlsx", checked)
            took, stall, cpu, _ = await ticker.measure(lambda batch=batch: imports.run(db, member, batch), "import")
            applies.append(took)
            apply_cpu.append(cpu)
            apply_stalls.append(stall)
            others = [next(fresh) for _ in range(rows)]
            took, _, _, _ = await ticker.measure(
                lambda others=others: per_row(db, member, others, int(chain.id or 0)), "per-row peer"
            )
            peers.append(took)
            print(
                f"round {round_ + 1}: check {checks[-1]:.2f} s ({len(checked.matched)} matched, "
                f"{len(checked.new)} new, stall {check_stalls[-1] * 1000:.0f} ms), import {applies[-1]:.2f} s "
                f"(stall {apply_stalls[-1] * 1000:.0f} ms), per-row peer {peers[-1]:.2f} s"
            )
        print(f"check  {rows:,} rows vs {count:,}: {figure(checks)}; CPU {figure(check_cpu)}")
        print(f"import {rows:,} rows (bulk):    {figure(applies)}; CPU {figure(apply_cpu)}")
        print(f"import {rows:,} rows (per row): {figure(peers)}")
        ratios = [p / a for p, a in zip(peers, applies, strict=True)]
        print(f"per-row / bulk: {figure(ratios, unit='x')}")
        print(f"longest event-loop stall during check:  {figure(check_stalls, unit='ms', scale=1000)}")
        print(f"longest event-loop stall during import: {figure(apply_stalls, unit='ms', scale=1000)}")
        print(f"longest stall of the idle loop (peer):  {figure(idles, unit='ms', scale=1000)}")
        print(f"where the loop was held over {Ticker.HELD * 1000:.0f} ms (times seen, innermost first):")
        for where, times in ticker.holders.most_common(8):
            print(f"  {times:3d}  {where}")
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
