"""The fake Bot API server: its protocol, and the real PTB and aiogram bots running against it."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiogram import Bot as AiogramBot
from aiogram import Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import BufferedInputFile, CallbackQuery
from aiogram.types import InlineKeyboardButton as AiogramButton
from aiogram.types import InlineKeyboardMarkup as AiogramKeyboard
from aiogram.types import Message as AiogramMessage
from aiogram.types import Update as AiogramUpdate
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram import Bot as PTBBot
from telegram import BotCommand, BotCommandScopeAllPrivateChats, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import Message as TGMessage
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.botapi import BotAPIError, FakeBotAPI

USER = 1001
OTHER = 2002


def tiny_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


async def call(api: FakeBotAPI, method: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{api.root}/bot{token or api.token}/{method}", **kwargs)


def ptb_bot(api: FakeBotAPI) -> PTBBot:
    return PTBBot(api.token, base_url=api.base_url, base_file_url=api.base_file_url)


def aiogram_bot(api: FakeBotAPI) -> AiogramBot:
    return AiogramBot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.root)))


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run an aiohttp app on a free loopback port; yields its root URL."""
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


# -- protocol ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_get_me_errors_and_body_encodings() -> None:
    async with FakeBotAPI() as api:
        async with httpx.AsyncClient() as client:
            me = (await client.get(f"{api.root}/bot{api.token}/getMe")).json()
            unauthorized = await client.get(f"{api.root}/bot999:WRONG/getMe")
            missing = await client.get(f"{api.root}/bot{api.token}/sendTelepathy")
        assert me["ok"] and me["result"]["id"] == 4242
        assert me["result"]["username"] == "investbot_test_bot"
        assert me["result"]["is_bot"] and me["result"]["can_join_groups"] is True
        assert unauthorized.status_code == 401
        assert unauthorized.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        assert missing.status_code == 404
        assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

        markup = '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}'
        form = await call(api, "SENDMESSAGE", data={"chat_id": "7", "text": "123", "reply_markup": markup})
        as_json = await call(api, "sendmessage", json={"chat_id": 7, "text": "json", "reply_markup": markup})
        async with httpx.AsyncClient() as client:
            query = await client.get(f"{api.root}/bot{api.token}/sendMessage", params={"chat_id": 7, "text": "q"})
        assert form.status_code == as_json.status_code == query.status_code == 200
        assert [c.method for c in api.calls[-3:]] == ["sendMessage"] * 3
        # Form fields arrive as strings: ints and JSON objects are decoded, text stays text.
        assert api.calls[-3].params == {
            "chat_id": 7,
            "text": "123",
            "reply_markup": {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]},
        }
        assert api.calls[-2].params["reply_markup"] == api.calls[-3].params["reply_markup"]
        assert [m.message_id for m in api.messages(7)] == [1, 2, 3]
        assert form.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Go"
        assert form.json()["result"]["chat"] == {"id": 7, "type": "private", "first_name": "User 7"}

        for method in ("close", "logOut"):
            assert (await call(api, method)).json() == {"ok": True, "result": True}


