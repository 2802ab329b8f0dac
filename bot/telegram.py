"""What both Telegram adapters share, written once so the two frameworks behave the same.

Updates arrive as the Bot API's JSON (from our poller, :mod:`bot.polling`, or our webhook
server) and :func:`incoming` reads them into :class:`~bot.core.Incoming`; no framework is
involved. An adapter offers a :class:`BotPort`: the handful of Bot API calls the bot makes,
with the framework's errors mapped to the neutral ones of :mod:`bot.delivery`. Everything
else lives here: carrying out a :class:`~bot.core.Response` (answer the press first, edit
the pressed message, fall back to a new message), keeping one person's updates in order,
the command menus per language and role, and waiting for updates in flight at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol
from weakref import WeakValueDictionary

from sqlmodel import col, select

from bot.core import FileRef, FileReply, Incoming, Kind, Location, Notice, Outgoing, Reply, Response
from bot.core.db import Database
from bot.core.i18n import SUPPORTED, normalize_locale, translate
from bot.core.registry import Registry
from bot.delivery import DeliveryError, Outbox, Rejected
from bot.router import Router
from models import Role, User
from services import members

log = logging.getLogger(__name__)

# Update types the bot reads; everything else Telegram need not send.
ALLOWED_UPDATES = ["message", "callback_query"]
# Updates handled at once (across people; one person's are always in order).
MAX_CONCURRENT_UPDATES = 32


class BotPort(Protocol):
    """The Bot API calls the bot makes; errors arrive as :class:`~bot.delivery.DeliveryError`."""

    async def send(self, chat_id: int, item: Reply | FileReply) -> None: ...

    async def edit(self, chat_id: int, message_id: int, reply: Reply) -> None: ...

    async def answer(self, query_id: str, notice: Notice) -> None: ...

    async def set_commands(
        self, commands: Sequence[tuple[str, str]], *, language: str, chat_id: int | None
    ) -> None: ...

    async def download(self, file_id: str) -> bytes: ...

    async def deliver(self, chat_id: int, item: Outgoing) -> None: ...


def parse_command(text: str, bot_username: str | None) -> tuple[str, str] | None:
    """``/cmd@botname args`` → ``("cmd", "args")``; ``None`` when it is not a command for us."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, args = text[1:].partition(" ")
    name, _, addressee = head.partition("@")
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return None
    if not name:
        return None
    return name.lower(), args.strip()


Json = Mapping[str, Any]


def incoming(update: Json, bot_username: str | None) -> tuple[Incoming, str | None] | None:
    """The neutral event for an update in the Bot API's own JSON, and a press's callback query id.

    The poller and the webhook server hand over the update exactly as Telegram sent it, so
    one translation serves both frameworks and no framework parses the update first.
    """
    update_id = int(update["update_id"])
    query = update.get("callback_query")
    if query is not None:
        message = query.get("message") or {}
        data = str(query.get("data") or "")
        return (
            Incoming(
                Kind.BUTTON,
                chat_id=int((message.get("chat") or query["from"])["id"]),
                data=data,
                text=_pressed_label(message, data),
                message_id=message.get("message_id"),
                message_text=str(message.get("text") or message.get("caption") or ""),
                chat_type=str((message.get("chat") or {}).get("type") or "private"),
                **_person(query["from"], update_id),
            ),
            str(query["id"]),
        )
    message = update.get("message")
    if message is None or message.get("from") is None:
        return None
    base = {
        "chat_id": int(message["chat"]["id"]),
        "message_id": message.get("message_id"),
        "chat_type": str(message["chat"].get("type") or "private"),
    }
    base.update(_person(message["from"], update_id))
    if message.get("forward_origin") is not None:
        base["forwarded_from"] = forwarded_from(message["forward_origin"])
    text = message.get("text")
    if text is not None:
        command = parse_command(text, bot_username)
        if command is not None:
            return Incoming(Kind.COMMAND, command=command[0], args=command[1], text=text, **base), None
        # A command addressed to another bot in a group is none of ours.
        return Incoming(Kind.OTHER if text.startswith("/") else Kind.TEXT, text=text, **base), None
    if message.get("location") is not None:
        location = Location(float(message["location"]["latitude"]), float(message["location"]["longitude"]))
        return Incoming(Kind.LOCATION, location=location, **base), None
    caption = str(message.get("caption") or "")
    if message.get("photo"):
        largest = message["photo"][-1]
        ref = FileRef(str(largest["file_id"]), size=largest.get("file_size"), mime_type="image/jpeg")
        return Incoming(Kind.PHOTO, file=ref, text=caption, **base), None
    if message.get("document") is not None:
        doc = message["document"]
        ref = FileRef(str(doc["file_id"]), doc.get("file_name"), doc.get("mime_type"), doc.get("file_size"))
        return Incoming(Kind.DOCUMENT, file=ref, text=caption, **base), None
    return Incoming(Kind.OTHER, **base), None


