"""aiogram 3: the Bot API calls out, and the connection the runner opens.

Updates do not pass through aiogram: our poller (:mod:`bot.polling`) or webhook server hands
their JSON to :func:`bot.telegram.incoming`. What to do with an update is the router's
business, how to carry out an answer is :mod:`bot.telegram`'s, and when to start or stop is
the runner's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from aiogram import Bot
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
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.core import Button, FileReply, Keyboard, Notice, Outgoing, Reply
from bot.core.config import Settings
from bot.delivery import DeliveryError, classify_error
from bot.telegram import ALLOWED_UPDATES, notice_text, split_text

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


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
    """aiogram's :class:`Bot`: the calls out. Updates come in through our own poller or webhook
    server as JSON, so aiogram's ``Dispatcher`` has nothing to do."""

    def __init__(self, settings: Settings) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_server))
        self.bot = Bot(settings.token(), session=session)
        self.port = AiogramPort(self.bot)

    async def open(self) -> str | None:
        """Connect (getMe); returns the bot's username."""
        me = await self.bot.me()
        return me.username

    async def start_webhook(self, url: str, secret: str) -> None:
        try:
            await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        except TelegramAPIError as exc:
            _raise(exc)

    async def close(self) -> None:
        await self.bot.session.close()
