"""Every conversation and command, registered in one place.

The order is the order of ``/help`` and of the Telegram command menu: what people use
most comes first.
"""

from __future__ import annotations

from bot.router import Registry
from handlers import desk_import, export, find, history, lead, library, merge, start


def build_registry() -> Registry:
    registry = Registry()
    start.register(registry)  # /start, /help, /lang, /invite
    lead.register(registry)  # /lead, /mine
    library.register(registry)  # /library
    find.register(registry)  # /find
    desk_import.register(registry)  # /template, spreadsheets sent to the bot
    export.register(registry)  # /export
    merge.register(registry)  # /merge
    history.register(registry)  # /history
    return registry
