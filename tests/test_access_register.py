"""One enterprise register for the city, shared by name (``services.access``).

An officer of 甘州区 learns of the zone's enterprise exactly its name (and credit code) — in the
"did you mean" of /lead, in /find — and nothing of its chain, tags, contacts, aliases, visits
or projects; /export holds only what their own records reach. Picking the suggestion files the
lead on the same record, so the register keeps one enterprise once.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.app import App
from models import Enterprise, Lead, Stage
from services.credit_code import make_credit_code
from tests import deskkit as k
from tests.conftest import ChatFactory
from tests.kit import Chat, zh

BYD = "比亚迪股份有限公司"
BYD_CODE = make_credit_code("91440300192317458")
# What the zone knows of it and 甘州区 must not read anywhere.
THEIRS = ("BYD Company", "王经理", "13912345678", "比亚迪储能电池项目", "储能合作洽谈", "138****")


@pytest.fixture
async def zones_enterprise(app: App) -> int:
    energy = await k.chain(app, "new_energy")
    byd = await k.enterprise(
        app,
        BYD,
        credit_code=BYD_CODE,
        chain_id=energy.id,
        aliases=["BYD Company Limited"],
        contact_name="王经理",
        contact_phone="13912345678",
        tags=["leading"],
    )
    byd_id = int(byd.id or 0)
    await k.project(app, byd_id, k.ZONE, "比亚迪储能电池项目", stage=Stage.NEGOTIATION, chain_id=energy.id)
    await k.visit(app, byd_id, k.ZONE, on=date.today(), outcome="储能合作洽谈")
    await k.lead(app, byd_id, k.ZONE, chain_id=energy.id, amount=500_000_000)
    return byd_id


def leaks(text: str) -> list[str]:
    return [secret for secret in THEIRS if secret in text]


async def export(person: Chat, what: str) -> list[list[object]]:
    await person.send("/export")
    await person.press(zh(f"desk.export.what.{what}"))
    await person.press("今年")
    workbook = load_workbook(io.BytesIO(person.files()[-1].content))
    return [list(row) for ws in workbook.worksheets for row in ws.iter_rows(values_only=True)]


def mentions(rows: list[list[object]], text: str) -> bool:
    return any(isinstance(cell, str) and text in cell for row in rows for cell in row)


async def test_a_suggestion_names_another_units_enterprise_and_nothing_more(
    chat: ChatFactory, app: App, zones_enterprise: int
) -> None:
    county = chat(k.GANZHOU)
    await county.send("/lead")
    await county.send("比亚迪股分")  # a typo: no exact name, a near one
    assert county.heard("lookup.ask_pick", name="比亚迪股分")
    assert BYD in county.labels() and not leaks(county.last_text) and BYD_CODE not in county.last_text
    await county.press(BYD)
    assert county.heard("lead.ask.chain") and not leaks(county.last_text)
    await county.press("新能源")
    await county.send("拟在张掖建设电池回收基地")
    await county.send("3亿")
    if county.heard("lead.ask.source"):  # a county's lead says where it came from
        await county.press(county.labels()[0])
    assert BYD in county.last_text and not leaks(county.last_text)
    await county.press("确认保存")
    async with app.db.session() as session:
        named = (await session.exec(select(Enterprise).where(col(Enterprise.name).contains("比亚迪")))).all()
        [lead] = (await session.exec(select(Lead).where(Lead.plan == "拟在张掖建设电池回收基地"))).all()
    # The register still holds it once, and the county's lead is on that record.
    assert [e.id for e in named] == [zones_enterprise] and lead.enterprise_id == zones_enterprise


async def test_find_shows_the_registers_name_alone(chat: ChatFactory, zones_enterprise: int) -> None:
    county = chat(k.GANZHOU)
    for query in ("比亚迪", "byd", BYD_CODE):
        await county.send(f"/find {query}")
        assert county.heard("desk.find.register", count=1), query
        assert county.heard("desk.find.register_entry", name=BYD, code=f" · {BYD_CODE}"), query
        assert not county.heard("desk.find.enterprises") and not county.heard("desk.find.projects"), query
        assert not county.heard("desk.find.leads") and not leaks(county.last_text), query
        assert f"#{zones_enterprise}" not in county.last_text

    zone = chat(k.ZONE)  # its own: the whole record and its records
    await zone.send("/find 比亚迪")
    assert zone.heard("desk.find.enterprise", id=zones_enterprise, name=BYD)
    assert "比亚迪储能电池项目" in zone.last_text and not zone.heard("desk.find.register")


async def test_export_holds_only_what_ones_records_reach(chat: ChatFactory, app: App, zones_enterprise: int) -> None:
    county = chat(k.GANZHOU)
    for what in ("enterprises", "leads", "visits", "projects"):
        rows = await export(county, what)
        assert not mentions(rows, "比亚迪") and not mentions(rows, BYD_CODE), what

    bureau = chat(k.BUREAU)
    assert mentions(await export(bureau, "enterprises"), BYD)
    assert mentions(await export(bureau, "projects"), "比亚迪储能电池项目")

    # Once the county has a lead of its own on it, the enterprise is in its export; the
    # zone's visit and project on it still are not.
    await k.lead(app, zones_enterprise, k.GANZHOU)
    assert mentions(await export(county, "enterprises"), BYD)
    assert not mentions(await export(county, "visits"), "比亚迪")
    assert not mentions(await export(county, "projects"), "比亚迪")
