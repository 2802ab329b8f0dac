"""The networks in the bureau's /digest and in /export (§9–§13)."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook

from bot.app import App
from bot.core.i18n import translate
from models import EnterpriseTag, FundMode, OriginKind, Stage
from services import capital, contacts, expos, members, origins
from tests import deskkit as k
from tests.conftest import ChatFactory, Clock
from tests.kit import heard


async def networks_of_a_year(app: App, clock: Clock) -> None:
    """A Global 500 project with foreign capital signed at the Lanzhou fair, a fund-backed one
    that has not started, and a county directory entry overdue for contact."""
    zone = await members.load_member(app.db, k.ZONE, admin_ids=frozenset())
    county = await members.load_member(app.db, k.GANZHOU, admin_ids=frozenset())
    assert zone is not None and county is not None
    walmart = await k.enterprise(app, "沃尔玛（中国）投资有限公司")
    farm = await k.enterprise(app, "乙农业科技有限公司")
    p1 = await k.project(
        app, int(walmart.id or 0), k.ZONE, "冷链配送中心", stage=Stage.STARTED, planned=400_000_000, funds=100_000_000
    )
    p2 = await k.project(app, int(farm.id or 0), k.ZONE, "智慧温室项目", stage=Stage.SIGNED, planned=200_000_000)
    await capital.set_foreign(
        app.db, member=zone, project_id=int(p1.id or 0), usd=50_000_000, rate_e4=71_000,
        tags={EnterpriseTag.FOREIGN, EnterpriseTag.GLOBAL500},
    )  # fmt: skip
    await capital.set_fund(
        app.db, member=zone, project_id=int(p2.id or 0), mode=FundMode.DIRECT, fund_name="张掖市产业发展基金",
        fund_yuan=60_000_000,
    )  # fmt: skip
    fair = next(e for e in await expos.listing(app.db) if e.code == "lanzhou_fair_32")
    for project in (p1, p2):
        await origins.tag(
            app.db, member=zone, record=OriginKind.PROJECT, record_id=int(project.id or 0), expo_id=fair.id
        )
    await contacts.add(
        app.db, member=county, kind="notable", name="陈志远", place="深圳", reach="13800138000", relation="乡贤",
        cadence_days=30, now=clock.now - timedelta(days=45),
    )  # fmt: skip


async def test_the_bureau_digest_counts_foreign_investment_funds_and_events(
    chat: ChatFactory, app: App, clock: Clock
) -> None:
    await networks_of_a_year(app, clock)
    bureau = chat(k.BUREAU)
    await bureau.send("/digest")
    text = bureau.last_text
    assert "引进外资项目 1 个，外资 50,000,000美元（折合 3.55亿元）；世界500强项目 1 个" in text
    assert "产业基金投资项目 1 个，基金投资 6000万元" in text
    assert "第三十二届兰洽会张掖推介会：" in text
    assert "签约清单 2 个项目：已开工 1 个（50%），已投产 0 个（0%）；资金到位 1亿元 / 计划 6亿元（17%）" in text
    assert heard(text, "net.events.laggard", name="智慧温室项目", enterprise="乙农业科技有限公司", stage="签约")
    assert "名录逾期未联络 1 条" in text


async def test_the_networks_export(chat: ChatFactory, app: App, clock: Clock) -> None:
    await networks_of_a_year(app, clock)
    bureau = chat(k.BUREAU)
    await bureau.send("/export")
    await bureau.press("节会·名录·场景·基金外资")
    await bureau.press("本月")
    sent = bureau.files()[-1]
    assert sent.filename.startswith("以商招商网络_")
    book = load_workbook(io.BytesIO(sent.content))
    assert book.sheetnames == ["节会履约", "签约清单", "名录", "场景机会", "企业意向", "基金与外资"]
    events = {row[0]: row for row in book["节会履约"].iter_rows(min_row=2, values_only=True)}
    fair = events["第三十二届兰洽会张掖推介会"]
    assert fair[6:9] == (2, 1, 0.5) and fair[-1] == 1
    signing = [row[2] for row in book["签约清单"].iter_rows(min_row=2, values_only=True)]
    assert signing == ["冷链配送中心", "智慧温室项目"]
    directory = list(book["名录"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3], r[10]) for r in directory] == [("甘州区", "陈志远", 15)]
    capital_rows = {r[1]: r for r in book["基金与外资"].iter_rows(min_row=2, values_only=True)}
    assert capital_rows["冷链配送中心"][8:13] == (50_000_000, "7.1000", 35_500.0, "是", "是")
    assert capital_rows["智慧温室项目"][5:8] == ("基金+项目直投", "张掖市产业发展基金", 6000.0)

    # A county sees its own directory and no other unit's projects.
    county = chat(k.GANZHOU)
    await county.send("/export")
    await county.press("节会·名录·场景·基金外资")
    await county.press("本月")
    book = load_workbook(io.BytesIO(county.files()[-1].content))
    assert [r[3] for r in book["名录"].iter_rows(min_row=2, values_only=True)] == ["陈志远"]
    assert list(book["签约清单"].iter_rows(min_row=2, values_only=True)) == []
    assert list(book["基金与外资"].iter_rows(min_row=2, values_only=True)) == []


async def test_history_words_the_networks_changes(chat: ChatFactory, app: App, clock: Clock) -> None:
    await networks_of_a_year(app, clock)
    bureau = chat(k.BUREAU)
    await bureau.send("/history 名录 1")
    assert "名录联系人 #1 的变更记录" in bureau.last_text and "联络周期（天）：30" in bureau.last_text
    await bureau.send("/history 项目 1")
    text = bureau.last_text
    assert "标明外资（外资（美元）：50000000，汇率：7.1000，折合：3.55亿元）" in text
    assert heard(text, "desk.history.action.origin_set") and "{" not in text
    await bureau.send("/history 节会 1")
    assert translate("zh", "desk.history.empty", what="节会", id=1) in bureau.last_text


async def test_find_reaches_directory_entries_within_the_unit_and_events(
    chat: ChatFactory, app: App, clock: Clock
) -> None:
    await networks_of_a_year(app, clock)
    county = chat(k.GANZHOU)
    await county.send("/find 陈志远")
    assert "名录联系人（1）：" in county.last_text and "#1 陈志远 — 深圳；乡贤" in county.last_text
    zone = chat(k.ZONE)
    await zone.send("/find 陈志远")
    assert translate("zh", "desk.find.none", text="陈志远") in zone.last_text
    await zone.send("/find 兰洽会")
    assert "节会（1）：" in zone.last_text and "第三十二届兰洽会张掖推介会" in zone.last_text
