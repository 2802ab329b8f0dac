"""One enterprise however it is typed: the official name, an alias, never a name of emoji."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from models import Enterprise, Lead, Visit
from services import members, merge
from services.imports import NearIndex
from tests import deskkit as k
from tests.conftest import ChatFactory, Joiner
from tests.kit import Chat

OFFICER = 700_000_000_001


@pytest.fixture
async def officer(join: Joiner) -> Chat:
    return await join(OFFICER, "驻北京联络处")


async def enterprise_names(app: App) -> list[str]:
    async with app.db.session() as session:
        return [e.name for e in (await session.exec(select(Enterprise).order_by(Enterprise.id))).all()]  # type: ignore[arg-type]


async def leads(app: App) -> list[Lead]:
    async with app.db.session() as session:
        return list((await session.exec(select(Lead))).all())


def workbook(*names: str) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["企业名称", "产业链"])
    for name in names:
        ws.append([name, "新能源"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def serve(app: App, content: bytes) -> None:
    async def fetch(_file_id: str) -> bytes:
        return content

    app.fetch_file = fetch


async def test_the_official_name_in_a_spreadsheet_is_the_short_name_in_the_register(
    officer: Chat, chat: ChatFactory, app: App
) -> None:
    await officer.send("/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源")
    await officer.press("确认保存")
    # Names whose pairs make 宁德 and 时代 common, as in a real register.
    for name in ("宁德市港务集团", "宁德城投", "时代中国", "新时代证券", "宁德新能源"):
        await k.enterprise(app, name)

    bureau = chat(k.GXJ)
    serve(app, workbook("宁德时代新能源科技股份有限公司"))
    await bureau.send_document("file-1", "新能源.xlsx")
    assert "匹配已有企业 1 家" in bureau.last_text
    assert "宁德时代新能源科技股份有限公司 = 宁德时代（名称相近）" in bureau.last_text
    await bureau.press("确认导入")
    assert (await enterprise_names(app)).count("宁德时代") == 1
    assert "宁德时代新能源科技股份有限公司" not in await enterprise_names(app)

    # The register now knows the official name: a lead typing it goes to the same record.
    await officer.send("/lead")
    await officer.send("宁德时代新能源科技股份有限公司")
    assert translate("zh", "lookup.found", name="宁德时代") in officer.last_text
    await officer.press("新能源")
    await officer.send("扩建")
    await officer.send("5亿")
    await officer.press("确认保存")
    first, second = await leads(app)
    assert first.enterprise_id == second.enterprise_id


def test_a_name_of_only_new_pairs_still_finds_the_short_name_inside_it() -> None:
    index = NearIndex()
    index.add(1, "宁德时代")
    index.add(2, "宁德港务")
    index.add(3, "时代中国")
    [(key, _name, _score)] = index.near("宁德时代新能源科技股份有限公司", cutoff=90.0)
    assert key == 1


async def test_an_alias_from_a_merge_finds_the_survivor(officer: Chat, app: App) -> None:
    byd = await k.enterprise(app, "比亚迪股份有限公司")
    latin = await k.enterprise(app, "BYD Company Limited")
    bureau = await members.load_member(app.db, k.BUREAU, admin_ids=frozenset())
    assert bureau is not None and byd.id is not None and latin.id is not None
    await merge.merge(app.db, actor=bureau, survivor_id=byd.id, other_id=latin.id)

    await officer.send("/lead BYD 新建电池厂 5亿 新能源")
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.enterprise_id == byd.id
    assert await enterprise_names(app) == ["比亚迪股份有限公司", "BYD Company Limited"]

    await officer.send("/lead")
    await officer.send("byd company")
    assert translate("zh", "lookup.found", name="比亚迪股份有限公司") in officer.last_text


@pytest.mark.parametrize("typed", ["👍", "🎉🎉", "……", "123"])
async def test_a_name_without_letters_is_refused_and_the_question_stays(officer: Chat, app: App, typed: str) -> None:
    await officer.send("/lead")
    await officer.send(typed)
    assert officer.last_text.startswith(translate("zh", "lookup.err.no_letters", name=typed))
    await officer.send("宁德时代")
    assert "产业链" in officer.last_text
    assert await enterprise_names(app) == []


async def test_emoji_names_are_not_one_enterprise(officer: Chat, app: App) -> None:
    await officer.send("/lead 👍 新建电池厂 5亿 新能源")
    # The one-message form keeps what it read and asks for the enterprise instead.
    assert "哪家企业" in officer.last_text
    await officer.send("🎉")
    assert officer.last_text.startswith(translate("zh", "lookup.err.no_letters", name="🎉"))
    assert await enterprise_names(app) == []


async def test_who_went_must_name_someone(chat: ChatFactory, app: App) -> None:
    c = chat(k.GANZHOU)
    await c.send("/visit")
    await c.send("宁德时代")
    await c.send("企业会议室")
    await c.send("事后补录")
    await c.send("谈了储能基地")
    await c.send("再联系")
    await c.press("改人员")
    await c.send("👍👍")
    assert c.last_text.startswith(translate("zh", "visit.err.who_no_letters", text="👍👍"))
    await c.send("赵干事")
    assert "请核对" in c.last_text and "赵干事" in c.last_text
    async with app.db.session() as session:
        assert (await session.exec(select(Visit))).all() == []


def test_the_import_refuses_a_row_named_with_emoji() -> None:
    from services.imports import REQUIRED, header_words, read, rows_of

    checked = rows_of(read(workbook("👍", "宁德时代"), header_words(), REQUIRED), [], set())
    emoji = next(r for r in checked.rows if r.name == "👍")
    assert ("desk.import.reason.name_no_letters", {"name": "👍"}) in emoji.reasons
