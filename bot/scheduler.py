"""The schedule inside the bot process: APScheduler 3 wakes ``send_due`` at the bureau's times.

The jobs carry no state of their own. Every firing asks the database what is due and not
yet queued (``services.schedule.due``) and queues it under a unique dedupe key, so a job
that fires twice, a restart, or a second process never sends a digest twice, and a bot
that was down catches up once at start-up.

    scheduler = await start_scheduler(app)   # at start-up, after the outbox exists
    ...
    await scheduler.stop()                   # on shutdown
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import App
from handlers import digest as render
from services import schedule
from services.schedule import (
    BUREAU_OVERVIEW,
    CHAIN_DIGEST,
    LEADER_SUMMARY,
    LIAISON_CLOSE,
    LIAISON_REMINDER,
    UNIT_TARGETS,
    WEEKDAYS,
    Times,
)

log = logging.getLogger(__name__)

# A job that fires late (a stalled loop, a suspended host) still runs within this grace;
# later than that the hourly sweep and the start-up catch-up send what is due anyway.
MISFIRE_GRACE = timedelta(hours=6)
SWEEP_EVERY = timedelta(hours=1)


async def send_due(app: App, now: datetime | None = None) -> int:
    """Queue every scheduled message that is due and not yet queued; returns how many were queued."""
    now = now or app.now()
    times = await schedule.load_times(app.db)
    items = await schedule.due(app.db, now, app.tz, default_locale=app.settings.default_locale, times=times)
    queued = 0
    if items:
        renderer = render.DigestRun(app, items)
        # Everything is worded (and drawn) first, then queued in one transaction: a run
        # that fails half-way queues nothing, and the next firing does it all again.
        messages = []
        for item in items:
            messages.append((item.telegram_id, await renderer.render(item), item.kind, item.key))
            await asyncio.sleep(0)  # hundreds of notes are worded here: let others in between
        queued = await app.outbox.enqueue_many(messages)
        log.info("scheduled sends queued: %s of %s due", queued, len(items))
    await run_follow_up_hook(app, now, times)
    return queued


async def run_follow_up_hook(app: App, now: datetime, times: Times | None = None) -> int:
    """Once the day's follow-up time has come, queue the day's reminders (each once).

    Visits' follow-ups, overdue directory contacts (§9), task-force tasks (§15), leaders'
    questions past their deadline (§16) and unanswered element needs (§19).
    """
    times = times or await schedule.load_times(app.db)
    local = now.astimezone(app.tz)
    if local.time() < times.follow_up_time:
        return 0
    from handlers.contacts import send_contact_reminders
    from handlers.needs import send_need_escalations
    from handlers.supervision import send_question_escalations
    from handlers.taskforce import send_task_notices
    from handlers.visit import send_follow_up_reminders

    day = local.date()
    return (
        await send_follow_up_reminders(app, day)
        + await send_contact_reminders(app, now)
        + await send_task_notices(app, day)
        + await send_need_escalations(app, now, day)
        + await send_question_escalations(app, day)
    )


def triggers(times: Times, tz: Any) -> dict[str, CronTrigger]:
    """When each job wakes up; ``due`` decides what, if anything, is sent."""

    def at(when: Any, **fields: Any) -> CronTrigger:
        return CronTrigger(hour=when.hour, minute=when.minute, timezone=tz, **fields)

    jobs = {
        CHAIN_DIGEST: at(times.chain_time, day_of_week=WEEKDAYS[times.chain_weekday]),
        # The reminder day moves with the month's length: wake daily, ``due`` knows the day.
        LIAISON_REMINDER: at(times.liaison_time),
        LIAISON_CLOSE: at(times.liaison_close_time, day="last"),
        # The first working day may be a make-up Sunday or fall after a week of holiday
        # (October): wake on each of the first fifteen days, ``due`` knows which one it is.
        BUREAU_OVERVIEW: at(times.bureau_time, day="1-15"),
        UNIT_TARGETS: at(times.unit_targets_time, day=times.unit_targets_day),
        "follow_up": at(times.follow_up_time),
    }
    for month, day in times.leader_dates:
        jobs[f"{LEADER_SUMMARY}_{month:02d}{day:02d}"] = at(times.leader_time, month=month, day=day)
    return jobs


class Scheduler:
    def __init__(self, app: App) -> None:
        self.app = app
        self.scheduler = AsyncIOScheduler(
            timezone=app.tz,
            job_defaults={
                "coalesce": True,  # several missed firings run once
                "max_instances": 1,
                "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
            },
        )
        self.times: Times | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await self.reload()
        self.scheduler.add_job(
            self.sweep, IntervalTrigger(seconds=int(SWEEP_EVERY.total_seconds()), timezone=self.app.tz), id="sweep"
        )
        self.scheduler.start()
        schedule.on_change(self._changed)
        # Catch up on what fell due while the bot was down.
        await self.tick()

    async def stop(self) -> None:
        schedule.forget(self._changed)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()

    async def tick(self) -> int:
        async with self._lock:
            try:
                return await send_due(self.app)
            except Exception:
                log.exception("scheduled sends failed; the next firing tries again")
                return 0

    async def sweep(self) -> None:
        await self.reload()
        await self.tick()

    async def reload(self) -> None:
        """Re-read the bureau's times and reschedule the jobs if any changed."""
        times = await schedule.load_times(self.app.db)
        if times == self.times:
            return
        for job in self.job_ids():
            if job != "sweep":
                self.scheduler.remove_job(job)
        for name, trigger in triggers(times, self.app.tz).items():
            self.scheduler.add_job(self.tick, trigger, id=name, replace_existing=True)
        self.times = times
        log.info("schedule loaded: %s", ", ".join(sorted(self.job_ids())))

    def job_ids(self) -> Sequence[str]:
        return [job.id for job in self.scheduler.get_jobs()]

    def _changed(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def start_scheduler(app: App) -> Scheduler:
    """Start the jobs and send what is already due (the runner calls this once)."""
    scheduler = Scheduler(app)
    await scheduler.start()
    return scheduler


async def stop_scheduler(scheduler: Scheduler) -> None:
    await scheduler.stop()
