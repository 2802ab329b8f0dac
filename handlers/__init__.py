"""Every conversation and command, registered in one place.

The order is the order of ``/help`` and of the Telegram command menu: what people use
most comes first.
"""

from __future__ import annotations

from bot.core.registry import Registry
from handlers import (
    admin,
    approvals,
    capital,
    contacts,
    desk_import,
    digest,
    disputes,
    export,
    expos,
    find,
    history,
    lead,
    library,
    merge,
    needs,
    opportunities,
    origins,
    progress,
    project,
    review,
    signing,
    start,
    supervision,
    targets,
    taskforce,
    transfer,
    visit,
    web,
)


def build_registry() -> Registry:
    registry = Registry()
    start.register(registry)  # /start, /help, /lang, /invite
    lead.register(registry)  # /lead, /mine
    visit.register(registry)  # /visit, /visits; follow-up reminder buttons
    progress.register(registry)  # /progress (more often than a new project)
    project.register(registry)  # /project, /projects, /lagging; leader assignment buttons
    signing.register(registry)  # /reviews: §17 reviews before a major project is signed
    taskforce.register(registry)  # /taskforce: §15 task force, its tasks and approvals
    approvals.register(registry)  # /approvals (bureau): the approval kinds new checklists start from
    needs.register(registry)  # /need, /needs: §19 element needs; the departments' answer buttons
    supervision.register(registry)  # /ask (leaders), /supervise (bureau): §16; the answer button
    find.register(registry)  # /find
    targets.register(registry)  # /quota, /targets, /schedule
    digest.register(registry)  # /digest
    library.register(registry)  # /library
    desk_import.register(registry)  # /template, spreadsheets sent to the bot
    export.register(registry)  # /export
    web.register(registry)  # /web: the dashboard's one-time link
    review.register(registry)  # /review (bureau)
    transfer.register(registry)  # /transfer (bureau)
    disputes.register(registry)  # /disputes (bureau); ruling buttons
    merge.register(registry)  # /merge (bureau)
    history.register(registry)  # /history (bureau)
    contacts.register(registry)  # /contacts, /contacted (§9)
    expos.register(registry)  # /events (§10)
    origins.register(registry)  # /source: the contact or event a saved record came from
    capital.register(registry)  # /capital: fund backing (§11), foreign capital (§13)
    opportunities.register(registry)  # /opportunities: scenario lists (§12)
    admin.register(registry)  # /members, /invites (administrators)
    return registry
