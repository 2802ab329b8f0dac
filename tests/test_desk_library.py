"""/library: a chain's target enterprises with their coverage; add, tag, remove with a reason."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from bot.app import App
from models import AuditEntry, Enterprise, LibraryEntry, Stage
from tests import deskkit as k
from tests.conftest import ChatFactory


async def test_chain_lead_sees_coverage_and_the_minimum_warning(chat: ChatFactory, app: App) -> None:
    energy = await k.chain(app, "new_energy")
    assert energy.id is not None
    names = [
        "宁德时代新能源科技股份有限公司",
        "隆基绿能科技股份有限公司",
        "比亚迪股份有限公司",
        "阳光电源股份有限公司",
        "金风科技股份有限公司",
    ]
    made = [await k.enterprise(app, n) for n in names]
    for e in made:
        assert e.id is not None
        await k.library_entry(app, energy.id, e.id)
    catl, longi, byd, sungrow, _goldwind = (int(e.id or 0) for e in made)
    await k.lead(app, catl, k.LIAISON)
    await k.visit(app, longi, k.GANZHOU, on=date(2026, 11, 20))
    await k.lead(app, longi, k.LIAISON)
    await k.project(app, byd, k.ZONE, "比亚迪储能项目", stage=Stage.NEGOTIATION)
    await k.project(app, sungrow, k.ZONE, "阳光电源逆变器项目", stage=Stage.STARTED)

    lead = chat(k.GXJ)
    await lead.send("/library")
    assert "新能源" in lead.labels()[0] or any("新能源" in b for b in lead.labels())
    await lead.press("新能源")
    text = lead.last_text
    assert "5 家" in text
    assert "宁德时代新能源科技股份有限公司 — 已有线索" in text
    assert "隆基绿能科技股份有限公司 — 已拜访" in text
    assert "比亚迪股份有限公司 — 洽谈中" in text
    assert "阳光电源股份有限公司 — 已落地" in text
    assert "金风科技股份有限公司 — 未对接" in text
    assert "不少于 10 家" in text and "还差 5 家" in text


async def test_add_tag_and_remove_with_a_reason(chat: ChatFactory, app: App) -> None:
    await k.enterprise(app, "隆基绿能科技股份有限公司")
    lead = chat(k.GXJ)
    await lead.send("/library")
    await lead.press("新能源")
    await lead.press("添加企业")
    await lead.send("隆基绿能")
    # The lookup of /lead: a near match is offered rather than a duplicate made.
    assert lead.heard("lookup.ask_pick", name="隆基绿能")
    await lead.press("隆基绿能科技股份有限公司")
    assert lead.heard("desk.library.added", name="隆基绿能科技股份有限公司") and "1 家" in lead.last_text
    await lead.press("添加企业")
    await lead.send("宁德时代")
    assert lead.heard("desk.library.added") and "2 家" in lead.last_text
    await lead.press("添加企业")
    await lead.send("宁德时代股份有限公司")
    assert lead.heard("desk.library.already")

    await lead.press("打标签")
    await lead.send("2")
    await lead.press("行业龙头")
    await lead.press("链主")
    assert "✓ 行业龙头" in lead.labels() and "✓ 链主" in lead.labels()
    await lead.press("链主")
    await lead.press("专精特新")
    await lead.press("完成")
    assert "行业龙头、专精特新" in lead.last_text
    assert "宁德时代 [行业龙头、专精特新]" in lead.last_text

    await lead.press("移除")
    await lead.send("9")
    assert "1 到 2" in lead.last_text
    await lead.send("1")
    await lead.send("已在外省落地，不再跟踪")
    assert "移出" in lead.last_text and "1 家" in lead.last_text

    async with app.db.session() as session:
        entries = (await session.exec(select(LibraryEntry).order_by(col(LibraryEntry.id)))).all()
        assert [e.removed_reason for e in entries] == ["已在外省落地，不再跟踪", None]
        catl = (await session.exec(select(Enterprise).where(Enterprise.name == "宁德时代"))).one()
        assert catl.tags == ["leading", "specialised"] and catl.initials == "ndsd"
        actions = [
            a.action for a in (await session.exec(select(AuditEntry).where(AuditEntry.entity == "enterprise"))).all()
        ]
    assert actions.count("library_added") == 2 and "tagged" in actions and "library_removed" in actions

    # Back in the library after removal: the same row, active again.
    await lead.press("添加企业")
    await lead.send("隆基绿能科技股份有限公司")
    assert "2 家" in lead.last_text


async def test_who_may_keep_a_library(chat: ChatFactory, app: App) -> None:
    county = chat(k.GANZHOU)
    await county.send("/library")
    assert "不能使用" in county.last_text or county.heard("desk.export.masked") or "/library" in county.last_text
    bureau = chat(k.BUREAU)
    await bureau.send("/library")
    # The bureau keeps every chain's library.
    assert len(bureau.labels()) >= 10
    agri = chat(k.GXJ)
    await agri.send("/library")
    assert not any("玉米制种" in b for b in agri.labels())


async def test_a_long_library_is_cut_to_fit_a_message(chat: ChatFactory, app: App) -> None:
    energy = await k.chain(app, "new_energy")
    for i in range(70):
        e = await k.enterprise(app, f"测试能源{i:02d}号有限公司")
        await k.library_entry(app, int(energy.id or 0), int(e.id or 0))
    lead = chat(k.GXJ)
    await lead.send("/library")
    await lead.press("新能源")
    text = lead.last_text
    assert "70 家" in text and "另有 10 家" in text and len(text) < 4096
    assert "不少于" not in text
