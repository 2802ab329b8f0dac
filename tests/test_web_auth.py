"""Signing in to the dashboard: Telegram's Mini App signature, and the one-time link /web sends."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlmodel import select

from bot.app import App
from bot.core.config import Settings
from models import WebTicket
from services import webauth
from services.webauth import InitDataError, check_init_data
from tests import deskkit as k
from tests.conftest import ChatFactory, Clock
from tests.kit import zh
from tests.webkit import TOKEN, WEB_URL, init_data, web_settings

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def check(data: str | None, token: str = TOKEN, now: datetime = NOW) -> webauth.WebAppUser:
    return check_init_data(data, token, now=now, max_age=HOUR)


def test_a_signature_made_with_the_bot_token_signs_in() -> None:
    who = check(init_data(k.GANZHOU, at=NOW - timedelta(minutes=2)))
    assert who.telegram_id == k.GANZHOU and who.language_code == "zh-hans"


def test_the_hash_is_the_bot_api_documented_one() -> None:
    """Computed here by hand, independently of the module: HMAC("WebAppData", token), then the sorted fields."""
    import hmac

    fields = dict(parse_qsl(init_data(k.BUREAU, at=NOW)))
    given = fields.pop("hash")
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    check_string = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    assert given == hmac.new(secret, check_string.encode(), hashlib.sha256).hexdigest()


def _refused(data: str | None, reason: str, **kwargs: object) -> None:
    with pytest.raises(InitDataError) as caught:
        check(data, **kwargs)  # type: ignore[arg-type]
    assert caught.value.reason == reason


def test_a_tampered_field_is_refused() -> None:
    fields = dict(parse_qsl(init_data(k.GANZHOU, at=NOW)))
    fields["user"] = fields["user"].replace(str(k.GANZHOU), str(k.BUREAU))  # someone else's id, same hash
    _refused(urlencode(fields), "forged")
    _refused(init_data(k.GANZHOU, at=NOW) + "&start_param=x", "forged")


def test_another_bots_token_is_refused() -> None:
    _refused(init_data(k.GANZHOU, at=NOW, token="999:other-bot"), "forged")


def test_an_old_or_future_signature_is_refused() -> None:
    _refused(init_data(k.GANZHOU, at=NOW - HOUR - timedelta(seconds=1)), "expired")
    _refused(init_data(k.GANZHOU, at=NOW + timedelta(hours=2)), "expired")
    check(init_data(k.GANZHOU, at=NOW - HOUR + timedelta(seconds=5)))


def test_missing_or_malformed_data_is_refused() -> None:
    _refused(None, "missing")
    _refused("", "missing")
    _refused("x" * 5000, "malformed")
    _refused("%%%&&&", "malformed")
    signed_twice = init_data(k.GANZHOU, at=NOW)
    _refused(signed_twice + "&auth_date=1", "malformed")
    no_user = webauth.sign_init_data({"auth_date": str(int(NOW.timestamp()))}, TOKEN)
    _refused(no_user, "malformed")
    bad_id = webauth.sign_init_data({"auth_date": str(int(NOW.timestamp())), "user": '{"id": "1"}'}, TOKEN)
    _refused(bad_id, "malformed")


async def test_a_link_opens_one_session_once(app: App) -> None:
    user = await k.user(app, k.GANZHOU)
    assert user.id is not None
    token = await webauth.issue_link(app.db, user.id, now=NOW)
    session = await webauth.redeem_link(app.db, token, now=NOW + timedelta(minutes=1))
    assert session is not None
    assert await webauth.session_user(app.db, session, now=NOW + timedelta(minutes=2)) == user.id
    assert await webauth.redeem_link(app.db, token, now=NOW + timedelta(minutes=2)) is None  # spent
    # A link is not a session, and a session is not a link.
    assert await webauth.session_user(app.db, token, now=NOW) is None
    assert await webauth.redeem_link(app.db, session, now=NOW) is None
    # The session ends on its own.
    assert await webauth.session_user(app.db, session, now=NOW + webauth.SESSION_TTL + HOUR) is None


async def test_a_link_expires_in_minutes_and_only_its_hash_is_kept(app: App) -> None:
    user = await k.user(app, k.GANZHOU)
    assert user.id is not None
    token = await webauth.issue_link(app.db, user.id, now=NOW)
    async with app.db.session() as session:
        stored = (await session.exec(select(WebTicket))).all()
    assert [t.token_hash for t in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in repr(stored)
    assert await webauth.redeem_link(app.db, token, now=NOW + webauth.LINK_TTL + timedelta(seconds=1)) is None
    assert await webauth.redeem_link(app.db, "not-a-token", now=NOW) is None
    assert await webauth.session_user(app.db, "", now=NOW) is None


@pytest.fixture
def settings(database_url: str) -> Settings:
    return web_settings(database_url)


async def test_web_in_the_chat_sends_a_one_time_link(chat: ChatFactory, app: App, clock: Clock) -> None:
    county = chat(k.GANZHOU)
    await county.send("/web")
    assert county.heard("web.link", minutes=10)
    token = re.search(rf"{re.escape(WEB_URL)}/login/(\S+)", county.last_text)
    assert token is not None
    assert await webauth.redeem_link(app.db, token.group(1), now=clock.now) is not None
    await county.send("/web")
    assert token.group(1) not in county.last_text  # a new link each time


async def test_web_without_a_dashboard_says_so(chat: ChatFactory, app: App) -> None:
    app.settings = app.settings.model_copy(update={"web_url": None})
    county = chat(k.GANZHOU)
    await county.send("/web")
    assert county.last_text == zh("web.off")


def test_every_word_on_the_pages_is_in_both_catalogs() -> None:
    from bot.core.i18n import catalog
    from bot.web.server import TEMPLATES

    keys = {
        key
        for page in TEMPLATES.glob("*.html")
        for key in re.findall(r'_\("([a-z_.]+)"\s*[,)]', page.read_text(encoding="utf-8"))
    }
    assert "web.title" in keys and len(keys) > 40
    for locale in ("zh", "en"):
        assert sorted(keys - set(catalog(locale))) == [], locale
