"""Our own webhook server, the same for both frameworks.

One aiohttp application receives Telegram's POSTs, checks the secret-token header, and
hands the update's JSON to the runner's ``feed``, answering only once it was handled: a crash
mid-update makes Telegram deliver it again, and the router's update-id check makes that
harmless. (PTB's built-in server answers before any handler runs; aiogram's has its own
rules: owning the server makes both behave alike, and gives ``/healthz`` a home.)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.listen import listen
from bot.telegram import MAX_CONCURRENT_UPDATES

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Feed = Callable[[dict[str, Any]], Awaitable[None]]


def webhook_path(url: str) -> str:
    return urlsplit(url).path or "/"


class WebhookServer:
    def __init__(self, feed: Feed, *, secret: str, path: str, host: str, port: int) -> None:
        self.feed = feed
        self.secret = secret
        self.host = host
        self.port = port
        self.app = web.Application()
        self.app.router.add_post(path, self._receive)
        # Operational routes (health) are added to ``self.app`` before ``start``.
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_UPDATES)
        self._runner: web.AppRunner | None = None
        self._accepting = True

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return web.Response(status=401)
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.Response(status=403)
        if not self._accepting:
            return web.Response(status=503)  # shutting down: Telegram retries later
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            # RecursionError: nesting deeper than the parser goes is no update either.
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        async with self._slots:
            try:
                await self.feed(data)
            except Exception:
                # The update is lost either way; a 5xx would only have it redelivered into the same bug.
                log.exception("webhook update %s failed", data.get("update_id"))
        return web.Response()

    async def start(self) -> None:
        self._runner, self.port = await listen(self.app, self.host, self.port, shutdown_timeout=30.0)
        log.info("webhook server listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Refuse new updates and wait for those being handled."""
        self._accepting = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
