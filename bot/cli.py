"""``investbot`` (and ``python -m bot``): the bot, its scheduler, and the maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import digest_cli
from bot.core import logs, migrate
from bot.core.config import Settings

if TYPE_CHECKING:
    from bot.app import App
    from bot.web.server import WebServer

log = logging.getLogger("investbot")


def _settings() -> Settings:
    settings = Settings()
    secrets = logs.secret_forms(settings.bot_token.get_secret_value()) if settings.bot_token else []
    if settings.webhook_secret:
        secrets.append(settings.webhook_secret.get_secret_value())
    if settings.dingtalk_client_secret:
        secrets.append(settings.dingtalk_client_secret.get_secret_value())
    logs.setup(level=settings.log_level, json_lines=settings.log_json, secrets=secrets)
    return settings


async def _console(settings: Settings) -> None:
    from bot.adapters.console import ConsoleTransport, run_console
    from bot.bootstrap import build

    # The console is for trying the bot: keep the log to warnings so the chat stays readable.
    logging.getLogger().setLevel(logging.WARNING)
    app, router = await build(settings, transport=ConsoleTransport(sys.stdout))
    try:
        await run_console(router)
    finally:
        await app.db.dispose()


async def _run(settings: Settings, *, scheduler: bool) -> None:
    if settings.bot_platform == "dingtalk":
        from bot.adapters.dingtalk import run_dingtalk

        # Checked here, so a missing credential is one clear line and not a traceback.
        settings.dingtalk_credentials()
        log.info("starting on DingTalk")
        await run_dingtalk(settings, scheduler=scheduler)
        return
    if settings.bot_token is None:
        log.info("BOT_TOKEN is not set: starting the console chat")
        await _console(settings)
        return
    from bot.runner import run_telegram

    await run_telegram(settings, scheduler=scheduler)


async def _scheduler(settings: Settings) -> None:
    """Scheduled jobs only: they queue into the delivery table, the bot processes send."""
    import signal

    from bot.bootstrap import build
    from bot.leadership import scheduler_leadership

    app, _ = await build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    leadership = scheduler_leadership(app, retry=settings.scheduler_retry_seconds)
    task = asyncio.create_task(leadership.run())
    log.info("scheduler process started; it runs the jobs while it holds the scheduler lock")
    try:
        await stop.wait()
    finally:
        await leadership.stop()
        await task
        await app.db.dispose()


class _Dashboard:
    """The dashboard alone, as a runner: started, and stopped at SIGTERM like the bot."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: App | None = None
        self.server: WebServer | None = None

    async def start(self) -> None:
        from bot.bootstrap import build
        from bot.web.menu import set_menu_button
        from bot.web.server import WebServer

        settings = self.settings
        self.app, _ = await build(settings)
        self.server = WebServer(self.app, host=settings.web_listen, port=settings.web_port)
        await self.server.start()
        public = settings.web_url or "WEB_URL unset"
        print(f"dashboard on http://{settings.web_listen}:{self.server.port}/ (public address: {public})", flush=True)
        await set_menu_button(settings)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.app is not None:
            await self.app.db.dispose()


async def _web(settings: Settings) -> None:
    """The dashboard alone (the bot runs elsewhere, or `run` without WEB_URL)."""
    from bot.runner import run_until_stopped

    await run_until_stopped(_Dashboard(settings))


async def _migrate(settings: Settings, revision: str, down: bool) -> None:
    from bot.core.db import Database
    from bot.core.migrate import current, downgrade, upgrade
    from bot.locks import STARTUP, AdvisoryLock

    db = Database(settings.database_url)
    try:
        async with AdvisoryLock(db, STARTUP):
            if down:
                await downgrade(db, revision)
            else:
                await upgrade(db, revision)
        print(f"database at revision {await current(db)}")
    finally:
        await db.dispose()


async def _seed(settings: Settings, demo_people: bool) -> None:
    from bot.core.db import Database
    from bot.locks import STARTUP, AdvisoryLock
    from services import demo, seed

    db = Database(settings.database_url)
    try:
        async with AdvisoryLock(db, STARTUP):
            await migrate.upgrade(db)
            report = await seed.seed(db)
        print(
            f"units +{report.units_added}, chains +{report.chains_added}, "
            f"targets +{report.targets_added}, settings +{report.settings_added}, "
            f"approval kinds +{report.approval_kinds_added}"
        )
        if demo_people:
            print(f"demo people +{await demo.seed_demo_people(db)}")
    finally:
        await db.dispose()


