"""The composition root for Telegram: build, start, run until told to stop, stop cleanly.

The order matters and lives only here: database and router first, then the framework's
bot (getMe gives the username invite links need), the command menus, the outbox worker,
the scheduled jobs (unless this process is told not to run them), and only then updates:
by our own long poller (:mod:`bot.polling`), or by our webhook server when ``WEBHOOK_URL``
is set; either hands each update's JSON to the same ``feed``. On SIGTERM/SIGINT it stops
taking updates, finishes the ones in flight, stops the jobs, lets the outbox finish what it
holds, and closes the framework and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from bot.app import App
from bot.bootstrap import build
from bot.core.config import Settings
from bot.delivery import TELEGRAM, DeliveryError
from bot.leadership import SchedulerLeadership, scheduler_leadership
from bot.polling import LONG_POLL_TIMEOUT, LongPoller
from bot.router import Router
from bot.telegram import BotPort, CommandMenus, TelegramBridge, TelegramTransport, incoming

if TYPE_CHECKING:
    # The dashboard (jinja2, its maps) and the webhook server (aiohttp.web) are imported only
    # when WEB_URL or WEBHOOK_URL asks for them: a polling bot never holds them in memory.
    from aiohttp import web

    from bot.web.server import WebServer
    from bot.webhook import WebhookServer

log = logging.getLogger(__name__)

TELEGRAM_LIMITS = TELEGRAM
SHUTDOWN_GRACE = 30.0


class Driver(Protocol):
    """What the runner needs of an adapter's framework (see ``bot/adapters``)."""

    @property
    def port(self) -> BotPort: ...

    async def open(self) -> str | None: ...

    async def start_webhook(self, url: str, secret: str) -> None: ...

    async def close(self) -> None: ...


def make_driver(settings: Settings) -> Driver:
    if settings.bot_framework == "aiogram":
        from bot.adapters.aiogram import AiogramDriver

        return AiogramDriver(settings)
    from bot.adapters.ptb import PTBDriver

    return PTBDriver(settings)


