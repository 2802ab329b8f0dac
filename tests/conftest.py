"""Fixtures: a migrated, seeded database per test (copied from one template), an app, chats."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.core import migrate
from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Outbox
from bot.router import Router
from handlers import build_registry
from services import demo, seed
from tests import pg
from tests.kit import Chat, RecordingTransport

ADMIN_ID = 900_000_000_001  # above 2**31, as real Telegram ids are
BACKENDS = ["sqlite", "pg"]


CHROMIUM = Path("/usr/bin/chromium")


def _browser_line() -> tuple[bool, str]:
    if CHROMIUM.exists():
        return True, f"Chromium at {CHROMIUM}: the dashboard's browser tests run"
    return False, f"no Chromium at {CHROMIUM}: the dashboard's browser tests skip (make test installs it as root)"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [pg.availability()[1], _browser_line()[1]]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Said at the end too (``-q`` hides the header): which backends and browsers this run covered.
    for available, line in (pg.availability(), _browser_line()):
        terminalreporter.write_line(line, green=available, yellow=not available)


async def _migrate_and_seed(url: str) -> None:
    db = Database(url)
    await migrate.upgrade(db)
    await seed.seed(db)
    await demo.seed_demo_people(db)
    if db.is_sqlite:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await db.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate and seed once; every test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(_migrate_and_seed(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    """The PostgreSQL server of TEST_DATABASE_URL; every pg variant skips when it does not answer."""
    available, line = pg.availability()
    url = pg.server_url()
    if not available or url is None:
        pytest.skip(line)
    server = pg.PgServer(url)
    yield server
    asyncio.run(server.drop_all())


@pytest.fixture(scope="session")
def pg_seeded(pg_server: pg.PgServer) -> str:
    """Migrated and seeded once per session; reset to that state before each test."""
    url = asyncio.run(pg_server.create("seeded"))
    asyncio.run(_migrate_and_seed(url))
    asyncio.run(pg_server.snapshot(url))
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, seeded database of its own for this test, on each backend."""
    if backend == "sqlite":
        target = tmp_path / "bot.sqlite3"
        shutil.copy(request.getfixturevalue("template_db"), target)
        return f"sqlite:///{target}"
    url = str(request.getfixturevalue("pg_seeded"))
    server: pg.PgServer = request.getfixturevalue("pg_server")
    asyncio.run(server.reset(url))
    return url


@pytest.fixture
def empty_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) for this test, on each backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    server: pg.PgServer = request.getfixturevalue("pg_server")
    url = asyncio.run(server.create(f"e{len(server.created)}"))
    yield url
    asyncio.run(server.drop(url))


@pytest.fixture
def quiet_root_logger() -> Iterator[None]:
    """For tests that run the bot's logging set-up: put the test process's logging back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        bot_admin_ids=frozenset({ADMIN_ID}),
        bot_token=None,
    )


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
async def app(settings: Settings, clock: Clock, transport: RecordingTransport) -> AsyncIterator[App]:
    db = Database(settings.database_url)
    application = App(
        settings=settings, db=db, outbox=Outbox(db, transport), bot_username="investbot_test_bot", clock=clock
    )
    yield application
    await db.dispose()


@pytest.fixture
def router(app: App) -> Router:
    return Router(app, build_registry())


ChatFactory = Callable[..., Chat]


@pytest.fixture
def chat(router: Router) -> ChatFactory:
    def make(user_id: int, **kwargs: object) -> Chat:
        return Chat(router, user_id, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def admin(chat: ChatFactory) -> Chat:
    return chat(ADMIN_ID, full_name="王局长")


Joiner = Callable[..., Awaitable[Chat]]


@pytest.fixture
def join(admin: Chat, chat: ChatFactory) -> Joiner:
    """Invite a person through the bot, as the bureau does, and have them join."""

    async def joined(user_id: int, unit_label: str, role_label: str | None = None, **kwargs: object) -> Chat:
        await admin.send("/invite")
        await admin.press(unit_label)
        if role_label is None:
            await admin.press(admin.labels()[0])
        else:
            await admin.press(role_label)
        if "start" not in admin.last_text:
            await admin.press(admin.labels()[0])  # a leader's level
        text = admin.last_text
        code = text.split("start=")[1].split()[0] if "start=" in text else text.split("/start ")[1].split()[0]
        person = chat(user_id, **kwargs)
        await person.send(f"/start {code}")
        return person

    return joined