async def _backup(settings: Settings, path: str | None) -> int:
    from bot.backup import BackupError, backup

    try:
        written = await backup(settings.database_url, Path(path) if path else None, directory=settings.backup_dir)
    except BackupError as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {written}")
    return 0


async def _restore(settings: Settings, path: str, replace: bool) -> int:
    from bot.backup import BackupError, restore

    try:
        await restore(settings.database_url, Path(path), replace=replace)
    except BackupError as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"restored {path}; the bot migrates it to the current schema when it starts")
    return 0


async def _health(settings: Settings) -> int:
    from bot.health import check

    health = await check(settings)
    print(health.as_json())
    return 0 if health.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="investbot", description="investbot — 招商引资 field work in chat")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the bot (the console chat when BOT_TOKEN is unset)")
    run.add_argument("--no-scheduler", action="store_true", help="do not run scheduled jobs in this process")
    sub.add_parser("scheduler", help="run only the scheduled jobs (pair with `run --no-scheduler`)")
    sub.add_parser("console", help="chat with the bot in the terminal on the embedded database")
    migrate_cmd = sub.add_parser("migrate", help="bring the database schema up to date")
    migrate_cmd.add_argument("revision", nargs="?", default="heads")
    migrate_cmd.add_argument("--down", action="store_true", help="downgrade to REVISION instead")
    seed = sub.add_parser("seed", help="load seed/zhangye.toml (safe to run again)")
    seed.add_argument("--demo", action="store_true", help="also add the console's demo people")
    backup = sub.add_parser("backup", help="write a consistent copy of the database while the bot runs")
    backup.add_argument("path", nargs="?", help="the file to write (default: $BACKUP_DIR/investbot-<time>.*)")
    restore = sub.add_parser("restore", help="load a backup into DATABASE_URL (stop the bot first)")
    restore.add_argument("path")
    restore.add_argument("--replace", action="store_true", help="overwrite a database that already has data")
    sub.add_parser("web", help="serve the dashboard (Mini App) on WEB_LISTEN:WEB_PORT")
    sub.add_parser("health", help="exit 0 when the database (and in webhook mode /healthz) answers")
    digest_cli.add_parser(sub)
    return parser


# glibc's M_ARENA_MAX (malloc.h).
_M_ARENA_MAX = -8


def fewer_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for a long-running process, before its threads start.

    Every thread that allocates (each SQLite connection's, the executor's) otherwise gets an
    arena of its own, and freed memory stays in it: about 5 MB more resident on a busy bot.
    An operator's ``MALLOC_ARENA_MAX`` wins; elsewhere than glibc this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    settings = _settings()
    command = args.command or "run"
    if command in ("run", "scheduler", "web"):
        fewer_malloc_arenas()
    try:
        if command == "run":
            asyncio.run(_run(settings, scheduler=not getattr(args, "no_scheduler", False)))
        elif command == "scheduler":
            asyncio.run(_scheduler(settings))
        elif command == "console":
            asyncio.run(_console(settings))
        elif command == "migrate":
            asyncio.run(_migrate(settings, args.revision, args.down))
        elif command == "seed":
            asyncio.run(_seed(settings, args.demo))
        elif command == "backup":
            return asyncio.run(_backup(settings, args.path))
        elif command == "restore":
            return asyncio.run(_restore(settings, args.path, args.replace))
        elif command == "web":
            asyncio.run(_web(settings))
        elif command == "health":
            return asyncio.run(_health(settings))
        elif command == "digest":
            return asyncio.run(digest_cli.run(settings, args))
    except KeyboardInterrupt:
        return 130
    except Exception:
        # However start-up fails (a wrong BOT_API_SERVER, a refused token), the traceback
        # goes through the log's filter: the token never reaches the terminal.
        log.critical("investbot %s failed", command, exc_info=True)
        return 1
    return 0
