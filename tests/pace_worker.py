"""One delivery worker in a process of its own, for the tests of the shared pace.

    python -m tests.pace_worker DATABASE_URL API_ROOT TOKEN NAME LOG

Runs the real ``Outbox`` worker with Telegram's limits on the shared database, sending
``sendMessage`` over HTTP to the fake Bot API, until no Telegram row is left unsent. Once
imported it prints ``ready`` and begins at the line the test then writes to its stdin, so the
processes of a test begin together as soon as the slowest is ready. Every attempt is written
to ``LOG`` as a JSON line: when it started and ended, the chat and the answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlmodel import col, func, select

from bot import delivery
from bot.core import Outgoing, Reply
from bot.core.db import Database
from bot.delivery import PENDING, SENDING, TELEGRAM, Outbox, classify_error
from models import Delivery


class HttpTransport:
    def __init__(self, root: str, token: str, log: Path) -> None:
        self.url = f"{root}/bot{token}/sendMessage"
        self.log = log.open("a", encoding="utf-8")
        self.session: aiohttp.ClientSession | None = None

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        assert isinstance(item, Reply)
        if self.session is None:
            self.session = aiohttp.ClientSession()
        started = time.time()
        async with self.session.post(self.url, json={"chat_id": chat_id, "text": item.text}) as answer:
            body: dict[str, Any] = await answer.json()
        self.log.write(
            json.dumps({"start": started, "end": time.time(), "chat": chat_id, "status": answer.status}) + "\n"
        )
        self.log.flush()
        if not body.get("ok"):
            retry_after = (body.get("parameters") or {}).get("retry_after")
            raise classify_error(answer.status, str(body.get("description", "")), retry_after)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


async def unsent(db: Database) -> int:
    async with db.session() as session:
        query = select(func.count()).where(
            Delivery.platform == "telegram", col(Delivery.status).in_([PENDING, SENDING])
        )
        return int((await session.exec(query)).one())


async def main(url: str, root: str, token: str, log: Path) -> None:
    # A worker claims its due chats together, up to MAX_CHATS of them: with the whole broadcast
    # under that, the first process to look would take every chat and the other none. A second
    # of the pace each keeps both sending side by side, which is what the test is about.
    delivery.MAX_CHATS = int(TELEGRAM.per_second)
    delivery.REFILL = delivery.MAX_CHATS // 2
    db = Database(url)
    transport = HttpTransport(root, token, log)
    outbox = Outbox(db, transport, limits=TELEGRAM)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    worker = asyncio.create_task(outbox.run())
    try:
        deadline = time.time() + 120
        while time.time() < deadline and await unsent(db):
            # Rows the other process put back (a 429) are due again without a commit here.
            outbox.wake()
            await asyncio.sleep(0.2)
    finally:
        await outbox.stop()
        worker.cancel()
        await transport.close()
        await db.dispose()


if __name__ == "__main__":
    database_url, api_root, bot_token, _name, log_path = sys.argv[1:6]
    asyncio.run(main(database_url, api_root, bot_token, Path(log_path)))
