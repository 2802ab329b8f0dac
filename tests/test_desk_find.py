"""/find: pinyin, initials, aliases, credit codes and near names find what a person means —
and nothing outside what they may see."""

from __future__ import annotations

import pytest

from bot.app import App
from models import Enterprise, Stage
from services import name_index
from services.credit_code import make_credit_code
from services.names import normalize_name
from tests import deskkit as k
from tests.conftest import ChatFactory

CATL_CODE = make_credit_code("91350900587527783")


@pytest.fixture
async def records(app: App) -> dict[str, int]:
    energy = await k.chain(app, "new_energy")
    corn = await k.chain(app, "corn_seed")
    catl = await k.enterprise(app, "宁德时代新能源科技股份有限公司", credit_code=CATL_CODE, aliases=["CATL"])
    byd = await k.enterprise(app, "比亚迪股份有限公司", aliases=["BYD Company Limited"])
    longi = await k.enterprise(app, "隆基绿能科技股份有限公司", chain_id=energy.id)
    seeds = await k.enterprise(app, "张掖市丰田种业有限公司", chain_id=corn.id)
    ids = {"catl": int(catl.id or 0), "byd": int(byd.id or 0), "longi": int(longi.id or 0), "seeds": int(seeds.id or 0)}
    ids["catl_lead"] = int(
        (await k.lead(app, ids["catl"], k.GANZHOU, chain_id=energy.id, amount=2_000_000_000)).id or 0
    )
    ids["longi_lead"] = int((await k.lead(app, ids["longi"], k.LIAISON, chain_id=energy.id)).id or 0)
    ids["byd_project"] = int(
        (await k.project(app, ids["byd"], k.ZONE, "比亚迪储能电池项目", stage=Stage.NEGOTIATION, chain_id=energy.id)).id
        or 0
    )
    ids["seed_project"] = int(
        (await k.project(app, ids["seeds"], k.ZONE, "玉米种子加工项目", chain_id=corn.id)).id or 0
    )
    return ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ndsd", "宁德时代新能源科技股份有限公司"),
        ("NDSD", "宁德时代新能源科技股份有限公司"),
        ("ningde", "宁德时代新能源科技股份有限公司"),
        ("ningdeshidai", "宁德时代新能源科技股份有限公司"),
        ("CATL", "宁德时代新能源科技股份有限公司"),
        ("catl", "宁德时代新能源科技股份有限公司"),
        ("宁德时代", "宁德时代新能源科技股份有限公司"),
        ("宁德时代新能原科技", "宁德时代新能源科技股份有限公司"),  # a wrong character
        ("ＣＡＴＬ", "宁德时代新能源科技股份有限公司"),
        (CATL_CODE.lower(), "宁德时代新能源科技股份有限公司"),
        ("byd", "比亚迪股份有限公司"),
        ("BYD Company", "比亚迪股份有限公司"),
        ("比亚迪 股份", "比亚迪股份有限公司"),
        ("lj", "隆基绿能科技股份有限公司"),
        ("longji", "隆基绿能科技股份有限公司"),
        ("隆基绿能股份公司", "隆基绿能科技股份有限公司"),
        # Two characters: the start, the middle and the end of a name.
        ("宁德", "宁德时代新能源科技股份有限公司"),
        ("绿能", "隆基绿能科技股份有限公司"),
        ("种业", "张掖市丰田种业有限公司"),
    ],
)
async def test_the_bureau_finds_what_a_person_means(
    chat: ChatFactory, records: dict[str, int], query: str, expected: str
) -> None:
    bureau = chat(k.BUREAU)
    await bureau.send(f"/find {query}")
    first = bureau.last_text.splitlines()[3]
    assert expected in first, bureau.last_text


async def test_leads_and_projects_are_found_too(chat: ChatFactory, records: dict[str, int]) -> None:
    bureau = chat(k.BUREAU)
    await bureau.send("/find 比亚迪")
    text = bureau.last_text
    assert f"项目#{records['byd_project']} 比亚迪储能电池项目（比亚迪股份有限公司）· 洽谈" in text
    await bureau.send("/find ndsd")
    assert f"线索#{records['catl_lead']} 宁德时代新能源科技股份有限公司 · 20亿元" in bureau.last_text
    await bureau.send("/find 种子加工")
    assert "玉米种子加工项目" in bureau.last_text


