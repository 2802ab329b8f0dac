"""Build everything once, in one place: database, migrations, seed, outbox, router."""

from __future__ import annotations

import logging

from bot.app import App
from bot.core import migrate
from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Outbox, Transport
from bot.locks import STARTUP, AdvisoryLock
from bot.router import Router
from handlers import build_registry
from services import members
from services import seed as seeding

log = logging.getLogger(__name__)


async def prepare_database(settings: Settings) -> Database:
    """Open the database, bring its schema up to date, and seed it the first time."""
    db = Database(settings.database_url)
    # Several processes may start at once (compose, a deployment's replicas): one migrates
    # and seeds, the others wait for it and then find nothing to do.
    async with AdvisoryLock(db, STARTUP):
        await migrate.upgrade(db)
        if not await seeding.is_seeded(db):
            report = await seeding.seed(db)
            log.info("first start: seeded %s units and %s chains", report.units_added, report.chains_added)
        if revoked := await members.follow_admin_list(db, settings.bot_admin_ids):
            log.info("%s people are no longer in BOT_ADMIN_IDS: no longer administrators", revoked)
    return db


async def build(
    settings: Settings, *, transport: Transport | None = None, db: Database | None = None
) -> tuple[App, Router]:
    if db is None:
        db = await prepare_database(settings)
    app = App(settings=settings, db=db, outbox=Outbox(db, transport, platform=settings.bot_platform))
    return app, Router(app, build_registry())
