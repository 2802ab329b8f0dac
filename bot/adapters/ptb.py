"""python-telegram-bot 22: its updates in, Bot API calls out, and the knobs to start it.

Translation only: what to do with an update is the router's business, how to carry out an
answer is :mod:`bot.telegram`'s, and when to start or stop is the runner's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

from telegram import Bot as PTBBot
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot import telegram
from bot.core import Button, FileReply, Incoming, Keyboard, Notice, Outgoing, Reply
from bot.core.config import Settings
from bot.delivery import DeliveryError, classify_error
from bot.telegram import ALLOWED_UPDATES, MAX_CONCURRENT_UPDATES, notice_text, split_text

log = logging.getLogger(__name__)

# PTB 22 warns on every 429 unless durations are timedeltas, as they will be in PTB 23.
os.environ.setdefault("PTB_TIMEDELTA", "1")

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
OnUpdate = Callable[[Incoming, str | None], Awaitable[None]]


# -- in ---------------------------------------------------------------------------------


def incoming(update: Update, bot_username: str | None) -> tuple[Incoming, str | None] | None:
    """The neutral event for an update, and the callback query id of a press."""
    return telegram.incoming(update.to_dict(), bot_username)


# -- out --------------------------------------------------------------------------------


def markup(reply: Reply) -> Markup | None:
    keyboard = reply.keyboard
    if keyboard is not None and keyboard.asks_location:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(b.label, request_location=b.request_location) for b in row] for row in keyboard.rows],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if keyboard is not None:
        return inline(keyboard)
    if reply.remove_keyboard:
        return ReplyKeyboardRemove()
    return None


def inline(keyboard: Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_inline_button(b) for b in row] for row in keyboard.rows])


def _inline_button(button: Button) -> InlineKeyboardButton:
    if button.url:
        return InlineKeyboardButton(button.label, url=button.url)
    return InlineKeyboardButton(button.label, callback_data=button.data)


def mapped(exc: TelegramError) -> DeliveryError:
    """PTB's exception as the neutral one (PTB keeps no status code: its classes say it)."""
    if isinstance(exc, RetryAfter):
        # Read the stored timedelta: the public property warns unless PTB_TIMEDELTA is set.
        wait = exc._retry_after
        return classify_error(429, exc.message, wait.total_seconds() if isinstance(wait, timedelta) else float(wait))
    if isinstance(exc, Forbidden):
        return classify_error(403, exc.message)
    if isinstance(exc, BadRequest):
        return classify_error(400, exc.message)
    return classify_error(None, exc.message)


def _raise(exc: TelegramError) -> NoReturn:
    raise mapped(exc) from exc


class PTBPort:
    """The Bot API calls the bot makes, through PTB's :class:`telegram.Bot`."""

    def __init__(self, bot: PTBBot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, item: Reply | FileReply) -> None:
        try:
            if isinstance(item, Reply):
                *first, last = split_text(item.text)
                for part in first:
                    await self.bot.send_message(chat_id, part)
                await self.bot.send_message(chat_id, last, reply_markup=markup(item))
            elif item.photo:
                await self.bot.send_photo(chat_id, item.content, caption=item.caption or None, filename=item.filename)
            else:
                await self.bot.send_document(
                    chat_id, item.content, caption=item.caption or None, filename=item.filename
                )
        except TelegramError as exc:
            _raise(exc)

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None:
        keyboard = inline(reply.keyboard) if reply.keyboard is not None else None
        try:
            await self.bot.edit_message_text(reply.text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard)
        except TelegramError as exc:
            _raise(exc)

    async def answer(self, query_id: str, notice: Notice) -> None:
        try:
            await self.bot.answer_callback_query(query_id, text=notice_text(notice), show_alert=notice.alert)
        except TelegramError as exc:
            _raise(exc)

    async def set_commands(self, commands: Sequence[tuple[str, str]], *, language: str, chat_id: int | None) -> None:
        scope = BotCommandScopeChat(chat_id) if chat_id is not None else None
        try:
            await self.bot.set_my_commands(
                [BotCommand(name, text) for name, text in commands], scope=scope, language_code=language or None
            )
        except TelegramError as exc:
            _raise(exc)

    async def download(self, file_id: str) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            _raise(exc)

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        """The outbox's transport: a notice has no press to answer outside a reply."""
        if not isinstance(item, Notice):
            await self.send(chat_id, item)


# -- the framework's moving parts -----------------------------------------------------------


class PTBDriver:
    """A PTB :class:`Application` whose one handler hands every update to ``on_update``."""

    def __init__(self, settings: Settings, on_update: OnUpdate, *, webhook: bool) -> None:
        builder = (
            ApplicationBuilder()
            .token(settings.token())
            .base_url(f"{settings.bot_api_server}/bot")
            .base_file_url(f"{settings.bot_api_server}/file/bot")
            # In order per person is the bridge's job; across people, this many at once.
            .concurrent_updates(MAX_CONCURRENT_UPDATES)
            # Scheduled work is the runner's (one scheduler for both frameworks), not PTB's.
            .job_queue(None)
        )
        if webhook:
            builder = builder.updater(None)  # our own webhook server feeds process_update
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self.on_update = on_update
        self.port = PTBPort(self.application.bot)
        self.username: str | None = None

    async def open(self) -> str | None:
        """Connect (getMe); returns the bot's username."""
        await self.application.initialize()
        self.username = self.application.bot.username
        return self.username

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            translated = incoming(update, self.username)
        except Exception:
            log.exception("update %s could not be read", update.update_id)
            return
        if translated is not None:
            await self.on_update(*translated)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s: %s", update_id, context.error, exc_info=context.error)

    async def start_polling(self) -> None:
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)

    async def stop_polling(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()

    async def start_webhook(self, url: str, secret: str) -> None:
        await self.application.start()
        try:
            await self.application.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        except TelegramError as exc:
            _raise(exc)

    async def feed(self, data: dict[str, Any]) -> None:
        """One update from our webhook server, handled before the request is answered."""
        update = Update.de_json(data, self.application.bot)
        await self.application.process_update(update)

    async def close(self) -> None:
        await self.stop_polling()
        await self.application.shutdown()
