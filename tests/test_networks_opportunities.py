"""§12 scenario lists: the owner department publishes, a liaison office logs an enterprise's
interest (a lead), the owner is told and sees who is interested."""

from __future__ import annotations

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from models import Interest, Lead, LeadSource
from tests import deskkit as k
from tests.conftest import ChatFactory
from tests.kit import RecordingTransport, zh


async def test_an_opportunity_is_published_pitched_and_its_interest_becomes_a_lead(
    chat: ChatFactory, app: App, transport: RecordingTransport
) -> None:
    owner = chat(k.GXJ)
    await owner.send("/opportunities")
    assert translate("zh", "net.opp.empty") in owner.last_text
    await owner.press("发布机会")
    # 市工信局 owns one scenario of the seed file, and only that one is offered.
    assert owner.labels() == ["工业转型升级"]
    await owner.press("工业转型升级")
    await owner.send("高台县化工园区数字化改造")
    await owner.send("3亿")
    await owner.send("园区已有标准厂房，需具备化工安全生产资质")
    await owner.send("2026-10-01")
    assert translate("zh", "net.opp.err.deadline_past", date="2026-10-01") in owner.last_text
    await owner.send("2027-03-31")
    assert "已发布：#1 高台县化工园区数字化改造。" in owner.last_text

    liaison = chat(k.LIAISON)
    await liaison.send("/opportunities")
    assert "#1 [工业转型升级] 高台县化工园区数字化改造 — 3亿元，截止 2027-03-31，市工信局；有意向企业 0 家" in (
        liaison.last_text
    )
    assert zh("net.opp.publish") not in liaison.labels()
    await liaison.press("#1")
    assert "条件：园区已有标准厂房，需具备化工安全生产资质" in liaison.last_text
    await liaison.press("登记企业意向")
    await liaison.send("北京中科智控科技有限公司")
    await liaison.send("有意承接园区数字化改造，计划明年一季度来张考察")
    assert "已登记：北京中科智控科技有限公司 对“高台县化工园区数字化改造”有意向，已记为线索" in liaison.last_text

    async with app.db.session() as session:
        lead = (await session.exec(select(Lead))).one()
        interest = (await session.exec(select(Interest))).one()
    assert lead.source == LeadSource.SCENARIO and lead.source_detail == "高台县化工园区数字化改造"
    assert lead.unit_id == (await k.user(app, k.LIAISON)).unit_id and interest.lead_id == lead.id

    told = transport.texts_to(k.GXJ)
    assert told and "北京中科智控科技有限公司 对您发布的“高台县化工园区数字化改造”有意向" in told[-1]

    await owner.press("返回")  # still on the opportunity it published
    await owner.press("#1")
    assert "有意向企业 1 家" in owner.last_text
    assert f"北京中科智控科技有限公司 — 市政府驻北京联络处，2026-11-28（线索 #{lead.id}）" in owner.last_text
