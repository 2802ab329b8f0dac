"""§18 and the landing sections of the digests: units ranked on the core indicators, the
bureau's candidates (never shown to units), approvals past their date, open element needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from models import Enterprise, Lead, LeadStatus, Unit, User
from tests.conftest import ChatFactory, Clock
from tests.kit import heard
from tests.test_project import BUREAU, CHAIN_LEAD, COUNTY, LEADER, ZONE, register


async def effective_leads(app: App, unit_code: str, count: int) -> None:
    async with app.db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.code == unit_code))).one()
        person = (await session.exec(select(User).where(User.telegram_id == 1001))).one()
        enterprise = Enterprise(name="测试企业", normalized_name="测试企业")
        session.add(enterprise)
        await session.flush()
        for day in range(count):
            session.add(
                Lead(
                    enterprise_id=enterprise.id or 0,
                    unit_id=unit.id or 0,
                    submitted_by=person.id or 0,
                    status=LeadStatus.EFFECTIVE,
                    created_at=datetime(2026, 11, 1 + day, 2, 0, tzinfo=UTC),
                )
            )


async def test_the_bureau_sees_rankings_candidates_and_what_waits(chat: ChatFactory, app: App, clock: Clock) -> None:
    county, zone = chat(COUNTY), chat(ZONE)
    await register(county, amount="5亿", stage="洽谈")
    await register(zone, enterprise="比亚迪", name="电池厂", amount="3000万")
    await effective_leads(app, "liaison_beijing", 10)
    await county.send("/taskforce 1")
    await county.press("审批事项")
    await county.press("环评")
    await county.press("办理中")
    await county.send("市生态环境局")
    await county.press("容缺受理")
    await county.send("今天")
    await county.press("完成")
    await county.send("/need 1")
    await county.press("用地")
    await county.send("200亩")
    await county.send("12-31")

    bureau = chat(BUREAU)
    await bureau.send("/digest")
    text = bureau.last_text
    assert "新首谈项目：1. 甘州区 1；1. 张掖经开区 1；3. 临泽县 0" in text
    assert "亿元以上项目：1. 甘州区 1；2. " in text
    assert "有效信息（对目标）：1. 市政府驻北京联络处 10/10；2. " in text
    assert translate("zh", "digest.candidates.header") in text
    assert "通报表扬建议：甘州区（亿元以上项目、新首谈项目第一）；张掖经开区（新首谈项目第一）" in text
    assert "市政府驻北京联络处（有效信息（对目标）第一）" in text
    interview = next(line for line in text.splitlines() if line.startswith("约谈建议"))
    # Behind on their monthly 10 leads for three months: the other offices; Beijing met it in November.
    assert "驻上海联络处" in interview and "驻兰州办事处" in interview and "驻北京联络处" not in interview
    # An approval due today is not overdue yet; the need waits for 市自然资源局.
    assert not heard(text, "digest.approvals.header")
    assert "待答复的要素需求（1）" in text and "用地 200亩 · 市自然资源局 · 待答复" in text
    clock.now += timedelta(days=1)
    await bureau.send("/digest")
    assert (
        "逾期未办结的审批事项（1）：\n#1 储能电池基地项目 · 环评，2026-11-28 到期（市生态环境局）" in bureau.last_text
    )


async def test_candidates_are_for_the_bureau_only(chat: ChatFactory, app: App) -> None:
    await register(chat(COUNTY), amount="5亿")
    leader = chat(LEADER)
    await leader.send("/digest")
    assert leader.heard("digest.rank.header") and "新首谈项目：1. 甘州区 1" in leader.last_text
    assert translate("zh", "digest.candidates.header") not in leader.last_text
    assert "约谈" not in leader.last_text and "通报表扬" not in leader.last_text
    chain_lead = chat(CHAIN_LEAD)
    await chain_lead.send("/digest")
    assert "约谈" not in chain_lead.last_text and not chain_lead.heard("digest.rank.header")
