"""What an update costs: one commit, the person kept between updates, menus sent only on a change.

These guard the speed half of the update engine (issue 10): a /lead and its 确认保存 commit once
each on both databases, their answers' slots of the shared pace included; the process keeps
the person and still sees a change to them on the very next update (or, made by another
process, within the cache's lifetime); a person's command menu is sent once, again after
their role or language changed, and not otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import col, select

from bot import delivery
from bot.app import App
from bot.core import Incoming, Kind, Reply
from bot.core.db import Database
from bot.core.i18n import translate
from bot.router import Router
from handlers import build_registry
from models import Delivery, Lead, ProcessedUpdate, Role, Setting, User
from services import members
from tests import telegram_kit
from tests.conftest import Joiner
from tests.kit import Chat, RecordingTransport, heard, zh
from tests.telegram_kit import Bot

LEAD = "/lead 宁德时代 拟建储能基地 投资约20亿 新能源"
LIAISON = 1002  # a seeded demo person: the Beijing liaison office
bot = telegram_kit.bot
framework = telegram_kit.framework


@contextmanager
def commits(db: Database) -> Iterator[list[int]]:
    """Count the commits on ``db``'s engine while the block runs."""
    seen = [0]

    def committed(*_args: Any) -> None:
        seen[0] += 1

    event.listen(db.engine.sync_engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "commit", committed)