def forwarded_from(origin: Json) -> str:
    """Who a forwarded message came from, as Telegram's ``forward_origin`` names them."""
    kind = origin.get("type")
    if kind == "user":
        user = origin.get("sender_user") or {}
        return " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)
    if kind == "hidden_user":
        return str(origin.get("sender_user_name") or "")
    chat = origin.get("sender_chat") if kind == "chat" else origin.get("chat")
    title = str((chat or {}).get("title") or "")
    signature = origin.get("author_signature")
    return f"{title} ({signature})" if title and signature else title


def _person(user: Json, update_id: int) -> dict[str, Any]:
    return {
        "user_id": int(user["id"]),
        "update_id": update_id,
        "language_code": user.get("language_code"),
        "full_name": " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part),
        "username": user.get("username"),
    }


def _pressed_label(message: Json, data: str) -> str:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return str(button.get("text", ""))
    return ""


MAX_TEXT = 4096  # Telegram's limit on a message, in UTF-16 code units
MAX_NOTICE = 200  # and on the answer to a press


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a long text into messages Telegram accepts, at line breaks where possible."""
    if _units(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while _units(line) > limit:
            cut = limit
            while _units(line[:cut]) > limit:
                cut -= 1
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:cut])
            line = line[cut:]
        if _units(current + line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current:
        parts.append(current)
    return [part for part in parts if part.strip()] or [text[:limit]]


def notice_text(notice: Notice) -> str | None:
    """The toast text of an answer to a press, cut to what Telegram allows."""
    if not notice.text:
        return None
    return notice.text if _units(notice.text) <= MAX_NOTICE else notice.text[: MAX_NOTICE - 1] + "\u2026"


def not_modified(exc: DeliveryError) -> bool:
    return isinstance(exc, Rejected) and "not modified" in str(exc).lower()


class CommandMenus:
    """The command list Telegram shows, in each language and per person by role."""

    def __init__(self, port: BotPort, registry: Registry, db: Database, *, default_locale: str) -> None:
        self.port = port
        self.registry = registry
        self.db = db
        self.default_locale = default_locale
        self._published: dict[int, tuple[str, str, bool]] = {}

    def menu(self, role: Role | None, locale: str, *, admin: bool = False) -> list[tuple[str, str]]:
        if role is None:
            # Before joining only /help answers anything useful (how to get an invitation).
            return [("help", translate(locale, "help.help"))]
        commands = self.registry.commands_for(role, admin=admin)
        items = [(c.name, translate(locale, c.help_key)) for c in commands if c.help_key]
        items.append(("cancel", translate(locale, "help.cancel")))
        return items

    async def publish_defaults(self) -> None:
        """What people who are not registered yet see, in their language (and by default)."""
        await self.port.set_commands(self.menu(None, self.default_locale), language="", chat_id=None)
        for locale in SUPPORTED:
            await self.port.set_commands(self.menu(None, locale), language=locale, chat_id=None)

    async def publish_everyone(self) -> None:
        async with self.db.session() as session:
            users = (await session.exec(select(User).where(col(User.active)))).all()
        for user in users:
            try:
                await self._publish(user)
            except DeliveryError as exc:
                log.warning("command menu for user %s not set: %s", user.id, exc)

    async def refresh(self, telegram_id: int) -> None:
        """Publish a person's menu again when their role or language changed (joined, /lang).

        After most updates the person is as the process knows them: nothing to read, nothing
        to send. A change to the person drops what the process knew, so it is read again.
        """
        known = members.peek(self.db, telegram_id)
        if known is not None:
            member = known.member
            if member is None:
                return
            locale = member.locale or normalize_locale(known.language_code, self.default_locale)
            if self._published.get(telegram_id) == (member.role, locale, member.is_admin):
                return
        async with self.db.session() as session:
            user = (await session.exec(select(User).where(User.telegram_id == telegram_id))).first()
        if user is not None and user.active:
            await self._publish(user)

    async def _publish(self, user: User) -> None:
        locale = user.locale or normalize_locale(user.language_code, self.default_locale)
        # An administrator (kept in step with BOT_ADMIN_IDS) also sees the administrators' commands.
        wanted = (Role(user.role), locale, bool(user.admin_granted))
        if self._published.get(user.telegram_id) == wanted:
            return
        # The chat scope has no language of its own: the person's choice wins over the app's.
        menu = self.menu(Role(user.role), locale, admin=user.admin_granted)
        await self.port.set_commands(menu, language="", chat_id=user.telegram_id)
        self._published[user.telegram_id] = wanted


class TelegramTransport:
    """The delivery queue's way to Telegram: send, or edit the pressed message where one can."""

    def __init__(self, port: BotPort) -> None:
        self.port = port

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        if isinstance(item, Notice):
            return  # a toast belongs to a press, answered when it came
        if isinstance(item, Reply) and item.edit and item.message_id is not None and not _asks_location(item):
            try:
                await self.port.edit(chat_id, item.message_id, item)
                return
            except Rejected as exc:
                if not_modified(exc):
                    return
                # Too old to edit, or deleted: the text still has to reach the person.
                log.info("chat %s: message %s cannot be edited (%s); sending anew", chat_id, item.message_id, exc)
        await self.port.send(chat_id, replace(item, edit=False, message_id=None) if isinstance(item, Reply) else item)