@pytest.mark.asyncio
async def test_get_updates_long_poll_offset_limit_and_allowed_updates() -> None:
    async with FakeBotAPI() as api:

        async def poll(**params: Any) -> list[dict[str, Any]]:
            response = await call(api, "getUpdates", json=params)
            assert response.status_code == 200, response.text
            result: list[dict[str, Any]] = response.json()["result"]
            return result

        started = time.monotonic()
        waiting = asyncio.create_task(poll(timeout=5))
        await api.wait_for_calls("getUpdates")
        first = api.send_text(USER, "/start ref42")
        updates = await waiting
        assert time.monotonic() - started < 2, "a queued update must end the long poll at once"
        assert [u["update_id"] for u in updates] == [first]
        message = updates[0]["message"]
        assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
        assert message["from"]["language_code"] == "zh-hans" and message["chat"]["id"] == USER

        second = api.send_text(USER, "two")
        assert [u["update_id"] for u in await poll()] == [first, second]  # nothing confirmed yet
        assert [u["update_id"] for u in await poll(offset=first + 1)] == [second]
        assert api.pending_updates == [second]
        assert await poll(offset=second + 1) == []

        third, fourth = api.send_text(USER, "3"), api.send_text(USER, "4")
        assert [u["update_id"] for u in await poll(offset=second + 1, limit=1)] == [third]
        assert [u["update_id"] for u in await poll(offset=-1)] == [fourth]

        # Telegram drops updates of types the bot did not ask for.
        api.send_text(USER, "dropped")
        api.push_update(
            {
                "callback_query": {
                    "id": "1",
                    "from": {"id": USER, "is_bot": False, "first_name": "T"},
                    "chat_instance": "1",
                    "data": "x",
                }
            }
        )
        kinds = await poll(offset=fourth + 1, allowed_updates=["callback_query"])
        assert [next(k for k in u if k != "update_id") for u in kinds] == ["callback_query"]

        # A redelivered update comes once more even though the offset is past it.
        api.redeliver(first)
        last = kinds[-1]["update_id"]
        # The allowed_updates setting sticks until changed; [] means the default set again.
        assert [u["update_id"] for u in await poll(offset=last + 1, allowed_updates=[])] == [first]
        assert await poll(offset=last + 1) == []

        # Telegram ends an older long poll when a newer one arrives.
        polls = len(api.calls_to("getUpdates"))
        older = asyncio.create_task(call(api, "getUpdates", json={"timeout": 3}))
        await api.wait_for_calls("getUpdates", polls + 1)
        assert await poll(timeout=0) == []
        conflict = await older
        assert conflict.status_code == 409 and "terminated by other getUpdates" in conflict.json()["description"]


@pytest.mark.asyncio
async def test_messages_edits_and_telegram_rules() -> None:
    async with FakeBotAPI() as api, ptb_bot(api) as bot:
        api.send_text(USER, "hi")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
        sent = await bot.send_message(USER, "<b>Pick</b> one <i>now</i>\n", parse_mode="HTML", reply_markup=keyboard)
        assert sent.message_id == 2, "message ids are shared by the user and the bot in a chat"
        assert sent.text == "Pick one now" and [e.type for e in sent.entities] == ["bold", "italic"]
        stored = api.last_message(USER)
        assert stored.source_text == "<b>Pick</b> one <i>now</i>\n" and stored.button_data("A") == "a"
        assert (await bot.send_message(OTHER, "elsewhere")).message_id == 1

        edited = await bot.edit_message_text("Picked", chat_id=USER, message_id=sent.message_id)
        assert isinstance(edited, TGMessage) and edited.text == "Picked" and edited.edit_date is not None
        assert stored.texts == ["Pick one now", "Picked"] and stored.reply_markup is None  # edit dropped it
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("Picked", chat_id=USER, message_id=sent.message_id)
        await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id, reply_markup=keyboard)
        assert stored.callback_data() == ["a"] and len(stored.versions) == 3
        with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
            await bot.edit_message_text("x", chat_id=USER, message_id=99)
        with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
            await bot.edit_message_text("x", chat_id=USER, message_id=1)

        with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "br"'):
            await bot.send_message(USER, "line<br>line", parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(USER, "  \n")
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                USER, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="x" * 65)]])
            )
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query("no-such-query")
        assert await bot.send_chat_action(USER, "typing") is True
        assert await bot.delete_message(USER, sent.message_id) is True
        assert [m.message_id for m in api.messages(USER)] == []

        with pytest.raises(AssertionError, match=r"waiting for 1 message\(s\) in chat 1001 containing 'never'"):
            await api.wait_for_message(USER, "never", timeout=0.1)


