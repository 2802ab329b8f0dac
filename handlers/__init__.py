"""Every conversation and command, registered in one place.

The order is the order of ``/help`` and of the Telegram command menu: what people use
most comes first.
"""

from __future__ import annotations

from bot.router import Registry
from handlers import digest, lead, review, start, targets


def build_registry() -> Registry:
    registry = Registry()
    start.register(registry)  # /start, /help, /lang, /invite
    lead.register(registry)  # /lead, /mine
    targets.register(registry)  # /quota, /targets, /schedule
    digest.register(registry)  # /digest
    review.register(registry)  # /review
    return registry
