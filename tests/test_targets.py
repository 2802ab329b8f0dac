"""/quota, /review, /targets, /schedule and /digest, talked through the neutral core."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import col, select

from bot.app import App
from bot.core import FileReply
from models import AuditEntry, Enterprise, Lead, Target, Unit, User
from tests.conftest import ChatFactory
from tests.fixtures_year import build_year, local
from tests.kit import RecordingTransport, heard


async def add_leads(app: App, unit_code: str, submitter_tg: int, statuses: list[str], day: date) -> list[int]:
    async with app.db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.code == unit_code))).one()
        user = (await session.exec(select(User).where(User.telegram_id == submitter_tg))).one()
        ent = Enterprise(name="宁德时代", normalized_name="宁德时代")
        session.add(ent)
        await session.flush()
        leads = [
            Lead(
                enterprise_id=ent.id or 0,
                unit_id=unit.id or 0,
                submitted_by=user.id or 0,
                status=status,
                plan=f"计划{i}",
                amount_yuan=500_000_000,
                source="liaison",
                created_at=local(day),
            )
            for i, status in enumerate(statuses)
        ]
        session.add_all(leads)
        await session.flush()
        return [lead.id or 0 for lead in leads]


async def test_quota_shows_pacing_for_a_liaison_office(app: App, chat: ChatFactory, clock: object) -> None:
    # 20 November: 4 effective leads of 10; the pace wants 10 × 20/30 ≈ 6.7, so 2.7 behind.
    await add_leads(app, "liaison_beijing", 1002, ["effective"] * 4 + ["pending", "rejected"], date(2026, 11, 5))
    app.clock = lambda: datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    liaison = chat(1002)
    await liaison.send("/quota")
    assert "有效线索" in liaison.last_text
    assert "第 20 天：4 / 10，此时应完成 6.7，落后 2.7" in liaison.last_text
    english = chat(1002, language_code="en")
    await english.send("/quota")
    assert "day 20: 4 of 10; 6.7 due by now, 2.7 behind pace" in english.last_text


async def test_a_yearly_target_of_one_with_nothing_done_is_behind(app: App, chat: ChatFactory) -> None:
    """Rounded down, 1 × 332/365 was 0 expected: "on pace" until 31 December, and never in the bureau's list."""
    county = chat(1003)
    await county.send("/quota")
    assert "重大项目" in county.last_text
    assert "第 332 天：0 / 1，此时应完成 0.9，落后 0.9" in county.last_text
    assert not county.heard("quota.pace.on")
    bureau = chat(1001)
    await bureau.send("/digest")
    assert "甘州区：" in bureau.last_text and "（此时应完成 0.9）" in bureau.last_text


async def test_quota_of_a_chain_lead_and_the_zone(app: App, chat: ChatFactory) -> None:
    app.clock = lambda: datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    lead = chat(1005)
    await lead.send("/quota")
    text = lead.last_text
    # 市工信局 leads the four "1+3" chains: library and chain-leader targets for each, and §4.
    assert text.count("目标企业库") == 4 and text.count("链主企业落地") == 4
    assert "1000万元以上项目" in text
    zone = chat(1004)
    await zone.send("/quota")
    assert "1亿元以上项目" in zone.last_text and "重大项目" in zone.last_text
    bureau = chat(1001)
    await bureau.send("/quota")
    assert bureau.heard("quota.none")


