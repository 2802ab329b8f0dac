"""The whole path of an update against the simplest bot that stores something and answers.

    .venv/bin/python -m bench.bench_pipeline [--officers N] [--rounds R] [--only ptb|aiogram] [--backend sqlite|pg]

Workload: each of N registered liaison officers sends
``/lead 宁德时代 拟建储能基地 投资约20亿 新能源`` and presses 确认保存 on the summary.

- **project**: the update's JSON through the runner's webhook path — ``bot.telegram.incoming``,
  ``TelegramBridge.handle``, the router, the lead handler, the database (one transaction) and
  the delivery queue, whose answer leaves through the framework's own ``Bot``;
- **peer**: the bare framework (python-telegram-bot's ``Application.process_update`` or
  aiogram's ``Dispatcher.feed_update``) with one handler: one SQLModel ``AsyncSession``
  insert and one reply.

Both talk to the same in-process Bot API stand-in (the framework serializes the request; the
answer comes back at once), in one process, fed the same update JSON, in interleaved rounds
(project, peer, peer, project, …). Printed per framework × database × concurrency: the ratio
peer time / project time (≥ 1 means the project is as fast as the peer; median and range over
the rounds), the project's updates per second, and per update its SQL statements, commits and
Bot API calls. Then the adapter's own cost over the bare framework's parse-and-reply.

The pacing of sends (30 a second) is left out here: it is Telegram's limit, not work.
Run it with ``-m`` from the checkout: as a script, ``bot`` may be imported from elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, event, insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import App
from bot.core import Button, Keyboard, Reply, migrate
from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Limits, Outbox
from bot.router import Router
from bot.telegram import CommandMenus, TelegramBridge, TelegramTransport, incoming
from handlers import build_registry
from models import Lead, Role, Unit, User, utcnow
from services import seed

TEXT = "/lead 宁德时代 拟建储能基地 投资约20亿 新能源"
FIRST_OFFICER = 3_000_000_000
BOT_ID = 4242
TOKEN = f"{BOT_ID}:BENCH"
CONCURRENCY = (1, 32)


class PeerNote(SQLModel, table=True):
    """The peer's one record per update."""

    __tablename__ = "bench_peer_note"
    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)  # Telegram ids exceed 32 bits
    text: str


# -- the Bot API stand-in ---------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self._message_id = 0

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        self.count[method] += 1
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
        if method in ("sendMessage", "editMessageText"):
            self._message_id += 1
            chat_id = int(params.get("chat_id") or 0)
            return {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "text": params.get("text", ""),
            }
        return True

    def total(self) -> int:
        return sum(n for method, n in self.count.items() if method != "getMe")


def ptb_bot(calls: Calls) -> Any:
    from telegram import Bot
    from telegram.request import BaseRequest, RequestData

    class Request(BaseRequest):
        async def initialize(self) -> None:
            pass

        async def shutdown(self) -> None:
            pass

        @property
        def read_timeout(self) -> float | None:
            return None

        async def do_request(
            self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kwargs: Any
        ) -> tuple[int, bytes]:
            params = request_data.parameters if request_data is not None else {}
            result = calls.answer(url.rsplit("/", 1)[-1], dict(params))
            return 200, json.dumps({"ok": True, "result": result}).encode()

    return Bot(TOKEN, request=Request(), get_updates_request=Request())


