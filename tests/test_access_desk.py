"""Who sees which leads and enterprises in /find and /export: every role against one set of records.

The rule is services.access's: a unit its own records, a chain lead also its chains' records
(leads of the chain, enterprises of the chain or kept in its library), the bureau everything,
a city leader what is assigned to them.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from bot.app import App
from tests import deskkit as k
from tests.conftest import ChatFactory, Clock

EVERYONE = (k.BUREAU, k.LIAISON, k.GANZHOU, k.ZONE, k.GXJ, k.CZJ, k.SOE, k.LEADER)
NAMES = {
    "catl": "宁德时代新能源科技股份有限公司",
    "byd": "比亚迪股份有限公司",
    "longi": "隆基绿能科技股份有限公司",
    "seeds": "张掖市丰田种业有限公司",
    "fund": "张掖市产业基金有限公司",
    "cofco": "中粮集团有限公司",
}
QUERIES = {
    "catl": "宁德时代",
    "byd": "比亚迪",
    "longi": "隆基",
    "seeds": "丰田种业",
    "fund": "产业基金",
    "cofco": "中粮",
}
SEES_ENTERPRISES = {
    k.BUREAU: set(NAMES),
    k.LIAISON: {"byd"},  # its own lead
    k.GANZHOU: {"catl", "longi"},  # its lead, its visit
    k.ZONE: {"seeds"},  # its project
    k.GXJ: {"catl", "longi"},  # a 新能源 enterprise, one in the 新能源 library
    k.CZJ: {"fund"},  # its project
    k.SOE: {"cofco"},  # its visit
    k.LEADER: {"fund"},  # the project assigned to them
}
SEES_LEADS = {
    k.BUREAU: {"catl", "byd"},
    k.LIAISON: {"byd"},
    k.GANZHOU: {"catl"},
    k.ZONE: set(),
    k.GXJ: {"catl"},  # a lead of its chain filed by another unit
    k.CZJ: set(),
    k.SOE: set(),
    k.LEADER: set(),
}


@pytest.fixture
async def records(app: App, clock: Clock) -> dict[str, int]:
    clock.now = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    at = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    energy = await k.chain(app, "new_energy")
    corn = await k.chain(app, "corn_seed")
    assert energy.id is not None and corn.id is not None
    ids: dict[str, int] = {}
    for key, name in NAMES.items():
        chain_id = {"catl": energy.id, "seeds": corn.id}.get(key)
        ids[key] = int((await k.enterprise(app, name, chain_id=chain_id)).id or 0)
    ids["lead:catl"] = int((await k.lead(app, ids["catl"], k.GANZHOU, chain_id=energy.id, at=at)).id or 0)
    ids["lead:byd"] = int((await k.lead(app, ids["byd"], k.LIAISON, at=at)).id or 0)
    await k.library_entry(app, energy.id, ids["longi"])
    await k.visit(app, ids["longi"], k.GANZHOU, on=at.date())
    await k.visit(app, ids["cofco"], k.SOE, on=at.date())
    await k.project(app, ids["seeds"], k.ZONE, "玉米种子加工项目", chain_id=corn.id)
    leader = await k.user(app, k.LEADER)
    await k.project(app, ids["fund"], k.CZJ, "基金合作项目", leader_user_id=leader.id)
    return ids


@pytest.mark.parametrize("who", EVERYONE)
async def test_find_shows_only_what_the_role_may_see(chat: ChatFactory, records: dict[str, int], who: int) -> None:
    person = chat(who)
    for key, query in QUERIES.items():
        await person.send(f"/find {query}")
        text = person.last_text
        assert (f"企业#{records[key]} " in text) is (key in SEES_ENTERPRISES[who]), (who, key, text)
        lead = records.get(f"lead:{key}")
        if lead is not None:
            assert (f"线索#{lead} " in text) is (key in SEES_LEADS[who]), (who, key, text)


@pytest.mark.parametrize("who", EVERYONE)
async def test_export_shows_only_what_the_role_may_see(chat: ChatFactory, records: dict[str, int], who: int) -> None:
    person = chat(who)

    async def first_column(what: str) -> set[object]:
        await person.send("/export")
        await person.press(what)
        await person.press("本月")
        book = load_workbook(io.BytesIO(person.files()[-1].content))
        return {row[0].value for ws in book.worksheets for row in ws.iter_rows(min_row=2) if row[0].value}

    assert await first_column("目标企业") == {NAMES[key] for key in SEES_ENTERPRISES[who]}
    assert await first_column("线索") == {records[f"lead:{key}"] for key in SEES_LEADS[who]}
