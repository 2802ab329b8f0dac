"""The longest event-loop stall while every digest of a scheduled run is built, drawn and queued.

    .venv/bin/python -m bench.bench_heartbeat [--scale 1.0] [--rounds 3]

A heartbeat task asks to wake every 5 ms during ``send_due`` (the city of
``bench_digests``, every kind of digest due at once); how late it wakes is how long the
loop could not answer anybody. Rounds interleave the bot's way (charts drawn in the worker
process) with a peer that draws them on the loop, as the bot did before. Goal: no stall
over 100 ms. Median and spread of each round's longest stall.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from bench import bench_digests
from bench.bench_digests import scheduled_run, spread
from bot.app import App
from services import charts

BEAT = 0.005


async def _draw_on_the_loop(chart: charts.Chart) -> bytes:
    return charts.render_png(chart)


async def longest_stall(app: App) -> tuple[float, float]:
    """(longest stall, run time) of one scheduled run."""
    stalls: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            asked = time.perf_counter()
            await asyncio.sleep(BEAT)
            stalls.append(time.perf_counter() - asked - BEAT)

    beating = asyncio.create_task(heartbeat())
    try:
        elapsed, _ = await scheduled_run(app)
    finally:
        done.set()
        await beating
    return max(stalls), elapsed


async def main(scale: float, rounds: int) -> None:
    print(f"scale {scale}: 500 units, {int(100_000 * scale)} leads, every digest due at once")
    app, _ = await bench_digests.big_city(scale, None)
    real_draw = charts.draw
    results: dict[str, list[tuple[float, float]]] = {"worker process": [], "on the loop (peer)": []}
    try:
        await scheduled_run(app)  # warm: the worker started, matplotlib loaded there
        charts.render_png(charts.Chart(*(2 * [charts.Bars("warm", ["a"], [("", [1])])])))  # and here, for the peer
        for _ in range(rounds):
            results["worker process"].append(await longest_stall(app))
            charts.draw = _draw_on_the_loop  # type: ignore[assignment]
            try:
                results["on the loop (peer)"].append(await longest_stall(app))
            finally:
                charts.draw = real_draw  # type: ignore[assignment]
        for name, values in results.items():
            worst = [s for s, _ in values]
            runs = [e for _, e in values]
            print(
                f"  {name:20s} longest stall median {statistics.median(worst) * 1000:7.1f} ms "
                f"(spread {spread(worst)}); run median {statistics.median(runs):.1f} s"
            )
        ours = statistics.median(s for s, _ in results["worker process"])
        peer = statistics.median(s for s, _ in results["on the loop (peer)"])
        print(f"  stall ratio worker / on the loop: {ours / peer:.3f}")
    finally:
        charts.shutdown()
        await app.db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten times Zhangye (100,000 leads)")
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args()
    asyncio.run(main(args.scale, args.rounds))
