"""A broadcast of digests through the delivery queue while Telegram answers 429s.

    .venv/bin/python bench/bench_delivery.py [--full] [--count N] [--retry-after S]

One digest to each of N chats (1,000 with ``--full``, 200 by default) through the real
``Outbox`` worker and pacer on SQLite, to a stand-in for Telegram that keeps its own count:
at two moments it starts a 429 whose ``retry_after`` window refuses every send inside it,
as Telegram's does. Printed: the total time against N/30 s plus the windows (goal: within
5 %), the most sends in any one second (goal ≤ 30), the sends that arrived inside a
window (goal 0), and lost and doubled messages (goal 0).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.core import Outgoing, Reply
from bot.core.db import Database
from bot.delivery import Limits, Outbox, RetryAfter
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true", help="1,000 digests, as issue #14 measured")
    parser.add_argument("--count", type=int)
    parser.add_argument("--retry-after", type=float, default=3.0)
    args, _ = parser.parse_known_args(sys.argv[1:])
    count = args.count or (1000 if args.full else 200)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'delivery.sqlite3'}")
        from bot.core import migrate

        await migrate.upgrade(db)
        await seed.seed(db)
        telegram = Telegram(count, args.retry_after)
        outbox = Outbox(db, telegram, limits=Limits(per_second=RATE))
        chats = [6_000_000_000 + n for n in range(count)]
        for chat in chats:
            await outbox.enqueue(chat, [Reply(f"digest for {chat}")], kind="digest", key=f"digest:bench:{chat}")
        started = time.monotonic()
        worker = asyncio.create_task(outbox.run())
        await asyncio.wait_for(telegram.all_in.wait(), 10 * count / RATE + 60)
        took = time.monotonic() - started
        await outbox.stop()
        worker.cancel()
        await db.dispose()
    ideal = count / RATE + sum(end - start for start, end in telegram.windows)
    lost = sum(1 for chat in chats if telegram.received[chat] == 0)
    doubled = sum(1 for chat in chats if telegram.received[chat] > 1)
    print(
        f"{count} digests, two 429s of {args.retry_after:g} s: {took:.1f} s against {ideal:.1f} s "
        f"({100 * (took - ideal) / ideal:+.1f} %, goal within 5 %); busiest second {telegram.busiest_second()} "
        f"(goal ≤ 30); sends inside a 429 window {telegram.inside} (goal 0); lost {lost}, doubled {doubled}"
    )


if __name__ == "__main__":
    asyncio.run(main())