def aiogram_bot(calls: Calls) -> Any:
    from aiogram import Bot
    from aiogram.client.session.base import BaseSession

    class Session(BaseSession):
        async def close(self) -> None:
            pass

        async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
            # The serialization a real request does, minus the wire.
            fields = method.model_dump(warnings=False)
            {key: self.prepare_value(value, bot, {}) for key, value in fields.items() if value is not None}
            params = {"chat_id": getattr(method, "chat_id", 0) or 0, "text": getattr(method, "text", "")}
            result = calls.answer(method.__api_method__, params)
            content = json.dumps({"ok": True, "result": result})
            return self.check_response(bot, method, 200, content).result

        async def stream_content(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover
            raise NotImplementedError
            yield b""

    return Bot(TOKEN, session=Session())


# -- the two contenders ------------------------------------------------------------------------


Feed = Callable[[dict[str, Any]], Awaitable[None]]


async def project_feed(framework: str, db: Database, calls: Calls) -> tuple[Feed, Callable[[], Awaitable[None]]]:
    settings = Settings(_env_file=None, database_url=str(db.url), bot_token=TOKEN, bot_framework=framework)  # type: ignore[call-arg]
    if framework == "ptb":
        from bot.adapters.ptb import PTBPort

        bot = ptb_bot(calls)
        await bot.initialize()
        port: Any = PTBPort(bot)
    else:
        from bot.adapters.aiogram import AiogramPort

        port = AiogramPort(aiogram_bot(calls))
    outbox = Outbox(db)
    app = App(settings=settings, db=db, outbox=outbox, bot_username="bench_bot")
    outbox.use(TelegramTransport(port), Limits(per_second=1e9, chat_interval=0.0))
    router = Router(app, build_registry(), queue_replies=True)
    bridge = TelegramBridge(router, port, outbox=outbox)
    # The menus as the runner keeps them: everyone's set at start, then only on a change.
    bridge.menus = CommandMenus(port, router.registry, db, default_locale=settings.default_locale)
    await bridge.menus.publish_everyone()

    async def feed(data: dict[str, Any]) -> None:
        translated = incoming(data, app.bot_username)
        assert translated is not None
        await bridge.handle(*translated)

    async def close() -> None:
        await outbox.stop()

    return feed, close


async def peer_feed(framework: str, engine: AsyncEngine, calls: Calls) -> tuple[Feed, Callable[[], Awaitable[None]]]:
    async def store(chat_id: int, text: str) -> None:
        async with AsyncSession(engine) as session:
            session.add(PeerNote(chat_id=chat_id, text=text))
            await session.commit()

    if framework == "ptb":
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
        from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

        application = ApplicationBuilder().bot(ptb_bot(calls)).updater(None).build()
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("确认保存", callback_data="save")]])

        async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.effective_chat is not None
            if update.callback_query is not None:
                await store(update.effective_chat.id, update.callback_query.data or "")
                await update.callback_query.answer()
                await context.bot.send_message(update.effective_chat.id, "saved #1")
            elif update.message is not None:
                await store(update.effective_chat.id, update.message.text or "")
                await update.message.reply_text("宁德时代 20亿元", reply_markup=markup)

        application.add_handler(TypeHandler(Update, on_update))
        await application.initialize()

        async def feed(data: dict[str, Any]) -> None:
            await application.process_update(Update.de_json(data, application.bot))

        return feed, application.shutdown

    from aiogram import Dispatcher
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

    bot = aiogram_bot(calls)
    dispatcher = Dispatcher()
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="确认保存", callback_data="save")]])

    async def on_message(message: Message) -> None:
        await store(message.chat.id, message.text or "")
        await message.answer("宁德时代 20亿元", reply_markup=keyboard)

    async def on_press(query: CallbackQuery) -> None:
        assert query.message is not None
        await store(query.message.chat.id, query.data or "")
        await query.answer()
        await bot.send_message(query.message.chat.id, "saved #1")

    dispatcher.message.register(on_message)
    dispatcher.callback_query.register(on_press)

    async def feed_aiogram(data: dict[str, Any]) -> None:
        await dispatcher.feed_update(bot, Update.model_validate(data, context={"bot": bot}))

    async def close() -> None:
        pass

    return feed_aiogram, close


# -- the workload ------------------------------------------------------------------------------


class Updates:
    def __init__(self) -> None:
        self.next_id = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def text(self, user_id: int) -> dict[str, Any]:
        person = {"id": user_id, "is_bot": False, "first_name": "李", "language_code": "zh-hans"}
        return {
            "update_id": self._id(),
            "message": {
                "message_id": self.next_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": person,
                "text": TEXT,
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }

    def press(self, user_id: int, data: str) -> dict[str, Any]:
        person = {"id": user_id, "is_bot": False, "first_name": "李", "language_code": "zh-hans"}
        return {
            "update_id": self._id(),
            "callback_query": {
                "id": str(self.next_id),
                "from": person,
                "chat_instance": "1",
                "data": data,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "bench"},
                    "text": "宁德时代 20亿元",
                    "reply_markup": {"inline_keyboard": [[{"text": "确认保存", "callback_data": data}]]},
                },
            },
        }