def _asks_location(reply: Reply) -> bool:
    # A reply keyboard cannot be put on an existing message.
    return reply.keyboard is not None and reply.keyboard.asks_location


class TelegramBridge:
    """Feeds translated updates to the router; their replies leave through the delivery queue."""

    def __init__(
        self,
        router: Router,
        port: BotPort,
        *,
        outbox: Outbox | None = None,
        menus: CommandMenus | None = None,
    ) -> None:
        self.router = router
        self.port = port
        self.outbox = outbox
        self.menus = menus
        self._locks: WeakValueDictionary[tuple[int, int], asyncio.Lock] = WeakValueDictionary()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        # Reply keyboards (the share-location one) send a button's label as text: map it back.
        self._reply_keyboards: dict[int, dict[str, str]] = {}

    async def handle(self, msg: Incoming, query_id: str | None = None) -> None:
        """Handle one update completely; never raises, so the bot keeps running."""
        self._in_flight += 1
        self._idle.clear()
        try:
            key = (msg.chat_id, msg.user_id)
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = asyncio.Lock()
            # Held until the replies are out, so one person's answers never overtake each other.
            async with lock:
                await self._handle(self._from_reply_keyboard(msg), query_id)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _handle(self, msg: Incoming, query_id: str | None) -> None:
        try:
            response = await self.router.handle(msg)
        except Exception:
            log.exception("update %s from user %s failed", msg.update_id, msg.user_id)
            response = self.failure(msg)
        if query_id is not None:
            await self._answer(msg, query_id, response)
        self._remember_keyboards(msg.chat_id, response)
        if response.queued and self.outbox is not None:
            try:
                # Served now, by this update's task, ahead of whatever broadcast is under way.
                await self.outbox.serve(msg.chat_id)
            except Exception:
                log.exception("update %s: sending the answer failed; the queue keeps it", msg.update_id)
        else:
            await self._send_directly(msg, response)
        if self.menus is not None:
            try:
                await self.menus.refresh(msg.user_id)
            except Exception:
                log.exception("update %s: command menu refresh failed", msg.update_id)

    async def _answer(self, msg: Incoming, query_id: str, response: Response) -> None:
        """Stop the press's spinner at once, whatever follows takes its time."""
        notices = [item for item in response.items if isinstance(item, Notice)]
        notice = next((n for n in notices if n.text), notices[0] if notices else Notice(""))
        try:
            await self.port.answer(query_id, notice)
        except DeliveryError as exc:
            log.warning("update %s: answering the press failed: %s", msg.update_id, exc)

    async def _send_directly(self, msg: Incoming, response: Response) -> None:
        """Without the database (it is what failed) there is no queue: one try, best effort."""
        transport = TelegramTransport(self.port)
        for item in response.items:
            if isinstance(item, Notice):
                continue
            if isinstance(item, Reply) and item.edit:
                item = replace(item, message_id=msg.message_id)
            try:
                await transport.deliver(msg.chat_id, item)
            except DeliveryError as exc:
                log.warning("update %s: the answer could not be sent: %s", msg.update_id, exc)
                return

    def _error_text(self, msg: Incoming) -> str:
        locale = normalize_locale(msg.language_code, self.router.app.settings.default_locale)
        return translate(locale, "core.error")

    def failure(self, msg: Incoming) -> Response:
        text = self._error_text(msg)
        items: list[Outgoing] = [Notice(text)] if msg.kind is Kind.BUTTON else []
        return Response([*items, Reply(text)])

    def _from_reply_keyboard(self, msg: Incoming) -> Incoming:
        labels = self._reply_keyboards.get(msg.chat_id)
        if msg.kind is Kind.TEXT and labels and msg.text in labels:
            return replace(msg, kind=Kind.BUTTON, data=labels[msg.text])
        return msg

    def _remember_keyboards(self, chat_id: int, response: Response) -> None:
        for item in response.items:
            if not isinstance(item, Reply):
                continue
            if item.keyboard is not None and item.keyboard.asks_location:
                self._reply_keyboards[chat_id] = {b.label: b.data for b in item.keyboard.buttons() if b.data}
            elif item.remove_keyboard:
                self._reply_keyboards.pop(chat_id, None)

    async def drain(self, timeout: float = 30.0) -> bool:  # noqa: ASYNC109
        """Wait for the updates being handled to finish; ``False`` if some did not in time."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("%s update(s) still in flight at shutdown", self._in_flight)
            return False
        return True
