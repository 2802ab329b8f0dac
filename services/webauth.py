"""Who is looking at the dashboard: Telegram's Mini App signature, or a one-time link from /web.

- ``initData`` is checked as the Bot API documents it: the data-check-string is every field
  but ``hash``, sorted by name, ``key=value`` joined by line feeds; the secret is
  HMAC-SHA256 of the bot token keyed with ``"WebAppData"``; the hash is the hex HMAC-SHA256
  of the data-check-string under that secret. A signature older than the freshness limit
  is refused like a forged one, so a leaked URL stops working.
- A link from /web opens one session once, within minutes; a session lives for a short
  while. Only SHA-256 hashes of the tokens are stored, and redeeming a link is one
  conditional UPDATE, so two tabs racing for the same link get one session between them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import update
from sqlmodel import col, select

from bot.core.db import Database
from models import TicketKind, WebTicket

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=2)
INIT_DATA_MAX_AGE = timedelta(hours=1)
MAX_INIT_DATA = 4096  # Telegram's are a few hundred bytes; anything far longer is not one


class InitDataError(ValueError):
    """Why a Mini App signature was refused: ``missing``, ``malformed``, ``forged`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebAppUser:
    telegram_id: int
    language_code: str | None
    auth_date: datetime


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields))


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """``initData`` as Telegram would send it for ``fields`` (tests, benches and local trials)."""
    digest = hmac.new(_secret(bot_token), _data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def check_init_data(init_data: str | None, bot_token: str, *, now: datetime, max_age: timedelta) -> WebAppUser:
    """The signed-in person of a Mini App's ``initData``, or :class:`InitDataError`."""
    if not init_data:
        raise InitDataError("missing")
    if len(init_data) > MAX_INIT_DATA:
        raise InitDataError("malformed")
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise InitDataError("malformed") from exc
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("malformed")  # a repeated field could mean two things
    given = fields.pop("hash", "")
    expected = hmac.new(_secret(bot_token), _data_check_string(fields).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InitDataError("forged")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), tz=now.tzinfo)
        user = json.loads(fields["user"])
        telegram_id = user["id"]
    except (KeyError, ValueError, TypeError, OverflowError, OSError) as exc:
        raise InitDataError("malformed") from exc
    if not isinstance(telegram_id, int) or isinstance(telegram_id, bool) or telegram_id <= 0:
        raise InitDataError("malformed")
    if auth_date > now + timedelta(minutes=5) or now - auth_date > max_age:
        raise InitDataError("expired")
    language = user.get("language_code") if isinstance(user, dict) else None
    return WebAppUser(telegram_id, language if isinstance(language, str) else None, auth_date)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue(db: Database, kind: TicketKind, user_id: int, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    async with db.session() as session:
        ticket = WebTicket(kind=kind, token_hash=_hash(token), user_id=user_id, created_at=now, expires_at=now + ttl)
        session.add(ticket)
    return token


async def issue_link(db: Database, user_id: int, *, now: datetime, ttl: timedelta = LINK_TTL) -> str:
    """A one-time sign-in token for ``user_id`` (the /web command's link)."""
    return await _issue(db, TicketKind.LINK, user_id, now, ttl)


async def open_session(db: Database, user_id: int, *, now: datetime, ttl: timedelta = SESSION_TTL) -> str:
    return await _issue(db, TicketKind.SESSION, user_id, now, ttl)


async def redeem_link(db: Database, token: str, *, now: datetime, ttl: timedelta = SESSION_TTL) -> str | None:
    """Spend a link: a new session token, or ``None`` when it is unknown, spent or expired."""
    if not token or len(token) > 128:
        return None
    async with db.session() as session:
        spent = await session.exec(
            update(WebTicket)
            .where(col(WebTicket.token_hash) == _hash(token), col(WebTicket.kind) == TicketKind.LINK)
            .where(col(WebTicket.used_at).is_(None), col(WebTicket.expires_at) > now)
            .values(used_at=now)
            .returning(col(WebTicket.user_id))
        )
        user_id = spent.scalar_one_or_none()
    if user_id is None:
        return None
    return await open_session(db, int(user_id), now=now, ttl=ttl)


async def session_user(db: Database, token: str | None, *, now: datetime) -> int | None:
    """The user a live session token belongs to."""
    if not token or len(token) > 128:
        return None
    async with db.session() as session:
        found = await session.exec(
            select(WebTicket.user_id).where(
                col(WebTicket.token_hash) == _hash(token),
                col(WebTicket.kind) == TicketKind.SESSION,
                col(WebTicket.expires_at) > now,
            )
        )
        user_id = found.first()
    return int(user_id) if user_id is not None else None
