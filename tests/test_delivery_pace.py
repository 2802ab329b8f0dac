"""One pace for every process on the database: what Telegram sees when two bots share a token.

Two real worker processes (``tests/pace_worker.py``) drain one broadcast from the shared
queue, on SQLite and on PostgreSQL, against the fake Bot API, which keeps the time of every
send and, like Telegram, refuses everything for the whole ``retry_after`` of a 429 it gives.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.core import Reply
from bot.core.db import Database
from bot.delivery import DINGTALK, TELEGRAM, Limits, Outbox
from models import DeliveryPace
from tests import telegram_kit
from tests.botapi import BotAPIError, FakeBotAPI
from tests.kit import RecordingTransport
from tests.telegram_kit import Bot

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 2  # the 429's retry_after, in seconds
LIAISON = 1002  # a seeded demo person: the Beijing liaison office
bot = telegram_kit.bot
framework = telegram_kit.framework


@dataclass
class Worker:
    process: asyncio.subprocess.Process
    log: Path


class Telegram:
    """``sendMessage`` as Telegram answers it under load: after ``trigger`` sends, a 429 window."""

    def __init__(self, trigger: int) -> None:
        self.trigger = trigger
        self.ok: list[tuple[float, int]] = []  # (when it arrived, chat)
        self.refused: list[float] = []
        self.window: tuple[float, float] | None = None

    def send(self, params: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        chat = int(params["chat_id"])
        if self.window is None and len(self.ok) >= self.trigger:
            self.window = (now, now + WINDOW)
        if self.window is not None and self.window[0] <= now < self.window[1]:
            self.refused.append(now)
            left = max(1, round(self.window[1] - now))
            raise BotAPIError(429, f"Too Many Requests: retry after {left}", {"retry_after": left})
        self.ok.append((now, chat))
        return {"message_id": len(self.ok), "date": int(now), "chat": {"id": chat, "type": "private"}, "text": "x"}

    def busiest_second(self) -> int:
        times = sorted(at for at, _ in self.ok)
        return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def start_workers(url: str, api: FakeBotAPI, tmp: Path, count: int = 2) -> list[Worker]:
    """Start the processes; they import while the test queues the broadcast, then wait."""
    workers = []
    for n in range(count):
        log = tmp / f"worker{n}.log"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.pace_worker",
            url,
            api.root,
            api.token,
            f"w{n}",
            str(log),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        workers.append(Worker(process, log))
    return workers


async def run_workers(workers: list[Worker]) -> list[list[dict[str, Any]]]:
    # Both processes begin together, once both are imported and ready.
    for worker in workers:
        assert worker.process.stdout is not None
        said = b""
        while not said.endswith(b"ready\n"):
            line = await asyncio.wait_for(worker.process.stdout.readline(), 120)
            assert line, (said + await worker.process.stdout.read()).decode(errors="replace")[-3000:]
            said += line
    for worker in workers:
        assert worker.process.stdin is not None
        worker.process.stdin.write(b"go\n")
    for worker in workers:
        assert worker.process.stdin is not None
        await worker.process.stdin.drain()
    outputs = await asyncio.wait_for(asyncio.gather(*(w.process.communicate() for w in workers)), 180)
    for worker, (out, _) in zip(workers, outputs, strict=True):
        assert worker.process.returncode == 0, out.decode(errors="replace")[-3000:]
    return [[json.loads(line) for line in w.log.read_text().splitlines()] for w in workers]


@pytest.mark.slow
async def test_two_processes_keep_one_pace_and_one_429_holds_both(database_url: str, tmp_path: Path) -> None:
    # With the threes, 120 sends: 60 before the 429 and as many after it, two seconds of the
    # full pace on either side.
    singles = [7_000_000_000 + n for n in range(90)]
    threes = [7_100_000_000 + n for n in range(10)]
    telegram = Telegram(trigger=60)
    async with FakeBotAPI() as api:
        api.handle("sendMessage", telegram.send)
        workers = await start_workers(database_url, api, tmp_path)
        try:
            db = Database(database_url)
            try:
                outbox = Outbox(db)
                for chat in singles:
                    await outbox.enqueue(chat, [Reply(f"digest {chat}")], kind="digest")
                for n in range(3):
                    for chat in threes:
                        await outbox.enqueue(chat, [Reply(f"{chat}:{n}")], kind="digest")
            finally:
                await db.dispose()
            logs = await run_workers(workers)
        finally:
            for worker in workers:
                if worker.process.returncode is None:
                    worker.process.kill()
                    await worker.process.wait()

    received = Counter(chat for _, chat in telegram.ok)
    assert set(received) == set(singles) | set(threes), "every message arrived"
    assert all(received[chat] == 1 for chat in singles) and all(received[chat] == 3 for chat in threes)
    # Both processes sent their share: the pace below is theirs together.
    assert all(sum(1 for entry in log if entry["status"] == 200) >= 5 for log in logs), [len(x) for x in logs]
    assert telegram.busiest_second() <= 30, telegram.busiest_second()
    # One chat's messages a second apart, though different processes may have sent them.
    for chat in threes:
        times = sorted(at for at, c in telegram.ok if c == chat)
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.9, (chat, times)
    # The 429 went to one process; the other was held too. Sends already on the wire when it
    # came may still arrive just after; none later inside the window.
    assert telegram.window is not None
    opened, closed = telegram.window
    late = [at for at in telegram.refused if at > opened + 0.25]
    assert late == [], f"{len(late)} sends inside the 429 window, {[round(at - opened, 3) for at in late]}"
    assert not any(opened <= at < closed for at, _ in telegram.ok)


async def test_slots_reserved_for_a_broadcast_that_ended_are_given_back(database_url: str) -> None:
    """A broadcast reserves its slots a few at a time; those nobody used must not be left
    "on their way", or the sends a second later (``per_second`` slots on) would wait for
    them to lapse: a later broadcast, from any process, held up for ``IN_FLIGHT`` seconds."""
    db = Database(database_url)
    try:
        telegram = RecordingTransport()
        outbox = Outbox(db, telegram, limits=TELEGRAM)
        await outbox.enqueue(4_000_000_002, [Reply("the only digest")], kind="digest")
        assert await outbox.flush() == 1
        assert telegram.texts_to(4_000_000_002) == ["the only digest"]
        pace = DeliveryPace.__table__.c  # type: ignore[attr-defined]
        flying: list[Any] = []
        for _ in range(80):  # well within IN_FLIGHT, after which a slot would lapse by itself
            async with db.engine.connect() as conn:
                recent = (await conn.execute(select(pace.recent).where(pace.platform == "telegram"))).scalar_one()
            flying = [entry for entry in recent if entry[2]]
            if len(recent) > 1 and not flying:
                break
            await asyncio.sleep(0.1)
        assert len(recent) > 1, "the broadcast reserved more than the slot it used"
        assert flying == [], f"slots still held: {flying}"
        assert recent[-1][0] < 8  # a few reserved at once, not a second's worth
    finally:
        await outbox.stop()
        await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_each_platform_has_its_own_queue_and_limits(database_url: str) -> None:
    db = Database(database_url)
    try:
        telegram, dingtalk = RecordingTransport(), RecordingTransport()
        to_telegram = Outbox(db, telegram, limits=TELEGRAM)
        to_dingtalk = Outbox(db, dingtalk, limits=DINGTALK, platform="dingtalk")
        chat = 4_000_000_001  # the same number names a different chat on each platform
        await to_telegram.enqueue(chat, [Reply("on telegram")], kind="notice")
        await to_dingtalk.enqueue(chat, [Reply("on dingtalk")], kind="notice")
        assert [row.platform for row in await to_dingtalk.pending()] == ["dingtalk"]
        assert await to_dingtalk.flush() == 1
        assert dingtalk.texts_to(chat) == ["on dingtalk"] and telegram.sent == []
        assert await to_telegram.flush() == 1
        assert telegram.texts_to(chat) == ["on telegram"]
    finally:
        await db.dispose()
    # DingTalk's documented limit for an app's calls, slower than Telegram's.
    assert DINGTALK.per_second == 20 < TELEGRAM.per_second
    assert isinstance(TELEGRAM, Limits) and TELEGRAM.per_second == 30 and TELEGRAM.chat_interval == 1


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_press_is_answered_at_once_and_its_answer_overtakes_a_broadcast(bot: Bot) -> None:
    api, outbox = bot.api, bot.app.outbox
    officer = bot.person(LIAISON)
    await officer.send("/lead")
    await officer.send("宁德时代新能源科技股份有限公司")
    chains = officer.keyboard_message()
    digests = [6_500_000_000 + n for n in range(150)]  # five seconds' worth at 30 a second
    for chat in digests:
        await outbox.enqueue(chat, [Reply(f"digest {chat}")], kind="digest")

    def delivered() -> int:
        return sum(len(api.messages(chat)) for chat in digests)

    await api.wait_for(lambda: delivered() >= 30, timeout=20, what="the broadcast under way")
    pressed = time.monotonic()
    query = await officer.press("新能源")
    answered = time.monotonic() - pressed
    # The spinner stops at once: answerCallbackQuery never waits for a slot of the pace.
    assert api.answered_callbacks[query].at - pressed < 1.0
    # The press's own answer (its message edited, the next question) is out, ahead of the rest.
    assert chains.edited and chains.text.endswith("新能源")
    assert answered < 2.0, f"{answered:.2f} s behind a broadcast"
    assert delivered() < len(digests), "the broadcast was still under way"