async def test_outside_a_persons_scope_only_the_registers_name(chat: ChatFactory, records: dict[str, int]) -> None:
    """Another unit's enterprise answers by its name alone; its records stay theirs."""
    county = chat(k.GANZHOU)  # has the CATL lead only
    await county.send("/find ndsd")
    assert "宁德时代" in county.last_text and f"线索#{records['catl_lead']}" in county.last_text
    assert county.heard("desk.find.enterprises", count=1) and not county.heard("desk.find.register")
    byd, longi, seeds = "比亚迪股份有限公司", "隆基绿能科技股份有限公司", "张掖市丰田种业有限公司"
    for other, name in (("比亚迪", byd), ("byd", byd), ("隆基", longi), ("lj", longi), ("丰田种业", seeds)):
        await county.send(f"/find {other}")
        assert county.heard("desk.find.register", count=1), (other, county.last_text)
        assert county.heard("desk.find.register_entry", name=name, code=""), (other, county.last_text)
        assert not county.heard("desk.find.enterprises") and "#" not in county.last_text, (other, county.last_text)
        assert "BYD Company" not in county.last_text
    await county.send("/find 种子加工")  # a project's name, not an enterprise's: nothing of it
    assert county.heard("desk.find.none")

    zone = chat(k.ZONE)  # has both projects
    await zone.send("/find byd")
    assert "比亚迪储能电池项目" in zone.last_text and zone.heard("desk.find.enterprise")
    await zone.send("/find ndsd")
    assert zone.heard("desk.find.register_entry", name="宁德时代新能源科技股份有限公司", code=f" · {CATL_CODE}")
    assert f"线索#{records['catl_lead']}" not in zone.last_text and "CATL" not in zone.last_text

    liaison = chat(k.LIAISON)  # its own lead on 隆基
    await liaison.send("/find 隆基")
    assert f"线索#{records['longi_lead']}" in liaison.last_text
    await liaison.send("/find 比亚迪")
    assert liaison.heard("desk.find.register", count=1) and "比亚迪储能电池项目" not in liaison.last_text

    chain_lead = chat(k.GXJ)  # new energy, not corn seed
    await chain_lead.send("/find 隆基")
    assert "隆基绿能" in chain_lead.last_text and f"线索#{records['longi_lead']}" in chain_lead.last_text
    await chain_lead.send("/find 比亚迪")
    assert "比亚迪储能电池项目" in chain_lead.last_text
    await chain_lead.send("/find 丰田种业")
    assert chain_lead.heard("desk.find.register", count=1) and "玉米种子加工项目" not in chain_lead.last_text
    await chain_lead.send("/find 种子加工")
    assert chain_lead.heard("desk.find.none")

    leader = chat(k.LEADER)
    await leader.send("/find 比亚迪")
    assert leader.heard("desk.find.register", count=1) and "比亚迪储能电池项目" not in leader.last_text


def found_names(text: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("企业#")]


async def test_two_characters_find_every_name_holding_them_shortest_first(
    chat: ChatFactory, app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two characters make no trigram: they are found at a name's start, middle or end, or in an
    alias, each enterprise once, the closest in length first and own names before aliases."""
    await k.enterprise(app, "张掖市绿能新材料股份有限公司")
    shortest = await k.enterprise(app, "绿能科技有限公司")
    await k.enterprise(app, "甘肃绿能有限公司")
    await k.enterprise(app, "酒泉风电有限公司", aliases=["酒泉绿能"])
    await k.enterprise(app, "绿能绿能环保有限公司")
    await k.enterprise(app, "张掖能绿科技有限公司")  # the two the other way round
    await k.enterprise(app, "绿色能源有限公司")  # both, apart
    bureau = chat(k.BUREAU)
    await bureau.send("/find 绿能")
    assert found_names(bureau.last_text) == [
        "绿能科技有限公司",
        "甘肃绿能有限公司",
        "绿能绿能环保有限公司",
        "张掖市绿能新材料股份有限公司",
        "酒泉风电有限公司 · 酒泉绿能",
    ], bureau.last_text

    # More names than a search hands over: the shortest are the ones handed over.
    monkeypatch.setattr(name_index, "POOL", 2)
    await bureau.send("/find 绿能")
    assert found_names(bureau.last_text) == ["绿能科技有限公司", "甘肃绿能有限公司"], bureau.last_text

    # Renamed, the shortest answers to its new name's characters only, and leaves its place.
    async with app.db.session() as session:
        renamed = await session.get(Enterprise, shortest.id)
        assert renamed is not None
        renamed.name = "新材科技有限公司"
        renamed.normalized_name = normalize_name(renamed.name)
        session.add(renamed)
    await bureau.send("/find 绿能")
    assert found_names(bureau.last_text) == ["甘肃绿能有限公司", "酒泉风电有限公司 · 酒泉绿能"], bureau.last_text
    await bureau.send("/find 新材")
    assert found_names(bureau.last_text) == ["新材科技有限公司", "张掖市绿能新材料股份有限公司"], bureau.last_text


async def test_usage_and_bad_queries(chat: ChatFactory, records: dict[str, int]) -> None:
    bureau = chat(k.BUREAU)
    await bureau.send("/find")
    assert "/find ndsd" in bureau.last_text
    await bureau.send("/find " + "宁" * 100)
    assert bureau.heard("core.err.too_long")
    await bureau.send("/find 100%_!")
    assert bureau.heard("desk.find.none")
    await bureau.send("/find zzzz")
    assert bureau.heard("desk.find.none")
