"""§9 directories: entries made in the chat, contacts logged in one message, overdue ones reminded."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from handlers.contacts import send_contact_reminders
from models import AuditEntry, ContactTouch
from tests import deskkit as k
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, RecordingTransport


async def add_notable(county: Chat, *, cadence: str | None = None) -> None:
    await county.send("/contacts")
    await county.press("添加")
    await county.press("乡贤")
    await county.send("陈志远")
    await county.send("深圳，远景能源")
    await county.send("13800138000 微信同号")
    await county.send("甘州籍企业家")
    if cadence is None:
        await county.press("每 90 天")
    else:
        await county.send(cadence)


async def test_an_entry_is_added_listed_and_contacted_in_one_message(chat: ChatFactory, app: App) -> None:
    county = chat(k.GANZHOU)
    await add_notable(county)
    assert "已加入名录：#1 陈志远，每 90 天联络一次。" in county.last_text
    assert "[乡贤] 陈志远 — 深圳，远景能源，13800138000 微信同号；关系：甘州籍企业家" in county.last_text
    assert "2027-02-26 前联络" in county.last_text  # 90 days after 2026-11-28

    await county.send("1 电话沟通，对方下月来考察")
    assert (
        translate("zh", "net.contacts.logged", name="陈志远", note="电话沟通，对方下月来考察", days=90)
        in county.last_text
    )
    await county.send("/contacted 1 微信回复了项目资料")
    assert county.heard("net.contacts.logged", name="陈志远", note="微信回复了项目资料")
    async with app.db.session() as session:
        notes = [t.note for t in (await session.exec(select(ContactTouch))).all()]
        actions = [a.action for a in (await session.exec(select(AuditEntry).where(AuditEntry.entity == "contact")))]
    assert notes == ["电话沟通，对方下月来考察", "微信回复了项目资料"]
    assert actions == ["created", "contacted", "contacted"]


async def test_bad_answers_are_explained_and_the_entry_is_kept(chat: ChatFactory) -> None:
    county = chat(k.GANZHOU)
    await add_notable(county, cadence="3")
    assert translate("zh", "net.contacts.err.cadence", low=7, high=730) in county.last_text
    await county.send("30天")
    assert "已加入名录：#1 陈志远，每 30 天联络一次。" in county.last_text
    await county.send("电话沟通")
    assert translate("zh", "net.contacts.err.log") in county.last_text
    await county.send("7 电话沟通")
    assert translate("zh", "net.contacts.err.number") in county.last_text

    # Another unit's people cannot log against this unit's entry.
    zone = chat(k.ZONE)
    await zone.send("/contacted 1 打过电话")
    assert translate("zh", "net.contacts.err.number") in zone.last_text
    # Chain lead departments keep no directory.
    gxj = chat(k.GXJ)
    await gxj.send("/contacts")
    assert translate("zh", "core.not_allowed", command="contacts") in gxj.last_text


async def test_overdue_entries_are_listed_first_and_reminded_once_a_week(
    chat: ChatFactory, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county = chat(k.GANZHOU)
    await add_notable(county, cadence="30")
    await county.press("添加")
    await county.press("招商顾问")
    for answer in ("刘顾问", "上海", "电话 021-55556666", "聘任的招商顾问"):
        await county.send(answer)
    await county.press("每 60 天")
    await county.press("关闭")

    assert await send_contact_reminders(app, clock.now) == 0
    clock.now += timedelta(days=40)
    await county.send("/contacts")
    text = county.last_text
    assert "已逾期 10 天" in text
    assert text.index("陈志远") < text.index("刘顾问")

    assert await send_contact_reminders(app, clock.now) == 1
    assert await send_contact_reminders(app, clock.now + timedelta(days=1)) == 0  # the same week
    await app.outbox.flush()
    reminder = transport.texts_to(k.GANZHOU)[-1]
    assert "名录中有 1 条已到联络时间" in reminder and "陈志远" in reminder and "刘顾问" not in reminder
    assert transport.texts_to(k.ZONE) == []

    await county.send("/contacted 1 上门拜访")
    clock.now += timedelta(days=7)
    assert await send_contact_reminders(app, clock.now) == 0


async def test_the_directory_shows_what_an_entry_has_brought(chat: ChatFactory, app: App) -> None:
    county = chat(k.GANZHOU)
    await add_notable(county)
    await county.press("关闭")
    ent = await k.enterprise(app, "远景能源有限公司")
    lead = await k.lead(app, int(ent.id or 0), k.GANZHOU, plan="在张掖建风机总装厂")
    await county.send("/source")
    await county.press("线索")
    await county.press(f"#{lead.id} ")
    await county.press("名录联系人")
    await county.press("陈志远")
    assert county.heard("net.source.saved", record="远景能源有限公司 在张掖建风机总装厂", source="陈志远")
    await county.send("/contacts")
    assert "带来线索 1 条、拜访 0 次、项目 0 个" in county.last_text
