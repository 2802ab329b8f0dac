"""The composition root: everything a handler may need, built once at start-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Outbox
from models import utcnow


@dataclass
class App:
    settings: Settings
    db: Database
    outbox: Outbox
    # The bot's @username from getMe; invite links need it. The console has none.
    bot_username: str | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    # Fetches the bytes of a file a person sent (by its file id); set by the adapter.
    fetch_file: Callable[[str], Awaitable[bytes]] | None = None

    def now(self) -> datetime:
        return self.clock()

    async def download(self, file_id: str) -> bytes:
        if self.fetch_file is None:
            raise RuntimeError("this adapter cannot fetch files")
        return await self.fetch_file(file_id)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz
