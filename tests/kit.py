"""A test client that talks to the bot the way a person does: text, buttons, locations, files."""

from __future__ import annotations

import itertools
import re
import string
from dataclasses import dataclass, field

from bot.core import Button, FileRef, FileReply, Incoming, Keyboard, Kind, Location, Notice, Outgoing, Reply, Response
from bot.core.i18n import catalog, translate
from bot.router import Router

_update_ids = itertools.count(10_000)
_message_ids = itertools.count(1)


def said(key: str, /, locale: str = "zh", **params: object) -> re.Pattern[str]:
    """What a person reads for catalog ``key``, as a pattern: the given ``params`` filled in,
    any other placeholder standing for whatever value the bot put there.

    Tests assert the text through the catalog, so rewording a message changes one catalog
    entry and no test, while a wrong key, a wrong value or a missing message still fails.
    """
    template = catalog(locale).get(key)
    assert template is not None, f"no {key!r} in the {locale} catalog"
    parts: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is None:
            continue
        if name in params:
            value = params[name]
            shown = repr(value) if conversion == "r" else str(value) if conversion == "s" else value
            parts.append(re.escape(format(shown, spec or "")))
        else:
            parts.append(".*?")
    return re.compile("".join(parts), re.S)


def zh(key: str, /, **params: object) -> str:
    """The Chinese text of ``key``: a button's label to press, or an exact line to expect."""
    return translate("zh", key, **params)


def heard(text: str, key: str, /, locale: str = "zh", **params: object) -> bool:
    """Whether ``text`` contains the message ``key`` (see :func:`said`)."""
    return said(key, locale, **params).search(text) is not None


class RecordingTransport:
    """Stands in for Telegram: keeps what the outbox delivered, per chat."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, Outgoing]] = []

    async def deliver(self, chat_id: int, item: Outgoing) -> None:
        self.sent.append((chat_id, item))

    def texts_to(self, chat_id: int) -> list[str]:
        return [item.text for cid, item in self.sent if cid == chat_id and isinstance(item, Reply)]


@dataclass
class Chat:
    router: Router
    user_id: int
    language_code: str | None = "zh-hans"
    full_name: str = "测试用户"
    history: list[Response] = field(default_factory=list)
    keyboard: Keyboard | None = None
    keyboard_message: tuple[int, str] | None = None

    def _incoming(self, kind: Kind, **fields: object) -> Incoming:
        return Incoming(
            kind,  # type: ignore[arg-type]
            chat_id=self.user_id,
            user_id=self.user_id,
            update_id=next(_update_ids),
            language_code=self.language_code,
            full_name=self.full_name,
            **fields,  # type: ignore[arg-type]
        )

    async def deliver(self, msg: Incoming) -> Response:
        response = await self.router.handle(msg)
        self.history.append(response)
        for item in response.items:
            if isinstance(item, Reply) and item.keyboard is not None:
                self.keyboard = item.keyboard
                self.keyboard_message = (next(_message_ids), item.text)
        await self.router.app.outbox.flush()
        return response

    async def send(self, text: str) -> Response:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return await self.deliver(self._incoming(Kind.COMMAND, command=command, args=args.strip(), text=text))
        return await self.deliver(self._incoming(Kind.TEXT, text=text))

    async def forward(self, text: str, origin: str = "") -> Response:
        """Forward someone else's message (``origin`` names them, as Telegram does)."""
        return await self.deliver(self._incoming(Kind.TEXT, text=text, forwarded_from=origin))

    async def press(self, label: str, *, keyboard: Keyboard | None = None) -> Response:
        """Press the button whose label contains ``label`` on the latest keyboard."""
        button = self.button(label, keyboard)
        message_id, message_text = self.keyboard_message or (None, "")
        return await self.deliver(
            self._incoming(
                Kind.BUTTON, data=button.data, text=button.label, message_id=message_id, message_text=message_text
            )
        )

    async def press_data(self, data: str) -> Response:
        return await self.deliver(
            self._incoming(Kind.BUTTON, data=data, message_id=next(_message_ids), message_text="…")
        )

    def button(self, label: str, keyboard: Keyboard | None = None) -> Button:
        board = keyboard or self.keyboard
        assert board is not None, "no keyboard to press"
        matches = [b for b in board.buttons() if label in b.label]
        assert matches, f"no button {label!r} in {[b.label for b in board.buttons()]}"
        return matches[0]

    def labels(self) -> list[str]:
        return [b.label for b in self.keyboard.buttons()] if self.keyboard else []

    async def share_location(self, latitude: float, longitude: float) -> Response:
        return await self.deliver(self._incoming(Kind.LOCATION, location=Location(latitude, longitude)))

    async def send_photo(self, file_id: str = "photo-1", caption: str = "") -> Response:
        return await self.deliver(self._incoming(Kind.PHOTO, file=FileRef(file_id), text=caption))

    async def send_document(
        self, file_id: str, file_name: str, mime_type: str | None = None, size: int | None = None
    ) -> Response:
        return await self.deliver(self._incoming(Kind.DOCUMENT, file=FileRef(file_id, file_name, mime_type, size)))

    async def send_sticker(self) -> Response:
        return await self.deliver(self._incoming(Kind.OTHER))

    def touches_since(self, mark: int) -> int:
        """Messages sent and buttons pressed since ``mark`` (a length of :attr:`history`)."""
        return len(self.history) - mark

    @property
    def last(self) -> Response:
        return self.history[-1]

    @property
    def last_text(self) -> str:
        """Everything the last message got back, as one string (replies and notices)."""
        parts = [item.text for item in self.last.items if isinstance(item, Reply | Notice) and item.text]
        return "\n".join(parts)

    def heard(self, key: str, /, *, locale: str | None = None, **params: object) -> bool:
        """Whether the last answer contains catalog message ``key``, in this person's language
        (their Telegram app's unless ``locale`` says otherwise)."""
        if locale is None:
            locale = "en" if (self.language_code or "").startswith("en") else "zh"
        return heard(self.last_text, key, locale, **params)

    def files(self) -> list[FileReply]:
        return [item for r in self.history for item in r.items if isinstance(item, FileReply)]
