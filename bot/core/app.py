"""What a handler may use of the running bot: settings, the database, the clock, the way out.

The runtime builds the real thing (``bot.app``) once at start-up; handlers and scheduled
jobs see it through this shape, so they stand on the base and never on the runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.core import Outgoing
from bot.core.config import Settings
from bot.core.db import Database
from models import utcnow


class DeliveryQueue(Protocol):
    """The one way out (``bot.delivery.Outbox``): a message is queued, the runtime sends it.

    Inside an update the row joins the update's transaction and leaves once it commits.
    """

    async def enqueue(
        self, chat_id: int, items: Sequence[Outgoing], *, kind: str, key: str | None = None, answer: bool = False
    ) -> bool: ...


@dataclass
class App:
    settings: Settings
    db: Database
    outbox: DeliveryQueue
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
