"""The delivery queue as the one way out: what Telegram's bad days do to the answers people get.

Through the real runner and the fake Bot API server, on each framework and database: 429s,
a Bot API that answers 502 for a while, an outage longer than any retry budget (on the app's
clock), and a chat whose next message waits for its retry while another is queued behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, update
from sqlmodel import col, select

from bot.core import Reply
from bot.core.db import Database
from bot.core.i18n import translate
from bot.delivery import Limits, Outbox
from models import Delivery
from tests import telegram_kit
from tests.botapi import BotAPIError
from tests.conftest import Clock
from tests.kit import RecordingTransport
from tests.telegram_kit import Bot

LIAISON = 1002
APOLOGY = translate("zh", "core.error")
LANG = translate("zh", "lang.ask")
CANCEL_NOTHING = translate("zh", "core.cancel.nothing")
bot = telegram_kit.bot
framework = telegram_kit.framework


def bad_gateway() -> BotAPIError:
    return BotAPIError(502, "Bad Gateway")


async def rows(db: Database, chat_id: int) -> list[Delivery]:
    async with db.session() as session:
        result = await session.exec(select(Delivery).where(Delivery.chat_id == chat_id).order_by(col(Delivery.id)))
        return list(result.all())


async def test_three_429s_on_an_answer_deliver_it_once_in_order_without_an_apology(bot: Bot) -> None:
    api = bot.api
    officer = bot.person(LIAISON)
    api.fail_next("sendMessage", 3, retry_after=1)
    for text in ("/lang", "/cancel"):
        await officer.send(text)
    await api.wait_for(lambda: len(officer.messages) >= 2, timeout=20, what="both answers")
    assert officer.texts() == [LANG, CANCEL_NOTHING]
    assert len([c for c in api.calls_to("sendMessage") if c.status == 429]) == 3
    assert APOLOGY not in officer.texts()


async def test_a_bot_api_answering_502_for_20_seconds_delivers_once_after(bot: Bot, clock: Clock) -> None:
    api, app = bot.api, bot.app
    app.clock = clock
    officer = bot.person(LIAISON)
    api.error_next("sendMessage", bad_gateway(), times=10_000)
    await officer.send("/lang")
    await officer.send("/cancel")
    for _ in range(20):
        clock.now += timedelta(seconds=1)
        await app.outbox.flush()
    assert officer.messages == []
    assert {row.status for row in await rows(app.db, LIAISON)} == {"pending"}
    api.clear_faults("sendMessage")
    clock.now += timedelta(minutes=1)
    await app.outbox.flush()
    assert officer.texts() == [LANG, CANCEL_NOTHING]
    assert {row.status for row in await rows(app.db, LIAISON)} == {"sent"}


async def test_an_outage_of_hours_ends_with_everything_delivered_in_order_once(bot: Bot, clock: Clock) -> None:
    api, app = bot.api, bot.app
    app.clock = clock
    officer = bot.person(LIAISON)
    api.error_next("sendMessage", bad_gateway(), times=100_000)
    await officer.send("/lang")
    for n in range(3):
        await app.outbox.enqueue(LIAISON, [Reply(f"notice {n}")], kind="notice")
    for _ in range(6 * 5):  # five hours, looked at every ten minutes
        clock.now += timedelta(minutes=10)
        await app.outbox.flush()
        assert "failed" not in {row.status for row in await rows(app.db, LIAISON)}
    assert officer.messages == []
    api.clear_faults("sendMessage")
    clock.now += timedelta(minutes=1)
    await app.outbox.flush()
    assert officer.texts() == [LANG, "notice 0", "notice 1", "notice 2"]
    assert {row.status for row in await rows(app.db, LIAISON)} == {"sent"}


@contextmanager
def counting_statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def test_a_chat_waiting_for_its_retry_costs_nothing_while_it_waits(app: object, clock: Clock) -> None:
    from bot.app import App

    assert isinstance(app, App)
    transport = RecordingTransport()
    outbox = Outbox(app.db, transport, limits=Limits(), clock=clock)
    chat = 5_000_000_001
    await outbox.enqueue(chat, [Reply("first")], kind="notice")
    await outbox.enqueue(chat, [Reply("second")], kind="notice")
    async with app.db.session() as session:
        first = (
            await session.exec(select(Delivery).where(Delivery.chat_id == chat).order_by(col(Delivery.id)))
        ).first()
        assert first is not None
        # As a failed try leaves it: waiting an hour for its next one, the second behind it.
        await session.exec(
            update(Delivery)
            .where(col(Delivery.id) == first.id)
            .values(attempts=3, not_before=clock.now + timedelta(hours=1))
        )
    worker = asyncio.create_task(outbox.run())
    try:
        await asyncio.sleep(0.2)  # the worker's first look
        cpu = time.process_time()
        with counting_statements(app.db) as statements:
            await asyncio.sleep(2.0)
        spent = time.process_time() - cpu
        assert statements == [], statements
        assert spent < 0.2, f"{spent:.2f} CPU-seconds while nothing could be sent"
        assert transport.sent == []

        clock.now += timedelta(hours=1)
        outbox.wake()
        for _ in range(100):
            if len(transport.sent) == 2:
                break
            await asyncio.sleep(0.05)
        assert transport.texts_to(chat) == ["first", "second"]
    finally:
        await outbox.stop()
        worker.cancel()
