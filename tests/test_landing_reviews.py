"""§17: a major project moves to 签约 only after its four reviews, or the bureau's exception."""

from __future__ import annotations

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from models import ProjectReview
from services import projects, settings
from tests.conftest import ChatFactory
from tests.kit import Chat, heard
from tests.test_project import BUREAU, COUNTY, ZONE, all_projects, register

KINDS = ("综合测算", "尽职调查", "合法性审查", "公平竞争审查")


async def move_to_signed(c: Chat) -> str:
    await c.send("/progress 1")
    await c.press("推进阶段")
    await c.press("签约")
    told = c.last_text
    await c.press("完成")
    return told


async def record_review(c: Chat, kind: str, reviewer: str, conclusion: str, *, document: bool = False) -> None:
    await c.press(f"记录{kind}")
    await c.send(reviewer)
    await c.press("今天")
    await c.send(conclusion)
    if document:
        await c.send_document("doc-1", "尽调报告.pdf", "application/pdf")
    else:
        await c.press("无附件")


async def test_signing_a_major_project_waits_for_its_four_reviews(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county, amount="5亿", stage="洽谈")
    refused = await move_to_signed(county)
    assert translate("zh", "project.err.reviews_missing", number=1, missing="、".join(KINDS)) in refused
    [project] = await all_projects(app)
    assert project.stage == "negotiation"

    await county.send("/reviews 1")
    assert all(f"✗ {kind}" in county.last_text for kind in KINDS)
    await record_review(county, "综合测算", "市发改委", "经济效益可行")
    await record_review(county, "尽职调查", "某会计师事务所", "企业资信良好", document=True)
    await record_review(county, "合法性审查", "市司法局", "合法")
    assert "✓ 尽职调查：某会计师事务所" in county.last_text and "尽调报告.pdf" in county.last_text
    await county.press("完成")
    refused = await move_to_signed(county)
    assert translate("zh", "project.err.reviews_missing", number=1, missing="公平竞争审查") in refused

    await county.send("/reviews 1")
    await record_review(county, "公平竞争审查", "市市场监管局", "无排除限制竞争内容")
    assert translate("zh", "signing.line.ready") in county.last_text
    await county.press("完成")
    assert heard(await move_to_signed(county), "project.stage.moved", stage="签约")
    [project] = await all_projects(app)
    assert project.stage == "signed"
    async with app.db.session() as session:
        reviews = (await session.exec(select(ProjectReview))).all()
    assert {(r.kind, r.reviewer) for r in reviews} == {
        ("estimate", "市发改委"),
        ("due_diligence", "某会计师事务所"),
        ("legality", "市司法局"),
        ("fair_competition", "市市场监管局"),
    }
    assert [r.document_name for r in reviews if r.kind == "due_diligence"] == ["尽调报告.pdf"]
    await county.send("/projects 1")
    assert "记录尽职调查（某会计师事务所，2026-11-28）：企业资信良好" in county.last_text


async def test_bad_answers_keep_the_review_draft(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county, amount="5亿", stage="洽谈")
    await county.send("/reviews 1")
    await county.press("记录综合测算")
    await county.send(" ")
    assert translate("zh", "core.err.empty") in county.last_text and county.heard(
        "signing.ask.reviewer", kind="综合测算"
    )
    await county.send("市发改委")
    await county.send("明年")
    assert county.heard("signing.err.date")
    await county.send("2027-01-01")
    assert county.heard("signing.err.future")
    await county.send("11-20")
    await county.send("可行")
    await county.send("附件在邮件里")
    assert translate("zh", "signing.err.document") in county.last_text
    await county.press("无附件")
    assert "✓ 综合测算：市发改委，2026-11-20，结论：可行" in county.last_text


async def test_the_bureau_may_let_it_be_signed_with_a_reason(chat: ChatFactory, app: App) -> None:
    county, bureau = chat(COUNTY), chat(BUREAU)
    await register(county, amount="5亿", stage="洽谈")
    await county.send("/reviews 1")
    assert "例外放行" not in " ".join(county.labels())
    await county.press("完成")
    await bureau.send("/reviews 1")
    await bureau.press("例外放行")
    await bureau.send("市政府常务会议研究同意先行签约")
    assert translate("zh", "signing.exception_recorded") in bureau.last_text
    assert bureau.heard("signing.line.exception", by="王局长", reason="市政府常务会议研究同意先行签约")
    await bureau.press("完成")
    assert heard(await move_to_signed(county), "project.stage.moved", stage="签约")
    exception = [e for e in await projects.history(app.db, 1) if e.action == "signing_exception"]
    assert [(e.actor, e.detail["reason"], len(e.detail["missing"])) for e in exception] == [
        ("王局长", "市政府常务会议研究同意先行签约", 4)
    ]


