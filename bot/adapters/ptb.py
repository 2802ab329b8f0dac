"""python-telegram-bot 22: the Bot API calls out, and the connection the runner opens.

Updates do not pass through PTB: our poller (:mod:`bot.polling`) or webhook server hands
their JSON to :func:`bot.telegram.incoming`. What to do with an update is the router's
business, how to carry out an answer is :mod:`bot.telegram`'s, and when to start or stop is
the runner's.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta
from typing import NoReturn

from telegram import Bot as PTBBot
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.core import Button, FileReply, Keyboard, Notice, Outgoing, Reply
from bot.core.config import Settings
from bot.delivery import DeliveryError, classify_error
from bot.telegram import ALLOWED_UPDATES, notice_text, split_text

# PTB 22 warns on every 429 unless durations are timedeltas, as they will be in PTB 23.
os.environ.setdefault("PTB_TIMEDELTA", "1")

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
# PTB's ApplicationBuilder default for the bot's requests.
CONNECTION_POOL_SIZE = 256


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
    """PTB's :class:`telegram.Bot`: the calls out. Updates come in through our own poller or
    webhook server as JSON, so PTB's ``Application`` and ``Updater`` have nothing to do."""

    def __init__(self, settings: Settings) -> None:
        self.bot = PTBBot(
            settings.token(),
            base_url=f"{settings.bot_api_server}/bot",
            base_file_url=f"{settings.bot_api_server}/file/bot",
            # Answers and the delivery queue send at once: as many connections as the Application gave.
            request=HTTPXRequest(connection_pool_size=CONNECTION_POOL_SIZE),
        )
        self.port = PTBPort(self.bot)

    async def open(self) -> str | None:
        """Connect (getMe); returns the bot's username."""
        await self.bot.initialize()
        return self.bot.username

    async def start_webhook(self, url: str, secret: str) -> None:
        try:
            await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        except TelegramError as exc:
            _raise(exc)

    async def close(self) -> None:
        await self.bot.shutdown()
