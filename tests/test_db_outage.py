"""The database going away: "temporarily unavailable, please retry", then recovery by itself."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot import router as router_module
from bot.app import App
from bot.core import Incoming, Kind, Notice, Reply, Response
from bot.core.config import Settings
from bot.core.db import APPLICATION_NAME, Database, is_unavailable
from bot.core.i18n import translate
from bot.delivery import Outbox
from bot.router import Router
from handlers import build_registry
from tests import pg
from tests.conftest import ChatFactory

UNAVAILABLE = translate("zh", "ops.db_unavailable")
ERROR = translate("zh", "core.error")
DEMO_PEOPLE = range(1001, 1009)


def texts(response: Response) -> list[str]:
    return [item.text for item in response.items if isinstance(item, Reply)]


async def test_a_lost_connection_is_answered_with_retry_not_with_an_error(
    chat: ChatFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    person = chat(1003)
    real = router_module.members.load_member

    async def gone(*args: object, **kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionResetError("connection reset by peer"))

    monkeypatch.setattr(router_module.members, "load_member", gone)
    with caplog.at_level(logging.INFO, logger="bot.router"):
        await person.send("/help")
    assert person.last_text == UNAVAILABLE
    assert UNAVAILABLE != ERROR
    [line] = [r for r in caplog.records if r.getMessage() == "update handled"]
    assert line.outcome == "unavailable"  # type: ignore[attr-defined]

    await person.press_data("1|x")
    notices = [i.text for i in person.last.items if isinstance(i, Notice)]
    assert notices == [translate("zh", "ops.db_unavailable.short")]

    monkeypatch.setattr(router_module.members, "load_member", real)
    await person.send("/help")
    assert "/cancel" in person.last_text


async def test_a_database_that_does_not_answer_at_all(tmp_path: Path) -> None:
    """Nothing listening (the server is down or restarting): the same answer, no exception."""
    settings = Settings(_env_file=None, database_url="postgresql://investbot@127.0.0.1:9/none")  # type: ignore[call-arg]
    db = Database(settings.database_url)
    router = Router(App(settings=settings, db=db, outbox=Outbox(db, None)), build_registry())
    try:
        response = await router.handle(Incoming(Kind.COMMAND, 1, 1, update_id=1, command="help"))
    finally:
        await db.dispose()
    assert texts(response) == [UNAVAILABLE]


def test_what_counts_as_unavailable() -> None:
    assert is_unavailable(OperationalError("x", {}, Exception("database is locked")))
    assert is_unavailable(ConnectionRefusedError(111, "refused"))
    wrapped = RuntimeError("while saving")
    wrapped.__cause__ = ConnectionResetError()
    assert is_unavailable(wrapped)
    assert not is_unavailable(ValueError("a bug"))
    assert not is_unavailable(KeyError("draft"))


@pytest.mark.parametrize("backend", ["pg"])
async def test_terminated_connections_under_load(app: App, router: Router, caplog: pytest.LogCaptureFixture) -> None:
    """pg_terminate_backend on the bot's connections while people write: nothing is lost silently."""
    url = app.settings.database_url
    update_ids = iter(range(500_000, 600_000))

    def message(user_id: int, n: int) -> Incoming:
        command = ("help", "mine")[n % 2]
        return Incoming(Kind.COMMAND, user_id, user_id, update_id=next(update_ids), command=command, text=f"/{command}")

    async def person(user_id: int, count: int) -> list[Response]:
        return [await router.handle(message(user_id, n)) for n in range(count)]

    killed = 0

    async def terminator() -> None:
        nonlocal killed
        conn = await pg.connect(url)
        try:
            for _ in range(12):
                await asyncio.sleep(0.015)
                killed += len(
                    await conn.fetch(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = $1",
                        APPLICATION_NAME,
                    )
                )
        finally:
            await conn.close()

    with caplog.at_level(logging.INFO, logger="bot.router"):
        results = await asyncio.gather(terminator(), *(person(uid, 8) for uid in DEMO_PEOPLE))
    responses = [r for batch in results[1:] for r in batch]  # type: ignore[union-attr]
    assert len(responses) == 8 * len(DEMO_PEOPLE)
    assert killed > 0, "the terminator found the bot's connections"

    unavailable = handled = 0
    for response in responses:
        said = texts(response)
        assert ERROR not in said, "a lost connection must not read as a bug"
        if said == [UNAVAILABLE]:
            unavailable += 1
        else:
            assert said and all(UNAVAILABLE not in t for t in said)
            handled += 1
    assert unavailable + handled == len(responses)
    outcomes = [getattr(r, "outcome", None) for r in caplog.records if r.getMessage() == "update handled"]
    assert outcomes.count("unavailable") == unavailable
    assert outcomes.count("error") == 0

    # Recovery by itself: the pool replaces the dead connections, everyone is answered.
    for uid in DEMO_PEOPLE:
        said = texts(await router.handle(message(uid, 0)))
        assert said and "/cancel" in said[0]
