"""Scheduled work in one process at a time, whichever processes are running.

Every process that may run the scheduler (``investbot run`` without ``--no-scheduler``, and
``investbot scheduler``) keeps trying to take the ``scheduler`` lock. The holder runs the
jobs; the others wait. When the holder dies its database connection closes, the lock is
free, and the next try of another process takes over — the jobs' own dedupe keys make a
handover harmless even if both ran for a moment (see ``bot.scheduler``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.app import App
from bot.core.db import Database
from bot.locks import SCHEDULER, AdvisoryLock

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


class Leadership:
    """Run ``on_gain`` when this process takes the lock and ``on_loss`` when it lets go or loses it."""

    def __init__(self, db: Database, name: str, *, on_gain: Hook, on_loss: Hook, retry: float = 15.0) -> None:
        self.lock = AdvisoryLock(db, name)
        self.on_gain = on_gain
        self.on_loss = on_loss
        self.retry = retry
        self.leading = False
        self._stop = asyncio.Event()

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                await self._step()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.retry)
        finally:
            await self._let_go()

    async def _step(self) -> None:
        try:
            if self.leading:
                if not await self.lock.still_held():
                    log.warning("lost the %s lock; another process may take over", self.lock.name)
                    await self._let_go()
                return
            if await self.lock.acquire(wait=False):
                self.leading = True
                log.info("this process now holds the %s lock", self.lock.name)
                await self.on_gain()
        except Exception:
            # The database is away (or the hook failed): let go, try again at the next round.
            log.exception("%s leadership check failed", self.lock.name)
            await self._let_go()

    async def _let_go(self) -> None:
        if self.leading:
            self.leading = False
            try:
                await self.on_loss()
            except Exception:
                log.exception("stopping the %s work failed", self.lock.name)
        await self.lock.release()

    async def stop(self) -> None:
        self._stop.set()


class SchedulerLeadership(Leadership):
    """Leadership over the scheduled jobs of ``app`` (``bot.scheduler``); ``jobs`` while leading."""

    def __init__(self, app: App, *, retry: float = 15.0) -> None:
        from bot.scheduler import Scheduler

        super().__init__(app.db, SCHEDULER, on_gain=self._gain, on_loss=self._lose, retry=retry)
        self.app = app
        self.jobs: Scheduler | None = None

    async def _gain(self) -> None:
        from bot.scheduler import start_scheduler

        self.jobs = await start_scheduler(self.app)
        log.info("this process runs the scheduled jobs")

    async def _lose(self) -> None:
        from bot.scheduler import stop_scheduler

        jobs, self.jobs = self.jobs, None
        if jobs is not None:
            await stop_scheduler(jobs)
        log.info("this process no longer runs the scheduled jobs")


def scheduler_leadership(app: App, *, retry: float = 15.0) -> SchedulerLeadership:
    return SchedulerLeadership(app, retry=retry)