@pytest.mark.asyncio
async def test_commands_are_kept_per_scope_and_language() -> None:
    async with FakeBotAPI() as api, ptb_bot(api) as bot:
        private = BotCommandScopeAllPrivateChats()
        await bot.set_my_commands(
            [BotCommand("start", "开始"), BotCommand("help", "帮助")], scope=private, language_code="zh"
        )
        await bot.set_my_commands([("start", "Start")])
        assert [c["command"] for c in api.commands("all_private_chats", "zh")] == ["start", "help"]
        assert api.commands() == [{"command": "start", "description": "Start"}]
        assert api.commands("all_private_chats") == []
        assert [c.command for c in await bot.get_my_commands(scope=private, language_code="zh")] == ["start", "help"]
        with pytest.raises(BadRequest, match=r"(?i)invalid language code"):
            await bot.set_my_commands([("start", "开始")], language_code="zh-hans")
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([("Start", "Start")])
        await bot.delete_my_commands(scope=private, language_code="zh")
        assert api.commands("all_private_chats", "zh") == []


# -- the real frameworks -------------------------------------------------------------------


def build_ptb(api: FakeBotAPI) -> Application[Any, Any, Any, Any, Any, Any]:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"welcome {' '.join(context.args or [])}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Yes", callback_data="yes"), InlineKeyboardButton("No", callback_data="no")]]
        )
        await message.reply_text(f"echo: {message.text}", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"you said {query.data}", show_alert=True)
        await query.edit_message_text(f"chosen: {query.data}")

    async def document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.document is not None
        data = bytes(await (await context.bot.get_file(message.document.file_id)).download_as_bytearray())
        await message.reply_document(data.upper(), filename="upper.txt", caption=f"got {message.document.file_name}")

    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        largest = message.photo[-1]
        data = bytes(await (await largest.get_file()).download_as_bytearray())
        await message.reply_photo(data, caption=f"{largest.width}x{largest.height}")

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).base_file_url(api.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_handler(MessageHandler(filters.PHOTO, photo))
    return app


@pytest.mark.asyncio
async def test_python_telegram_bot_application() -> None:
    async with FakeBotAPI() as api:
        app = build_ptb(api)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            try:
                api.send_text(USER, "/start ref42")
                await api.wait_for_message(USER, "welcome ref42")

                api.send_text(USER, "你好")
                echoed = await api.wait_for_message(USER, "echo: 你好")
                assert echoed.button_labels() == ["Yes", "No"]

                query_id = api.press_button(USER, echoed.message_id, echoed.button_data("No"))
                await api.wait_for(lambda: echoed.text == "chosen: no")
                assert api.answered_callbacks[query_id].text == "you said no"
                assert api.answered_callbacks[query_id].show_alert

                api.send_document(USER, "note.txt", b"hello file")
                reply = await api.wait_for_message(USER, "got note.txt")
                assert reply.document is not None
                assert (reply.document.filename, reply.document.content) == ("upper.txt", b"HELLO FILE")

                picture = tiny_png(40, 30)
                api.send_photo(USER, picture, caption="look")
                reply = await api.wait_for_message(USER, "40x30")
                assert reply.photo == picture, "the bot must download the largest size"
            finally:
                await app.updater.stop()
                await app.stop()
        methods = [c.method for c in api.calls]
        # PTB's start-up: getMe, then deleteWebhook before the first poll; a last
        # zero-timeout getUpdates on stop confirms what it fetched.
        assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
        assert methods[-1] == "getUpdates" and api.calls[-1].params["timeout"] == 0
        assert api.pending_updates == []


@pytest.mark.asyncio
async def test_aiogram_dispatcher() -> None:
    async with FakeBotAPI() as api:
        bot = aiogram_bot(api)
        dp = Dispatcher()

        @dp.message(CommandStart())
        async def start(message: AiogramMessage, command: CommandObject) -> None:
            await message.answer(f"welcome {command.args}")

        @dp.message(F.text)
        async def echo(message: AiogramMessage) -> None:
            keyboard = AiogramKeyboard(inline_keyboard=[[AiogramButton(text="Yes", callback_data="yes")]])
            await message.answer(f"echo: {message.text}", reply_markup=keyboard)

        @dp.callback_query()
        async def pressed(query: CallbackQuery) -> None:
            await query.answer(f"you said {query.data}")
            assert isinstance(query.message, AiogramMessage)
            await query.message.edit_text(f"chosen: {query.data}")

        @dp.message(F.document)
        async def document(message: AiogramMessage) -> None:
            assert message.document is not None and message.bot is not None
            data = await message.bot.download(message.document)
            assert data is not None
            upper = BufferedInputFile(data.read().upper(), filename="upper.txt")
            await message.answer_document(upper, caption=f"got {message.document.file_name}")

        polling = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False))
        try:
            await api.wait_for_calls("getUpdates")
            api.send_text(USER, "/start ref42")
            await api.wait_for_message(USER, "welcome ref42")

            api.send_text(USER, "hello")
            echoed = await api.wait_for_message(USER, "echo: hello")
            query_id = api.press_button(USER, echoed.message_id, "yes")
            await api.wait_for(lambda: echoed.text == "chosen: yes")
            assert api.answered_callbacks[query_id].text == "you said yes"

            api.send_document(USER, "note.txt", b"hello file")
            reply = await api.wait_for_message(USER, "got note.txt")
            assert reply.document is not None and reply.document.content == b"HELLO FILE"
            # aiogram uploads through an attach:// reference; the server resolves it.
            assert api.calls_to("sendDocument")[0].params["document"].filename == "upper.txt"
        finally:
            await dp.stop_polling()
            await polling
        # aiogram skips deleteWebhook and asks only for the update types it has handlers for.
        assert [c.method for c in api.calls[:2]] == ["getMe", "getUpdates"]
        assert api.calls[1].params["allowed_updates"] == ["callback_query", "message"]


