"""Spreadsheets in: a messy file is checked, previewed, imported on confirmation — or not at all."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import col, func, select

from bot.app import App
from models import AuditEntry, Enterprise, ImportBatch, LibraryEntry
from services import imports, library
from services.credit_code import make_credit_code
from services.imports import apply
from tests import deskkit as k
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, zh

CATL_CODE = make_credit_code("91350900587527783")
ENVISION_CODE = make_credit_code("91320281MA1MXY7Q0")
HEADERS = [
    "企业名称*",
    "产业链*",
    "统一社会信用代码",
    "标签",
    "意向投资额（万元）",
    "所在地区",
    "联系人",
    "联系电话",
    "备注",
]


def to_full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in text)


def messy_rows() -> list[list[object]]:
    return [
        [
            "宁德时代新能源科技股份有限公司",
            "新能源",
            to_full_width(CATL_CODE),
            "行业龙头、链主",
            200000,
            "福建宁德",
            "张三",
            13800138000,
            "储能电池",
        ],
        [None, None, None, None, None, None, None, None, None],
        ["比亚迪 股份", "新能源产业链", None, "世界500强", "1.2亿", "广东深圳", None, None, None],
        ["隆基绿能", "新材料", "91350100M000100Y4X", None, None, None, None, None, None],
        ["阳光电源", "未知链", None, None, None, None, None, None, None],
        ["宁德时代", "新能源", None, None, "5亿", None, None, None, None],
        ["金风科技股份有限公司", "新能源", None, "专精特新", "３０００", "新疆乌鲁木齐", "李四", "139 0000 1111", None],
        ["天合光能股份有限公司", "新能源", None, "外资，专精特新", "3000万", None, None, None, None],
        ["通威股份有限公司", "新能源", None, None, "很多", None, None, None, None],
        ["晶科能源股份有限公司", "玉米制种", None, None, None, None, None, None, None],
        ["远景科技集团", "新能源", ENVISION_CODE, None, 50000.5, None, None, None, None],
        ["阳光电源(合肥)", "New energy", None, "leading", None, None, None, None, None],
        ["", "", "", "", "", "", "", "", ""],
        ["中创新航科技股份有限公司", "新能源", None, "独角兽", None, None, None, None, None],
    ]


def spreadsheet(rows: list[list[object]] | None = None, *, title: bool = True, headers: list[str] = HEADERS) -> bytes:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append(["2026年新能源产业链目标企业清单"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws.append(headers)
    for row in messy_rows() if rows is None else rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def serve(app: App, content: bytes) -> list[str]:
    fetched: list[str] = []

    async def fetch(file_id: str) -> bytes:
        fetched.append(file_id)
        return content

    app.fetch_file = fetch
    return fetched


async def existing(app: App) -> None:
    await k.enterprise(app, "比亚迪股份有限公司")
    await k.enterprise(app, "远景能源有限公司", credit_code=ENVISION_CODE)
    await k.enterprise(app, "阳光电源股份有限公司")


async def counts(app: App) -> tuple[int, int, int]:
    async with app.db.session() as session:
        enterprises = (await session.exec(select(func.count()).select_from(Enterprise))).one()
        entries = (await session.exec(select(func.count()).select_from(LibraryEntry))).one()
        audits = (await session.exec(select(func.count()).select_from(AuditEntry))).one()
    return int(enterprises), int(entries), int(audits)


@pytest.fixture
def gxj(chat: ChatFactory) -> Chat:
    return chat(k.GXJ)


async def test_a_messy_spreadsheet_is_previewed_then_imported(gxj: Chat, app: App) -> None:
    await existing(app)
    serve(app, spreadsheet())
    await gxj.send_document("file-1", "新能源目标企业.xlsx")
    text = gxj.last_text
    assert "共 12 行数据" in text and "空行 2 行" in text
    assert "新增企业 3 家，匹配已有企业 3 家，有问题 6 行" in text
    assert "第3行 宁德时代新能源科技股份有限公司 → 新能源 · 20亿元" in text
    assert "第5行 比亚迪 股份 = 比亚迪股份有限公司（名称相同）→ 新能源 · 1.2亿元" in text
    assert "第13行 远景科技集团 = 远景能源有限公司（信用代码相同）→ 新能源 · 5.0001亿元" in text
    assert "第14行 阳光电源(合肥) = 阳光电源股份有限公司（名称相近）→ 新能源" in text
    assert "第9行 金风科技股份有限公司 → 新能源 · 3000万元" in text
    assert "第10行 天合光能股份有限公司 → 新能源 · 3000万元" in text
    assert "第6行 隆基绿能：信用代码“91350100M000100Y4X”无效" in text
    assert "第7行 阳光电源：没有名为“未知链”的产业链" in text
    assert "第8行 宁德时代：与第3行重复" in text
    assert "第11行 通威股份有限公司：意向投资额：没看懂金额“很多”" in text
    assert "第12行 晶科能源股份有限公司：“玉米制种”不是本部门牵头的产业链" in text
    assert "第16行 中创新航科技股份有限公司：不认识的标签“独角兽”" in text
    assert "确认导入以上 6 家企业吗" in text
    assert await counts(app) == (3, 0, 0)

    await gxj.press("确认导入")
    assert "新建企业 3 家，加入目标企业库 6 家" in gxj.last_text
    assert "【新能源】目标企业库现有 6 家，仍少于要求的 10 家" in gxj.last_text
    energy = await k.chain(app, "new_energy")
    assert energy.id is not None
    rows = {r.name: r for r in await library.entries(app.db, energy.id)}
    assert (
        set(rows)
        == {
            "宁德时代新能源科技股份有限公司",
            "比亚迪股份有限公司",
            "金风科技股份有限公司",
            "天合光能股份有限公司",
            "远景能源有限公司",
            "阳光电源股份有限公司",
        }
        | {"阳光电源股份有限公司"}
        or len(rows) == 6
    )
    async with app.db.session() as session:
        catl = (await session.exec(select(Enterprise).where(Enterprise.credit_code == CATL_CODE))).one()
        assert catl.tags == ["leading", "chain_leader"] and catl.contact_phone == "13800138000"
        assert catl.region == "福建宁德" and catl.initials.startswith("ndsd") and catl.chain_id == energy.id
        goldwind = (await session.exec(select(Enterprise).where(Enterprise.name == "金风科技股份有限公司"))).one()
        assert goldwind.contact_phone == "139 0000 1111" and goldwind.tags == ["specialised"]
        trina = (await session.exec(select(Enterprise).where(Enterprise.name == "天合光能股份有限公司"))).one()
        assert trina.tags == ["foreign", "specialised"]
        byd = (await session.exec(select(Enterprise).where(Enterprise.name == "比亚迪股份有限公司"))).one()
        assert byd.tags == ["global500"]
        expected = {e.enterprise_id: e.expected_yuan for e in (await session.exec(select(LibraryEntry))).all()}
        assert expected[catl.id] == 2_000_000_000  # 200000 万元
        assert expected[byd.id] == 120_000_000
        assert expected[goldwind.id] == 30_000_000
        assert sorted(v for v in expected.values() if v) == [
            30_000_000,
            30_000_000,
            120_000_000,
            500_005_000,
            2_000_000_000,
        ]
        [batch] = (await session.exec(select(ImportBatch))).all()
        assert batch.status == "imported"
        audit_rows = (await session.exec(select(AuditEntry).where(AuditEntry.entity == "import"))).all()
        assert [a.action for a in audit_rows] == ["imported"]
    assert len(rows) == 6

    # A second press on the same preview imports nothing twice.
    before = await counts(app)
    await gxj.press_data(gxj.button("确认导入").data)
    assert gxj.heard("desk.import.gone")
    assert await counts(app) == before


async def test_a_failure_mid_import_leaves_the_database_as_it_was(
    gxj: Chat, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await existing(app)
    serve(app, spreadsheet())
    await gxj.send_document("file-1", "新能源目标企业.xlsx")
    before = await counts(app)
    real_libraries = apply._libraries
    calls = 0

    async def failing_libraries(*args: object, **kwargs: object) -> int:
        # Fails after the new enterprises and library entries were written in the transaction.
        nonlocal calls
        calls += 1
        await real_libraries(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    monkeypatch.setattr(apply, "_libraries", failing_libraries)
    await gxj.press("确认导入")
    assert gxj.heard("desk.import.failed") and gxj.heard("desk.import.failed")
    assert calls == 1
    assert await counts(app) == before
    async with app.db.session() as session:
        [batch] = (await session.exec(select(ImportBatch))).all()
        assert batch.status == "pending"
    monkeypatch.setattr(apply, "_libraries", real_libraries)
    await gxj.press("确认导入")
    assert gxj.heard("desk.import.done")
    assert (await counts(app))[1] == 6


async def test_cancel_imports_nothing(gxj: Chat, app: App) -> None:
    serve(app, spreadsheet())
    await gxj.send_document("file-1", "a.xlsx")
    await gxj.press("取消")
    assert gxj.heard("desk.import.cancelled")
    assert await counts(app) == (0, 0, 0)


async def test_many_rejects_come_back_as_a_spreadsheet(gxj: Chat, app: App) -> None:
    bad = [[f"企业{i}号", "不存在的链", None, None, None, None, None, None, None] for i in range(12)]
    serve(app, spreadsheet([*bad, ["宁德时代", "新能源", None, None, None, None, None, None, None]]))
    await gxj.send_document("file-1", "a.xlsx")
    [sent] = gxj.files()
    assert sent.filename == "导入问题行.xlsx"
    ws = load_workbook(io.BytesIO(sent.content)).active
    assert [c.value for c in ws[1]][:3] == ["行号", "企业名称", "产业链"] and ws.cell(1, 11).value == "问题"
    assert ws.cell(2, 1).value == 3 and ws.cell(2, 2).value == "企业0号"
    assert ws.cell(2, 11).value == "没有名为“不存在的链”的产业链"
    assert ws.max_row == 13 and ws.freeze_panes == "A2"
    assert "…另有" in gxj.last_text or "另有" in "\n".join(gxj.last.texts)


async def test_the_bureau_imports_into_any_chain_and_english_headers_work(chat: ChatFactory, app: App) -> None:
    bureau = chat(k.BUREAU, language_code="en")
    serve(
        app,
        spreadsheet(
            [
                [
                    "晶科能源股份有限公司",
                    "Corn seed production",
                    None,
                    "Fortune Global 500",
                    12.5,
                    None,
                    None,
                    None,
                    None,
                ]
            ],
            title=False,
            headers=[
                "Enterprise",
                "Chain",
                "Credit code",
                "Tags",
                "Expected investment (10k yuan)",
                "Region",
                "Contact",
                "Phone",
                "Note",
            ],
        ),
    )
    await bureau.send_document("f", "x.xlsx")
    assert "1 new enterprises" in bureau.last_text and "125 thousand" not in bureau.last_text
    await bureau.press("Import")
    async with app.db.session() as session:
        [entry] = (await session.exec(select(LibraryEntry))).all()
    assert entry.expected_yuan == 125_000


async def test_template_has_columns_notes_and_drop_downs(gxj: Chat, app: App) -> None:
    await gxj.send("/template")
    [sent] = gxj.files()
    wb = load_workbook(io.BytesIO(sent.content))
    assert wb.sheetnames[0] == "目标企业" and "填写说明" in wb.sheetnames
    ws = wb["目标企业"]
    assert [c.value for c in ws[1]] == HEADERS
    assert ws.freeze_panes == "A2"
    formulas = sorted(str(v.formula1) for v in ws.data_validations.dataValidation)
    assert any("$A$1:$A$" in f for f in formulas) and any("$B$1:$B$5" in f for f in formulas)
    notes = wb["填写说明"]
    assert notes.cell(2, 1).value == "企业名称" and notes.cell(2, 2).value == "是"
    assert "万元" in str(notes.cell(6, 3).value)
    lists = wb["选项"]
    assert lists.sheet_state == "hidden" and lists.cell(1, 1).value == "新能源"
    # The template goes back in as it is: an empty file answers that there is nothing to import.
    serve(app, sent.content)
    await gxj.send_document("t", "模板.xlsx")
    assert gxj.heard("desk.import.nothing")


def _ole(extra: bytes = b"") -> bytes:
    return bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 512 + extra


@pytest.mark.parametrize(
    ("content", "answer"),
    [
        (b"%PDF-1.7 not a spreadsheet", "不是 Excel 表格"),
        (b"PK\x03\x04 truncated zip", "不是 Excel 表格"),
        (_ole("EncryptedPackage".encode("utf-16-le")), "设置了打开密码"),
        (_ole(b"Workbook"), "旧版 Excel"),
        (b"", "不是 Excel 表格"),
    ],
)
async def test_bad_files_get_a_clear_answer(gxj: Chat, app: App, content: bytes, answer: str) -> None:
    serve(app, content)
    await gxj.send_document("bad", "bad.xlsx")
    assert answer in gxj.last_text
    assert "出了点问题" not in gxj.last_text


async def test_a_zip_that_is_not_a_workbook(gxj: Chat, app: App) -> None:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    serve(app, buffer.getvalue())
    await gxj.send_document("bad", "bad.xlsx")
    assert gxj.heard("desk.import.bad.not_xlsx")


async def test_too_big_is_refused_before_and_after_download(gxj: Chat, app: App) -> None:
    fetched = serve(app, b"x")
    await gxj.send_document("big", "big.xlsx", size=25 * 1024 * 1024)
    assert gxj.heard("desk.import.bad.too_big") and "20 MB" in gxj.last_text
    assert fetched == []
    serve(app, b"PK" + b"\0" * (20 * 1024 * 1024))
    await gxj.send_document("big", "big.xlsx")
    assert gxj.heard("desk.import.bad.too_big")


async def test_merged_header_cells(gxj: Chat, app: App) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "产业链", None, "意向投资额"])
    ws.append([None, None, None, "万元"])
    ws.merge_cells("B1:C1")
    ws.append(["宁德时代", "新能源", None, 100])
    buffer = io.BytesIO()
    wb.save(buffer)
    serve(app, buffer.getvalue())
    await gxj.send_document("m", "m.xlsx")
    assert "合并单元格（B1:C1）" in gxj.last_text


async def test_missing_columns(gxj: Chat, app: App) -> None:
    serve(app, spreadsheet([["宁德时代", "x"]], headers=["企业名称", "地址"]))
    await gxj.send_document("m", "m.xlsx")
    assert gxj.heard("desk.import.bad.columns", missing="产业链")


async def test_formulas_without_values_are_explained(gxj: Chat, app: App) -> None:
    serve(
        app,
        spreadsheet(
            [
                ["宁德时代", "新能源", None, None, "=1000*2", None, None, None, None],
                ["比亚迪", "新能源", None, None, 500, None, None, None, None],
            ]
        ),
    )
    await gxj.send_document("f", "f.xlsx")
    text = gxj.last_text
    assert "第3行 宁德时代：“意向投资额（万元）”是没有计算结果的公式" in text
    assert "1 个公式单元格" in text
    assert "第4行 比亚迪 → 新能源 · 500万元" in text


async def test_ten_thousand_rows_are_refused_with_the_cap(gxj: Chat, app: App) -> None:
    rows: list[list[object]] = [[f"企业{i}", "新能源", None, None, 100, None, None, None, None] for i in range(10_000)]
    serve(app, spreadsheet(rows))
    await gxj.send_document("big", "big.xlsx")
    assert "超过 2000 行" in gxj.last_text and gxj.heard("desk.import.bad.too_many_rows")
    assert await counts(app) == (0, 0, 0)


async def test_people_who_may_not_import(chat: ChatFactory, app: App) -> None:
    serve(app, spreadsheet())
    county = chat(k.GANZHOU)
    await county.send_document("f", "f.xlsx")
    assert "确认导入" not in county.last_text
    async with app.db.session() as session:
        assert (await session.exec(select(func.count()).select_from(ImportBatch))).one() == 0
    # Someone else's confirmation button does nothing.
    gxj = chat(k.GXJ)
    await gxj.send_document("f", "f.xlsx")
    data = gxj.button("确认导入").data
    bureau = chat(k.BUREAU)
    await bureau.press_data(data)
    assert bureau.heard("desk.import.gone")
    async with app.db.session() as session:
        assert (await session.exec(select(col(ImportBatch.status)))).all() == ["pending"]


async def test_a_preview_left_for_a_day_must_be_checked_again(gxj: Chat, app: App) -> None:
    serve(app, spreadsheet())
    await gxj.send_document("file-1", "a.xlsx")
    async with app.db.session() as session:
        [batch] = (await session.exec(select(ImportBatch))).all()
        batch.created_at = batch.created_at - timedelta(hours=25)
        session.add(batch)
    await gxj.press("确认导入")
    assert "超过24小时" in gxj.last_text and gxj.heard("desk.import.expired")
    assert await counts(app) == (0, 0, 0)


async def test_a_spreadsheet_sent_in_the_middle_of_a_flow_waits(chat: ChatFactory, app: App) -> None:
    """The file is not taken for the step's answer: the person is told to finish or cancel first."""
    fetched = serve(app, spreadsheet())
    bureau = chat(k.BUREAU)
    await bureau.send("/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源")
    await bureau.send_document("file-1", "新能源目标企业.xlsx")
    assert bureau.heard("core.document_in_flow", what="线索") and "/cancel" in bureau.last_text
    assert fetched == []
    await bureau.press("其他")  # the same question's buttons still work: nothing was lost
    assert "宁德时代" in bureau.last_text and "20亿元" in bureau.last_text
    await bureau.press("确认保存")
    await bureau.send_document("file-1", "新能源目标企业.xlsx")
    assert fetched == ["file-1"] and zh("desk.import.confirm") in bureau.labels()

    english = chat(k.GXJ, language_code="en")
    await english.send("/visit")
    await english.send_document("file-2", "targets.xlsx")
    assert "still filling in" in english.last_text and "/cancel" in english.last_text

    # Someone the importer does not serve gets the step's own answer.
    county = chat(k.GANZHOU)
    await county.send("/visit")
    await county.send_document("file-3", "a.xlsx")
    assert county.heard("core.err.want_text")
    assert fetched == ["file-1"]


async def test_an_import_keeps_the_apps_time_and_a_day_old_preview_expires(gxj: Chat, app: App, clock: Clock) -> None:
    serve(app, spreadsheet())
    await gxj.send_document("file-1", "新能源目标企业.xlsx")
    clock.now += imports.HOLD_FOR + timedelta(minutes=1)
    await gxj.press("确认导入")
    assert "已超过24小时" in gxj.last_text
    assert await counts(app) == (0, 0, 0)

    await gxj.send_document("file-1", "新能源目标企业.xlsx")
    await gxj.press("确认导入")
    async with app.db.session() as session:
        entries = (await session.exec(select(LibraryEntry))).all()
        audits = (await session.exec(select(AuditEntry))).all()
        batch = (await session.exec(select(ImportBatch).order_by(col(ImportBatch.id).desc()))).first()
    assert len(entries) == 6 and {e.added_at for e in entries} == {clock.now}
    assert {a.at for a in audits} == {clock.now}
    assert batch is not None and batch.created_at == batch.finished_at == clock.now
