"""aiogram 3: its updates in, Bot API calls out, and the knobs to start it.

Translation only: what to do with an update is the router's business, how to carry out an
answer is :mod:`bot.telegram`'s, and when to start or stop is the runner's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

from bot import telegram
from bot.core import Button, FileReply, Incoming, Keyboard, Notice, Outgoing, Reply
from bot.core.config import Settings
from bot.delivery import DeliveryError, classify_error
from bot.telegram import ALLOWED_UPDATES, MAX_CONCURRENT_UPDATES, notice_text, split_text

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
OnUpdate = Callable[[Incoming, str | None], Awaitable[None]]
STOP_TIMEOUT = 10.0


# -- in ---------------------------------------------------------------------------------


def incoming(update: Update, bot_username: str | None) -> tuple[Incoming, str | None] | None:
    """The neutral event for an update, and the callback query id of a press."""
    return telegram.incoming(update.model_dump(mode="json", by_alias=True, exclude_none=True), bot_username)


# -- out --------------------------------------------------------------------------------


def markup(reply: Reply) -> Markup | None:
    keyboard = reply.keyboard
    if keyboard is not None and keyboard.asks_location:
        return ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text=b.label, request_location=b.request_location or None) for b in row]
                for row in keyboard.rows
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if keyboard is not None:
        return inline(keyboard)
    if reply.remove_keyboard:
        return ReplyKeyboardRemove(remove_keyboard=True)
    return None


def inline(keyboard: Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_inline_button(b) for b in row] for row in keyboard.rows])


def _inline_button(button: Button) -> InlineKeyboardButton:
    if button.url:
        return InlineKeyboardButton(text=button.label, url=button.url)
    return InlineKeyboardButton(text=button.label, callback_data=button.data)


def mapped(exc: TelegramAPIError) -> DeliveryError:
    """aiogram's exception as the neutral one."""
    if isinstance(exc, TelegramRetryAfter):
        return classify_error(429, exc.message, float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return classify_error(403, exc.message)
    if isinstance(exc, TelegramBadRequest):
        return classify_error(400, exc.message)
    return classify_error(None, exc.message)


def _raise(exc: TelegramAPIError) -> NoReturn:
    raise mapped(exc) from exc


class AiogramPort:
    """The Bot API calls the bot makes, through aiogram's :class:`Bot`."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, item: Reply | FileReply) -> None:
        try:
            if isinstance(item, Reply):
                *first, last = split_text(item.text)
                for part in first:
                    await self.bot.send_message(chat_id, part)
                await self.bot.send_message(chat_id, last, reply_markup=markup(item))
            elif item.photo:
                photo = BufferedInputFile(item.content, filename=item.filename)
                await self.bot.send_photo(chat_id, photo, caption=item.caption or None)
            else:
                document = BufferedInputFile(item.content, filename=item.filename)
                await self.bot.send_document(chat_id, document, caption=item.caption or None)
        except TelegramAPIError as exc:
            _raise(exc)

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        keyboard = inline(reply.keyboard) if reply.keyboard is not None else None
        try:
            await self.bot.edit_message_text(
                text=reply.text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard
            )
        except TelegramAPIError as exc:
            _raise(exc)

    async def answer(self, query_id: str, notice: Notice) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=notice_text(notice), show_alert=notice.alert)
        except TelegramAPIError as exc:
            _raise(exc)

    async def set_commands(self, commands: Sequence[tuple[str, str]], *, language: str, chat_id: int | None) -> None:
        scope = BotCommandScopeChat(chat_id=chat_id) if chat_id is not None else None
        try:
            await self.bot.set_my_commands(
                [BotCommand(command=name, description=text) for name, text in commands],
                scope=scope,
                language_code=language or None,
            )
        except TelegramAPIError as exc:
            _raise(exc)

    async def download(self, file_id: str) -> bytes:
        try:
            data = await self.bot.download(file_id)
        except TelegramAPIError as exc:
            _raise(exc)
        if data is None:
            raise DeliveryError(f"file {file_id} could not be downloaded")
        return data.read()

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        """The outbox's transport: a notice has no press to answer outside a reply."""
        if not isinstance(item, Notice):
            await self.send(chat_id, item)


# -- the framework's moving parts -----------------------------------------------------------


class AiogramDriver:
    """An aiogram :class:`Dispatcher` whose two handlers hand every update to ``on_update``."""

    def __init__(self, settings: Settings, on_update: OnUpdate, *, webhook: bool) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_server))
        self.bot = Bot(settings.token(), session=session)
        self.dispatcher = Dispatcher()
        self.dispatcher.message.register(self._on_message)
        self.dispatcher.callback_query.register(self._on_press)
        self.on_update = on_update
        self.port = AiogramPort(self.bot)
        self.username: str | None = None
        self._polling: asyncio.Task[None] | None = None

    async def open(self) -> str | None:
        """Connect (getMe); returns the bot's username."""
        me = await self.bot.me()
        self.username = me.username
        return self.username

    async def _on_message(self, message: Message, event_update: Update) -> None:
        await self._hand_over(event_update)

    async def _on_press(self, query: CallbackQuery, event_update: Update) -> None:
        await self._hand_over(event_update)

    async def _hand_over(self, update: Update) -> None:
        try:
            translated = incoming(update, self.username)
        except Exception:
            log.exception("update %s could not be read", update.update_id)
            return
        if translated is not None:
            await self.on_update(*translated)

    async def start_polling(self) -> None:
        # aiogram does not clear a webhook before polling (PTB does): do it, so both can switch.
        try:
            await self.bot.delete_webhook()
        except TelegramAPIError as exc:
            _raise(exc)
        self._polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot,
                allowed_updates=ALLOWED_UPDATES,
                handle_signals=False,
                # The session stays open for the updates still in flight; close() ends it.
                close_bot_session=False,
                tasks_concurrency_limit=MAX_CONCURRENT_UPDATES,
            ),
            name="aiogram-polling",
        )

    async def stop_polling(self) -> None:
        task, self._polling = self._polling, None
        if task is None:
            return
        if not task.done():
            try:
                await asyncio.wait_for(self.dispatcher.stop_polling(), STOP_TIMEOUT)
            except (RuntimeError, TimeoutError):
                # Told to stop before polling got going (or it would not): end the task itself.
                task.cancel()
        # gather, not a suppressed await: a cancellation of the caller itself must get through.
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        if isinstance(outcome, Exception):
            log.error("polling ended with an error: %r", outcome)

    async def start_webhook(self, url: str, secret: str) -> None:
        try:
            await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        except TelegramAPIError as exc:
            _raise(exc)

    async def feed(self, data: dict[str, Any]) -> None:
        """One update from our webhook server, handled before the request is answered."""
        update = Update.model_validate(data, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)

    async def close(self) -> None:
        await self.stop_polling()
        await self.bot.session.close()
