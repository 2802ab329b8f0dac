"""Scheduled work in exactly one process: one leader, and a successor when it goes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.app import App
from bot.core.db import APPLICATION_NAME, Database
from bot.leadership import Leadership, scheduler_leadership
from tests import pg

RETRY = 0.05


class Process:
    """One contender: its own database pool, counting when it leads."""

    def __init__(self, url: str, name: str, log: list[str]) -> None:
        self.db = Database(url)
        self.name = name

        async def gain() -> None:
            log.append(f"+{name}")

        async def loss() -> None:
            log.append(f"-{name}")

        self.leadership = Leadership(self.db, "job", on_gain=gain, on_loss=loss, retry=RETRY)
        self.task = asyncio.create_task(self.leadership.run())

    async def stop(self) -> None:
        await self.leadership.stop()
        await self.task
        await self.db.dispose()


async def eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / RETRY)):
        if condition():
            return
        await asyncio.sleep(RETRY)
    raise AssertionError("timed out")


async def settle(log: list[str], count: int) -> None:
    await eventually(lambda: len(log) >= count)


async def test_one_leader_and_a_successor_when_it_stops(database_url: str) -> None:
    log: list[str] = []
    a = Process(database_url, "a", log)
    await settle(log, 1)
    b = Process(database_url, "b", log)
    await asyncio.sleep(RETRY * 6)
    assert log == ["+a"] and a.leadership.leading and not b.leadership.leading
    await a.stop()
    await settle(log, 3)
    assert log == ["+a", "-a", "+b"]
    await b.stop()
    assert log == ["+a", "-a", "+b", "-b"]


@pytest.mark.parametrize("backend", ["pg"])
async def test_a_leader_whose_connection_dies_steps_down(database_url: str) -> None:
    log: list[str] = []
    a = Process(database_url, "a", log)
    await settle(log, 1)
    conn = await pg.connect(database_url)
    try:
        # Every connection of the bot: the leader's lock connection among them.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = $1",
            APPLICATION_NAME,
        )
    finally:
        await conn.close()
    b = Process(database_url, "b", log)
    # b may take the freed lock a moment before a's next check notices the loss (the
    # scheduled sends' dedupe keys cover that moment); then a has stepped down for good.
    await eventually(lambda: "-a" in log and "+b" in log)
    await asyncio.sleep(RETRY * 4)
    assert sorted(log) == ["+a", "+b", "-a"]
    assert b.leadership.leading and not a.leadership.leading
    await a.stop()
    await b.stop()


async def test_the_scheduler_runs_while_leading(app: App) -> None:
    leadership = scheduler_leadership(app, retry=RETRY)
    task = asyncio.create_task(leadership.run())
    await eventually(lambda: leadership.leading)
    await leadership.stop()
    await task
    assert not leadership.leading and not leadership.lock.acquired
