"""A fake Telegram Bot API server for end-to-end tests.

It runs inside the test's event loop on 127.0.0.1 and speaks enough of the Bot API that the
real python-telegram-bot ``Application`` and the real aiogram ``Dispatcher`` run against it
unmodified.  Tests play the users (``send_text``, ``press_button`` ...) and read back what the
bot did (``calls``, ``messages`` ...).  Where Telegram rejects a request in a way bots commonly
trip over (empty text, unknown HTML tags, bad callback data, ``zh-hans`` as a command
language, "message is not modified") the fake rejects it the same way, so those bugs show up
in tests rather than in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import mimetypes
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from enum import Enum
from html.parser import HTMLParser
from typing import Any, Final, Literal, Self, TypeVar

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]
T = TypeVar("T")

log = logging.getLogger(__name__)

DEFAULT_TOKEN: Final = "123:ABC"
DEFAULT_BOT_ID: Final = 4242
DEFAULT_BOT_USERNAME: Final = "investbot_test_bot"

# Update types Telegram leaves out unless a bot asks for them by name.
_NOT_DEFAULT_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Parameters Telegram reads as plain strings.  Everything else arriving as a string in a form
# body is JSON-decoded, because that is how both frameworks send ints, bools and objects.
_STRING_FIELDS: Final = frozenset(
    {
        "action", "address", "animation", "audio", "business_connection_id", "callback_query_id",
        "caption", "certificate", "currency", "custom_title", "description", "document", "emoji",
        "error_message", "explanation", "file_id", "first_name", "foursquare_id",
        "foursquare_type", "game_short_name", "google_place_id", "google_place_type",
        "inline_message_id", "invite_link", "ip_address", "language_code", "last_name",
        "message_effect_id", "name", "next_offset", "parse_mode", "payload", "phone_number",
        "photo", "pre_checkout_query_id", "provider_token", "query", "question",
        "secret_token", "short_description", "shipping_query_id", "start_parameter", "sticker",
        "switch_pm_parameter", "switch_pm_text", "text", "thumbnail", "title", "url", "vcard",
        "video", "video_note", "voice",
    }
)  # fmt: skip

_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip

_COMMAND_RE: Final = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_RE: Final = re.compile(r"^[a-z]{2}$")
_SECRET_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

_MAX_TEXT: Final = 4096
_MAX_CAPTION: Final = 1024
_MAX_CALLBACK_ANSWER: Final = 200
_MAX_DOWNLOAD: Final = 20 * 1024 * 1024

_BLOCKED: Final = "Forbidden: bot was blocked by the user"
_CHAT_NOT_FOUND: Final = "Bad Request: chat not found"
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD: Final = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class BotAPIError(Exception):
    """An error answer; raise it from a custom method handler (see :meth:`FakeBotAPI.handle`)."""

    def __init__(self, error_code: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(reason: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part as the bot sent it; it stands in for the file in ``Call.params``."""

    filename: str | None
    content: bytes = field(repr=False)
    content_type: str | None = None


@dataclass
class StoredFile:
    """A file the server holds: uploaded by the bot, or sent by a user.  ``getFile`` finds it."""

    file_id: str
    file_unique_id: str
    content: bytes = field(repr=False)
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    kind: str = "document"

    @property
    def size(self) -> int:
        return len(self.content)

    def document_json(self) -> JSONDict:
        out: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.filename is not None:
            out["file_name"] = self.filename
        if self.mime_type is not None:
            out["mime_type"] = self.mime_type
        return out

    def photo_size_json(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width or 0,
            "height": self.height or 0,
            "file_size": self.size,
        }


class Call(tuple[str, JSONDict]):
    """One request the bot made.  Unpacks as ``(method, params)``.

    ``method`` is Telegram's spelling (``sendMessage``) whatever case the bot used; ``params``
    are decoded (ints, bools, dicts) with file parts as :class:`UploadedFile`; ``at`` is a
    ``time.monotonic()`` stamp taken on arrival; ``status`` and ``response`` are filled in
    once the server has answered (``status`` stays 0 while a long poll is still waiting).
    """

    at: float
    status: int
    response: JSONDict | None

    def __new__(cls, method: str, params: JSONDict, at: float) -> Self:
        self = super().__new__(cls, (method, params))
        self.at = at
        self.status = 0
        self.response = None
        return self

    @property
    def method(self) -> str:
        return self[0]

    @property
    def params(self) -> JSONDict:
        return self[1]

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return None if self.response is None else self.response.get("result")

    def __repr__(self) -> str:
        return f"Call({self.method!r}, {_short(self.params)}, status={self.status})"


@dataclass(frozen=True)
class MessageVersion:
    """One state of a bot message: as first sent, then after each edit."""

    text: str | None
    caption: str | None
    reply_markup: JSONDict | None
    at: float
    method: str