# -- fault injection and webhooks ----------------------------------------------------------


# PTB 22 warns from inside RetryAfter itself unless PTB_TIMEDELTA is set.
@pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")
@pytest.mark.asyncio
async def test_rate_limit_blocked_and_deleted_chats() -> None:
    async with FakeBotAPI() as api, ptb_bot(api) as ptb:
        aio = aiogram_bot(api)
        try:
            api.fail_next("sendMessage", 2, retry_after=3)
            raw = await call(api, "sendMessage", json={"chat_id": USER, "text": "x"})
            assert raw.status_code == 429
            assert raw.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
            with pytest.raises(RetryAfter):
                await ptb.send_message(USER, "x")
            await ptb.send_message(USER, "through")
            assert [c.status for c in api.calls_to("sendMessage")] == [429, 429, 200]
            assert [m.text for m in api.messages(USER)] == ["through"]

            api.fail_next("sendMessage", retry_after=1)
            with pytest.raises(TelegramRetryAfter) as retry:
                await aio.send_message(USER, "x")
            assert retry.value.retry_after == 1

            api.block(USER)
            with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
                await ptb.send_message(USER, "x")
            with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
                await aio.send_message(USER, "x")
            blocked = await call(api, "sendMessage", json={"chat_id": USER, "text": "x"})
            assert blocked.json() == {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }

            api.delete_chat(OTHER)
            with pytest.raises(BadRequest, match=r"(?i)chat not found"):
                await ptb.send_message(OTHER, "x")
            with pytest.raises(TelegramBadRequest, match=r"(?i)chat not found"):
                await aio.send_document(OTHER, BufferedInputFile(b"x", filename="x.txt"))

            # Every call carries a monotonic arrival time, for rate-limit checks.
            sends = [c for c in api.calls_to("sendMessage") if c.ok]
            assert all(a.at <= b.at for a, b in itertools.pairwise(sends))
            api.unblock(USER)
            await ptb.send_message(USER, "again")
            assert api.max_messages_within(1.0, USER) == 2  # "through" and "again", well within a second
            assert api.max_messages_within(0.0, USER) == 1
        finally:
            await aio.session.close()


