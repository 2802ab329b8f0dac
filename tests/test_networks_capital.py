"""§11 fund backing and §13 foreign capital on a project, recorded in the chat."""

from __future__ import annotations

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from models import AuditEntry, Enterprise, Project
from tests import deskkit as k
from tests.conftest import ChatFactory


async def test_a_project_is_marked_fund_backed(chat: ChatFactory, app: App) -> None:
    ent = await k.enterprise(app, "甲新能源有限公司")
    project = await k.project(app, int(ent.id or 0), k.ZONE, "储能电站项目", planned=800_000_000)
    zone = chat(k.ZONE)
    await zone.send("/capital")
    await zone.press("储能电站项目")
    await zone.press("产业基金跟投")
    await zone.send("张掖市产业发展基金")
    await zone.send("还没定")
    assert zone.heard("money.err.unreadable")
    await zone.send("1.5亿")
    assert "已登记：“储能电站项目”产业基金跟投，张掖市产业发展基金 投资 1.5亿元。" in zone.last_text
    async with app.db.session() as session:
        saved = await session.get(Project, project.id)
        assert saved is not None
        assert (saved.fund_mode, saved.fund_name, saved.fund_yuan) == ("follow", "张掖市产业发展基金", 150_000_000)
        audit = (await session.exec(select(AuditEntry).where(AuditEntry.action == "fund_set"))).one()
    assert audit.entity_id == project.id and audit.detail["fund_yuan"] == 150_000_000


async def test_foreign_capital_keeps_dollars_and_the_rate_and_tags_the_enterprise(chat: ChatFactory, app: App) -> None:
    ent = await k.enterprise(app, "丁国际食品有限公司")
    project = await k.project(app, int(ent.id or 0), k.GANZHOU, "冷链物流项目")
    county = chat(k.GANZHOU)
    await county.send("/capital")
    await county.send(f"#{project.id}")
    await county.press("引进外资")
    await county.send("2000万美元")
    await county.send("71")
    assert translate("zh", "net.capital.err.rate", text="71") in county.last_text
    await county.send("7.1234")
    await county.press("世界500强")
    assert "引进外资 20,000,000美元，按汇率 7.1234 折合 1.4247亿元" in county.last_text
    async with app.db.session() as session:
        saved = await session.get(Project, project.id)
        enterprise = await session.get(Enterprise, ent.id)
    assert saved is not None and enterprise is not None
    assert (saved.foreign_usd, saved.usd_rate_e4) == (20_000_000, 71_234)
    assert set(enterprise.tags) == {"foreign", "global500"}

    # Another unit's project is not offered, nor found by its number.
    zone = chat(k.ZONE)
    await zone.send("/capital")
    assert translate("zh", "net.capital.no_projects") in zone.last_text