@dataclass
class BotMessage:
    """A message the bot sent; ``text``/``caption``/``reply_markup`` are the current ones.

    ``text`` is what the user sees: HTML markup is parsed away as Telegram does (the markup as
    sent is in ``source_text``; Markdown modes are kept verbatim).  ``versions`` holds the
    original and every edit, oldest first.
    """

    chat_id: int
    message_id: int
    method: str
    params: JSONDict
    date: int
    sent_at: float
    text: str | None = None
    source_text: str | None = None
    entities: list[JSONDict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSONDict] = field(default_factory=list)
    reply_markup: JSONDict | None = None
    document: StoredFile | None = None
    photo_file: StoredFile | None = None
    versions: list[MessageVersion] = field(default_factory=list)
    edit_date: int | None = None
    deleted: bool = False

    @property
    def photo(self) -> bytes | None:
        return None if self.photo_file is None else self.photo_file.content

    @property
    def texts(self) -> list[str | None]:
        """The text of every version, oldest first."""
        return [v.text for v in self.versions]

    @property
    def edited(self) -> bool:
        return len(self.versions) > 1

    @property
    def shown(self) -> str:
        """The text, or the caption of a file message: what a "contains" check looks at."""
        return self.text if self.text is not None else (self.caption or "")

    def buttons(self) -> list[JSONDict]:
        """The inline keyboard's buttons, row by row flattened; empty without one."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or []
        return [button for row in rows for button in row]

    def button_labels(self) -> list[str]:
        """Labels of the inline keyboard, or else of the reply keyboard."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [b if isinstance(b, str) else str(b.get("text", "")) for row in rows for b in row]

    def callback_data(self) -> list[str]:
        return [str(b["callback_data"]) for b in self.buttons() if "callback_data" in b]

    def button_data(self, label: str) -> str:
        """The callback data of the inline button labelled ``label`` (exact, else substring)."""
        buttons = [b for b in self.buttons() if "callback_data" in b]
        exact = [b for b in buttons if b.get("text") == label]
        partial = [b for b in buttons if label in str(b.get("text", ""))]
        for button in exact + partial:
            return str(button["callback_data"])
        raise AssertionError(
            f"no inline button {label!r} on message {self.message_id} in chat {self.chat_id}; "
            f"buttons: {[(b.get('text'), b.get('callback_data')) for b in buttons]}"
        )

    def describe(self) -> str:
        kind = {"sendDocument": "document", "sendPhoto": "photo"}.get(self.method, "text")
        body = self.shown
        extra = ""
        if self.document is not None:
            extra = f" [document {self.document.filename!r}, {self.document.size} bytes]"
        elif self.photo_file is not None:
            extra = f" [photo, {self.photo_file.size} bytes]"
        labels = self.button_labels()
        if labels:
            extra += f" buttons={labels}"
        if self.edited:
            extra += f" (edited {len(self.versions) - 1}x)"
        if self.deleted:
            extra += " (deleted)"
        return f"#{self.message_id} {kind}: {body!r}{extra}"


@dataclass(frozen=True)
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    at: float


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int


@dataclass(frozen=True)
class WebhookDelivery:
    update_id: int
    status: int
    body: bytes


@dataclass
class _Pending:
    update_id: int
    payload: JSONDict
    redelivered: bool = False
    delivered: bool = False


@dataclass
class _ChatState:
    next_message_id: int = 1
    bot_messages: dict[int, BotMessage] = field(default_factory=dict)
    user_messages: dict[int, JSONDict] = field(default_factory=dict)


@dataclass
class _OpenCallback:
    chat_id: int
    message_id: int
    answered: bool = False


class _Registered(Enum):
    SECRET = "registered"


REGISTERED_SECRET: Final = _Registered.SECRET

MethodHandler = Callable[[JSONDict], Any]


