"""Access that can be taken back: the administrator list is the truth at every start, only
administrators invite, and they deactivate people, move them, change their role and revoke
open invitations — audited, effective with the person's next message."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from bot.app import App
from bot.bootstrap import prepare_database
from bot.core.i18n import translate
from models import AuditEntry, Invite, User, Visit
from tests import deskkit as k
from tests.conftest import ADMIN_ID, ChatFactory, Joiner
from tests.kit import Chat


def said(key: str, **params: object) -> str:
    return translate("zh", key, **params)


async def person(app: App, telegram_id: int) -> User:
    async with app.db.session() as session:
        return (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()


async def audited(app: App, action: str) -> list[AuditEntry]:
    async with app.db.session() as session:
        return list((await session.exec(select(AuditEntry).where(AuditEntry.action == action))).all())


async def restart(app: App, admin_ids: frozenset[int]) -> None:
    """Start again with another BOT_ADMIN_IDS: what a deployment does after editing the list."""
    app.settings = app.settings.model_copy(update={"bot_admin_ids": admin_ids})
    db = await prepare_database(app.settings)
    await db.dispose()


async def test_an_id_removed_from_the_list_is_no_longer_an_administrator(
    admin: Chat, chat: ChatFactory, app: App
) -> None:
    await admin.send("/help")
    assert "/invite" in admin.last_text
    # A liaison officer the list also named, for a while.
    officer = chat(k.LIAISON)
    await restart(app, frozenset({ADMIN_ID, k.LIAISON}))
    await officer.send("/help")
    assert "/invite" in officer.last_text and (await person(app, k.LIAISON)).role == "bureau"

    await restart(app, frozenset())
    # Registered by the list alone: gone. Listed for a while: back to what they were.
    assert not (await person(app, ADMIN_ID)).active
    assert (await person(app, k.LIAISON)).role == "liaison"
    assert len(await audited(app, "admin_revoked")) == 2
    await admin.send("/invite")
    assert admin.last_text == said("core.not_registered")
    await officer.send("/help")
    assert "/invite" not in officer.last_text and "/lead" in officer.last_text

    # Named again, the same person is an administrator again.
    await restart(app, frozenset({ADMIN_ID}))
    await admin.send("/invite")
    assert said("invite.ask.unit") in admin.last_text


async def test_only_administrators_invite(admin: Chat, chat: ChatFactory) -> None:
    bureau = chat(k.BUREAU)  # a bureau member, not in BOT_ADMIN_IDS
    await bureau.send("/help")
    assert "/invite" not in bureau.last_text and "/members" not in bureau.last_text and "/review" in bureau.last_text
    for command in ("/invite", "/members", "/invites"):
        await bureau.send(command)
        assert bureau.last_text == said("core.not_allowed", command=command[1:])
    await admin.send("/help")
    assert all(c in admin.last_text for c in ("/invite", "/members", "/invites"))


async def test_a_deactivated_person_loses_access_at_once(admin: Chat, chat: ChatFactory, app: App) -> None:
    county = chat(k.GANZHOU)
    await county.send("/visits")
    assert said("core.not_registered") not in county.last_text
    await admin.send("/members")
    await admin.press("甘州区")
    await admin.press("赵干事")
    await admin.press("停用")
    assert "已停用" in admin.last_text
    await county.send("/visits")
    assert county.last_text == said("core.not_registered")
    [entry] = await audited(app, "deactivated")
    assert entry.actor_id == (await person(app, ADMIN_ID)).id
    assert entry.entity_id == (await person(app, k.GANZHOU)).id


async def test_a_person_moved_to_another_unit_loses_the_old_units_records(
    admin: Chat, chat: ChatFactory, app: App
) -> None:
    catl = await k.enterprise(app, "宁德时代")
    assert catl.id is not None
    visit = await k.visit(app, catl.id, k.GANZHOU, on=date(2026, 11, 20))
    county = chat(k.GANZHOU)
    await county.press_data(f"!vpush:{visit.id}.7")
    assert said("core.expired") not in county.last_text  # theirs, while in 甘州区

    await admin.send("/members")
    await admin.press("甘州区")
    await admin.press("赵干事")
    await admin.press("调到其他单位")
    await admin.press("临泽县")
    assert "临泽县" in admin.last_text
    async with app.db.session() as session:
        before = (await session.get(Visit, visit.id)).follow_up_date  # type: ignore[union-attr]
    await county.press_data(f"!vpush:{visit.id}.7")
    assert said("core.expired") in county.last_text
    async with app.db.session() as session:
        assert (await session.get(Visit, visit.id)).follow_up_date == before  # type: ignore[union-attr]
    [entry] = await audited(app, "moved")
    assert entry.detail["unit_to"] == (await k.unit(app, "linze")).id


async def test_changing_a_role_changes_the_commands(admin: Chat, chat: ChatFactory, app: App) -> None:
    county = chat(k.GANZHOU)
    await admin.send("/members")
    await admin.press("甘州区")
    await admin.press("赵干事")
    await admin.press("更改角色")
    await admin.press(said("role.liaison"))
    await county.send("/help")
    assert "驻外机构" in county.last_text and "/project —" not in county.last_text
    assert [e.detail["role_to"] for e in await audited(app, "role_changed")] == ["liaison"]


async def test_an_open_invitation_can_be_revoked(admin: Chat, chat: ChatFactory, app: App, join: Joiner) -> None:
    await admin.send("/invite")
    await admin.press("甘州区")
    await admin.press(admin.labels()[0])
    code = admin.last_text.split("start=")[1].split()[0]
    await admin.send("/invites")
    assert "甘州区" in admin.last_text
    async with app.db.session() as session:
        [invite] = (await session.exec(select(Invite).where(col(Invite.code) == code))).all()
    await admin.press(f"#{invite.id}")
    assert said("admin.invites.revoked", number=invite.id) in admin.last_text
    newcomer = chat(800_000_000_009)
    await newcomer.send(f"/start {code}")
    assert newcomer.last_text == said("start.invite.revoked")
    await admin.send("/invites")
    assert admin.last_text == said("admin.invites.none")
    assert len(await audited(app, "revoked")) == 1