async def test_below_the_threshold_nothing_is_asked_and_the_bureau_moves_it(chat: ChatFactory, app: App) -> None:
    county, bureau = chat(COUNTY), chat(BUREAU)
    await register(county, amount="5000万", stage="洽谈")
    assert heard(await move_to_signed(county), "project.stage.moved", stage="签约")
    await register(county, enterprise="比亚迪", name="电池厂", amount="8000万", stage="洽谈")
    await settings.put(app.db, "major_review_from_yuan", 50_000_000)
    await county.send("/progress 2")
    await county.press("推进阶段")
    await county.press("开工")  # skipping 签约 does not skip the reviews
    assert "/reviews 2" in county.last_text
    await county.press("完成")
    [_, project] = await all_projects(app)
    assert project.stage == "negotiation"
    await bureau.send("/reviews 2")
    assert "例外放行" in " ".join(bureau.labels())


# -- every path to 签约 meets the same rule (services.signing.owed_on_landing) ----------------
async def test_registering_a_major_project_as_signed_asks_for_its_reviews_first(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county, amount="5亿", stage="签约")
    assert translate("zh", "signing.err.register_landed", missing="、".join(KINDS)) in county.last_text
    assert await all_projects(app) == []
    # The draft is kept at the summary: changing the stage registers it.
    assert "✅ 确认登记" in county.labels()
    await county.press("改阶段")
    await county.press("洽谈")
    await county.press("确认登记")
    [project] = await all_projects(app)
    assert project.stage == "negotiation" and project.planned_yuan == 500_000_000

    # In one message, and skipping 签约 for 开工, too.
    await county.send("/project 比亚迪 电池厂 投资20亿 新能源 开工")
    await county.press("确认登记")
    assert translate("zh", "signing.err.register_landed", missing="、".join(KINDS)) in county.last_text
    assert len(await all_projects(app)) == 1

    # Below the threshold a signed project registers as before.
    await county.press("改金额")
    await county.send("8000万")
    await county.press("确认登记")
    assert [p.stage for p in await all_projects(app)] == ["negotiation", "started"]


async def test_signing_and_raising_the_amount_in_one_message_is_refused(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county, amount="5000万", stage="洽谈")
    await county.send("/progress 1 签约 计划投资5亿")
    assert "计划投资：5000万元 → 5亿元" in county.last_text
    await county.press(translate("zh", "project.pending.save"))
    assert translate("zh", "project.err.reviews_missing", number=1, missing="、".join(KINDS)) in county.last_text
    [project] = await all_projects(app)
    assert project.stage == "negotiation" and project.planned_yuan == 500_000_000

    # An amount restated as it is does not stand in the way of the stage.
    await register(county, enterprise="比亚迪", name="电池厂", amount="5000万", stage="洽谈")
    await county.send("/progress 2 签约 计划投资5000万")
    await county.press(translate("zh", "project.pending.save"))
    assert county.heard("project.stage.moved", stage="签约")


async def test_a_transferred_major_project_keeps_its_reviews_and_the_rule(chat: ChatFactory, app: App) -> None:
    county, zone, bureau = chat(COUNTY), chat(ZONE), chat(BUREAU)
    await register(county, amount="5亿", stage="洽谈")
    await county.send("/reviews 1")
    await record_review(county, "综合测算", "市发改委", "经济效益可行")
    await county.press("完成")
    await bureau.send("/transfer 1")
    await bureau.press("张掖经开区")
    await bureau.send("甘州区用地指标不足")
    await bureau.press("确认流转")
    # The receiving zone meets the same rule, with the review done before the transfer counted.
    refused = await move_to_signed(zone)
    assert translate("zh", "project.err.reviews_missing", number=1, missing="、".join(KINDS[1:])) in refused
    await zone.send("/reviews 1")
    for kind in KINDS[1:]:
        await record_review(zone, kind, "市直部门", "同意")
    await zone.press("完成")
    assert "阶段已更新为：签约" in await move_to_signed(zone)
