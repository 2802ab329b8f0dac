"""Excel out: the export read back with openpyxl, cell by cell — headers, 万元 values and
formats, real dates, frozen header, one sheet per unit, contacts masked but for the bureau."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from sqlmodel import select

from bot.app import App
from models import Enterprise, Stage
from tests import deskkit as k
from tests.conftest import ChatFactory
from tests.kit import Chat
from tests.test_desk_import import CATL_CODE, existing, serve, spreadsheet

NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)


async def export(person: Chat, what: str, period: str = "本月") -> Workbook:
    await person.send("/export")
    await person.press(what)
    await person.press(period)
    sent = person.files()[-1]
    assert sent.filename.endswith(".xlsx")
    return load_workbook(io.BytesIO(sent.content))


def header(ws: object) -> list[object]:
    return [c.value for c in ws[1]]  # type: ignore[index]


async def test_import_then_export_the_library(chat: ChatFactory, app: App) -> None:
    await existing(app)
    serve(app, spreadsheet())
    gxj = chat(k.GXJ)
    await gxj.send_document("file-1", "新能源目标企业.xlsx")
    await gxj.press("确认导入")

    wb = await export(chat(k.BUREAU), "目标企业")
    assert wb.sheetnames == ["目标企业"]
    ws = wb["目标企业"]
    assert header(ws) == [
        "企业名称", "统一社会信用代码", "产业链", "标签", "意向投资额（万元）", "对接情况", "所在地区", "联系人",
        "联系电话", "入库日期",
    ]  # fmt: skip
    assert ws.freeze_panes == "A2"
    rows = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert set(rows) == {
        "宁德时代新能源科技股份有限公司", "比亚迪股份有限公司", "金风科技股份有限公司", "天合光能股份有限公司",
        "远景能源有限公司", "阳光电源股份有限公司",
    }  # fmt: skip
    catl = rows["宁德时代新能源科技股份有限公司"]
    assert [c.value for c in catl[:4]] == ["宁德时代新能源科技股份有限公司", CATL_CODE, "新能源", "行业龙头、链主"]
    assert catl[4].value == 200000 and catl[4].number_format == "#,##0.00"
    assert catl[5].value == "未对接" and catl[6].value == "福建宁德"
    assert catl[7].value == "张三" and catl[8].value == "13800138000"
    assert isinstance(catl[9].value, datetime) and catl[9].number_format == "yyyy-mm-dd"
    assert rows["比亚迪股份有限公司"][4].value == 12000
    assert rows["远景能源有限公司"][4].value == 50000.5
    assert rows["金风科技股份有限公司"][4].value == 3000
    assert rows["阳光电源股份有限公司"][4].value is None
    assert rows["天合光能股份有限公司"][3].value == "外资、专精特新"

    # The chain lead's own copy: the same rows, and the contacts it keeps itself in full.
    ws = (await export(gxj, "目标企业")).active
    rows = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    assert len(rows) == 6
    catl = rows["宁德时代新能源科技股份有限公司"]
    assert catl[7].value == "张三" and catl[8].value == "13800138000"
    assert rows["金风科技股份有限公司"][8].value == "139 0000 1111"
    assert catl[4].value == 200000 and isinstance(catl[9].value, datetime)

    # A liaison office that shares the enterprise sees it, but not the chain lead's own figures
    # or its contacts.
    async with app.db.session() as session:
        found = await session.exec(select(Enterprise.id).where(Enterprise.name == "宁德时代新能源科技股份有限公司"))
        catl_id = int(found.one() or 0)
    await k.lead(app, catl_id, k.LIAISON, at=NOV)
    liaison = chat(k.LIAISON)
    ws = (await export(liaison, "目标企业")).active
    rows = {row[0].value: row for row in ws.iter_rows(min_row=2)}
    catl = rows["宁德时代新能源科技股份有限公司"]
    assert catl[4].value is None and catl[9].value is None
    assert catl[7].value == "张*" and catl[8].value == "138****8000"
    assert "脱敏" in liaison.files()[-1].caption


async def field_work(app: App) -> dict[str, int]:
    energy = await k.chain(app, "new_energy")
    catl = await k.enterprise(app, "宁德时代", contact_name="王经理", contact_phone="13912345678")
    byd = await k.enterprise(app, "比亚迪")
    ids = {"catl": int(catl.id or 0), "byd": int(byd.id or 0)}
    ids["lead_ganzhou"] = int(
        (await k.lead(app, ids["catl"], k.GANZHOU, chain_id=energy.id, amount=2_000_000_000, at=NOV)).id or 0
    )
    ids["lead_liaison"] = int((await k.lead(app, ids["byd"], k.LIAISON, amount=30_000_000, at=NOV)).id or 0)
    await k.lead(app, ids["byd"], k.LIAISON, at=datetime(2026, 10, 5, tzinfo=UTC))  # last month
    await k.visit(app, ids["catl"], k.GANZHOU, on=date(2026, 11, 12))
    await k.visit(app, ids["byd"], k.ZONE, on=date(2026, 11, 13))
    await k.visit(app, ids["byd"], k.ZONE, on=date(2026, 10, 13))
    ids["p_zone"] = int(
        (await k.project(app, ids["byd"], k.ZONE, "比亚迪储能项目", stage=Stage.SIGNED, planned=1_500_000_000,
                         funds=300_000_000, chain_id=energy.id, first_talk=date(2026, 11, 3))).id or 0
    )  # fmt: skip
    ids["p_ganzhou"] = int(
        (await k.project(app, ids["catl"], k.GANZHOU, "宁德时代电池项目", planned=80_000_000,
                         first_talk=date(2026, 11, 20))).id or 0
    )  # fmt: skip
    return ids


async def test_projects_one_sheet_per_unit(chat: ChatFactory, app: App) -> None:
    ids = await field_work(app)
    wb = await export(chat(k.BUREAU), "项目")
    assert wb.sheetnames == ["甘州区", "张掖经开区"]
    ws = wb["张掖经开区"]
    assert header(ws)[:9] == [
        "编号", "项目名称", "企业名称", "产业链", "计划投资额（万元）", "到位资金（万元）", "资金到位率", "阶段",
        "首谈日期",
    ]  # fmt: skip
    row = list(ws[2])
    assert row[0].value == ids["p_zone"] and row[1].value == "比亚迪储能项目" and row[3].value == "新能源"
    assert row[4].value == 150000 and row[4].number_format == "#,##0.00"
    assert row[5].value == 30000 and row[6].value == 0.2 and row[6].number_format == "0.0%"
    assert row[7].value == "签约" and row[8].value == datetime(2026, 11, 3)
    assert ws.freeze_panes == "A2" and ws.max_row == 2
    assert wb["甘州区"]["B2"].value == "宁德时代电池项目"

    # A county exports its own projects only.
    county = await export(chat(k.GANZHOU), "项目")
    assert county.sheetnames == ["甘州区"] and county.active.max_row == 2


async def test_visits_by_unit_and_period(chat: ChatFactory, app: App) -> None:
    await field_work(app)
    wb = await export(chat(k.BUREAU), "拜访")
    assert wb.sheetnames == ["甘州区", "张掖经开区"]
    ws = wb["张掖经开区"]
    assert header(ws)[:3] == ["编号", "拜访日期", "企业名称"]
    assert ws.max_row == 2  # October's visit is outside this month
    assert ws["B2"].value == datetime(2026, 11, 13) and ws["B2"].number_format == "yyyy-mm-dd"
    wb = await export(chat(k.BUREAU), "拜访", "今年")
    assert wb["张掖经开区"].max_row == 3


async def test_leads_scope_masking_and_last_month(chat: ChatFactory, app: App) -> None:
    ids = await field_work(app)
    ws = (await export(chat(k.BUREAU), "线索")).active
    assert header(ws)[:7] == [
        "编号",
        "登记日期",
        "企业名称",
        "统一社会信用代码",
        "产业链",
        "计划内容",
        "预计投资额（万元）",
    ]
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert set(rows) == {ids["lead_ganzhou"], ids["lead_liaison"]}
    lead = rows[ids["lead_ganzhou"]]
    assert lead[1].value == datetime(2026, 11, 10, 11, 0)  # local time
    assert lead[6].value == 200000 and lead[6].number_format == "#,##0.00"
    assert lead[8].value == "甘州区" and lead[10].value == "待审核"
    assert lead[11].value == "王经理" and lead[12].value == "13912345678"

    ws = (await export(chat(k.GANZHOU), "线索")).active
    rows = {r[0].value: r for r in ws.iter_rows(min_row=2)}
    assert set(rows) == {ids["lead_ganzhou"]}
    assert rows[ids["lead_ganzhou"]][11].value == "王**" and rows[ids["lead_ganzhou"]][12].value == "139****5678"

    ws = (await export(chat(k.LIAISON), "线索", "上月")).active
    assert ws.max_row == 2 and ws["C2"].value == "比亚迪"


async def test_monthly_overview(chat: ChatFactory, app: App) -> None:
    await field_work(app)
    ws = (await export(chat(k.BUREAU), "月度概况")).active
    assert header(ws) == [
        "单位", "新增首谈项目", "亿元以上项目", "计划投资额（万元）", "到位资金（万元）", "资金到位率", "新增线索",
        "拜访次数", "滞后项目",
    ]  # fmt: skip
    rows = {r[0].value: [c.value for c in r] for r in ws.iter_rows(min_row=2)}
    assert len(rows) == 7
    assert rows["张掖经开区"] == ["张掖经开区", 1, 1, 150000, 30000, 0.2, 0, 1, 0]
    assert rows["甘州区"] == ["甘州区", 1, 0, 8000, 0, 0, 1, 1, 0]
    assert rows["高台县"] == ["高台县", 0, 0, 0, 0, None, 0, 0, 0]
    county = (await export(chat(k.GANZHOU), "月度概况")).active
    assert [r[0].value for r in county.iter_rows(min_row=2)] == ["甘州区"]


async def test_english_headers_and_custom_period(chat: ChatFactory, app: App) -> None:
    await field_work(app)
    bureau = chat(k.BUREAU, language_code="en")
    await bureau.send("/export")
    await bureau.press("Projects")
    await bureau.press("Custom")
    await bureau.send("sometime")
    assert "could not read" in bureau.last_text
    await bureau.send("2026-11-30 to 2026-11-01")
    assert "after the last" in bureau.last_text
    await bureau.send("2026年11月1日 至 2026年11月10日")
    wb = load_workbook(io.BytesIO(bureau.files()[-1].content))
    assert wb.sheetnames == ["Zhangye Economic Development Zo"]
    ws = wb.active
    assert header(ws)[:5] == ["No.", "Project", "Enterprise", "Chain", "Planned investment (10k yuan)"]
    assert ws["H2"].value == "signed"
