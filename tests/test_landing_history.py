"""/history words every landing record's changes from the catalogs (§15–§19): task forces, tasks,
approvals, element needs, §17 reviews and exceptions, leaders' questions, supervision entries,
a unit's head contact, the approval kinds — in Chinese and in English, no stored field name,
code or id in sight."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlmodel import col, select

from bot.app import App
from models import ApprovalItem, ApprovalKind, ApprovalMode, ApprovalState, AuditEntry, NeedKind, NeedState, ReviewKind
from services import approvals, heads, needs, projects, signing, supervision, taskforce
from services.signing import ReviewDraft
from services.taskforce import ApprovalChange
from tests.conftest import ChatFactory, Clock
from tests.test_project import BUREAU, COUNTY, LEADER, member, register, unit_id

# Codes that are stored and must be worded when shown.
CODES = (
    "in_progress", "not_needed", "parallel", "pledge", "shortfall", "needs_info", "accepted", "refused", "land",
    "estimate", "due_diligence", "legality", "fair_competition", "filing", "negotiation", "first_talk",
)  # fmt: skip


async def every_landing_change(app: App, clock: Clock) -> dict[str, int]:
    """Make one of each landing change through the services; the numbers of the records touched."""
    bureau, county, leader = [await member(app.db, t) for t in (BUREAU, COUNTY, LEADER)]
    now, today = clock.now, clock.now.date()
    gz, dept = await unit_id(app, "甘州区"), await unit_id(app, "市自然资源局")
    await taskforce.add_member(app.db, member=county, project_id=1, unit_id=dept, now=now)
    task = await taskforce.add_task(
        app.db,
        member=county,
        project_id=1,
        title="对接电力接入方案",
        owner_user_id=county.id,
        due_on=date(2026, 12, 20),
        now=now,
    )
    await taskforce.finish_task(app.db, member=county, task_id=task.id, today=today, now=now)
    async with app.db.session() as session:
        item = (await session.exec(select(ApprovalItem).where(ApprovalItem.kind_code == "filing"))).one()
    change = ApprovalChange(ApprovalState.IN_PROGRESS, "市发改委", ApprovalMode.PARALLEL, date(2026, 12, 31))
    await taskforce.update_approval(
        app.db, member=county, item_id=int(item.id or 0), change=change, today=today, now=now
    )
    need = await needs.raise_need(
        app.db, member=county, project_id=1, kind=NeedKind.LAND, size="200亩", needed_by=date(2027, 1, 15), now=now
    )
    await needs.answer(
        app.db, member=bureau, need_id=need.id, state=NeedState.NEEDS_INFO, reason="补充用地红线图", now=now
    )
    draft = ReviewDraft(ReviewKind.DUE_DILIGENCE, "某会计师事务所", today, "企业资信良好")
    await signing.record(app.db, member=county, project_id=1, draft=draft, now=now)
    await signing.grant_exception(app.db, member=bureau, project_id=1, reason="市政府常务会议同意", now=now)
    question = await supervision.ask(
        app.db, member=leader, unit_id=gz, project_id=1, question="用地何时落实？", due_on=today, now=now
    )
    await supervision.answer(
        app.db, member=county, question_id=question.question.id or 0, text="月底前", today=date(2026, 12, 30), now=now
    )
    item_row = await supervision.add_item(app.db, member=bureau, project_id=1, unit_id=None, issue="开工滞后", now=now)
    await supervision.add_action(
        app.db, member=bureau, item_id=int(item_row.id or 0), action="现场督导", on=today, now=now
    )
    await heads.set_head(app.db, actor_id=bureau.id, user_id=county.id, now=now)
    kind = await approvals.add(app.db, member=bureau, name_zh="取水许可", name_en="Water Permit", now=now)
    await approvals.rename(
        app.db, member=bureau, kind_id=int(kind.id or 0), name_zh="取水许可审批", name_en="Water Permit", now=now
    )
    await approvals.set_active(app.db, member=bureau, kind_id=int(kind.id or 0), active=False, now=now)
    return {
        "项目": 1,
        "询问": int(question.question.id or 0),
        "督导": int(item_row.id or 0),
        "单位": gz,
        "审批事项": int(kind.id or 0),
    }


@pytest.mark.parametrize("locale", ["zh", "en"])
async def test_no_history_line_shows_a_stored_field_name(
    chat: ChatFactory, app: App, clock: Clock, locale: str
) -> None:
    county = chat(COUNTY)
    await register(county, amount="5亿", stage="洽谈")
    records = await every_landing_change(app, clock)
    async with app.db.session() as session:
        entries = (await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))).all()
    fields = {key for e in entries for key in e.detail} | {"before", "after"}

    bureau = chat(BUREAU, language_code=locale)
    shown = []
    for word, number in records.items():
        await bureau.send(f"/history {word} {number}")
        shown.append(bureau.last_text)
    text = "\n".join(shown)
    if locale == "zh":
        # Every field, code and id is worded: no lowercase Latin word is left in the lines.
        assert re.findall(r"\b[a-z][a-z_]*\b", text) == [], text
    else:
        # English labels may be the field's own word ("reason"); a stored snake_case name never is.
        leaked = sorted(f for f in fields if "_" in f and re.search(rf"\b{re.escape(f)}\b", text))
        assert leaked == [], text
        assert [c for c in CODES if "_" in c and re.search(rf"\b{c}\b", text)] == [], text

    # And the words are the right ones.
    if locale == "zh":
        for words in (
            "立项/备案", "办理中", "并联审批", "市发改委", "2026-12-31", "用地", "200亩", "补充用地红线图",
            "尽职调查", "某会计师事务所", "综合测算", "市政府常务会议同意", "对接电力接入方案", "市自然资源局",
            "用地何时落实", "开工滞后", "现场督导", "取水许可 → 取水许可审批", "Water Permit",
        ):  # fmt: skip
            assert words in text, words
    else:
        for words in ("Project approval or filing", "in progress", "due diligence", "Land", "Water Permit"):
            assert words.lower() in text.lower(), words
    async with app.db.session() as session:
        kind = (await session.exec(select(ApprovalKind).where(ApprovalKind.name_zh == "取水许可审批"))).one()
    assert not kind.active
    assert {e.action for e in await projects.history(app.db, 1)} >= {
        "task_force_formed", "task_force_member", "task_added", "task_done", "approval", "need_raised",
        "need_answered", "review", "signing_exception",
    }  # fmt: skip