class FakeBotAPI:
    """``async with FakeBotAPI() as api:`` serves the Bot API at ``api.root`` until the block ends.

    PTB: ``ApplicationBuilder().token(api.token).base_url(api.base_url)
    .base_file_url(api.base_file_url)``.  aiogram: ``AiohttpSession(api=
    TelegramAPIServer.from_base(api.root))``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_id: int = DEFAULT_BOT_ID,
        username: str = DEFAULT_BOT_USERNAME,
        first_name: str = "InvestBot Test",
    ) -> None:
        self.token = token
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.answered_callbacks: dict[str, AnsweredCallback] = {}
        self.webhook: WebhookConfig | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.downloads: list[str] = []
        # Exceptions the server itself raised while answering: a bug here, not in the bot.
        self.errors: list[BaseException] = []

        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._closing = False
        self._change = asyncio.Event()

        self._updates: dict[int, JSONDict] = {}
        self._queue: list[_Pending] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0

        self._chats: dict[int, _ChatState] = {}
        self._users: dict[int, JSONDict] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(7_000_000_001)
        self._open_callbacks: dict[str, _OpenCallback] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}

        self._fail: dict[str, list[BotAPIError]] = {}
        self._blocked: set[int] = set()
        self._deleted_chats: set[int] = set()
        self._custom: dict[str, tuple[str, MethodHandler]] = {}
        self._methods: dict[str, tuple[str, Callable[[JSONDict], Awaitable[Any]]]] = {}
        for name, fn in self._builtin_methods().items():
            self._methods[name.lower()] = (name, fn)

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        # Room for Telegram's 50 MB upload limit; aiohttp's default would refuse at 1 MB.
        app = web.Application(client_max_size=52 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._on_method)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._on_file)
        # Cancelling the handler when the client hangs up ends abandoned long polls at once.
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        # Binding the socket ourselves is the public way to learn the port the OS picked.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # lets waiting long polls answer before the runner waits on them
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def root(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeBotAPI is not started; use `async with FakeBotAPI() as api`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """For PTB's ``ApplicationBuilder.base_url`` (PTB appends the token)."""
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        """For PTB's ``ApplicationBuilder.base_file_url`` (PTB appends the token)."""
        return f"{self.root}/file/bot"

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    # -- users act ---------------------------------------------------------------------------

    def push_update(self, update: JSONDict) -> int:
        """Queue a raw update (an ``update_id`` is assigned when missing); returns its id."""
        update = dict(update)
        if "update_id" in update:
            update_id = int(update["update_id"])
            self._next_update_id = max(self._next_update_id, update_id + 1)
        else:
            update_id = self._next_update_id
            self._next_update_id += 1
            update = {"update_id": update_id, **update}
        self._updates[update_id] = update
        self._queue.append(_Pending(update_id, update))
        self._notify()
        return update_id

    def redeliver(self, update_id: int) -> int:
        """Queue an update again, same id, as Telegram does when a webhook or poll timed out.

        It is handed out once even if the bot's offset is already past it.
        """
        self._queue.append(_Pending(update_id, self.update(update_id), redelivered=True))
        self._notify()
        return update_id

    def update(self, update_id: int) -> JSONDict:
        try:
            return self._updates[update_id]
        except KeyError:
            raise KeyError(f"no update {update_id} was queued") from None

    @property
    def pending_updates(self) -> list[int]:
        """Ids of queued updates the bot has not confirmed (with a later offset) yet."""
        return [p.update_id for p in self._queue]

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        language_code: str | None = "zh-hans",
        first_name: str = "Tester",
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """A user writes ``text``; a leading ``/command`` gets a bot_command entity."""
        extra: JSONDict = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())}]
        user = self._user(user_id, first_name, last_name, username, language_code)
        return self._user_message(user, chat_id, extra)

    def share_location(
        self,
        user_id: int,
        latitude: float,
        longitude: float,
        *,
        chat_id: int | None = None,
        language_code: str | None = "zh-hans",
        first_name: str = "Tester",
    ) -> int:
        user = self._user(user_id, first_name, None, None, language_code)
        location = {"latitude": latitude, "longitude": longitude}
        return self._user_message(user, chat_id, {"location": location})

    def send_photo(
        self,
        user_id: int,
        content: bytes,
        caption: str | None = None,
        *,
        chat_id: int | None = None,
        language_code: str | None = "zh-hans",
        first_name: str = "Tester",
    ) -> int:
        """A user sends a photo: a thumbnail size and the full size, largest last as Telegram.

        The fake cannot shrink images, so the thumbnail's bytes are a placeholder: a bot that
        downloads ``photo[0]`` instead of ``photo[-1]`` gets the wrong bytes, as it would.
        """
        full = self._store(content, kind="photo", mime_type="image/jpeg")
        width, height = full.width or 0, full.height or 0
        scale = min(1.0, 90 / max(width, height, 1))
        thumb = self._store(
            b"thumbnail of " + full.file_unique_id.encode(),
            kind="photo",
            mime_type="image/jpeg",
            size=(max(1, round(width * scale)), max(1, round(height * scale))),
        )
        extra: JSONDict = {"photo": [thumb.photo_size_json(), full.photo_size_json()]}
        if caption is not None:
            extra["caption"] = caption
        user = self._user(user_id, first_name, None, None, language_code)
        return self._user_message(user, chat_id, extra)

    def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        mime_type: str | None = None,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        language_code: str | None = "zh-hans",
        first_name: str = "Tester",
    ) -> int:
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self._store(content, kind="document", filename=filename, mime_type=mime)
        extra: JSONDict = {"document": stored.document_json()}
        if caption is not None:
            extra["caption"] = caption
        user = self._user(user_id, first_name, None, None, language_code)
        return self._user_message(user, chat_id, extra)

    def send_sticker(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        chat_id: int | None = None,
        language_code: str | None = "zh-hans",
        first_name: str = "Tester",
    ) -> int:
        stored = self._store(b"RIFF-fake-webp", kind="sticker", mime_type="image/webp", size=(512, 512))
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.size,
        }
        user = self._user(user_id, first_name, None, None, language_code)
        return self._user_message(user, chat_id, {"sticker": sticker})

    def press_button(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        strict: bool = True,
        language_code: str | None = "zh-hans",
        first_name: str = "Tester",
    ) -> str:
        """A user presses an inline button with ``data`` on bot message ``message_id``.

        Returns the callback query id.  With ``strict`` the message must currently carry a
        button with that data, as in a real client.
        """
        chat = user_id if chat_id is None else chat_id
        message = self._chat(chat).bot_messages.get(message_id)
        if message is None or message.deleted:
            raise AssertionError(f"no bot message {message_id} in chat {chat}\n{self.dump(chat)}")
        if strict and data not in message.callback_data():
            raise AssertionError(
                f"message {message_id} in chat {chat} has no button with data {data!r}; "
                f"it has {message.callback_data()}\n{self.dump(chat)}"
            )
        user = self._user(user_id, first_name, None, None, language_code)
        query_id = str(next(self._callback_seq))
        self._open_callbacks[query_id] = _OpenCallback(chat, message_id)
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": self._bot_message_json(message),
                    "chat_instance": str(-abs(chat) - 10**12),
                    "data": data,
                }
            }
        )
        return query_id

    # -- what the bot did --------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        wanted = method.lower()
        return [call for call in self.calls if call.method.lower() == wanted]

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[BotMessage]:
        state = self._chats.get(chat_id)
        if state is None:
            return []
        return [m for m in state.bot_messages.values() if include_deleted or not m.deleted]

    def last_message(self, chat_id: int) -> BotMessage:
        messages = self.messages(chat_id)
        if not messages:
            raise AssertionError(f"the bot sent nothing to chat {chat_id}\n{self.dump(chat_id)}")
        return messages[-1]

    def message(self, chat_id: int, message_id: int) -> BotMessage:
        try:
            return self._chat(chat_id).bot_messages[message_id]
        except KeyError:
            raise AssertionError(f"no bot message {message_id} in chat {chat_id}") from None

    def max_messages_within(self, window: float = 1.0, chat_id: int | None = None) -> int:
        """The most messages the bot sent in any ``window`` seconds (to ``chat_id``, or to any
        chat), by arrival time: ``<= 1`` with ``window=1`` means at most one a second."""
        chats = [chat_id] if chat_id is not None else list(self._chats)
        times = sorted(m.sent_at for chat in chats for m in self.messages(chat, include_deleted=True))
        most, start = 0, 0
        for end, at in enumerate(times):
            while start < end and at - times[start] >= window:
                start += 1
            most = max(most, end - start + 1)
        return most

    def commands(self, scope: str | JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The command list set for ``scope`` (a type name like ``"all_private_chats"`` or a
        full scope dict; default scope when ``None``) and ``language_code``."""
        return [dict(c) for c in self._commands.get(_commands_key(scope, language_code), [])]

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    # -- waiting -----------------------------------------------------------------------------

    # Tests read better with a timeout argument than wrapped in asyncio.timeout blocks.
    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10,  # noqa: ASYNC109
        *,
        what: str = "",
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        Re-checked on every request the server gets, and every 50 ms for state outside it.
        """
        deadline = time.monotonic() + timeout
        last_exc: BaseException | None = None
        while True:
            change = self._change
            try:
                value = predicate()
            except Exception as exc:  # a predicate over half-built state may raise; retry
                last_exc = exc
            else:
                if value:
                    return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raised = f"\npredicate last raised: {last_exc!r}" if last_exc else ""
                label = f" for {what}" if what else ""
                raise AssertionError(f"timed out after {timeout}s waiting{label}{raised}\n{self.dump()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), min(0.05, remaining))

    async def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        count: int | None = None,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> BotMessage:
        """Wait for at least ``count`` (default 1) bot messages in ``chat_id`` whose current
        text or caption contains ``contains`` (any message when ``None``); return the last."""
        needed = 1 if count is None else count

        def matching() -> list[BotMessage]:
            found = self.messages(chat_id)
            if contains is not None:
                found = [m for m in found if contains in m.shown]
            return found

        what = f"{needed} message(s) in chat {chat_id}" + (f" containing {contains!r}" if contains is not None else "")
        found = await self.wait_for(lambda: len(matching()) >= needed, timeout, what=what)
        assert found
        return matching()[-1]

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until ``method`` has been called ``count`` times; returns those calls.

        Counts arrivals, so "the bot is polling" is seen while its first long poll still waits.
        """
        what = f"{count} {method} call(s)"
        await self.wait_for(lambda: len(self.calls_to(method)) >= count, timeout, what=what)
        return self.calls_to(method)

    def dump(self, chat_id: int | None = None, last: int = 10) -> str:
        """A readable account of the latest calls and messages, for failure messages."""
        lines = [f"last {min(last, len(self.calls))} of {len(self.calls)} calls:"]
        lines += [f"  {call!r}" for call in self.calls[-last:]]
        chats = [chat_id] if chat_id is not None else list(self._chats)
        for chat in chats:
            messages = self.messages(chat, include_deleted=True)[-last:]
            lines.append(f"bot messages in chat {chat}: {len(messages)} shown")
            lines += [f"  {m.describe()}" for m in messages]
        if self.errors:
            lines.append(f"server errors: {self.errors!r}")
        return "\n".join(lines)

    # -- fault injection ---------------------------------------------------------------------

    def fail_next(self, method: str, times: int = 1, *, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 Too Many Requests."""
        error = BotAPIError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        self.error_next(method, error, times)

    def error_next(self, method: str, error: BotAPIError, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer with ``error``."""
        self._fail.setdefault(method.lower(), []).extend([error] * times)

    def clear_faults(self, method: str | None = None) -> None:
        """The server is well again: ``method`` (or every method) stops failing."""
        if method is None:
            self._fail.clear()
        else:
            self._fail.pop(method.lower(), None)

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: anything aimed at the chat answers 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def delete_chat(self, chat_id: int) -> None:
        """The chat is gone: anything aimed at it answers 400 chat not found."""
        self._deleted_chats.add(chat_id)

    def handle(self, method: str, handler: MethodHandler) -> None:
        """Answer ``method`` with ``handler(params)`` (sync or async; raise :class:`BotAPIError`
        for an error).  Overrides a built-in method of the same name."""
        self._custom[method.lower()] = (method, handler)

    # -- webhook -----------------------------------------------------------------------------

    async def deliver_webhook(
        self,
        update: int | JSONDict,
        *,
        secret_token: str | Literal[_Registered.SECRET] | None = REGISTERED_SECRET,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> int:
        """POST an update (a queued id, or a raw dict that is queued first) to the webhook.

        The secret header carries the registered secret unless ``secret_token`` overrides it;
        ``None`` leaves the header out.  Returns the receiver's HTTP status.  A method in the
        response body (aiogram can answer that way) is carried out like a request.
        """
        if self.webhook is None:
            raise AssertionError(f"the bot has not set a webhook\n{self.dump()}")
        if isinstance(update, int):
            update_id = update
            payload = self.update(update_id)
        else:
            payload = dict(update)
            if "update_id" not in payload:
                payload = {"update_id": self._next_update_id, **payload}
            update_id = int(payload["update_id"])
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.setdefault(update_id, payload)
        secret = self.webhook.secret_token if secret_token is REGISTERED_SECRET else secret_token
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        if self._client is None:
            self._client = aiohttp.ClientSession()
        async with self._client.post(
            self.webhook.url,
            data=json.dumps(payload),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            body = await response.read()
            status = response.status
        if 200 <= status < 300:
            # A delivered update is done with, as on Telegram; polling must not see it again.
            self._queue = [p for p in self._queue if p.update_id != update_id]
            await self._run_webhook_reply(response.headers.get("Content-Type", ""), body)
        self.webhook_deliveries.append(WebhookDelivery(update_id, status, body))
        self._notify()
        return status

    async def _run_webhook_reply(self, content_type: str, body: bytes) -> None:
        raw: dict[str, Any] = {}
        if content_type.startswith("application/json"):
            with contextlib.suppress(ValueError):
                data = json.loads(body or b"null")
                if isinstance(data, dict):
                    raw = dict(data)
        elif content_type.startswith("multipart/form-data"):
            raw = _parse_multipart(content_type, body)
        method = raw.pop("method", None)
        if isinstance(method, str) and method:
            params = _decode_params(raw, form=not content_type.startswith("application/json"))
            await self._dispatch(method, params)

    # -- HTTP --------------------------------------------------------------------------------

    async def _on_method(self, request: web.Request) -> web.Response:
        try:
            params = await _request_params(request)
        except ValueError as exc:
            return _json_response(_bad_request(f"can't parse request: {exc}").to_json(), 400)
        if request.match_info["token"] != self.token:
            call = self._record(request.match_info["method"], params)
            return self._answer(call, BotAPIError(401, "Unauthorized").to_json(), 401)
        status, body = await self._dispatch(request.match_info["method"], params)
        return _json_response(body, status)

    async def _dispatch(self, method: str, params: JSONDict) -> tuple[int, JSONDict]:
        key = method.lower()
        custom = self._custom.get(key)
        builtin = self._methods.get(key)
        name = custom[0] if custom else builtin[0] if builtin else method
        call = self._record(name, params)
        try:
            if custom is None and builtin is None:
                raise BotAPIError(404, "Not Found: method not found")
            failures = self._fail.get(key)
            if failures:
                raise failures.pop(0)
            if custom is not None:
                result = custom[1](params)
                if inspect.isawaitable(result):
                    result = await result
            else:
                assert builtin is not None
                result = await builtin[1](params)
        except BotAPIError as error:
            body = error.to_json()
            self._answer(call, body, error.error_code)
            return error.error_code, body
        except asyncio.CancelledError:
            call.status = 499  # the bot hung up on a long poll
            raise
        except Exception as exc:
            log.exception("fake Bot API failed on %s", name)
            self.errors.append(exc)
            body = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc!r}"}
            self._answer(call, body, 500)
            return 500, body
        body = {"ok": True, "result": result}
        self._answer(call, body, 200)
        return 200, body

    def _record(self, method: str, params: JSONDict) -> Call:
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        self._notify()
        return call

    def _answer(self, call: Call, body: JSONDict, status: int) -> web.Response:
        call.status = status
        call.response = body
        self._notify()
        return _json_response(body, status)

    async def _on_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json_response(BotAPIError(401, "Unauthorized").to_json(), 401)
        path = request.match_info["path"]
        stored = self._files_by_path.get(path)
        if stored is None:
            return _json_response(BotAPIError(404, "Not Found").to_json(), 404)
        self.downloads.append(path)
        self._notify()
        return web.Response(body=stored.content, content_type=stored.mime_type or "application/octet-stream")

    # -- methods -----------------------------------------------------------------------------

    def _builtin_methods(self) -> dict[str, Callable[[JSONDict], Awaitable[Any]]]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "close": self._true,
            "logOut": self._true,
            "setChatMenuButton": self._true,
        }

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        self._refuse_while_webhook()
        offset = _as_int(params.get("offset"), 0)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
        timeout = max(_as_float(params.get("timeout"), 0.0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        self._confirm(offset)
        # Telegram ends an older long poll when a newer one arrives (two bot instances).
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        deadline = time.monotonic() + timeout
        while True:
            change = self._change
            if generation != self._poll_generation:
                raise BotAPIError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            self._refuse_while_webhook()
            batch = self._take(limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                return batch
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(change.wait(), remaining)

    def _refuse_while_webhook(self) -> None:
        if self.webhook is not None:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._queue = [p for p in self._queue if p.update_id >= offset or (p.redelivered and not p.delivered)]
        elif offset < 0:
            self._queue = self._queue[offset:]

    def _take(self, limit: int) -> list[JSONDict]:
        allowed = self._allowed_updates
        kept: list[_Pending] = []
        for pending in self._queue:
            kind = next((k for k in pending.payload if k != "update_id"), "")
            wanted = kind in allowed if allowed else kind not in _NOT_DEFAULT_UPDATES
            # Telegram never stores updates of types the bot did not ask for.
            if wanted:
                kept.append(pending)
        self._queue = kept
        batch = sorted(kept, key=lambda p: p.update_id)[:limit]
        for pending in batch:
            pending.delivered = True
        return [p.payload for p in batch]

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat_id = self._target_chat(params)
        text, entities = _render(_required_text(params, "text", "message text is empty"), params.get("parse_mode"))
        if not text:
            raise _bad_request("message text is empty")
        if _utf16_len(text) > _MAX_TEXT:
            raise _bad_request("message is too long")
        markup = _check_markup(params.get("reply_markup"))
        message = self._new_bot_message(chat_id, "sendMessage", params)
        message.text = text
        message.source_text = str(params["text"])
        message.entities = entities
        message.reply_markup = markup
        return self._remember_version(message, "sendMessage")

    async def _send_document(self, params: JSONDict) -> JSONDict:
        return await self._send_file(params, "document")

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        return await self._send_file(params, "photo")

    async def _send_file(self, params: JSONDict, kind: str) -> JSONDict:
        chat_id = self._target_chat(params)
        stored = self._resolve_file(params.get(kind), kind)
        caption, caption_entities = self._caption(params)
        markup = _check_markup(params.get("reply_markup"))
        method = "sendDocument" if kind == "document" else "sendPhoto"
        message = self._new_bot_message(chat_id, method, params)
        if kind == "document":
            message.document = stored
        else:
            message.photo_file = stored
        message.caption = caption
        message.caption_entities = caption_entities
        message.reply_markup = markup
        return self._remember_version(message, method)

    def _caption(self, params: JSONDict) -> tuple[str | None, list[JSONDict]]:
        raw = params.get("caption")
        if raw is None or raw == "":
            return None, []
        caption, entities = _render(str(raw), params.get("parse_mode"))
        if _utf16_len(caption) > _MAX_CAPTION:
            raise _bad_request("message caption is too long")
        return caption or None, entities

    def _resolve_file(self, value: Any, kind: str) -> StoredFile:
        if value is None or value == "":
            raise _bad_request(f"there is no {kind} in the request")
        if isinstance(value, UploadedFile):
            filename = value.filename or kind
            if kind == "photo":
                return self._store(value.content, kind="photo", mime_type="image/jpeg")
            mime = (
                mimetypes.guess_type(filename)[0]
                or (value.content_type if value.content_type not in (None, "application/octet-stream") else None)
                or "application/octet-stream"
            )
            return self._store(value.content, kind=kind, filename=filename, mime_type=mime)
        text = str(value)
        if text.startswith(("http://", "https://")):
            # Telegram would fetch the URL; the fake has no network, so it keeps the address.
            name = text.rstrip("/").rsplit("/", 1)[-1] or kind
            return self._store(b"", kind=kind, filename=name, mime_type=mimetypes.guess_type(name)[0])
        known = self._files.get(text)
        if known is None:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        if known.kind != kind:
            raise _bad_request(f"can't use file of type {known.kind.capitalize()} as {kind.capitalize()}")
        return known

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if message.text is None:
            raise _bad_request("there is no text in the message to edit")
        text, entities = _render(_required_text(params, "text", "text must be non-empty"), params.get("parse_mode"))
        if not text:
            raise _bad_request("text must be non-empty")
        if _utf16_len(text) > _MAX_TEXT:
            raise _bad_request("MESSAGE_TOO_LONG")
        # Telegram drops an inline keyboard that an edit does not repeat.
        markup = _check_markup(params.get("reply_markup"))
        if text == message.text and entities == message.entities and markup == _inline(message.reply_markup):
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.source_text = str(params["text"])
        return self._remember_version(message, "editMessageText", edit=True)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        markup = _check_markup(params.get("reply_markup"))
        if markup == _inline(message.reply_markup):
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        message.reply_markup = markup
        return self._remember_version(message, "editMessageReplyMarkup", edit=True)

    async def _delete_message(self, params: JSONDict) -> bool:
        chat_id = self._target_chat(params)
        message_id = _as_int(params.get("message_id"), 0)
        state = self._chat(chat_id)
        message = state.bot_messages.get(message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            self._notify()
            return True
        if state.user_messages.pop(message_id, None) is not None:
            return True
        raise _bad_request("message to delete not found")

    def _editable(self, params: JSONDict) -> BotMessage:
        chat_id = self._target_chat(params)
        message_id = _as_int(params.get("message_id"), 0)
        state = self._chat(chat_id)
        message = state.bot_messages.get(message_id)
        if message is None or message.deleted:
            if message_id in state.user_messages:
                raise _bad_request("message can't be edited")
            raise _bad_request("message to edit not found")
        return message

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = self._open_callbacks.get(query_id)
        if query is None or query.answered:
            raise _bad_request(_QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and _utf16_len(str(text)) > _MAX_CALLBACK_ANSWER:
            raise _bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        self.answered_callbacks[query_id] = AnsweredCallback(
            callback_query_id=query_id,
            text=None if text is None else str(text),
            show_alert=bool(params.get("show_alert")),
            url=params.get("url"),
            at=time.monotonic(),
        )
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.size > _MAX_DOWNLOAD:
            raise _bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned: list[JSONDict] = []
        for item in commands:
            if not isinstance(item, dict) or "command" not in item or "description" not in item:
                raise _bad_request("can't parse BotCommand")
            if not _COMMAND_RE.match(str(item["command"])):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item["description"])) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": str(item["command"]), "description": str(item["description"])})
        self._commands[self._commands_key(params)] = cleaned
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return [dict(c) for c in self._commands.get(self._commands_key(params), [])]

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _commands_key(self, params: JSONDict) -> tuple[str, str]:
        language = str(params.get("language_code") or "")
        # Telegram takes only ISO 639-1 codes here: "zh-hans" is refused, "zh" accepted.
        if language and not _LANGUAGE_RE.match(language):
            raise _bad_request("invalid language code specified")
        scope = params.get("scope")
        if scope is not None and not isinstance(scope, dict):
            raise _bad_request("can't parse BotCommandScope")
        return _commands_key(scope, language)

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook = WebhookConfig(
            url=url,
            secret_token=None if secret is None else str(secret),
            allowed_updates=self._allowed_updates,
            max_connections=_as_int(params.get("max_connections"), 40),
        )
        self._notify()
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self.webhook = None
        self._notify()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates:
                info["allowed_updates"] = self.webhook.allowed_updates
        return info

    # -- state helpers -----------------------------------------------------------------------

    def _notify(self) -> None:
        # One event per generation: waiters hold the old one, so setting it wakes exactly them.
        self._change.set()
        self._change = asyncio.Event()

    def _chat(self, chat_id: int) -> _ChatState:
        return self._chats.setdefault(chat_id, _ChatState())

    def _next_message_id(self, chat_id: int) -> int:
        state = self._chat(chat_id)
        message_id = state.next_message_id
        state.next_message_id += 1
        return message_id

    def _target_chat(self, params: JSONDict) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        if isinstance(raw, bool) or not isinstance(raw, int):
            # "@channelname" addresses exist, but no channel lives in this fake.
            raise BotAPIError(400, _CHAT_NOT_FOUND)
        if raw in self._deleted_chats:
            raise BotAPIError(400, _CHAT_NOT_FOUND)
        if raw in self._blocked:
            raise BotAPIError(403, _BLOCKED)
        return raw

    def _user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return user

    def _chat_json(self, chat_id: int) -> JSONDict:
        if chat_id > 0:
            user = self._users.get(chat_id, {"first_name": f"User {chat_id}"})
            chat: JSONDict = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
            return chat
        kind = "supergroup" if chat_id <= -(10**12) else "group"
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}

    def _user_message(self, user: JSONDict, chat_id: int | None, extra: JSONDict) -> int:
        chat = int(user["id"]) if chat_id is None else chat_id
        message: JSONDict = {
            "message_id": self._next_message_id(chat),
            "from": user,
            "chat": self._chat_json(chat),
            "date": int(time.time()),
            **extra,
        }
        self._chat(chat).user_messages[message["message_id"]] = message
        return self.push_update({"message": message})

    def _new_bot_message(self, chat_id: int, method: str, params: JSONDict) -> BotMessage:
        message = BotMessage(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            method=method,
            params=params,
            date=int(time.time()),
            sent_at=time.monotonic(),
        )
        self._chat(chat_id).bot_messages[message.message_id] = message
        return message

    def _remember_version(self, message: BotMessage, method: str, *, edit: bool = False) -> JSONDict:
        if edit:
            message.edit_date = int(time.time())
        message.versions.append(
            MessageVersion(message.text, message.caption, message.reply_markup, time.monotonic(), method)
        )
        self._notify()
        return self._bot_message_json(message)

    def _bot_message_json(self, message: BotMessage) -> JSONDict:
        out: JSONDict = {
            "message_id": message.message_id,
            "from": dict(self.bot_user),
            "chat": self._chat_json(message.chat_id),
            "date": message.date,
        }
        if message.edit_date is not None:
            out["edit_date"] = message.edit_date
        if message.text is not None:
            out["text"] = message.text
            if message.entities:
                out["entities"] = message.entities
        if message.document is not None:
            out["document"] = message.document.document_json()
        if message.photo_file is not None:
            out["photo"] = [message.photo_file.photo_size_json()]
        if message.caption is not None:
            out["caption"] = message.caption
            if message.caption_entities:
                out["caption_entities"] = message.caption_entities
        # Only inline keyboards travel with the message; reply keyboards stay with the client.
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            out["reply_markup"] = message.reply_markup
        return out

    def _store(
        self,
        content: bytes,
        *,
        kind: str,
        filename: str | None = None,
        mime_type: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> StoredFile:
        n = next(self._file_seq)
        prefix = {"photo": "AgAC", "sticker": "CAAC"}.get(kind, "BQAC")
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, "documents")
        suffix = ""
        if filename and "." in filename:
            suffix = "." + filename.rsplit(".", 1)[-1]
        elif kind == "photo":
            suffix = ".jpg"
        width, height = size or (_image_size(content) if kind == "photo" else (None, None))
        stored = StoredFile(
            file_id=f"{prefix}fake{n:06d}",
            file_unique_id=f"AQADfake{n:06d}",
            content=content,
            file_path=f"{folder}/file_{n}{suffix}",
            filename=filename,
            mime_type=mime_type,
            width=width,
            height=height,
            kind=kind,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored


# -- request parsing -----------------------------------------------------------------------


async def _request_params(request: web.Request) -> JSONDict:
    raw: dict[str, Any] = dict(request.query)
    form = True
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the JSON body must be an object")
            raw.update(body)
            form = False
        elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            posted = await request.post()
            for key, value in posted.items():
                if isinstance(value, web.FileField):
                    raw[key] = UploadedFile(value.filename, value.file.read(), value.content_type)
                elif isinstance(value, (bytes, bytearray)):
                    raw[key] = bytes(value).decode()
                else:
                    raw[key] = value
    return _decode_params(raw, form=form)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str | UploadedFile]:
    """Split a multipart body we already hold (a webhook reply) into fields and files."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    out: dict[str, str | UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            out[name] = UploadedFile(filename, data, part.get_content_type())
        else:
            out[name] = data.decode()
    return out


def _decode_params(raw: Mapping[str, Any], *, form: bool) -> JSONDict:
    out: JSONDict = {}
    attached: set[str] = set()
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("attach://"):
            # aiogram uploads every file through an attach:// reference to a random part.
            part = raw.get(value.removeprefix("attach://"))
            if isinstance(part, UploadedFile):
                out[key] = part
                attached.add(value.removeprefix("attach://"))
                continue
        if (
            isinstance(value, str)
            and key not in _STRING_FIELDS
            and (form or key == "chat_id" or value[:1] in ("[", "{"))
        ):
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        else:
            out[key] = value
    for key in attached:
        out.pop(key, None)
    return out


def _json_response(body: JSONDict, status: int) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


# -- Telegram rules ------------------------------------------------------------------------


def _required_text(params: JSONDict, name: str, missing: str) -> str:
    value = params.get(name)
    if value is None:
        raise _bad_request(missing)
    return str(value)


def _check_markup(markup: Any) -> JSONDict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is not None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        actions = {
            "callback_data", "url", "web_app", "login_url", "switch_inline_query",
            "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
            "copy_text", "callback_game", "pay",
        }  # fmt: skip
        for button in itertools.chain.from_iterable(rows):
            if not isinstance(button, dict) or not button.get("text") or not actions & button.keys():
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
                    raise _bad_request("BUTTON_DATA_INVALID")
    return markup


def _inline(markup: JSONDict | None) -> JSONDict | None:
    """The part of a message's markup an edit can change: only an inline keyboard."""
    return markup if markup and "inline_keyboard" in markup else None


def _render(source: str, parse_mode: Any) -> tuple[str, list[JSONDict]]:
    """What the user sees of ``source``: HTML parsed to text and entities, trimmed like Telegram."""
    text, entities = source, []
    if isinstance(parse_mode, str) and parse_mode.lower() == "html":
        parser = _TelegramHTML(source)
        parser.feed(source)
        parser.close()
        if parser.error:
            raise _bad_request(f"can't parse entities: {parser.error}")
        text, entities = "".join(parser.parts), parser.entities
    stripped = text.strip()
    if stripped != text:
        lead = _utf16_len(text[: len(text) - len(text.lstrip())])
        total = _utf16_len(stripped)
        moved: list[JSONDict] = []
        for entity in entities:
            start = max(entity["offset"] - lead, 0)
            end = min(entity["offset"] + entity["length"] - lead, total)
            if end > start:
                moved.append({**entity, "offset": start, "length": end - start})
        text, entities = stripped, moved
    return text, entities


_HTML_ENTITY_TYPES: Final = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip


class _TelegramHTML(HTMLParser):
    """Telegram's HTML subset: the supported tags, properly nested, nothing else."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.parts: list[str] = []
        self.entities: list[JSONDict] = []
        self.error: str | None = None
        self._length = 0
        self._open: list[tuple[str, int, dict[str, str | None]]] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self.source.splitlines(keepends=True)
        index = sum(len(text) for text in lines[: line - 1]) + column
        return len(self.source[:index].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error:
            return
        attributes = dict(attrs)
        if tag not in _HTML_ENTITY_TYPES or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            self.error = f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}'
            return
        self._open.append((tag, self._length, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if not self.error:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.error:
            return
        if not self._open:
            self.error = f"Unexpected end tag at byte offset {self._byte_offset()}"
            return
        opened, start, attributes = self._open.pop()
        if opened != tag:
            self.error = (
                f'Unmatched end tag at byte offset {self._byte_offset()}, expected "</{opened}>", found "</{tag}>"'
            )
            return
        length = self._length - start
        if length <= 0:
            return
        entity: JSONDict = {"type": _HTML_ENTITY_TYPES[tag], "offset": start, "length": length}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        elif tag == "code" and self._open and self._open[-1][0] == "pre":
            language = (attributes.get("class") or "").removeprefix("language-")
            if language:
                self._open[-1][2]["language"] = language
            return  # <pre><code> is one pre entity
        elif tag == "pre" and attributes.get("language"):
            entity["language"] = attributes["language"]
        self.entities.append(entity)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self._length += _utf16_len(data)

    def close(self) -> None:
        super().close()
        if not self.error and self._open:
            self.error = f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"'


# -- small helpers ---------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _as_int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad_request(f"invalid integer value {value!r}") from None


def _as_float(value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad_request(f"invalid number value {value!r}") from None


def _commands_key(scope: str | JSONDict | None, language_code: str) -> tuple[str, str]:
    if scope is None:
        scope = {"type": "default"}
    elif isinstance(scope, str):
        scope = {"type": scope}
    # A chat_id sent as "123" and as 123 names the same scope.
    normal = {
        k: int(v) if k in ("chat_id", "user_id") and str(v).lstrip("-").isdigit() else v for k, v in scope.items()
    }
    return json.dumps(normal, sort_keys=True), language_code


def _image_size(content: bytes) -> tuple[int | None, int | None]:
    """Width and height of a PNG or JPEG, read from its header; (None, None) otherwise."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    if content[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(content):
            if content[i] != 0xFF:
                i += 1
                continue
            marker = content[i + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(content[i + 5 : i + 7], "big")
                width = int.from_bytes(content[i + 7 : i + 9], "big")
                return width, height
            i += 2 + int.from_bytes(content[i + 2 : i + 4], "big")
    return None, None


def _short(params: Mapping[str, Any], limit: int = 160) -> str:
    shown = {
        k: f"<file {v.filename!r} {len(v.content)}B>" if isinstance(v, UploadedFile) else v for k, v in params.items()
    }
    text = repr(shown)
    return text if len(text) <= limit else text[: limit - 3] + "..."
