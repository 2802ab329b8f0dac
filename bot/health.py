"""Is this bot healthy? ``investbot health`` (the container's HEALTHCHECK) and ``GET /healthz``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from sqlalchemy import text

from bot.core.config import Settings
from bot.core.db import Database

TIMEOUT_SECONDS = 5.0


@dataclass
class Health:
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(value == "ok" for value in self.checks.values())

    def as_json(self) -> str:
        return json.dumps({"ok": self.ok, **self.checks}, sort_keys=True)


async def database_status(db: Database) -> str:
    """``ok``, or what went wrong (its kind only: messages can carry connection details)."""
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return "timeout"
    except Exception as error:
        return f"unavailable ({type(error).__name__})"
    return "ok"


async def healthz(db: Database) -> tuple[int, str]:
    """The answer of ``GET /healthz`` in webhook mode: 200 when the database answers, else 503."""
    health = Health({"database": await database_status(db)})
    return (200 if health.ok else 503), health.as_json()


async def webhook_status(settings: Settings) -> str:
    import httpx

    host = "127.0.0.1" if settings.webhook_listen in ("0.0.0.0", "::", "") else settings.webhook_listen
    url = f"http://{host}:{settings.webhook_port}/healthz"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        return f"unreachable ({type(error).__name__})"
    return "ok" if response.status_code == 200 else f"http {response.status_code}"


async def check(settings: Settings) -> Health:
    """The database answers; in webhook mode, so does this host's ``/healthz``."""
    db = Database(settings.database_url)
    try:
        health = Health({"database": await database_status(db)})
    finally:
        await db.dispose()
    if settings.webhook_url:
        health.checks["webhook"] = await webhook_status(settings)
    return health
