"""``investbot digest``: look at any digest before it goes out, and send what is due now.

    investbot digest preview bureau_overview --period 2026-11
    investbot digest preview unit_targets --unit zone --out charts/
    investbot digest preview chain_digest --user 1005          # a person, in their language
    investbot digest send-due                                   # what the scheduler would queue now

``preview`` prints the text and writes each chart to a PNG file; nothing is queued or sent.
``send-due`` runs the scheduler's own ``send_due``: the same list of what is due, the same
delivery keys, so a digest the scheduler already queued is not queued again, and one queued
here is not queued again by the scheduler. The bot's delivery worker sends the queue.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, select

from bot.app import App
from bot.core import FileReply, Reply
from bot.core.config import Settings
from bot.core.i18n import person_locale
from bot.delivery import Outbox
from models import Unit, User
from services import schedule
from services.periods import local_date, parse_key
from services.schedule import DueItem

KIND_NAMES = {
    "chain": schedule.CHAIN_DIGEST,
    "liaison": schedule.LIAISON_REMINDER,
    "close": schedule.LIAISON_CLOSE,
    "bureau": schedule.BUREAU_OVERVIEW,
    "leader": schedule.LEADER_SUMMARY,
    "targets": schedule.UNIT_TARGETS,
    **{kind: kind for kind in schedule.KINDS},
}
NEEDS_UNIT = {schedule.CHAIN_DIGEST, schedule.LIAISON_REMINDER, schedule.LIAISON_CLOSE, schedule.UNIT_TARGETS}


class DigestError(Exception):
    """A preview that cannot be made as asked; the message says why."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = sub.add_parser("digest", help="preview any digest, or send what is due now")
    actions = digest.add_subparsers(dest="digest_command", required=True)
    preview = actions.add_parser("preview", help="print a digest's text and write its charts to files")
    preview.add_argument("kind", choices=sorted(KIND_NAMES), help="which digest")
    who = preview.add_mutually_exclusive_group()
    who.add_argument("--unit", help="the unit's code or name (chain, liaison, close, targets)")
    who.add_argument("--user", type=int, help="a person's Telegram id: their unit, their language")
    preview.add_argument("--period", help="2026-W48, 2026-11 or 2026-H2 (default: the period under way, so far)")
    preview.add_argument("--locale", choices=("zh", "en"), help="language (default: the person's, else zh)")
    preview.add_argument("--out", type=Path, default=Path("."), help="directory for the charts (default: here)")
    send = actions.add_parser("send-due", help="queue what is due now, exactly as the scheduler would")
    send.add_argument("--at", help="as if it were this moment (ISO 8601, e.g. 2026-12-01T09:30+08:00)")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.core.db import Database

    db = Database(settings.database_url)
    app = App(settings=settings, db=db, outbox=Outbox(db, platform=settings.bot_platform))
    try:
        if args.digest_command == "preview":
            return await _preview(app, args)
        return await _send_due(app, args.at)
    except DigestError as exc:
        print(f"digest: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.dispose()


async def _send_due(app: App, at: str | None) -> int:
    from bot.scheduler import send_due

    now = _moment(at) if at else app.now()
    queued = await send_due(app, now)
    print(f"queued {queued} scheduled message(s) due by {now.astimezone(app.tz):%Y-%m-%d %H:%M %Z}")
    return 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DigestError(f"--at {text!r} is not an ISO 8601 moment") from None
    if moment.tzinfo is None:
        raise DigestError(f"--at {text!r} needs a zone, e.g. +08:00")
    return moment.astimezone(UTC)


async def _preview(app: App, args: argparse.Namespace) -> int:
    from handlers.digest import DigestRun

    kind = KIND_NAMES[args.kind]
    item = await _item(app, kind, args)
    outgoing = await DigestRun(app, [item]).render(item)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{kind}-{item.occurrence.period.key}"
    for part in outgoing:
        if isinstance(part, Reply):
            print(part.text)
        elif isinstance(part, FileReply):
            path = args.out / f"{stem}-{part.filename}"
            path.write_bytes(part.content)
            print(f"[chart written to {path}]")
    return 0


async def _item(app: App, kind: str, args: argparse.Namespace) -> DueItem:
    """The preview as one more recipient of ``kind``'s digest, for the period asked."""
    user: User | None = None
    unit: Unit | None = None
    async with app.db.session() as session:
        if args.user is not None:
            user = (await session.exec(select(User).where(User.telegram_id == args.user))).first()
            if user is None:
                raise DigestError(f"no person with Telegram id {args.user}")
            unit = await session.get(Unit, user.unit_id) if user.unit_id is not None else None
        elif args.unit:
            wanted = args.unit.strip()
            units = (await session.exec(select(Unit).where(col(Unit.active)))).all()
            unit = next((u for u in units if wanted in (u.code, u.name_zh, u.name_en)), None)
            if unit is None:
                raise DigestError(f"no unit {wanted!r}; use a code such as {', '.join(u.code for u in units[:4])}")
    if kind in NEEDS_UNIT and unit is None:
        raise DigestError(f"{kind} is a unit's digest: name one with --unit or --user")
    if kind == schedule.LEADER_SUMMARY and user is None:
        raise DigestError("leader_summary is a leader's digest: name them with --user")
    if args.period:
        try:
            period = parse_key(args.period)
        except ValueError:
            raise DigestError(f"--period {args.period!r} is not 2026-W48, 2026-11 or 2026-H2") from None
        if period.kind != schedule.PERIOD_OF_KIND[kind]:
            raise DigestError(f"{kind} reports on a {schedule.PERIOD_OF_KIND[kind]}, not a {period.kind}")
        occurrence = schedule.occurrence_of(kind, period, await schedule.load_times(app.db), app.tz)
    else:
        now = app.now()
        occurrence = schedule.occurrence_now(kind, local_date(now, app.tz), app.tz, now)
    default = app.settings.default_locale
    locale = args.locale or (person_locale(user.locale, user.language_code, default) if user else default)
    return DueItem(
        occurrence,
        user.id or 0 if user else 0,
        user.telegram_id if user else 0,
        unit.id if unit else None,
        locale,
    )
