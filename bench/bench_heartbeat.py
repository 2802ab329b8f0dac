"""The longest event-loop stall while a scheduled run builds, draws and queues every digest
and a spreadsheet is imported at the same time.

    .venv/bin/python -m bench.bench_heartbeat [--scale 1.0] [--rounds 3] [--rows 2000]

A heartbeat task asks to wake every 5 ms while ``send_due`` runs (the city of
``bench_digests``, every kind of digest due at once: data, text, charts, one transaction of
queued messages) and, beside it, a bureau member's import of a ``--rows`` spreadsheet is
checked and applied (``services.imports``: read in its reader process, matched, written).
How late each beat wakes is how long the loop could not answer anybody. Rounds interleave
the bot's way (charts drawn in the worker process) with a peer that draws them on the loop,
as the bot once did. Printed per way: the longest stall (median of the rounds, and their
spread), the median beat's lateness, and how long the run took. Goal: no stall over 100 ms.

On a machine shared with other work a stall also counts the time the process waited for a
core, so the figure is an upper bound; the peer, measured in the same rounds, shows what
the worker process saves.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable
from typing import Any

from bench import bench_digests
from bench.bench_digests import scheduled_run, spread
from bench.bench_imports import spreadsheet
from bench.register import synthetic_names
from bot.app import App
from bot.runner import settle_heap
from models import Member
from services import charts, imports, members
from services.imports.read import SheetError

BEAT = 0.005
ADMIN = 900_000_000_778


async def _draw_on_the_loop(chart: charts.Chart) -> bytes:
    return charts.render_png(chart)


async def heartbeat_during(*work: Awaitable[Any]) -> tuple[list[float], float]:
    """Every beat's lateness while ``work`` runs together, and how long it took."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(BEAT)
            stalls.append(max(0.0, time.perf_counter() - asked - BEAT))

    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)
    started = time.perf_counter()
    try:
        await asyncio.gather(*work)
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        await beating
    return stalls, elapsed


refused: list[str] = []


async def an_import(app: App, member: Member, content: bytes) -> None:
    """A bureau member's spreadsheet, checked and applied as the chat does."""
    try:
        checked = await imports.check(app.db, member, content)
    except SheetError as error:
        # The reader's time limit, on a machine busy with other work: counted, not fatal.
        refused.append(error.code)
        return
    batch = await imports.hold(app.db, member, "bench.xlsx", checked)
    await imports.run(app.db, member, batch)


async def main(scale: float, rounds: int, rows: int) -> None:
    print(f"scale {scale}: 500 units, {int(100_000 * scale)} leads, every digest due at once; imports of {rows} rows")
    app, _ = await bench_digests.big_city(scale, None)
    member = await members.load_member(app.db, ADMIN, admin_ids=frozenset({ADMIN}))
    assert member is not None
    names = iter(synthetic_names(rows * (2 * rounds + 2), seed=7))
    files = [spreadsheet([next(names) for _ in range(rows)]) for _ in range(2 * rounds + 1)]
    real_draw = charts.draw
    ways = ("worker process", "on the loop (peer)")
    results: dict[str, list[tuple[list[float], float]]] = {way: [] for way in ways}
    try:
        # Warm: the chart worker started and matplotlib loaded there (and here, for the
        # peer), the import's reader started, the caches as a running bot has them.
        await an_import(app, member, files.pop())
        await scheduled_run(app)
        charts.render_png(charts.Chart(*(2 * [charts.Bars("warm", ["a"], [("", [1])])])))
        settle_heap()  # as run_until_stopped does once the bot has started
        for _ in range(rounds):
            for way in ways:
                if way != ways[0]:
                    charts.draw = _draw_on_the_loop  # type: ignore[assignment]
                try:
                    results[way].append(await heartbeat_during(scheduled_run(app), an_import(app, member, files.pop())))
                finally:
                    charts.draw = real_draw  # type: ignore[assignment]
        for way in ways:
            worst = [max(stalls) for stalls, _ in results[way]]
            typical = [statistics.median(stalls) for stalls, _ in results[way]]
            took = [elapsed for _, elapsed in results[way]]
            print(
                f"  {way:20s} longest stall median {statistics.median(worst) * 1000:7.1f} ms (spread {spread(worst)}); "
                f"median beat late {statistics.median(typical) * 1000:.1f} ms; "
                f"run median {statistics.median(took):.1f} s"
            )
        ours = statistics.median(max(s) for s, _ in results[ways[0]])
        peer = statistics.median(max(s) for s, _ in results[ways[1]])
        print(f"  longest stall, worker / on the loop: {ours / peer:.3f}; goal: no stall over 100 ms")
        if refused:
            print(f"  imports refused by the reader ({', '.join(sorted(set(refused)))}): {len(refused)}")
    finally:
        charts.shutdown()
        await app.db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten times Zhangye (100,000 leads)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000, help="rows of the spreadsheet imported meanwhile")
    args, _ = parser.parse_known_args()
    asyncio.run(main(args.scale, args.rounds, args.rows))
