"""Every conversation and command, registered in one place.

The order is the order of ``/help`` and of the Telegram command menu: what people use
most comes first.
"""

from __future__ import annotations

from bot.router import Registry
from handlers import digest, lead, progress, project, review, start, targets, transfer, visit


def build_registry() -> Registry:
    registry = Registry()
    start.register(registry)  # /start, /help, /lang, /invite
    lead.register(registry)  # /lead, /mine
    visit.register(registry)  # /visit, /visits; follow-up reminder buttons
    progress.register(registry)  # /progress (more often than a new project)
    project.register(registry)  # /project, /projects, /lagging; leader assignment buttons
    targets.register(registry)  # /quota, /targets, /schedule
    digest.register(registry)  # /digest
    review.register(registry)  # /review (bureau)
    transfer.register(registry)  # /transfer (bureau)
    return registry
