"""Capture: forwarded and pasted messages become leads; a signing list becomes several."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from bot.app import App
from bot.core import Kind
from bot.core.i18n import translate
from models import Enterprise, Lead
from services import settings
from tests.conftest import Joiner
from tests.kit import Chat

OFFICER = 700_000_000_101
COUNTY = 700_000_000_102

NEWS = "3月10日，甘肃祁丰新材料有限公司与高台县签订年产5万吨负极材料项目协议，总投资18亿元。"
NAMELESS = "1月5日，甘州区2万吨高原夏菜净菜加工项目开工，总投资1.6亿元，目前正在招引运营企业。"
DOLLARS = "德国克朗斯机械有限公司拟在张掖投资1.29亿美元建设智能包装设备生产基地，预计明年投产。"
SIGNING_LIST = """张掖市兰洽会签约项目清单
1. 甘肃祁丰新材料有限公司 年产5万吨负极材料项目 18亿元
2. 北京中科云图数据科技有限公司 智算中心 26亿元
3. 高台县高原夏菜冷链项目 1.6亿元"""


def heard(key: str, **params: object) -> str:
    return translate("zh", key, **params)


@pytest.fixture
async def officer(join: Joiner) -> Chat:
    return await join(OFFICER, "驻北京联络处")


async def leads(app: App) -> list[Lead]:
    async with app.db.session() as session:
        return list((await session.exec(select(Lead).order_by(Lead.id))).all())  # type: ignore[arg-type]


async def name_of(app: App, lead: Lead) -> str:
    async with app.db.session() as session:
        enterprise = await session.get(Enterprise, lead.enterprise_id)
    assert enterprise is not None
    return enterprise.name


async def test_a_forwarded_news_item_becomes_a_prefilled_lead_that_keeps_it(officer: Chat, app: App) -> None:
    await officer.forward(NEWS, "王五")
    assert heard("lead.capture.offer", origin=heard("lead.origin.forwarded", name="王五")) in officer.last_text
    await officer.press(heard("lead.capture.one"))
    summary = officer.last_text
    assert "甘肃祁丰新材料有限公司" in summary and "18亿元" in summary and "新材料" in summary
    assert heard("lead.summary.origin", origin=heard("lead.origin.forwarded", name="王五")) in summary
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert await name_of(app, lead) == "甘肃祁丰新材料有限公司"
    assert lead.amount_yuan == 1_800_000_000 and lead.currency == "CNY" and not lead.amount_approximate
    assert lead.original_text == NEWS and lead.origin == "forwarded:王五"


async def test_a_long_pasted_text_is_offered_and_a_short_one_is_not(officer: Chat, app: App) -> None:
    await officer.send("你好")
    assert officer.last_text == heard("core.idle")
    await officer.send("今天下午三点开会，请各位准时参加，会议地点在三楼会议室，谢谢大家的配合与支持。")
    assert officer.last_text == heard("core.idle")
    await officer.send(NEWS)
    assert heard("lead.capture.one") in officer.labels()
    await officer.press(heard("lead.capture.no"))
    assert heard("lead.capture.dropped") in officer.last_text
    assert await leads(app) == []
    await officer.send("你好")
    assert officer.last_text == heard("core.idle")


async def test_a_text_that_names_no_investor_asks_instead_of_guessing(officer: Chat, app: App) -> None:
    await officer.send(NAMELESS)
    await officer.press(heard("lead.capture.one"))
    assert heard("lead.capture.no_investor") in officer.last_text
    assert heard("lead.ask.enterprise") in officer.last_text
    await officer.send("张掖绿洲蔬菜有限公司")
    summary = officer.last_text
    assert "张掖绿洲蔬菜有限公司" in summary and "1.6亿元" in summary and "高原夏菜" in summary
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.original_text == NAMELESS and lead.origin == "pasted"


async def test_dollars_are_kept_as_dollars_and_shown_in_yuan_at_the_bureaus_rate(officer: Chat, app: App) -> None:
    await settings.put(app.db, "exchange_rates", {"USD": 7.0})
    await officer.send(DOLLARS)
    await officer.press(heard("lead.capture.one"))
    amount = heard("lead.amount.foreign", stated="1.29亿美元", yuan="9.03亿元")
    assert amount in officer.last_text
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert (lead.currency, lead.amount_original, lead.amount_yuan) == ("USD", 129_000_000, 903_000_000)


async def test_a_typed_amount_replaces_the_stated_one_entirely(officer: Chat, app: App) -> None:
    await officer.send("/lead 湖北楚能新能源股份有限公司 拟建储能电池项目 投资过亿元")
    assert heard("lead.amount.approximate", amount="1亿元") in officer.last_text
    await officer.press("改金额")
    await officer.send("1.5亿")
    assert (
        "1.5亿元" in officer.last_text and heard("lead.amount.approximate", amount="1.5亿元") not in officer.last_text
    )
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.amount_yuan == 150_000_000 and not lead.amount_approximate and lead.currency == "CNY"


async def test_an_approximate_amount_is_saved_as_approximate(officer: Chat, app: App) -> None:
    await officer.send("/lead 河北君乐宝乳业集团 将在山丹县建设万头牧场 投资超亿元")
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.amount_yuan == 100_000_000 and lead.amount_approximate


async def test_the_register_knows_an_alias_better_than_a_guess(officer: Chat, app: App) -> None:
    async with app.db.session() as session:
        session.add(
            Enterprise(name="宁德时代新能源科技股份有限公司", normalized_name="宁德时代新能源科技", aliases=["CATL"])
        )
    await officer.send("据悉，CATL计划在西北建设储能电池基地，投资20亿元，目前双方正在洽谈中，选址初定张掖经开区。")
    await officer.press(heard("lead.capture.one"))
    assert heard("lookup.found", name="宁德时代新能源科技股份有限公司") in officer.last_text
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert await name_of(app, lead) == "宁德时代新能源科技股份有限公司"


async def test_a_signing_list_becomes_several_leads_saved_together(officer: Chat, app: App) -> None:
    await officer.send(SIGNING_LIST)
    assert heard("lead.capture.offer_list", origin=heard("lead.origin.pasted"), count=3) in officer.last_text
    await officer.press(heard("lead.capture.many", count=3))
    summary = officer.last_text
    assert heard("lead.batch.header", count=3, source=heard("source.liaison")) in summary
    row = heard("lead.batch.row", number=1, enterprise="甘肃祁丰新材料有限公司", chain="新材料", amount="18亿元")
    assert row in summary
    nameless = heard(
        "lead.batch.row", number=3, enterprise=heard("lead.batch.no_enterprise"), chain="高原夏菜", amount="1.6亿元"
    )
    assert nameless in summary
    await officer.press(heard("lead.batch.save", count=3))
    assert heard("lead.batch.err.missing", number=3) in officer.last_text
    assert await leads(app) == []
    await officer.press(heard("lead.batch.name", number=3))
    await officer.send("张掖绿洲蔬菜有限公司")
    assert heard("lead.batch.row", number=3, enterprise="张掖绿洲蔬菜有限公司", chain="高原夏菜", amount="1.6亿元") in (
        officer.last_text
    )
    await officer.press(heard("lead.batch.drop", number=2))
    assert heard("lead.batch.header", count=2, source=heard("source.liaison")) in officer.last_text
    await officer.press(heard("lead.batch.save", count=2))
    saved = await leads(app)
    assert heard("lead.batch.saved", count=2, numbers=", ".join(f"#{lead.id}" for lead in saved)) in officer.last_text
    assert [await name_of(app, lead) for lead in saved] == ["甘肃祁丰新材料有限公司", "张掖绿洲蔬菜有限公司"]
    assert [lead.amount_yuan for lead in saved] == [1_800_000_000, 160_000_000]
    assert all(lead.original_text == SIGNING_LIST and lead.source == "liaison" for lead in saved)


async def test_a_list_from_someone_without_a_source_asks_it_once(join: Joiner, app: App) -> None:
    county = await join(COUNTY, "高台县")
    await county.send(
        "临泽县与北京华能清洁能源有限公司签约风光储项目，投资95亿元；高台县与中化农业科技有限公司签约制种基地，投资3亿元"
    )
    await county.press(heard("lead.capture.many", count=2))
    assert heard("lead.ask.source") in county.last_text
    await county.press(heard("source.expo_lanzhou"))
    assert heard("lead.batch.header", count=2, source=heard("source.expo_lanzhou")) in county.last_text
    await county.press(heard("lead.batch.save", count=2))
    saved = await leads(app)
    assert [(await name_of(app, lead), lead.amount_yuan, lead.source) for lead in saved] == [
        ("北京华能清洁能源有限公司", 9_500_000_000, "expo_lanzhou"),
        ("中化农业科技有限公司", 300_000_000, "expo_lanzhou"),
    ]


async def test_a_list_can_still_be_one_lead(officer: Chat, app: App) -> None:
    await officer.send(SIGNING_LIST)
    await officer.press(heard("lead.capture.one_of_all"))
    await officer.press("确认保存")
    assert len(await leads(app)) == 1


async def test_another_message_instead_of_an_answer_replaces_the_offer(officer: Chat, app: App) -> None:
    await officer.send(NAMELESS)
    await officer.forward(NEWS, "")
    assert heard("lead.capture.offer", origin=heard("lead.origin.forwarded_unnamed")) in officer.last_text
    await officer.press(heard("lead.capture.one"))
    assert "甘肃祁丰新材料有限公司" in officer.last_text
    await officer.send("/cancel")
    await officer.send(NAMELESS)
    await officer.send("好的")
    assert officer.last_text == heard("core.idle")


async def test_the_export_shows_the_stated_amount_and_the_message(officer: Chat, admin: Chat, app: App) -> None:
    await settings.put(app.db, "exchange_rates", {"USD": 7.0})
    await officer.forward(DOLLARS, "王五")
    await officer.press(heard("lead.capture.one"))
    await officer.press("确认保存")
    await admin.send("/export")
    await admin.press("线索")
    await admin.press("本月")
    ws = load_workbook(io.BytesIO(admin.files()[-1].content)).active
    assert ws is not None
    head = [c.value for c in ws[1]]
    [row] = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    by_column = dict(zip(head, row, strict=True))
    assert by_column[heard("desk.col.amount")] == 90300  # 万元
    assert by_column[heard("desk.col.amount_stated")] == "1.29亿美元"
    assert by_column[heard("desk.col.origin")] == heard("lead.origin.forwarded", name="王五")
    assert by_column[heard("desk.col.original_text")] == DOLLARS


async def test_a_list_typed_after_lead_is_offered_as_several(officer: Chat, app: App) -> None:
    await officer.send("/lead " + SIGNING_LIST)
    assert heard("lead.capture.many", count=3) in officer.labels()
    await officer.press(heard("lead.capture.many", count=3))
    await officer.press(heard("lead.batch.drop", number=3))
    await officer.press(heard("lead.batch.save", count=2))
    assert len(await leads(app)) == 2


async def test_in_a_group_a_long_message_is_not_offered(officer: Chat, app: App) -> None:
    group = Chat(officer.router, OFFICER)
    message = group._incoming(Kind.TEXT, text=NEWS)
    await group.deliver(replace(message, chat_id=-100_555))
    assert group.last_text == heard("core.idle") and group.labels() == []


async def test_the_bureau_sets_a_rate_and_later_leads_use_it(officer: Chat, admin: Chat, app: App) -> None:
    await admin.send("/rates")
    assert heard("lead.rates.item", currency="USD", rate="7.1") in admin.last_text
    await admin.send("/rates usd abc")
    assert heard("lead.rates.err", currency="usd", rate="abc") in admin.last_text
    await admin.send("/rates usd 7.2")
    assert heard("lead.rates.saved", currency="USD", rate="7.2") in admin.last_text
    await officer.send("/rates USD 1")
    assert heard("core.not_allowed", command="rates") in officer.last_text
    await officer.send(DOLLARS)
    await officer.press(heard("lead.capture.one"))
    await officer.press("确认保存")
    [lead] = await leads(app)
    assert lead.amount_yuan == 928_800_000