async def test_review_queue_marks_leads_and_tells_the_submitter(
    app: App, chat: ChatFactory, transport: RecordingTransport
) -> None:
    ids = await add_leads(app, "liaison_beijing", 1002, ["pending", "pending", "pending"], date(2026, 11, 5))
    bureau = chat(1001)
    await bureau.send("/review")
    assert f"线索 #{ids[0]}（待审核 3 条）" in bureau.last_text and "宁德时代" in bureau.last_text
    await bureau.press("有效")
    assert f"已认定 #{ids[0]} 为有效线索" in bureau.last_text
    assert f"线索 #{ids[1]}" in bureau.last_text
    await bureau.press("跳过")
    assert f"线索 #{ids[2]}" in bureau.last_text
    await bureau.press("无效")
    assert "原因" in bureau.last_text
    await bureau.send("")  # an empty answer is asked again
    assert "原因" in bureau.last_text
    await bureau.send("与已有线索重复")
    assert f"已认定 #{ids[2]} 为无效线索" in bureau.last_text
    assert bureau.heard("review.finished")

    async with app.db.session() as session:
        leads = {lead.id: lead for lead in (await session.exec(select(Lead))).all()}
        audit = (await session.exec(select(AuditEntry).where(AuditEntry.entity == "lead"))).all()
    assert [leads[i].status for i in ids] == ["effective", "pending", "rejected"]
    assert leads[ids[2]].review_reason == "与已有线索重复"
    assert {(a.entity_id, a.action) for a in audit} == {(ids[0], "reviewed_effective"), (ids[2], "reviewed_rejected")}
    told = transport.texts_to(1002)
    assert any(f"#{ids[0]}" in t and heard(t, "review.notify.effective") for t in told)
    assert any(f"#{ids[2]}" in t and "与已有线索重复" in t for t in told)
    # The skipped lead is still waiting: the next review starts with it.
    await bureau.send("/review")
    assert f"线索 #{ids[1]}（待审核 1 条）" in bureau.last_text
    await bureau.press("结束审核")
    assert "剩余 1 条" in bureau.last_text


async def test_review_is_for_the_bureau_only(app: App, chat: ChatFactory) -> None:
    liaison = chat(1002)
    await liaison.send("/review")
    assert "/review" in liaison.last_text and "线索 #" not in liaison.last_text


async def test_targets_are_edited_with_an_audit_entry(app: App, chat: ChatFactory) -> None:
    bureau = chat(1001)
    await bureau.send("/targets")
    await bureau.press("有效线索")
    assert "目标值：10" in bureau.last_text
    await bureau.press("改目标值")
    await bureau.send("十二")
    assert "整数" in bureau.last_text
    await bureau.send("12")
    assert "目标值 12" in bureau.last_text
    await bureau.press("返回列表")
    await bureau.press("重大项目")
    await bureau.press("改金额门槛")
    await bureau.send("很多")
    assert bureau.heard("money.err.unreadable", text="很多") and "{text}" not in bureau.last_text
    await bureau.send("2亿")
    assert "金额门槛 2亿元" in bureau.last_text
    await bureau.press("返回列表")
    await bureau.press("完成")
    async with app.db.session() as session:
        leads_target = (await session.exec(select(Target).where(Target.metric == "effective_leads"))).one()
        majors = (
            await session.exec(select(Target).where(Target.metric == "major_project").order_by(col(Target.id)))
        ).all()
        audit = (await session.exec(select(AuditEntry).where(AuditEntry.entity == "target"))).all()
    assert leads_target.value == 12
    assert majors[0].threshold_yuan == 200_000_000
    # Stamped by the app's clock, as every change made in the chat is.
    assert {a.at for a in audit} == {app.now()} and leads_target.updated_at == app.now()
    assert [a.detail["after"] for a in audit] == [
        {"value": 12, "threshold_yuan": None},
        {"value": 1, "threshold_yuan": 200_000_000},
    ]
    # The liaison office's quota follows the new number.
    app.clock = lambda: datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    liaison = chat(1002)
    await liaison.send("/quota")
    assert "0 / 12" in liaison.last_text


async def test_schedule_command_shows_and_changes_times(app: App, chat: ChatFactory) -> None:
    bureau = chat(1001)
    await bureau.send("/schedule")
    assert "mon 08:30" in bureau.last_text and "周一至周五" in bureau.last_text
    await bureau.send("/schedule chain_digest fri 16:00")
    assert "fri 16:00" in bureau.last_text
    await bureau.send("/schedule chain_digest someday")
    assert bureau.heard("schedule.err.value")
    await bureau.send("/schedule leader_summary_dates 7-1 12-25")
    assert bureau.heard("schedule.err.value")  # two summaries in one half-year
    await bureau.send("/schedule leader_summary_dates 6-28 12-25")
    assert "06-28 12-25" in bureau.last_text
    county = chat(1003)
    await county.send("/schedule")
    assert "fri 16:00" not in county.last_text


