"""Joining: strangers get nothing, an invitation registers, roles decide what one sees."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app import App
from models import AuditEntry, Invite, User
from tests.conftest import ADMIN_ID, ChatFactory, Clock, Joiner
from tests.kit import Chat


async def test_stranger_gets_only_the_way_to_an_invitation(chat: ChatFactory, app: App) -> None:
    stranger = chat(555_000_000_777)
    for text in ("你好", "/lead 宁德时代 储能 20亿", "/mine", "/help", "/start"):
        await stranger.send(text)
        assert "邀请码" in stranger.last_text
        assert "宁德" not in stranger.last_text
    await stranger.press_data("1|c1")
    assert "邀请码" in stranger.last_text
    async with app.db.session() as session:
        assert (await session.exec(select(User).where(User.telegram_id == 555_000_000_777))).first() is None


async def test_admin_invites_a_liaison_officer_who_joins_by_deep_link(admin: Chat, chat: ChatFactory, app: App) -> None:
    await admin.send("/invite")
    assert "单位" in admin.last_text
    await admin.press("驻北京联络处")
    # The unit's usual role is offered first.
    assert admin.labels()[0] == "驻外机构"
    await admin.press("驻外机构")
    text = admin.last_text
    assert "https://t.me/investbot_test_bot?start=" in text
    code = text.split("start=")[1].split()[0]

    officer = chat(777_000_000_123, full_name="李联络")
    await officer.send(f"/start {code}")
    assert officer.heard("start.welcome") and "驻北京联络处" in officer.last_text
    assert "/lead" in officer.last_text and "/invite" not in officer.last_text

    async with app.db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == 777_000_000_123))).one()
        assert user.role == "liaison" and user.full_name == "李联络"
        invite = (await session.exec(select(Invite).where(Invite.code == code))).one()
        assert invite.used_by == user.id
        joined = (await session.exec(select(AuditEntry).where(AuditEntry.action == "joined"))).all()
        assert [e.entity_id for e in joined] == [user.id]

    # One code, one person.
    other = chat(777_000_000_124)
    await other.send(f"/start {code}")
    assert other.heard("start.invite.used")


async def test_expired_and_unknown_codes_are_refused(admin: Chat, chat: ChatFactory, clock: Clock) -> None:
    await admin.send("/invite")
    await admin.press("甘州区")
    await admin.press("县区/园区")
    code = admin.last_text.split("start=")[1].split()[0]
    clock.now += timedelta(hours=73)
    late = chat(600_000_000_001)
    await late.send(f"/start {code}")
    assert late.heard("start.invite.expired")
    await late.send("/start nonsense")
    assert late.heard("start.invite.unknown")
    await late.send("/lead")
    assert "邀请码" in late.last_text


async def test_each_role_sees_only_its_commands(join: Joiner, admin: Chat) -> None:
    await admin.send("/help")
    assert "/invite" in admin.last_text and "/lead" in admin.last_text
    leader = await join(600_000_000_010, "市级领导", "市级领导")
    # A leader is asked their level by the admin first; the invite then works.
    assert leader.heard("start.welcome")
    await leader.send("/help")
    assert "/lead" not in leader.last_text and "/invite" not in leader.last_text
    await leader.send("/lead")
    assert leader.heard("core.not_allowed")
    await leader.send("/invite")
    assert leader.heard("core.not_allowed")


async def test_language_follows_choice_then_telegram_code(join: Joiner) -> None:
    officer = await join(600_000_000_020, "驻上海联络处", language_code="en-US")
    assert "You are registered" in officer.last_text
    await officer.send("/lang")
    await officer.press("中文")
    assert "中文" in officer.last_text
    await officer.send("/help")
    assert officer.heard("help.header", locale="zh")  # chosen over the Telegram app's English
    await officer.send("/lang")
    await officer.press("Telegram")
    await officer.send("/help")
    assert "You can use" in officer.last_text


async def test_admin_ids_are_bureau_on_first_contact(chat: ChatFactory, app: App) -> None:
    admin = chat(ADMIN_ID)
    await admin.send("/help")
    assert "/invite" in admin.last_text
    async with app.db.session() as session:
        user = (await session.exec(select(User).where(User.telegram_id == ADMIN_ID))).one()
        assert user.role == "bureau"
