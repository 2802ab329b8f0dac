"""§15 全程代办: the bureau keeps the approval kinds in the chat (/approvals) — adds, renames,
retires; a retired kind stays on the checklists that have it and is not put on new ones."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from bot.app import App
from bot.core.i18n import translate
from models import ApprovalKind, AuditEntry
from services import approvals
from services.approvals import ApprovalKindError
from tests.conftest import ChatFactory
from tests.kit import Chat
from tests.test_landing_taskforce import APPROVALS
from tests.test_project import BUREAU, COUNTY, member, register


def zh(key: str, **params: object) -> str:
    return translate("zh", key, **params)


async def add_kind(bureau: Chat, name: str, english: str | None = None) -> None:
    await bureau.press(zh("approvals.add"))
    await bureau.send(name)
    if english is None:
        await bureau.press(zh("approvals.skip_en"))
    else:
        await bureau.send(english)


async def test_the_bureau_adds_renames_and_retires_approval_kinds(chat: ChatFactory, app: App) -> None:
    county, bureau = chat(COUNTY), chat(BUREAU)
    await register(county, stage="洽谈")  # its checklist is made from the seeded list

    await bureau.send("/approvals")
    assert zh("approvals.header", count=6) in bureau.last_text
    assert all(name in bureau.labels() for name in APPROVALS)

    await add_kind(bureau, "水土保持方案审批")
    assert bureau.heard("approvals.added", name="水土保持方案审批")
    assert zh("approvals.header", count=7) in bureau.last_text

    # A name already on the list is refused and asked again; so is an empty one.
    await add_kind(bureau, "环 评", "EIA again")
    assert bureau.heard("approvals.err.duplicate", name="环 评")
    assert zh("approvals.ask.name") in bureau.last_text
    await bureau.send("   ")
    assert zh("core.err.empty") in bureau.last_text
    await bureau.send("取水许可")
    await bureau.send("Water abstraction permit")
    assert "取水许可" in bureau.labels()

    await bureau.press("能评")
    await bureau.press(zh("approvals.rename"))
    await bureau.send("节能审查")
    await bureau.press(zh("approvals.keep_en", name="Energy-use review"))
    assert bureau.heard("approvals.renamed", before="能评", name="节能审查")

    await bureau.press("规划许可")
    await bureau.press(zh("approvals.retire"))
    assert zh("approvals.retired", name="规划许可") in bureau.labels()
    assert zh("approvals.header", count=7) in bureau.last_text
    await bureau.press(zh("project.progress.finish"))

    # A new task force gets the list as it is now.
    await register(county, enterprise="比亚迪", name="电池厂", stage="洽谈")
    await county.send("/taskforce 2")
    text = county.last_text
    assert "· 水土保持方案审批：未启动" in text and "· 取水许可：未启动" in text and "· 节能审查：未启动" in text
    assert "规划许可" not in text
    await county.press(zh("project.progress.finish"))
    # The older one keeps the retired kind, under its code, and shows the new name of the renamed one.
    await county.send("/taskforce 1")
    assert "· 规划许可：未启动" in county.last_text and "· 节能审查：未启动" in county.last_text
    assert "水土保持方案审批" not in county.last_text

    # English readers see the English names.
    await county.press(zh("project.progress.finish"))
    await county.send("/lang")
    await county.press("English")
    await county.send("/taskforce 2")
    assert "Water abstraction permit" in county.last_text and "水土保持方案审批" in county.last_text

    async with app.db.session() as session:
        entries = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.entity == "approval_kind").order_by(col(AuditEntry.id))
            )
        ).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("kind_added", (await member(app.db, BUREAU)).id),
        ("kind_added", (await member(app.db, BUREAU)).id),
        ("kind_renamed", (await member(app.db, BUREAU)).id),
        ("kind_retired", (await member(app.db, BUREAU)).id),
    ]
    assert entries[2].detail["before"] == "能评" and entries[2].detail["after"] == "节能审查"


async def test_a_retired_kind_comes_back_and_only_the_bureau_edits(chat: ChatFactory, app: App) -> None:
    county, bureau = chat(COUNTY), chat(BUREAU)
    await county.send("/approvals")
    assert zh("approvals.header", count=6) not in county.last_text

    await bureau.send("/approvals")
    await bureau.press("环评")
    await bureau.press(zh("approvals.retire"))
    await bureau.press(zh("approvals.retired", name="环评"))
    assert zh("approvals.restore") in bureau.labels() and zh("approvals.retire") not in bureau.labels()
    await bureau.press(zh("approvals.restore"))
    assert bureau.heard("approvals.done.restore", name="环评")
    await bureau.send("环评")  # typed instead of pressed: asked to use the buttons, still at the list
    assert bureau.heard("core.err.use_buttons") and bureau.heard("approvals.ask.which")
    async with app.db.session() as session:
        eia = (await session.exec(select(ApprovalKind).where(ApprovalKind.code == "eia"))).one()
    assert eia.active

    person = await member(app.db, COUNTY)
    for attempt in (
        approvals.add(app.db, member=person, name_zh="某审批", name_en="", now=datetime.now(UTC)),
        approvals.set_active(app.db, member=person, kind_id=int(eia.id or 0), active=False, now=datetime.now(UTC)),
    ):
        try:
            await attempt
        except ApprovalKindError as error:
            assert error.code == "bureau_only"
        else:
            raise AssertionError("a county edited the approval kinds")
