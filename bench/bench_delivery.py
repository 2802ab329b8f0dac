"""A broadcast of digests through the delivery queue while Telegram answers 429s.

    .venv/bin/python -m bench.bench_delivery [--full] [--count N] [--rounds R] [--retry-after S] [--sqlite-only]

One digest to each of N chats (1,000 with ``--full``, 200 by default) through the real
``Outbox`` worker and its shared pace, on SQLite and on PostgreSQL, to a stand-in for
Telegram that keeps its own count: at two moments it starts a 429 whose ``retry_after``
window refuses every send inside it, as Telegram's does. Beside it, in interleaved rounds,
the peer: the simplest sender that means to honour the limits, an in-memory queue behind
aiolimiter's ``AsyncLimiter(30, 1)`` that holds every sender while a 429's pause lasts.

Printed per configuration, median and spread over the rounds: the total time against
N/30 s plus the windows (goal: within 5 %), the most sends in any one second (goal ≤ 30),
the sends that arrived inside a window (goal 0), lost and doubled messages (goal 0); for the
project, what each send costs the queue: SQL statements, commits, connections taken from the
pool and CPU milliseconds of the process (the steadier figure on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiolimiter import AsyncLimiter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.register import postgres
from bot.core import Outgoing, Reply
from bot.core.db import Database
from bot.delivery import TELEGRAM, Outbox, RetryAfter
from services import seed

RATE = 30.0


class Telegram:
    """Counts what arrives; refuses everything inside a 429 window once one started."""

    def __init__(self, count: int, retry_after: float) -> None:
        self.retry_after = retry_after
        self.triggers = {count // 3, 2 * count // 3}
        self.windows: list[tuple[float, float]] = []
        self.sent: list[float] = []
        self.received: Counter[int] = Counter()
        self.refused = 0
        self.inside = 0
        self.all_in = asyncio.Event()
        self.count = count

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        now = time.monotonic()
        if any(start <= now < end for start, end in self.windows):
            self.inside += 1
            self.refused += 1
            raise RetryAfter(max(end for _, end in self.windows) - now)
        if len(self.sent) in self.triggers:
            self.triggers.discard(len(self.sent))
            self.windows.append((now, now + self.retry_after))
            self.refused += 1
            raise RetryAfter(self.retry_after)
        self.sent.append(now)
        self.received[chat_id] += 1
        if len(self.sent) >= self.count:
            self.all_in.set()

    def busiest_second(self) -> int:
        times, best, first = self.sent, 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= 1.0:
                first += 1
            best = max(best, last - first + 1)
        return best


@dataclass
class Result:
    overshoot: float  # per cent over N/30 s plus the windows
    took: float
    busiest: int
    inside: int
    lost: int
    doubled: int
    # Per send, over the broadcast: the queue's own cost (the peer has none of these).
    statements: float = 0.0
    commits: float = 0.0
    checkouts: float = 0.0  # connections taken from the pool (each one pinged on PostgreSQL)
    cpu_ms: float = 0.0


class Meter:
    """SQL statements, commits and pool checkouts on an engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = self.commits = self.checkouts = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)
        event.listen(engine.sync_engine.pool, "checkout", self._checkout)

    def _statement(self, *args: object) -> None:
        self.statements += 1

    def _commit(self, *args: object) -> None:
        self.commits += 1

    def _checkout(self, *args: object) -> None:
        self.checkouts += 1


def judge(telegram: Telegram, chats: list[int], took: float) -> Result:
    ideal = len(chats) / RATE + sum(end - start for start, end in telegram.windows)
    return Result(
        overshoot=100 * (took - ideal) / ideal,
        took=took,
        busiest=telegram.busiest_second(),
        inside=telegram.inside,
        lost=sum(1 for chat in chats if telegram.received[chat] == 0),
        doubled=sum(1 for chat in chats if telegram.received[chat] > 1),
    )


