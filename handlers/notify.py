"""Telling people things outside a reply, each in their own language, through the outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bot.core import Outgoing
from bot.core.app import App
from bot.core.i18n import Translator, person_locale
from models import Role, User
from services import members

Build = Callable[[Translator], Sequence[Outgoing]]


def translator_for(app: App, user: User) -> Translator:
    """The person's chosen language, else their Telegram language, else the bot's default."""
    return translator_in(app, user.locale, user.language_code)


def translator_in(app: App, locale: str | None, language_code: str | None) -> Translator:
    """:func:`translator_for` from a person's two language fields, where only those were read."""
    return Translator(person_locale(locale, language_code, app.settings.default_locale))


async def tell(app: App, users: Iterable[User], build: Build, *, kind: str, key: str | None = None) -> int:
    """Queue ``build``'s message for each person; ``key`` (made per person) sends it once."""
    queued = 0
    for user in users:
        if user.id is None or not user.active:
            continue
        items = build(translator_for(app, user))
        if await app.outbox.enqueue(user.telegram_id, items, kind=kind, key=f"{key}:{user.id}" if key else None):
            queued += 1
    return queued


async def tell_bureau(app: App, build: Build, *, kind: str, key: str | None = None) -> int:
    """Every active person of the bureau."""
    return await tell(app, await members.people(app.db, role=Role.BUREAU), build, kind=kind, key=key)
