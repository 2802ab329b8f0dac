"""§15 §19: a unit's head contact — named by the bureau in /members, shown with the unit and on
the task force — is who an overdue task and an unanswered element need go to; without one
(or once that person leaves the unit) the whole unit is told, as before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.app import App
from bot.core import Reply
from bot.core.i18n import translate
from bot.scheduler import send_due
from models import AuditEntry
from services import heads, members, projects
from tests.conftest import ADMIN_ID, ChatFactory, Clock, Joiner
from tests.kit import Chat, RecordingTransport
from tests.test_landing_needs import raise_need
from tests.test_project import BUREAU, COUNTY, LEADER, member, register, unit_id

COUNTY_HEAD = 700_000_000_301
LAND_HEAD = 700_000_000_302


def pick(c: Chat, prefix: str) -> str:
    return next(label for label in c.labels() if label.startswith(prefix))


async def members_of(admin: Chat, unit: str) -> None:
    await admin.send("/members")
    if translate("zh", "core.resume.fresh") in admin.labels():
        await admin.press(translate("zh", "core.resume.fresh"))
    await admin.press(pick(admin, unit))


async def make_head(admin: Chat, unit: str, person: str) -> str:
    await members_of(admin, unit)
    await admin.press(pick(admin, person))
    await admin.press(translate("zh", "heads.make"))
    return admin.last_text


async def told(app: App, clock: Clock, transport: RecordingTransport, when: datetime, words: str) -> list[int]:
    """Who hears about ``words`` when the scheduler runs at ``when``."""
    clock.now = when
    mark = len(transport.sent)
    await send_due(app)
    await app.outbox.flush()
    return sorted(cid for cid, r in transport.sent[mark:] if isinstance(r, Reply) and words in r.text)


async def test_an_overdue_task_goes_to_the_head_contact_then_the_leader(
    chat: ChatFactory, admin: Chat, join: Joiner, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await join(COUNTY_HEAD, "甘州区", full_name="孙主任")
    await register(county, stage="洽谈")
    bureau = await member(app.db, BUREAU)
    leader = await member(app.db, LEADER)
    await projects.assign_leader(app.db, member=bureau, project_id=1, leader_user_id=leader.id)

    await members_of(admin, "甘州区")
    assert translate("zh", "heads.none") in admin.last_text
    said = await make_head(admin, "甘州区", "孙主任")
    assert translate("zh", "heads.made", person="孙主任 · 县区/园区") in said
    await members_of(admin, "甘州区")
    assert "单位负责联系人：孙主任" in admin.last_text
    [entry] = [e for e in await audit_of(app, "unit") if e.action == "head_contact"]
    assert entry.entity_id == await unit_id(app, "甘州区") and entry.detail["before"] is None

    await county.send("/taskforce 1")
    assert translate("zh", "heads.card", person="孙主任") in county.last_text
    await county.press("添加任务")
    await county.send("对接电力接入方案")
    await county.press("赵干事")
    await county.send("12-10")
    await county.press("完成")

    at_ten = lambda d: datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC)  # noqa: E731 - 10:00 in Zhangye
    assert await told(app, clock, transport, at_ten(date(2026, 12, 7)), "对接电力接入方案") == [COUNTY]  # the owner
    # Overdue: the head contact only, not everyone in the unit.
    assert await told(app, clock, transport, at_ten(date(2026, 12, 11)), "对接电力接入方案") == [COUNTY_HEAD]
    assert await told(app, clock, transport, at_ten(date(2026, 12, 17)), "对接电力接入方案") == [LEADER]


async def test_without_a_head_contact_the_whole_unit_hears_and_a_move_undoes_it(
    chat: ChatFactory, admin: Chat, join: Joiner, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await join(COUNTY_HEAD, "甘州区", full_name="孙主任")
    await register(county, stage="洽谈")
    await make_head(admin, "甘州区", "孙主任")
    # The head contact moves to another unit: they no longer count for 甘州区.
    head = await members.load_member(app.db, COUNTY_HEAD, admin_ids=frozenset())
    assert head is not None
    await members.move(app.db, actor_id=head.id, user_id=head.id, unit_id=await unit_id(app, "临泽县"), now=clock.now)
    assert await heads.head_of(app.db, await unit_id(app, "甘州区")) is None
    await county.send("/taskforce 1")
    assert "负责联系人" not in county.last_text
    await county.press("添加任务")
    await county.send("落实用地指标")
    await county.press("赵干事")
    await county.send("12-10")
    await county.press("完成")
    when = datetime(2026, 12, 11, 2, 0, tzinfo=UTC)
    assert await told(app, clock, transport, when, "落实用地指标") == [COUNTY]


async def test_an_unanswered_need_reaches_the_departments_head_contact_and_the_bureau(
    chat: ChatFactory, admin: Chat, join: Joiner, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await join(LAND_HEAD, "市自然资源局", full_name="钱局长")
    await register(county, stage="洽谈")
    await raise_need(county, "用地", "200亩", "12-31")
    start = clock.now
    await make_head(admin, "市自然资源局", "钱局长")
    assert await told(app, clock, transport, start + timedelta(days=4), "200亩") == []
    everyone = sorted([BUREAU, ADMIN_ID, LAND_HEAD])  # the bureau's two people and the head contact
    assert await told(app, clock, transport, start + timedelta(days=5), "200亩") == everyone
    assert await told(app, clock, transport, start + timedelta(days=6), "200亩") == []


async def test_only_a_member_of_the_unit_can_be_its_head_contact(app: App, join: Joiner, clock: Clock) -> None:
    head = await join(COUNTY_HEAD, "甘州区", full_name="孙主任")
    person = await members.load_member(app.db, head.user_id, admin_ids=frozenset())
    assert person is not None
    await heads.set_head(app.db, actor_id=person.id, user_id=person.id, now=clock.now)
    try:
        await heads.set_head(app.db, actor_id=person.id, user_id=person.id, now=clock.now)
    except heads.HeadError as error:
        assert error.code == "already"
    else:
        raise AssertionError("named twice")
    await members.deactivate(app.db, actor_id=person.id, user_id=person.id, now=clock.now)
    assert await heads.head_of(app.db, await unit_id(app, "甘州区")) is None


async def audit_of(app: App, entity: str) -> list[AuditEntry]:
    from sqlmodel import select

    async with app.db.session() as session:
        return list((await session.exec(select(AuditEntry).where(AuditEntry.entity == entity))).all())