async def project(url: str, count: int, retry_after: float) -> Result:
    """The bot's own path: queued rows, the outbox worker, the pace shared through the database."""
    from bot.core import migrate

    db = Database(url)
    try:
        await migrate.upgrade(db)
        await seed.seed(db)
        telegram = Telegram(count, retry_after)
        outbox = Outbox(db, telegram, limits=TELEGRAM)
        chats = [6_000_000_000 + n for n in range(count)]
        for chat in chats:
            await outbox.enqueue(chat, [Reply(f"digest for {chat}")], kind="digest")
        meter = Meter(db.engine)
        started, used = time.monotonic(), time.process_time()
        worker = asyncio.create_task(outbox.run())
        await asyncio.wait_for(telegram.all_in.wait(), 10 * count / RATE + 60)
        took = time.monotonic() - started
        await outbox.stop()
        worker.cancel()
        result = judge(telegram, chats, took)
        # Counted until the worker stopped: the last sends' finishes and answers are the queue's cost too.
        result.cpu_ms = 1000 * (time.process_time() - used) / count
        result.statements, result.commits = meter.statements / count, meter.commits / count
        result.checkouts = meter.checkouts / count
        return result
    finally:
        await db.dispose()


async def peer(count: int, retry_after: float) -> Result:
    """aiolimiter's limiter, a pause every sender waits out, and a task per chat."""
    telegram = Telegram(count, retry_after)
    limiter = AsyncLimiter(RATE, 1)
    resumed = asyncio.Event()
    resumed.set()
    chats = [6_000_000_000 + n for n in range(count)]

    async def send(chat: int) -> None:
        while True:
            await resumed.wait()
            async with limiter:
                try:
                    await telegram.deliver(chat, Reply(f"digest for {chat}"))
                    return
                except RetryAfter as exc:
                    if resumed.is_set():
                        resumed.clear()
                        asyncio.get_running_loop().call_later(exc.seconds, resumed.set)

    started = time.monotonic()
    await asyncio.gather(*(send(chat) for chat in chats))
    return judge(telegram, chats, time.monotonic() - started)


def spread(values: list[float], unit: str = "", digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="1,000 digests, as issue #14 measured")
    parser.add_argument("--count", type=int)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--retry-after", type=float, default=3.0)
    parser.add_argument("--sqlite-only", action="store_true")
    args, _ = parser.parse_known_args(sys.argv[1:])
    count = args.count or (1000 if args.full else 200)
    results: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory() as folder:
        async with postgres() as pg_url:
            runs: dict[str, Callable[[int], Awaitable[Result]]] = {
                "project sqlite": lambda n: project(
                    f"sqlite:///{Path(folder) / f'd{n}.sqlite3'}", count, args.retry_after
                )
            }
            if pg_url is not None and not args.sqlite_only:
                runs["project postgresql"] = lambda n: project(pg_url, count, args.retry_after)
            runs["peer aiolimiter"] = lambda n: peer(count, args.retry_after)
            for n in range(args.rounds):  # interleaved: each round runs every configuration once
                for name, run in runs.items():
                    if name == "project postgresql" and n:
                        # A fresh queue for the round on the same database: the rows sent before go.
                        await _clear(pg_url)
                    results.setdefault(name, []).append(await run(n))
    print(
        f"{count} digests, two 429s of {args.retry_after:g} s each, {args.rounds} interleaved rounds, "
        "median (min–max); goals: within 5 % of N/30 s + the windows, ≤ 30 in any second, 0 inside a window"
    )
    for name, rounds in results.items():
        print(
            f"{name:20} {spread([r.took for r in rounds], ' s')}  "
            f"{spread([r.overshoot for r in rounds], ' %')} over ideal  "
            f"busiest second {spread([float(r.busiest) for r in rounds], digits=0)}  "
            f"inside a 429 window {spread([float(r.inside) for r in rounds], digits=0)}  "
            f"lost {max(r.lost for r in rounds)}, doubled {max(r.doubled for r in rounds)}"
        )
        if name.startswith("project"):
            print(
                f"{'':20} per send: {spread([r.statements for r in rounds], ' statements')}, "
                f"{spread([r.commits for r in rounds], ' commits', 2)}, "
                f"{spread([r.checkouts for r in rounds], ' checkouts')}, "
                f"CPU {spread([r.cpu_ms for r in rounds], ' ms')}"
            )


async def _clear(url: str | None) -> None:
    if url is None:
        return
    from sqlalchemy import delete

    from models import Delivery, DeliveryPace

    db = Database(url)
    try:
        async with db.session() as session:
            await session.exec(delete(Delivery))
            await session.exec(delete(DeliveryPace))
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
