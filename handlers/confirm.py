"""The summary that ends a conversation: save on top, a button per field to correct, discard."""

from __future__ import annotations

from collections.abc import Collection

from bot.core import Button, Keyboard
from bot.core.conversation import Context

EDIT = "edit:"


def edit_buttons(ctx: Context, area: str, fields: Collection[str]) -> list[Button]:
    """A button per field, labelled by the catalog key ``<area>.edit.<field>``."""
    return [Button(ctx._(f"{area}.edit.{name}"), f"{EDIT}{name}") for name in fields]


def summary_keyboard(save: Button, edits: list[Button], discard: Button, *, width: int = 4) -> Keyboard:
    return Keyboard(((save,), *Keyboard.grid(edits, width=width).rows, (discard,)))


def field_to_correct(ctx: Context, data: str | None, fields: Collection[str]) -> str | None:
    """The field an edit button names; after it is answered the conversation comes back here."""
    if data and data.startswith(EDIT) and data[len(EDIT) :] in fields:
        ctx.draft["_back"] = "confirm"
        return data[len(EDIT) :]
    return None
