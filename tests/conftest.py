"""Fixtures: a migrated, seeded database per test (copied from one template), an app, chats."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.db import Database
from bot.delivery import Outbox
from bot.router import Router
from handlers import build_registry
from services import demo, seed
from tests.kit import Chat, RecordingTransport

ADMIN_ID = 900_000_000_001  # above 2**31, as real Telegram ids are


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate and seed once; every test gets a copy of the file."""
    import asyncio

    path = tmp_path_factory.mktemp("template") / "template.sqlite3"

    async def build() -> None:
        db = Database(f"sqlite:///{path}")
        await db.migrate()
        await seed.seed(db)
        await demo.seed_demo_people(db)
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        await db.dispose()

    asyncio.run(build())
    return path


@pytest.fixture
def settings(tmp_path: Path, template_db: Path) -> Settings:
    target = tmp_path / "bot.sqlite3"
    shutil.copy(template_db, target)
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{target}",
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