@pytest.mark.asyncio
async def test_webhook_delivery_checks_the_secret() -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "s3cret":
            return web.Response(status=403)
        received.append(await request.json())
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    async with FakeBotAPI() as api, serve(receiver) as url, ptb_bot(api) as bot:
        assert await bot.set_webhook(f"{url}/hook", secret_token="s3cret", allowed_updates=["message"])
        info = await bot.get_webhook_info()
        assert info.url == f"{url}/hook" and info.allowed_updates == ("message",)
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()

        update_id = api.send_text(USER, "via hook")
        assert await api.deliver_webhook(update_id) == 200
        assert received[0]["message"]["text"] == "via hook"
        assert await api.deliver_webhook(update_id, secret_token=None) == 403
        assert await api.deliver_webhook({"message": received[0]["message"]}, secret_token="wrong") == 403
        assert [d.status for d in api.webhook_deliveries] == [200, 403, 403]

        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()  # the delivered update is not polled again


@pytest.mark.asyncio
async def test_aiogram_webhook_reply_in_the_response_body() -> None:
    async with FakeBotAPI() as api:
        bot = aiogram_bot(api)
        dp = Dispatcher()

        @dp.message(F.text)
        async def echo(message: AiogramMessage) -> SendMessage:
            # Returned, not awaited: aiogram writes the call into the webhook response.
            return message.answer(f"echo: {message.text}")

        receiver = web.Application()
        handler = SimpleRequestHandler(dispatcher=dp, bot=bot, handle_in_background=False, secret_token="s3cret")
        handler.register(receiver, path="/hook")
        async with serve(receiver) as url:  # its shutdown closes the bot's session
            await bot.set_webhook(f"{url}/hook", secret_token="s3cret")
            assert await api.deliver_webhook(api.send_text(USER, "hi")) == 200
            assert api.last_message(USER).text == "echo: hi"
            assert api.calls[-1].method == "sendMessage" and api.calls[-1].ok
            assert await api.deliver_webhook(api.send_text(USER, "no secret"), secret_token=None) == 401
            assert len(api.messages(USER)) == 1


@pytest.mark.asyncio
async def test_user_updates_parse_in_both_frameworks_and_custom_methods() -> None:
    async with FakeBotAPI() as api, ptb_bot(api) as bot:
        ids = [
            api.send_text(USER, "/help@investbot_test_bot now", first_name="李", username="li"),
            api.share_location(USER, 38.93, 100.45),
            api.send_photo(USER, tiny_png(320, 200), caption="site"),
            api.send_document(USER, "plan.pdf", b"%PDF-1.4"),
            api.send_sticker(USER),
            api.send_text(-100, "in a group"),
        ]
        parsed = [Update.de_json(api.update(i), bot) for i in ids]
        assert [AiogramUpdate.model_validate(api.update(i)).update_id for i in ids] == ids
        command, location, photo, document, sticker, group = (u.effective_message for u in parsed)
        assert command is not None and command.text is not None
        assert command.parse_entities() == {command.entities[0]: "/help@investbot_test_bot"}
        assert location is not None and location.location is not None and location.location.latitude == 38.93
        assert photo is not None and [(p.width, p.height) for p in photo.photo] == [(90, 56), (320, 200)]
        assert document is not None and document.document is not None
        assert document.document.mime_type == "application/pdf"
        assert sticker is not None and sticker.sticker is not None
        assert group is not None and group.chat.type == "group" and group.from_user is not None
        assert [m.message_id for m in (command, location, photo, document, sticker)] == [1, 2, 3, 4, 5]

        # What a user sent can be fetched, and sent on by file id.
        assert document.document.file_id
        file = await bot.get_file(document.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4"
        forwarded = await bot.send_document(OTHER, document.document.file_id, caption="<b>plan</b>", parse_mode="HTML")
        assert forwarded.caption == "plan" and api.last_message(OTHER).document is not None
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
            await bot.send_photo(OTHER, "no-such-file-id")

        api.handle("sendLocation", lambda params: {"echo": params["latitude"]})
        raw = await call(api, "sendlocation", data={"chat_id": "1", "latitude": "1.5", "longitude": "2"})
        assert raw.json() == {"ok": True, "result": {"echo": 1.5}}
        api.error_next("getMe", BotAPIError(502, "Bad Gateway"))
        assert (await call(api, "getMe")).status_code == 502
        assert (await call(api, "getMe")).status_code == 200
        assert not api.errors
