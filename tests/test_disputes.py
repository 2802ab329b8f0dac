"""First-talk disputes: the bureau rules from the notice or /disputes, with a reason; both units hear it."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.app import App
from models import Dispute, Project, Unit
from services import projects, settings
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, RecordingTransport
from tests.test_project import register

BUREAU, COUNTY, ZONE = 1001, 1003, 1004


async def disputed(chat: ChatFactory) -> tuple[Chat, Chat]:
    """甘州区 registers a project; 张掖经开区 says it had the first talk."""
    county, zone = chat(COUNTY), chat(ZONE)
    await register(county)
    await zone.send("/project 宁德时代 储能电池基地")
    await zone.press("提交市招商局裁定")
    await zone.send("我区10月已与企业董事长首谈")
    return county, zone


async def only_dispute(app: App) -> Dispute:
    async with app.db.session() as session:
        [dispute] = (await session.exec(select(Dispute))).all()
        return dispute


async def unit_of(app: App, name: str) -> int:
    async with app.db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.name_zh == name))).one()
        assert unit.id is not None
        return unit.id


async def test_the_bureau_rules_from_the_notice_and_both_units_hear(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    await disputed(chat)
    notice = [i for cid, i in transport.sent if cid == BUREAU and "首谈争议" in getattr(i, "text", "")][-1]
    bureau = chat(BUREAU)
    await bureau.press("改归提出单位", keyboard=notice.keyboard)  # type: ignore[attr-defined]
    assert bureau.heard("dispute.ask.reason")
    await bureau.send("   ")
    assert bureau.heard("core.err.empty")
    await bureau.send("经开区提供了10月的会谈纪要")
    assert "已裁定争议 #1" in bureau.last_text

    dispute = await only_dispute(app)
    assert dispute.status == "upheld" and dispute.resolution == "经开区提供了10月的会谈纪要"
    assert dispute.resolved_by is not None and dispute.resolved_at is not None
    async with app.db.session() as session:
        project = (await session.exec(select(Project))).one()
    zone_id = await unit_of(app, "张掖经开区")
    assert project.first_talk_unit_id == project.executing_unit_id == zone_id
    for unit_chat in (COUNTY, ZONE):
        told = [t for t in transport.texts_to(unit_chat) if "已裁定首谈争议" in t]
        assert told and "会谈纪要" in told[0] and "张掖经开区" in told[0]
    assert "dispute_ruled" in [e.action for e in await projects.history(app.db, 1)]
    await bureau.send("/projects 1")
    assert "裁定首谈争议 #1" in bureau.last_text and "会谈纪要" in bureau.last_text


async def test_disputes_lists_what_is_open_and_a_ruling_is_made_once(chat: ChatFactory, app: App) -> None:
    county, _zone = await disputed(chat)
    await county.send("/disputes")
    assert county.heard("core.not_allowed")
    bureau = chat(BUREAU)
    await bureau.send("/disputes")
    assert "待裁定的首谈争议 1 件" in bureau.last_text and "张掖经开区" in bureau.last_text
    await bureau.press("裁定 #1")
    listing = bureau.keyboard
    await bureau.press("维持首报单位")
    await bureau.send("甘州区登记在先且有会谈记录")
    dispute = await only_dispute(app)
    assert dispute.status == "dismissed"
    async with app.db.session() as session:
        project = (await session.exec(select(Project))).one()
    assert project.first_talk_unit_id == await unit_of(app, "甘州区")
    await bureau.send("/disputes")
    assert bureau.heard("dispute.list.empty")
    await bureau.press("是两个不同项目", keyboard=listing)
    assert bureau.heard("dispute.err.closed")
    assert (await only_dispute(app)).status == "dismissed"


async def test_two_projects_ruled_let_the_claimant_register_its_own(chat: ChatFactory, app: App) -> None:
    _county, zone = await disputed(chat)
    bureau = chat(BUREAU)
    await bureau.send("/disputes")
    await bureau.press("裁定 #1")
    await bureau.press("是两个不同项目")
    await bureau.send("经开区谈的是二号工厂")
    assert (await only_dispute(app)).status == "separate"
    await zone.send("/project 宁德时代 储能电池基地 5亿 新能源")
    assert zone.heard("project.summary")
    await zone.press("确认登记")
    async with app.db.session() as session:
        rows = (await session.exec(select(Project).order_by(col(Project.id)))).all()
    assert [p.first_talk_unit_id for p in rows] == [await unit_of(app, "甘州区"), await unit_of(app, "张掖经开区")]


async def test_disputes_left_open_show_in_the_bureaus_digest(chat: ChatFactory, app: App, clock: Clock) -> None:
    await disputed(chat)
    bureau = chat(BUREAU)
    await bureau.send("/digest")
    assert not bureau.heard("digest.bureau.stale_disputes")
    clock.now += timedelta(days=8)
    await bureau.send("/digest")
    assert "超过7天未裁定的首谈争议 1 件" in bureau.last_text and "争议 #1" in bureau.last_text
    await settings.put(app.db, "dispute_stale_after_days", 10)
    await bureau.send("/digest")
    assert not bureau.heard("digest.bureau.stale_disputes")
