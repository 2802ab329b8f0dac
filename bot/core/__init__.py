"""The base every other layer stands on, and in this module the neutral language between
adapters and handlers: what came in, what goes out.

Beside it in this package: the conversation pieces, settings, database, migrations, i18n and
logs. Nothing in ``bot.core`` imports services, handlers or the runtime.

Adapters (Telegram via python-telegram-bot or aiogram, the console) translate their
updates into :class:`Incoming` and carry out the :class:`Reply` objects handlers return.
Nothing here knows a chat framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    BUTTON = "button"
    LOCATION = "location"
    PHOTO = "photo"
    DOCUMENT = "document"
    OTHER = "other"  # stickers, voice, anything the bot does not read


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class FileRef:
    """A file the person sent; ``file_id`` fetches it again through the adapter."""

    file_id: str
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None


#: Telegram's type of a one-to-one chat; groups, supergroups and channels are the others.
PRIVATE = "private"


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    chat_id: int
    user_id: int
    update_id: int | None = None
    language_code: str | None = None
    full_name: str = ""
    username: str | None = None
    text: str = ""
    command: str = ""
    args: str = ""
    data: str = ""  # a pressed button's callback data
    message_id: int | None = None  # the message a pressed button belongs to
    message_text: str = ""  # that message's text, so a press can leave the choice visible
    location: Location | None = None
    file: FileRef | None = None
    # A forwarded message: whom it was forwarded from as Telegram names them ("" when it
    # does not say); None when the person wrote or pasted it themselves.
    forwarded_from: str | None = None
    chat_type: str = PRIVATE


@dataclass(frozen=True)
class Button:
    label: str
    data: str = ""
    # Telegram can ask for a location only from a reply keyboard, not an inline one.
    request_location: bool = False
    url: str | None = None


@dataclass(frozen=True)
class Keyboard:
    rows: tuple[tuple[Button, ...], ...]

    @classmethod
    def column(cls, buttons: list[Button]) -> Keyboard:
        return cls(tuple((button,) for button in buttons))

    @classmethod
    def grid(cls, buttons: list[Button], width: int = 2) -> Keyboard:
        return cls(tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width)))

    @property
    def asks_location(self) -> bool:
        return any(b.request_location for row in self.rows for b in row)

    def buttons(self) -> list[Button]:
        return [b for row in self.rows for b in row]


@dataclass(frozen=True)
class Reply:
    """A message to show: new, or an edit of the message whose button was pressed."""

    text: str
    keyboard: Keyboard | None = None
    edit: bool = False
    # Remove a reply keyboard (e.g. the share-location one) once it has served.
    remove_keyboard: bool = False
    # Which message an edit replaces (the pressed one), once the reply is queued.
    message_id: int | None = None


@dataclass(frozen=True)
class FileReply:
    filename: str
    content: bytes
    caption: str = ""
    photo: bool = False


@dataclass(frozen=True)
class Notice:
    """The short answer to a button press (Telegram shows it as a toast)."""

    text: str
    alert: bool = False


Outgoing = Reply | FileReply | Notice


@dataclass
class Response:
    """Everything one incoming event produced, in order."""

    items: list[Outgoing] = field(default_factory=list)
    # Whether the replies were put in the delivery queue with the update's records; when
    # not (the database failed), the adapter sends them itself.
    queued: bool = False

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, Reply)]


def to_payload(item: Outgoing) -> dict[str, object]:
    """A JSON-able form of an outgoing item, for the delivery queue in the database."""
    if isinstance(item, Reply):
        rows = (
            [
                [{"label": b.label, "data": b.data, "loc": b.request_location, "url": b.url} for b in row]
                for row in item.keyboard.rows
            ]
            if item.keyboard
            else None
        )
        payload: dict[str, object] = {
            "type": "reply",
            "text": item.text,
            "keyboard": rows,
            "remove_keyboard": item.remove_keyboard,
        }
        if item.edit and item.message_id is not None:
            payload["edit"] = item.message_id
        return payload
    if isinstance(item, FileReply):
        return {
            "type": "file",
            "filename": item.filename,
            "content": item.content.hex(),
            "caption": item.caption,
            "photo": item.photo,
        }
    return {"type": "notice", "text": item.text, "alert": item.alert}


def from_payload(payload: dict[str, object]) -> Outgoing:
    kind = payload["type"]
    if kind == "reply":
        rows = payload.get("keyboard")
        keyboard = None
        if isinstance(rows, list):
            keyboard = Keyboard(
                tuple(
                    tuple(
                        Button(
                            label=str(b["label"]),
                            data=str(b["data"]),
                            request_location=bool(b.get("loc")),
                            url=b.get("url"),
                        )
                        for b in row
                    )
                    for row in rows
                )
            )
        edit = payload.get("edit")
        return Reply(
            str(payload["text"]),
            keyboard,
            edit=isinstance(edit, int),
            remove_keyboard=bool(payload.get("remove_keyboard")),
            message_id=edit if isinstance(edit, int) else None,
        )
    if kind == "file":
        return FileReply(
            str(payload["filename"]),
            bytes.fromhex(str(payload["content"])),
            str(payload.get("caption", "")),
            bool(payload.get("photo")),
        )
    return Notice(str(payload["text"]), bool(payload.get("alert")))