class TelegramRunner:
    """One running bot; ``start`` and ``stop`` are separate so tests can drive it in-process."""

    def __init__(self, settings: Settings, *, scheduler: bool = True, poll_timeout: float = LONG_POLL_TIMEOUT) -> None:
        self.settings = settings
        # Whether this process also runs scheduled jobs (a deployment may separate them).
        self.scheduler = scheduler
        self.poll_timeout = poll_timeout
        self.app: App | None = None
        self.router: Router | None = None
        self.bridge: TelegramBridge | None = None
        self.driver: Driver | None = None
        self.poller: LongPoller | None = None
        self.webhook: WebhookServer | None = None
        self.web: WebServer | None = None
        self.leadership: SchedulerLeadership | None = None
        self._leading: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self.settings
        self.app, self.router = app, router = await build(settings)
        try:
            await self._start(app, router)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, app: App, router: Router) -> None:
        settings = self.settings
        self.driver = driver = make_driver(settings)
        app.outbox.use(TelegramTransport(driver.port), TELEGRAM_LIMITS)
        app.fetch_file = driver.port.download
        # Replies join each update's transaction in the delivery queue, the only way out.
        router.queue_replies = True
        self.bridge = bridge = TelegramBridge(router, driver.port, outbox=app.outbox)

        app.bot_username = await driver.open()
        log.info("connected as @%s through %s (%s)", app.bot_username, settings.bot_api_server, settings.bot_framework)
        menus = CommandMenus(driver.port, router.registry, app.db, default_locale=settings.default_locale)
        try:
            await menus.publish_defaults()
        except DeliveryError as exc:
            # A menu is a convenience: the bot answers typed commands without one.
            log.warning("command menus not set: %s", exc)
        bridge.menus = menus
        self._tasks.append(asyncio.create_task(menus.publish_everyone(), name="command-menus"))
        self._tasks.append(asyncio.create_task(app.outbox.run(), name="outbox"))
        if self.scheduler:
            # Every process may offer; the one holding the lock runs the jobs (bot.leadership).
            self.leadership = scheduler_leadership(app, retry=settings.scheduler_retry_seconds)
            self._leading = asyncio.create_task(self.leadership.run(), name="scheduler")

        if settings.web_url is not None:
            from bot.web.menu import set_menu_button
            from bot.web.server import WebServer

            # The dashboard reads the same database; it opens before updates so the menu button works at once.
            self.web = WebServer(app, host=settings.web_listen, port=settings.web_port)
            await self.web.start()
            await set_menu_button(settings)

        async def feed(data: dict[str, Any]) -> None:
            # The update's JSON is all the core needs: no detour through the framework's objects.
            translated = incoming(data, app.bot_username)
            if translated is not None:
                await bridge.handle(*translated)

        if settings.webhook_url is None:
            self.poller = LongPoller(
                feed, server=settings.bot_api_server, token=settings.token(), timeout=self.poll_timeout
            )
            await self.poller.start()
            log.info("polling for updates")
            return
        from bot.webhook import WebhookServer, webhook_path

        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        if secret is None:
            # Without a configured secret anyone who finds the URL could post updates.
            secret = secrets.token_urlsafe(32)
            log.warning("WEBHOOK_SECRET is not set; using a random one for this run")

        self.webhook = WebhookServer(
            feed,
            secret=secret,
            path=webhook_path(settings.webhook_url),
            host=settings.webhook_listen,
            port=settings.webhook_port,
        )
        self.webhook.app.router.add_get("/healthz", _healthz(app))
        await self.webhook.start()
        await driver.start_webhook(settings.webhook_url, secret)
        log.info("receiving updates by webhook at %s", settings.webhook_url)

    async def stop(self) -> None:
        """Stop taking updates, finish those in flight, then close everything."""
        if self.webhook is not None:
            await self.webhook.stop()
        if self.web is not None:
            await self.web.stop()
        if self.poller is not None:
            # Stops fetching, waits for the updates in flight, and confirms them to Telegram.
            await self.poller.stop(SHUTDOWN_GRACE)
        if self.bridge is not None:
            await self.bridge.drain(SHUTDOWN_GRACE)
        await wind_down(self.app, self.leadership, self._leading, self._tasks)
        if self.driver is not None:
            try:
                await self.driver.close()
            except Exception:
                log.exception("closing the Telegram connection failed")
        if self.app is not None:
            await self.app.db.dispose()
        log.info("stopped")


def _healthz(app: App) -> Callable[[web.Request], Awaitable[web.Response]]:
    from aiohttp import web

    from bot.health import healthz

    async def answer(request: web.Request) -> web.Response:
        status, body = await healthz(app.db)
        return web.Response(status=status, text=body, content_type="application/json")

    return answer


async def wind_down(
    app: App | None,
    leadership: SchedulerLeadership | None,
    leading: asyncio.Task[None] | None,
    tasks: list[asyncio.Task[None]],
) -> None:
    """The end of every platform's stop: the scheduled jobs, the delivery queue, the background tasks."""
    if leadership is not None and leading is not None:
        # Stop the jobs and give the lock back, so another process takes over at once.
        await leadership.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(leading, SHUTDOWN_GRACE)
    if app is not None:
        await app.outbox.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()


def settle_heap() -> None:
    """Keep what start-up built out of the cyclic collector's full passes.

    Modules, the models' metadata, the frameworks and the caches are a few hundred thousand
    objects that live as long as the process; every full collection walked all of them, on
    the loop, for 0.1–0.2 s in the middle of a digest run or an import. Frozen, a full pass
    walks only what was made since (about 20 ms there).
    """
    gc.collect()
    gc.freeze()


class Runnable(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


async def run_until_stopped(
    runner: Runnable, *, stop: asyncio.Event | None = None, handle_signals: bool = True
) -> None:
    """Start ``runner`` and stop it at SIGTERM/SIGINT (or when ``stop`` is set), on any platform."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    watched: list[signal.Signals] = []
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
                watched.append(sig)
    try:
        await runner.start()
        settle_heap()
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.stop()
        for sig in watched:
            loop.remove_signal_handler(sig)


async def run_telegram(
    settings: Settings,
    *,
    scheduler: bool = True,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Run the bot until SIGTERM/SIGINT (or ``stop`` is set)."""
    await run_until_stopped(TelegramRunner(settings, scheduler=scheduler), stop=stop, handle_signals=handle_signals)