async def test_a_lead_and_its_save_commit_once_each(
    app: App, join: Joiner, transport: RecordingTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path of an answer to Telegram: the router, the handler, the queued reply, its
    sending under the pace shared with other processes (its slot taken in the update's commit)."""
    # The answers' "sent" marks, and the pace's record of when each send was answered, ride on
    # the next update; none is written on its own meanwhile.
    monkeypatch.setattr(delivery, "ACK_DELAY", 3600.0)
    monkeypatch.setattr(delivery, "ANSWERS", 3600.0)
    app.outbox.use(transport, delivery.TELEGRAM)  # type: ignore[attr-defined]
    officer = await join(3_100_000_001, "驻北京联络处", "驻外机构")
    router = Router(app, build_registry(), queue_replies=True)
    person = Chat(router, officer.user_id)

    async def update(msg: Incoming) -> int:
        with commits(app.db) as seen:
            response = await router.handle(msg)
            assert response.queued
            await app.outbox.serve(msg.chat_id)  # type: ignore[attr-defined]
        person.history.append(response)
        for item in response.items:
            if getattr(item, "keyboard", None) is not None:
                person.keyboard = item.keyboard  # type: ignore[attr-defined]
        return seen[0]

    assert await update(person._incoming(Kind.COMMAND, command="lead", args=LEAD[6:], text=LEAD)) == 1
    save = person.button(zh("lead.confirm.save"))
    assert await update(person._incoming(Kind.BUTTON, data=save.data, text=save.label)) == 1
    assert await update(person._incoming(Kind.COMMAND, command="help", args="", text="/help")) == 1

    # Every send took its slot of the shared pace, in order; all but the last update's were
    # recorded as answered by the update after.
    async with app.db.engine.connect() as conn:
        seq, recent = (
            await conn.execute(text("SELECT seq, recent FROM deliverypace WHERE platform = 'telegram'"))
        ).one()
    assert seq == len(transport.sent) >= 3, (seq, transport.sent)
    if isinstance(recent, str):
        recent = json.loads(recent)
    still_flying = sorted(int(n) for n, _at, flying in recent if flying)
    assert still_flying and min(still_flying) >= seq - 2, recent

    answers = transport.texts_to(officer.user_id)
    assert any(heard(text, "lead.saved") for text in answers), answers
    async with app.db.session() as session:
        leads = (await session.exec(select(Lead).where(Lead.plan == "拟建储能基地"))).all()
    assert len(leads) == 1


def _only_for(role: Role, other: Role) -> str:
    """The /help line of a command ``role`` has and ``other`` has not."""
    registry = build_registry()
    theirs = {c.name for c in registry.commands_for(other)}
    command = next(c for c in registry.commands_for(role) if c.name not in theirs and c.help_key)
    assert command.help_key is not None
    return translate("zh", command.help_key)


async def test_a_kept_persons_role_change_is_seen_on_the_next_update(app: App, join: Joiner) -> None:
    officer = await join(3_100_000_002, "驻北京联络处", "驻外机构")
    liaison_only = _only_for(Role.LIAISON, Role.LEADER)
    await officer.send("/help")
    assert liaison_only in officer.last_text
    assert members.peek(app.db, officer.user_id) is not None, "the person is kept between updates"

    user = await _user(app.db, officer.user_id)
    await members.change_role(app.db, actor_id=user.id, user_id=user.id, role=Role.LEADER, now=app.now())  # type: ignore[arg-type]
    await officer.send("/help")
    assert liaison_only not in officer.last_text

    await members.deactivate(app.db, actor_id=user.id, user_id=user.id, now=app.now())  # type: ignore[arg-type]
    await officer.send("/help")
    assert officer.heard("core.not_registered")


async def test_a_change_made_by_another_process_is_seen_once_the_copy_lapses(
    app: App, join: Joiner, settings: Any
) -> None:
    officer = await join(3_100_000_003, "驻北京联络处", "驻外机构")
    liaison_only = _only_for(Role.LIAISON, Role.LEADER)
    now = [1000.0]
    app.db.cache.clock = lambda: now[0]
    await officer.send("/help")  # the person is kept from the cache's "1000" on
    other = Database(settings.database_url)  # another process on the same database
    try:
        user = await _user(other, officer.user_id)
        await members.change_role(other, actor_id=user.id, user_id=user.id, role=Role.LEADER, now=app.now())  # type: ignore[arg-type]
    finally:
        await other.dispose()
    now[0] += app.db.cache.ttl + 0.1
    await officer.send("/help")
    assert liaison_only not in officer.last_text


async def _user(db: Database, telegram_id: int) -> User:
    async with db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()
    return user


def _menus_of(bot: Bot, chat_id: int) -> list[list[str]]:
    scope = {"type": "chat", "chat_id": chat_id}
    return [
        [c["command"] for c in params.get("commands", [])]
        for method, params in bot.api.calls_to("setMyCommands")
        if params.get("scope") == scope
    ]


async def test_a_menu_is_sent_once_and_again_only_after_a_role_or_language_change(bot: Bot) -> None:
    api = bot.api
    await api.wait_for(lambda: _menus_of(bot, LIAISON), what="the liaison's menu at start")
    assert len(_menus_of(bot, LIAISON)) == 1
    officer = bot.person(LIAISON)
    await officer.send("/help")
    await officer.send("/lead")
    await officer.send("/cancel")
    assert len(_menus_of(bot, LIAISON)) == 1, "nothing changed: no menu sent"

    await officer.send("/lang")
    await officer.press("English")
    assert len(_menus_of(bot, LIAISON)) == 2, "the language changed: the menu follows"
    assert api.commands({"type": "chat", "chat_id": LIAISON})[0]["description"] == "list the commands you can use"
    await officer.send("/help")
    assert len(_menus_of(bot, LIAISON)) == 2

    user = await _user(bot.app.db, LIAISON)
    await members.change_role(
        bot.app.db,
        actor_id=user.id,  # type: ignore[arg-type]
        user_id=user.id,  # type: ignore[arg-type]
        role=Role.LEADER,
        now=datetime.now(UTC),
    )
    await officer.send("/help")
    menus = _menus_of(bot, LIAISON)
    assert len(menus) == 3, "the role changed: the menu follows"
    assert "lead" in menus[0] and "lead" not in menus[-1]
    await officer.send("/help")
    await officer.send("/help")
    assert len(_menus_of(bot, LIAISON)) == 3


async def test_inside_an_update_a_failed_block_undoes_its_own_writes_and_reading_takes_no_savepoint(
    app: App,
) -> None:
    """One transaction per update, and still each service call's writes stand or fall alone."""
    db = app.db
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with db.unit():
            async with db.session() as session:
                session.add(Setting(key="speed_kept", value=1))
            async with db.session() as session:
                await session.get(Setting, "speed_kept")  # a read: no savepoint for it
            reads = statements.count("SAVEPOINT")
            with pytest.raises(RuntimeError):
                async with db.session() as session:
                    session.add(Setting(key="speed_undone", value=2))
                    await session.flush()
                    raise RuntimeError("the service changed its mind")
            with pytest.raises(RuntimeError):
                async with db.session() as session:
                    session.add(Setting(key="speed_never_flushed", value=3))
                    raise RuntimeError("before anything was written")
            assert await app.outbox.enqueue(1, [Reply("once")], kind="digest", key="speed-once")
            assert not await app.outbox.enqueue(1, [Reply("twice")], kind="digest", key="speed-once")
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert reads <= 1, "only the first write may have needed one (not on SQLite's first write)"
    async with db.session() as session:
        keys = set((await session.exec(select(Setting.key).where(col(Setting.key).startswith("speed_")))).all())
        queued = (await session.exec(select(Delivery).where(Delivery.dedupe_key == "speed-once"))).all()
    assert keys == {"speed_kept"}
    assert [row.payload["items"][0]["text"] for row in queued] == ["once"]


async def test_the_pace_written_on_every_send_keeps_the_person_and_a_hand_written_change_drops_them(
    app: App, join: Joiner
) -> None:
    officer = await join(3_100_000_004, "驻北京联络处", "驻外机构")
    liaison_only = _only_for(Role.LIAISON, Role.LEADER)
    await officer.send("/help")
    assert members.peek(app.db, officer.user_id) is not None
    async with app.db.engine.begin() as conn:
        # What the delivery pace writes around every send: no person is in it.
        await conn.execute(text("UPDATE deliverypace SET seq = seq WHERE platform = 'telegram'"))
    assert members.peek(app.db, officer.user_id) is not None, "a send must not cost the next update its person"

    async with app.db.engine.begin() as conn:
        await conn.execute(
            text('UPDATE "user" SET role = :role WHERE telegram_id = :id'),
            {"role": Role.LEADER.name, "id": officer.user_id},
        )
    assert members.peek(app.db, officer.user_id) is None
    await officer.send("/help")
    assert liaison_only not in officer.last_text


async def test_two_reads_side_by_side_see_the_same_records_inside_an_update_and_out(app: App) -> None:
    """``Database.both``: outside an update each read has a connection of its own, at the same
    time; inside one they share its session, so both see what the update wrote and not yet committed."""

    async def updates_numbered(number: int) -> int:
        async with app.db.session() as session:
            found = await session.exec(select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id == number))
            return len(found.all())

    checked_out: list[int] = []
    most = [0]

    def out(*_args: Any) -> None:
        checked_out.append(1)
        most[0] = max(most[0], len(checked_out))

    def back(*_args: Any) -> None:
        checked_out.pop()

    event.listen(app.db.engine.sync_engine, "checkout", out)
    event.listen(app.db.engine.sync_engine, "checkin", back)
    try:
        # The first time, SQLAlchemy's pool may still be opening its second connection.
        for _ in range(2):
            most[0] = 0
            assert await app.db.both(updates_numbered(987_654_321), updates_numbered(987_654_321)) == (0, 0)
    finally:
        event.remove(app.db.engine.sync_engine, "checkout", out)
        event.remove(app.db.engine.sync_engine, "checkin", back)
    assert most[0] == 2

    async with app.db.unit():
        async with app.db.session() as session:
            session.add(ProcessedUpdate(update_id=987_654_321))
            await session.flush()
        assert await app.db.both(updates_numbered(987_654_321), updates_numbered(987_654_321)) == (1, 1)


def test_a_started_runner_freezes_what_start_up_built_out_of_full_collections() -> None:
    """The collector's full passes, on the loop, skip start-up's objects once a runner has started."""
    import asyncio
    import gc

    from bot.runner import run_until_stopped

    class Started:
        async def start(self) -> None:
            stop.set()

        async def stop(self) -> None:
            frozen.append(gc.get_freeze_count())

    stop = asyncio.Event()
    frozen: list[int] = []
    try:
        asyncio.run(run_until_stopped(Started(), stop=stop, handle_signals=False))
    finally:
        gc.unfreeze()
    assert frozen and frozen[0] > 10_000