async def run_batch(
    feed: Feed, updates: Updates, officers: list[int], press: str, concurrency: int, cpu: list[float] | None = None
) -> float:
    """Each officer's two updates in order; ``concurrency`` officers at once. Returns seconds
    (and adds the process's CPU seconds to ``cpu``)."""
    queue = list(officers)
    started, used = time.perf_counter(), time.process_time()

    async def worker() -> None:
        while queue:
            officer = queue.pop()
            await feed(updates.text(officer))
            await feed(updates.press(officer, press))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if cpu is not None:
        cpu.append(time.process_time() - used)
    return time.perf_counter() - started


async def register_officers(db: Database, count: int) -> list[int]:
    async with db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.code == "lo-bj"))).first()
        if unit is None:
            unit = (await session.exec(select(Unit))).first()
        assert unit is not None and unit.id is not None
        ids = [FIRST_OFFICER + n for n in range(count)]
        await session.execute(
            insert(User),
            [
                {
                    "telegram_id": telegram_id,
                    "full_name": f"联络员{n}",
                    "role": Role.LIAISON.value,
                    "unit_id": unit.id,
                    "active": True,
                    "language_code": "zh-hans",
                    "created_at": utcnow(),
                }
                for n, telegram_id in enumerate(ids)
            ],
        )
    return ids


