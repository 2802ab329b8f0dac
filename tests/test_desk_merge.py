"""/merge leaves no orphan and keeps both names; /history shows who did what, and when."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlmodel import SQLModel, col, func, select

from bot.app import App
from models import AuditEntry, Enterprise, LibraryEntry
from services import audit
from services.credit_code import make_credit_code
from tests import deskkit as k
from tests.conftest import ChatFactory, Clock
from tests.kit import heard, zh

CATL_CODE = make_credit_code("91350900587527783")


async def references_to(app: App, enterprise_id: int) -> dict[str, int]:
    """Every row of every table whose foreign key points at this enterprise (bar merged_into)."""
    found: dict[str, int] = {}
    async with app.db.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                if (table.name, column.name) == ("enterprise", "merged_into"):
                    continue
                if any(fk.column.table.name == "enterprise" for fk in column.foreign_keys):
                    count = (
                        await session.exec(select(func.count()).select_from(table).where(column == enterprise_id))  # type: ignore[call-overload]
                    ).one()
                    found[f"{table.name}.{column.name}"] = int(count)
    return found


async def two_records(app: App) -> tuple[int, int, int]:
    energy, corn = await k.chain(app, "new_energy"), await k.chain(app, "corn_seed")
    full = await k.enterprise(
        app, "宁德时代新能源科技股份有限公司", aliases=["CATL"], contact_name="张三", tags=["leading"]
    )
    short = await k.enterprise(
        app, "宁德时代", credit_code=CATL_CODE, tags=["chain_leader"], contact_phone="13800138000"
    )
    old = await k.enterprise(app, "宁德时代(福建)")
    a, b, c = int(full.id or 0), int(short.id or 0), int(old.id or 0)
    async with app.db.session() as session:
        row = await session.get(Enterprise, c)
        assert row is not None
        row.merged_into = b
        session.add(row)
    for eid in (a, b):
        await k.library_entry(app, int(energy.id or 0), eid)
        await k.lead(app, eid, k.LIAISON)
        await k.visit(app, eid, k.GANZHOU, on=date(2026, 11, 20))
    await k.library_entry(app, int(corn.id or 0), b)
    await k.project(app, b, k.ZONE, "宁德时代储能项目")
    return a, b, c


async def test_merge_moves_everything_and_leaves_no_orphan(chat: ChatFactory, app: App, clock: Clock) -> None:
    a, b, c = await two_records(app)
    before = await references_to(app, a)
    assert before["lead.enterprise_id"] == 1 and before["visit.enterprise_id"] == 1
    assert (await references_to(app, b))["project.enterprise_id"] == 1

    bureau = chat(k.BUREAU)
    await bureau.send("/merge")
    await bureau.send("宁德时代新能源科技股份有限公司")
    await bureau.press(f"#{a} ")
    assert bureau.heard("desk.merge.ask.second")
    await bureau.send(CATL_CODE)
    await bureau.press(f"#{b} ")
    text = bureau.last_text
    full, short = "宁德时代新能源科技股份有限公司", "宁德时代"
    assert heard(text, "desk.merge.record", id=a, name=full, leads=1, visits=1, projects=0, library=1)
    assert heard(text, "desk.merge.record", id=b, name=short, leads=1, visits=1, projects=1, library=2)
    await bureau.press(zh("desk.merge.keep", name=full))
    assert bureau.heard("desk.merge.ask.confirm", gone_id=b, gone=short, keep_id=a, keep=full)
    await bureau.press(zh("desk.merge.do"))
    assert bureau.heard("desk.merge.done", gone=short, keep=full, leads=2, visits=2, projects=1, library=2)

    assert set((await references_to(app, b)).values()) == {0}
    after = await references_to(app, a)
    assert after["lead.enterprise_id"] == 2 and after["visit.enterprise_id"] == 2
    assert after["project.enterprise_id"] == 1 and after["libraryentry.enterprise_id"] == 2
    async with app.db.session() as session:
        survivor = await session.get(Enterprise, a)
        absorbed = await session.get(Enterprise, b)
        older = await session.get(Enterprise, c)
        assert survivor is not None and absorbed is not None and older is not None
        assert absorbed.merged_into == a and older.merged_into == a
        assert survivor.credit_code == CATL_CODE and absorbed.credit_code is None
        assert survivor.aliases == ["CATL", "宁德时代"]
        assert survivor.tags == ["leading", "chain_leader"]
        assert survivor.contact_name == "张三" and survivor.contact_phone == "13800138000"
        entries = (await session.exec(select(LibraryEntry).order_by(col(LibraryEntry.chain_id)))).all()
        assert [(e.enterprise_id, e.removed_at) for e in entries] == [(a, None), (a, None)]
        merges = (
            await session.exec(select(AuditEntry).where(col(AuditEntry.action).in_(["merged", "merged_into"])))
        ).all()
        assert {(m.entity_id, m.action) for m in merges} == {(a, "merged"), (b, "merged_into")}
        assert {m.at for m in merges} == {survivor.updated_at} == {clock.now}, "the app's clock"
        assert all(
            m.detail["survivor"] == "宁德时代新能源科技股份有限公司" and m.detail["absorbed"] == "宁德时代"
            for m in merges
        )

    # The absorbed name still finds the survivor, and only it.
    await bureau.send("/find 宁德时代")
    assert f"企业#{a}" in bureau.last_text and f"企业#{b}" not in bureau.last_text
    await bureau.send(f"/find {CATL_CODE}")
    assert f"企业#{a}" in bureau.last_text


async def test_merge_refuses_the_same_record_and_only_the_bureau_may(chat: ChatFactory, app: App) -> None:
    a, _b, _c = await two_records(app)
    county = chat(k.GANZHOU)
    await county.send("/merge")
    assert not heard(county.last_text, "desk.merge.do") and not county.labels()
    bureau = chat(k.BUREAU)
    await bureau.send("/merge 宁德时代新能源")
    await bureau.press(f"#{a} ")
    await bureau.send("宁德时代新能源科技")
    # The first record is not offered again (and the merged-away one not at all).
    assert bureau.heard("desk.merge.err.none", text="宁德时代新能源科技")
    await bureau.send("宁德时代")
    assert not any(label.startswith(f"#{a} ") for label in bureau.labels())
    assert any(label.endswith(" 宁德时代 " + CATL_CODE) for label in bureau.labels())
    assert not any(heard(label, "desk.template.about.region") for label in bureau.labels())
    await bureau.press(zh("desk.merge.search_again"))
    await bureau.send("完全没有这家")
    assert bureau.heard("desk.merge.err.none", text="完全没有这家")
    await bureau.send("/cancel")


async def test_history_of_records(chat: ChatFactory, app: App) -> None:
    a, b, _c = await two_records(app)
    bureau = chat(k.BUREAU)
    await bureau.send("/merge")
    await bureau.send("宁德时代新能源科技股份有限公司")
    await bureau.press(f"#{a} ")
    await bureau.send(CATL_CODE)
    await bureau.press(f"#{b} ")
    await bureau.press("保留 宁德时代新能源科技股份有限公司")
    await bureau.press("确认合并")

    await bureau.send(f"/history 企业 {a}")
    text = bureau.last_text
    assert f"企业 #{a} 的变更记录" in text
    assert f"王局长（市招商局）：合并：并入了 #{b} 宁德时代" in text
    await bureau.send(f"/history e{b}")
    assert f"合并：#{b} 宁德时代 并入 #{a} 宁德时代新能源科技股份有限公司" in bureau.last_text

    # A lead filed through the bot, then a project transferred (as the field-work flows record it).
    officer = chat(k.LIAISON)
    await officer.send("/lead 比亚迪 新建电池厂 5亿 新能源")
    await officer.press("确认保存")
    lead_id = int(re.search(r"#(\d+)", officer.last_text)[1])  # type: ignore[index]
    await bureau.send(f"/history 线索 {lead_id}")
    assert "李联络（市政府驻北京联络处）：创建" in bureau.last_text and "预计投资额：5亿元" in bureau.last_text

    project = await k.project(app, a, k.GANZHOU, "储能项目")
    ganzhou, zone = await k.unit(app, "ganzhou"), await k.unit(app, "zone")
    director = await k.user(app, k.BUREAU)
    async with app.db.session() as session:
        audit.record(session, actor_id=None, entity="project", entity_id=int(project.id or 0), action="created")
        entry = audit.record(
            session,
            actor_id=director.id,
            entity="project",
            entity_id=int(project.id or 0),
            action="transferred",
            from_unit=ganzhou.id,
            to_unit=zone.id,
            reason="用地不足",
        )
        entry.at = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
        session.add(entry)
    await bureau.send(f"/history p{project.id}")
    text = bureau.last_text
    assert "系统：创建" in text
    assert "2026-11-27 14:30 王局长（市招商局）：流转（" in text and "原因：用地不足" in text
    await bureau.send(f"/history project #{project.id}")
    assert bureau.heard("desk.history.action.transferred")

    await bureau.send("/history")
    assert "/history 项目 12" in bureau.last_text
    await bureau.send("/history 项目 99999")
    assert "没有编号为 99999 的项目" in bureau.last_text
    await bureau.send("/history 东西 3")
    assert "/history 项目 12" in bureau.last_text
    county = chat(k.GANZHOU)
    await county.send(f"/history p{project.id}")
    assert "流转" not in county.last_text


async def test_history_words_the_details(chat: ChatFactory, app: App) -> None:
    """Field names, stages, money, units, chains and dates read as words, in both languages."""
    energy = await k.chain(app, "new_energy")
    catl = await k.enterprise(app, "宁德时代")
    project = await k.project(app, int(catl.id or 0), k.GANZHOU, "储能项目", chain_id=energy.id)
    ganzhou, zone = await k.unit(app, "ganzhou"), await k.unit(app, "zone")
    director = await k.user(app, k.BUREAU)
    pid = int(project.id or 0)
    visit = await k.visit(app, int(catl.id or 0), k.GANZHOU, on=date(2026, 11, 20))
    async with app.db.session() as session:
        for action, detail in (
            ("registered", {"unit_id": ganzhou.id, "planned_yuan": 300_000_000, "stage": "first_talk"}),
            ("stage", {"before": "negotiation", "after": "signed", "reason": None}),
            ("funds", {"before": 0, "after": 120_000_000}),
            ("transferred", {"from_unit_id": ganzhou.id, "to_unit_id": zone.id, "reason": "用地不足"}),
            ("library_added", {"chain_id": energy.id, "odd_field": "x"}),
        ):
            audit.record(session, actor_id=director.id, entity="project", entity_id=pid, action=action, **detail)
        audit.record(
            session,
            actor_id=director.id,
            entity="visit",
            entity_id=int(visit.id or 0),
            action="follow_up_moved",
            before="2026-12-01",
            after="2026-12-08",
        )
    bureau = chat(k.BUREAU)
    await bureau.send(f"/history p{pid}")
    text = bureau.last_text
    assert "登记首谈项目（单位：甘州区，计划投资额：3亿元，阶段：首谈）" in text, text
    assert "推进阶段（阶段：洽谈 → 签约）" in text
    assert "更新到位资金（到位资金：0元 → 1.2亿元）" in text, text
    assert "流转（原单位：甘州区，新单位：" in text and "原因：用地不足" in text
    assert "产业链：新能源" in text and "odd_field：x" in text  # an unknown field stays raw
    assert "signed" not in text and "=" not in text

    english = chat(k.BUREAU, language_code="en")
    await english.send(f"/history p{pid}")
    text = english.last_text
    assert "stage: negotiation → signed" in text.lower(), text
    assert "planned investment: " in text and "reason: 用地不足" in text
    await bureau.send(f"/history v{visit.id}")
    assert "调整跟进日期（跟进日期：2026-12-01 → 2026-12-08）" in bureau.last_text, bureau.last_text
