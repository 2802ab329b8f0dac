"""Our own long polling, the same for both frameworks: an update is confirmed once handled.

Telegram forgets an update when a later ``getUpdates`` carries an ``offset`` past it. The
frameworks' pollers move the offset as soon as an update is *fetched*, so a process that dies
while handling one loses it. This poller moves it only past updates whose handling finished:
the offset is the lowest update still in flight (or the highest seen plus one when none is),
so an update interrupted by a crash is sent again to the next start, and the router's
processed-update check makes that harmless if it had been committed after all.

Each update's JSON goes straight to ``feed`` (the same one our webhook server uses), as a task
of its own, at most ``limit`` at once. Updates start in update-id order, so one person's take
the bridge's per-person lock in the order they were sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot.telegram import ALLOWED_UPDATES, MAX_CONCURRENT_UPDATES

log = logging.getLogger(__name__)

Feed = Callable[[dict[str, Any]], Awaitable[None]]

# How long one getUpdates waits for something to happen (Telegram allows up to 50 s).
LONG_POLL_TIMEOUT = 30.0
# While updates are in flight Telegram answers at once with those it was not told to forget:
# poll again when one finishes, or after this long to pick up other people's updates.
IN_FLIGHT_RECHECK = 0.5
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
# The last getUpdates at stop only confirms; it need not wait long for an answer.
FINAL_CALL_TIMEOUT = 5.0


class BotAPIFailure(Exception):
    """A Bot API call that did not succeed: ``status`` is ``None`` when no answer came."""

    def __init__(self, status: int | None, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status or 'no answer'}: {description}")
        self.status = status
        self.description = description
        self.retry_after = retry_after


class LongPoller:
    """``getUpdates`` in a loop until :meth:`stop`; see the module's docstring."""

    def __init__(
        self,
        feed: Feed,
        *,
        server: str,
        token: str,
        timeout: float = LONG_POLL_TIMEOUT,
        limit: int = MAX_CONCURRENT_UPDATES,
        recheck: float = IN_FLIGHT_RECHECK,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.feed = feed
        self._root = f"{server.rstrip('/')}/bot{token}"
        self._token = token
        self.timeout = timeout
        self.recheck = recheck
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self._slots = asyncio.Semaphore(limit)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.Task[None] | None = None
        # Update ids being handled, finished above the offset, and left unfinished at stop.
        self._running: dict[int, asyncio.Task[None]] = {}
        self._finished: set[int] = set()
        self._abandoned: set[int] = set()
        self._highest: int | None = None
        self._floor = 0  # every update below this was handled here (or before, by a confirmed poll)
        self._progress = asyncio.Event()
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._loop = asyncio.create_task(self._run(), name="long-polling")

    async def stop(self, grace: float) -> None:
        """Stop fetching at once, give the updates in flight ``grace`` seconds, confirm the rest.

        An update not finished in time is cancelled and stays unconfirmed: Telegram sends it
        again to the next start.
        """
        self._stopping = True
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            # gather, not a suppressed await: a cancellation of the caller itself must get through.
            (outcome,) = await asyncio.gather(loop, return_exceptions=True)
            if isinstance(outcome, Exception):
                log.error("polling ended with an error: %r", outcome)
        running = dict(self._running)
        if running:
            _, late = await asyncio.wait(running.values(), timeout=grace)
            if late:
                unfinished = sorted(i for i, task in running.items() if task in late)
                log.warning("updates %s unfinished at shutdown; Telegram will send them again", unfinished)
                self._abandoned.update(unfinished)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
        session, self._session = self._session, None
        if session is None:
            return
        try:
            offset = self.offset()
            if offset:
                # Tell Telegram what was handled, so the next start does not get it again.
                params = {"offset": offset, "timeout": 0, "limit": 1, "allowed_updates": ALLOWED_UPDATES}
                await self._call(session, "getUpdates", params, FINAL_CALL_TIMEOUT)
        except BotAPIFailure as exc:
            log.warning("confirming the handled updates at shutdown failed: %s", exc)
        finally:
            await session.close()

    def offset(self) -> int:
        """What the next ``getUpdates`` confirms up to (0: nothing yet)."""
        unfinished = self._running.keys() | self._abandoned
        if unfinished:
            return min(unfinished)
        return self._highest + 1 if self._highest is not None else 0

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        session = self._session
        assert session is not None
        # A webhook would make getUpdates answer 409; the updates it holds stay pending.
        await self._retrying(session, "deleteWebhook", {"drop_pending_updates": False})
        backoff = self.first_backoff
        while not self._stopping:
            self._progress.clear()
            params: dict[str, Any] = {"timeout": round(self.timeout), "allowed_updates": ALLOWED_UPDATES}
            offset = self.offset()
            if offset:
                params["offset"] = offset
            try:
                result = await self._call(session, "getUpdates", params, self.timeout + 10)
                if not isinstance(result, list):
                    raise BotAPIFailure(None, f"getUpdates answered {type(result).__name__}, not a list")
            except BotAPIFailure as exc:
                await asyncio.sleep(self._delay(exc, backoff, "getUpdates"))
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except Exception:
                # A bug here must not end polling for good: the bot would go deaf without a word.
                log.exception("getUpdates failed unexpectedly; retrying in %.0f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.first_backoff
            fresh = await self._take(result)
            if not fresh and self._running and not self._progress.is_set():
                # Telegram answered at once with updates still in flight: no busy loop. (Not
                # wait_for: on Python 3.11 it can swallow the cancellation that stops the loop.)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.recheck):
                        await self._progress.wait()

    async def _take(self, result: list[Any]) -> bool:
        """Start the updates not seen before, in id order; ``True`` if there were any."""
        readable: list[tuple[int, dict[str, Any]]] = []
        for item in result:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                readable.append((update_id, item))
            else:
                # Without an id nothing can be confirmed or redelivered: skip it.
                log.warning("skipping an unreadable update: %.200r", item)
        fresh = False
        for update_id, data in sorted(readable, key=lambda pair: pair[0]):
            if update_id < self._floor or update_id in self._running or update_id in self._finished:
                continue  # in flight, or handled already: Telegram sent it again
            fresh = True
            await self._slots.acquire()
            # No await between taking the slot and starting: updates start in id order.
            self._running[update_id] = asyncio.create_task(self._handle(update_id, data), name=f"update-{update_id}")
            self._highest = update_id if self._highest is None else max(self._highest, update_id)
        return fresh

    async def _handle(self, update_id: int, data: dict[str, Any]) -> None:
        finished = False
        try:
            await self.feed(data)
            finished = True
        except Exception:
            # Sending it again would only hit the same bug: it counts as handled.
            log.exception("update %s failed", update_id)
            finished = True
        finally:
            self._slots.release()
            self._running.pop(update_id, None)
            if finished:
                self._finished.add(update_id)
                self._prune()
            self._progress.set()

    def _prune(self) -> None:
        self._floor = max(self._floor, self.offset())
        self._finished = {i for i in self._finished if i >= self._floor}

    # -- HTTP -------------------------------------------------------------------------------

    async def _retrying(self, session: aiohttp.ClientSession, method: str, params: dict[str, Any]) -> Any:
        backoff = self.first_backoff
        while True:
            try:
                return await self._call(session, method, params, 30.0)
            except BotAPIFailure as exc:
                await asyncio.sleep(self._delay(exc, backoff, method))
                backoff = min(backoff * 2, self.max_backoff)

    def _delay(self, exc: BotAPIFailure, backoff: float, method: str) -> float:
        """How long to wait before trying ``method`` again, logged by how bad it is."""
        if exc.status == 429 and exc.retry_after is not None:
            delay = exc.retry_after
            log.warning("%s: flood control, retrying in %.0f s", method, delay)
        elif exc.status == 401:
            delay = self.max_backoff
            log.error("%s: the bot token was refused (%s); retrying in %.0f s", method, exc, delay)
        elif exc.status == 409:
            delay = backoff
            log.warning("%s: conflict (%s); retrying in %.0f s", method, exc.description, delay)
        else:
            delay = backoff
            log.warning("%s failed (%s); retrying in %.0f s", method, exc, delay)
        return delay

    async def _call(self, session: aiohttp.ClientSession, method: str, params: dict[str, Any], seconds: float) -> Any:
        """One Bot API call; its ``result``, or :class:`BotAPIFailure` (never the token in it)."""
        try:
            async with session.post(
                f"{self._root}/{method}", json=params, timeout=aiohttp.ClientTimeout(total=seconds)
            ) as response:
                status = response.status
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BotAPIFailure(None, self._redacted(f"{type(exc).__name__}: {exc}")) from None
        if not isinstance(body, dict):
            raise BotAPIFailure(status, f"HTTP {status} without a Bot API answer")
        if body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        parameters = body.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        raise BotAPIFailure(
            code if isinstance(code, int) else status,
            self._redacted(str(body.get("description") or "")),
            float(retry_after) if isinstance(retry_after, int | float) else None,
        )

    def _redacted(self, text: str) -> str:
        return text.replace(self._token, "<token>")