class Meter:
    """SQL statements and commits on an engine, while switched on."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements = 0
        self.commits = 0
        self.on = False
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    def _statement(self, *args: object) -> None:
        if self.on:
            self.statements += 1

    def _commit(self, *args: object) -> None:
        if self.on:
            self.commits += 1


async def fresh_database(backend: str, tmp: Path, name: str) -> tuple[str, Callable[[], Awaitable[None]]]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / name}.sqlite3", _nothing
    from tests import pg

    url = pg.server_url()
    available, line = await asyncio.to_thread(pg.availability)
    if not available or url is None:
        raise RuntimeError(line)
    server = pg.PgServer(url)
    created = await server.create(f"bench_{name}")

    async def drop() -> None:
        await server.drop_all()

    return created, drop


async def _nothing() -> None:
    pass


async def configuration(framework: str, backend: str, officers: int, rounds: int, tmp: Path) -> list[str]:
    url, drop = await fresh_database(backend, tmp, f"{framework}_{backend}")
    db = Database(url)
    lines: list[str] = []
    try:
        await migrate.upgrade(db)
        await seed.seed(db)
        async with db.engine.begin() as conn:
            await conn.run_sync(PeerNote.metadata.create_all, tables=[PeerNote.__table__])  # type: ignore[list-item]
        people = await register_officers(db, officers * rounds * 2 * len(CONCURRENCY) + 8)
        project_calls, peer_calls = Calls(), Calls()
        project, close_project = await project_feed(framework, db, project_calls)
        peer, close_peer = await peer_feed(framework, db.engine, peer_calls)
        meter = Meter(db.engine)
        updates = Updates()
        # Warm both up (imports, caches, prepared statements) and check the press saves a lead.
        await run_batch(project, updates, people[:4], "1|save", 1)
        await run_batch(peer, updates, people[4:8], "save", 1)
        async with db.session() as session:
            saved = len((await session.exec(select(Lead.id))).all())
        assert saved == 4, f"the warm-up saved {saved} leads, not 4"
        cursor = 8
        for concurrency in CONCURRENCY:
            ratios, rates = [], []
            cpu: dict[str, list[float]] = {"project": [], "peer": []}
            statements = commits = calls = handled = 0
            for n in range(rounds):
                batch_a = people[cursor : cursor + officers]
                batch_b = people[cursor + officers : cursor + 2 * officers]
                cursor += 2 * officers
                order = ("project", "peer") if n % 2 == 0 else ("peer", "project")
                took: dict[str, float] = {}
                for who, batch in zip(order, (batch_a, batch_b), strict=True):
                    if who == "project":
                        meter.on, before = True, project_calls.total()
                        took[who] = await run_batch(project, updates, batch, "1|save", concurrency, cpu[who])
                        meter.on = False
                        calls += project_calls.total() - before
                        handled += 2 * len(batch)
                    else:
                        took[who] = await run_batch(peer, updates, batch, "save", concurrency, cpu[who])
                ratios.append(took["peer"] / took["project"])
                rates.append(2 * officers / took["project"])
            statements, commits = meter.statements, meter.commits
            meter.statements = meter.commits = 0
            lines.append(
                f"{framework:7} {backend:6} {concurrency:>2} in flight  "
                f"peer/project {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})  "
                f"project {statistics.median(rates):6.0f} updates/s  "
                f"per update: {statements / handled:.1f} statements, {commits / handled:.2f} commits, "
                f"{calls / handled:.2f} Bot API calls; CPU ms/update "
                f"{1000 * sum(cpu['project']) / handled:.1f} (peer {1000 * sum(cpu['peer']) / handled:.1f})"
            )
        async with db.session() as session:
            leads = len((await session.exec(select(col(Lead.id)))).all())
        expected = 4 + officers * rounds * len(CONCURRENCY)
        assert leads == expected, f"{leads} leads stored, {expected} expected"
        await close_project()
        await close_peer()
    finally:
        await db.dispose()
        await drop()
    return lines


async def adapter_overhead(framework: str, iterations: int) -> str:
    """The adapter's translation in and out, against the bare framework's parse and reply."""
    calls = Calls()
    updates = Updates()
    data = updates.text(FIRST_OFFICER)
    reply = Reply("宁德时代 20亿元", Keyboard.column([Button("确认保存", "1|save")]))
    if framework == "ptb":
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

        from bot.adapters.ptb import PTBPort

        bot = ptb_bot(calls)
        await bot.initialize()
        port: Any = PTBPort(bot)

        async def bare() -> None:
            update = Update.de_json(data, bot)
            assert update.effective_chat is not None
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("确认保存", callback_data="1|save")]])
            await bot.send_message(update.effective_chat.id, "宁德时代 20亿元", reply_markup=markup)
    else:
        from aiogram.methods import SendMessage
        from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

        from bot.adapters.aiogram import AiogramPort

        bot = aiogram_bot(calls)
        port = AiogramPort(bot)

        async def bare() -> None:
            update = Update.model_validate(data, context={"bot": bot})
            assert update.message is not None
            markup = InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="确认保存", callback_data="1|save")]]
            )
            await bot(SendMessage(chat_id=update.message.chat.id, text="宁德时代 20亿元", reply_markup=markup))

    async def adapter() -> None:
        translated = incoming(data, "bench_bot")
        assert translated is not None
        await port.send(translated[0].chat_id, reply)

    bare_times, adapter_times = [], []
    for _ in range(5):
        for name, fn, sink in (("bare", bare, bare_times), ("adapter", adapter, adapter_times)):
            started = time.perf_counter()
            for _ in range(iterations):
                await fn()
            sink.append((time.perf_counter() - started) / iterations)
            del name
    b, a = statistics.median(bare_times), statistics.median(adapter_times)
    return (
        f"{framework:7} adapter in+out {a * 1e6:6.0f} µs, bare framework parse+reply {b * 1e6:6.0f} µs: "
        f"overhead {100 * (a - b) / b:+.0f} % (goal ≤ +10 %)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--officers", type=int, default=32, help="officers per batch (each sends two updates)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--only", choices=["ptb", "aiogram"])
    parser.add_argument("--backend", choices=["sqlite", "pg"])
    args, _ = parser.parse_known_args(sys.argv[1:])
    frameworks = [args.only] if args.only else ["ptb", "aiogram"]
    backends = [args.backend] if args.backend else ["sqlite", "pg"]
    print(f"{args.officers} officers × 2 updates per batch, {args.rounds} interleaved rounds; goal peer/project ≥ 1.0")
    with tempfile.TemporaryDirectory() as tmp:
        for framework in frameworks:
            for backend in backends:
                try:
                    for line in await configuration(framework, backend, args.officers, args.rounds, Path(tmp)):
                        print(line, flush=True)
                except RuntimeError as exc:
                    print(f"{framework:7} {backend:6} skipped: {exc}")
    for framework in frameworks:
        print(await adapter_overhead(framework, 300), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