async def test_digest_on_demand_for_each_role(app: App, chat: ChatFactory) -> None:
    await build_year(app.db)
    app.clock = lambda: datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    lead = chat(1005)
    await lead.send("/digest")
    assert "新能源" in lead.last_text and "目标企业库" in lead.last_text
    # The library's coverage and the projects by stage.
    assert [(f.filename, f.photo, f.content[:4]) for f in lead.files()] == [
        ("coverage.png", True, b"\x89PNG"),
        ("stages.png", True, b"\x89PNG"),
    ]
    liaison = chat(1002)
    await liaison.send("/digest")
    assert liaison.heard("digest.liaison.effective")
    bureau = chat(1001)
    await bureau.send("/digest")
    assert "甘州区" in bureau.last_text and "首谈争议" in bureau.last_text
    leader = chat(1008, language_code="en")
    await leader.send("/digest")
    assert "Projects assigned to you" in leader.last_text
    assert [f.filename for f in bureau.files()] == ["funds.png", "major.png", "leads.png"]
    # A county has no weekly digest: its digest is the monthly note of its yearly targets.
    county = chat(1003)
    await county.send("/digest")
    assert "甘州区目标任务月度提醒（2026-11，截至 2026-11-25）" in county.last_text
    assert "重大项目" in county.last_text and "第 329 天" in county.last_text


async def test_the_bureau_asks_for_any_units_digest(app: App, chat: ChatFactory) -> None:
    year = await build_year(app.db)
    app.clock = lambda: datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    bureau = chat(1001)
    await bureau.send("/digest 张掖经开区")
    zone_landed = year.landed_over("zone", 100_000_000, date(2026, 1, 1), date(2026, 11, 26))
    assert bureau.heard("digest.targets.title", unit="张掖经开区")
    assert f"第 329 天：{zone_landed} / 10" in bureau.last_text
    await bureau.send("/digest liaison_beijing")
    effective = year.liaison_figures("liaison_beijing", date(2026, 11, 1), date(2026, 11, 25))["effective"]
    assert f"本月有效线索 {effective} / 10 条" in bureau.last_text
    await bureau.send("/digest 市工信局")
    assert "新能源" in bureau.last_text and "目标企业库" in bureau.last_text
    assert [f.filename for f in bureau.last.items if isinstance(f, FileReply)] == ["coverage.png", "stages.png"]
    await bureau.send("/digest 火星办事处")
    assert bureau.heard("digest.pick.unknown", text="火星办事处") and "甘州区" in bureau.last_text
    # Anyone else naming a unit gets their own digest, not the unit's.
    county = chat(1003)
    await county.send("/digest 张掖经开区")
    assert county.heard("digest.targets.title", unit="甘州区")


def test_dynamic_digest_keys_are_complete() -> None:
    from bot.core.i18n import catalog
    from models import Stage, UnitKind
    from services.digests import COVERAGE
    from services.schedule import SETTING_KEYS
    from services.targets import METRICS

    keys = [f"stage.{s.value}" for s in Stage]
    keys += [f"target.metric.{m}" for m in METRICS]
    keys += [f"target.period.{p}" for p in ("month", "year")]
    keys += [f"target.kind.{k.value}" for k in UnitKind]
    keys += [f"schedule.key.{k}" for k in SETTING_KEYS]
    keys += [f"chart.coverage.{c}" for c in COVERAGE]
    keys += ["digest.leader.title.h1", "digest.leader.title.h2"]
    for locale in ("zh", "en"):
        assert [k for k in keys if not catalog(locale).get(k)] == [], locale
