"""§15: a task force forms when a project reaches 洽谈; its tasks, members and approvals are
kept in the chat, the project's card shows what is pending, and reminders go out once each."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from bot.scheduler import send_due
from models import ApprovalItem, ForceTask, TaskForce
from services import projects
from tests.conftest import ChatFactory, Clock
from tests.kit import Chat, RecordingTransport, heard, zh
from tests.test_project import BUREAU, COUNTY, LEADER, ZONE, member, register

APPROVALS = ("立项/备案", "用地预审", "规划许可", "环评", "能评", "施工许可")


async def to_negotiation(c: Chat, number: int = 1) -> None:
    await c.send(f"/progress {number}")
    await c.press("推进阶段")
    await c.press("洽谈")
    await c.press("完成")


async def test_reaching_negotiation_forms_the_task_force_with_its_checklist(chat: ChatFactory, app: App) -> None:
    county = chat(COUNTY)
    await register(county)
    await county.send("/taskforce 1")
    assert translate("zh", "taskforce.none", number=1, name="储能电池基地项目") in county.last_text
    await county.press("完成")
    await to_negotiation(county)
    await county.send("/taskforce 1")
    text = county.last_text
    assert heard(text, "taskforce.header", unit="甘州区") and "包抓领导：未分配" in text
    assert all(f"· {name}：未启动" in text for name in APPROVALS)
    async with app.db.session() as session:
        [force] = (await session.exec(select(TaskForce))).all()
        items = (await session.exec(select(ApprovalItem))).all()
    assert force.project_id == 1 and len(items) == len(APPROVALS)
    assert "task_force_formed" in [e.action for e in await projects.history(app.db, 1)]
    # Registered at 洽谈 directly: formed at once.
    await county.press("完成")
    await register(county, enterprise="比亚迪", name="电池厂", stage="洽谈")
    await county.send("/taskforce 2")
    assert county.heard("taskforce.header", unit="甘州区")


async def test_tasks_members_and_approvals(chat: ChatFactory, app: App, transport: RecordingTransport) -> None:
    county = chat(COUNTY)
    await register(county, stage="洽谈")
    await county.send("/taskforce 1")
    await county.press("添加成员单位")
    await county.press("市财政局")
    assert county.heard("taskforce.member_added", unit="市财政局") and "成员单位：市财政局" in county.last_text

    await county.press("添加任务")
    await county.send("")
    assert translate("zh", "core.err.empty") in county.last_text
    await county.send("准备用地预审材料")
    assert set(county.labels()) == {"赵干事", "周处长"}  # the unit's people and the member department's
    await county.send("赵干事")
    assert translate("zh", "core.err.use_buttons") in county.last_text
    await county.press("赵干事")
    await county.send("下个月")
    assert county.heard("taskforce.err.date")
    await county.send("2026-11-01")
    assert county.heard("taskforce.err.past")
    await county.send("12-05")
    assert "任务已添加：准备用地预审材料（赵干事，2026-12-05 前）" in county.last_text
    assert "□ 准备用地预审材料（赵干事，2026-12-05 前）" in county.last_text
    assert any("准备用地预审材料" in t and "2026-12-05" in t for t in transport.texts_to(COUNTY))

    await county.press("审批事项")
    await county.press("用地预审")
    await county.press("办理中")
    await county.send("市自然资源局 王科长")
    await county.press("并联审批")
    await county.press("14天后")
    assert "· 用地预审：办理中（市自然资源局 王科长、并联审批、2026-12-12 前）" in county.last_text
    await county.press("审批事项")
    await county.press("立项/备案")
    await county.press("已办结")
    await county.press("完成")

    await county.send("/projects 1")
    card = county.last_text
    assert "□ 准备用地预审材料" in card and "· 用地预审：办理中" in card
    assert "· 立项/备案" not in card  # done: not pending any more
    assert heard(card, "project.event.approval", kind="用地预审", state="办理中") and heard(
        card, "project.event.task_added", title="准备用地预审材料"
    )

    # The department on the force sees it but does not run it; a unit outside it does not see it.
    zone = chat(ZONE)
    await zone.send("/taskforce 1")
    assert translate("zh", "project.err.not_found", number=1) in zone.last_text
    department = chat(1006)
    await department.send("/taskforce 1")
    labels = department.labels()
    assert zh("taskforce.add_task") not in labels and zh("taskforce.finish_task") not in labels


async def test_reminders_before_the_date_then_to_the_unit_then_to_the_leader(
    chat: ChatFactory, app: App, clock: Clock, transport: RecordingTransport
) -> None:
    county = chat(COUNTY)
    await register(county, stage="洽谈")
    bureau = await member(app.db, BUREAU)
    leader = await member(app.db, LEADER)
    await projects.assign_leader(app.db, member=bureau, project_id=1, leader_user_id=leader.id)
    await county.send("/taskforce 1")
    await county.press("添加任务")
    await county.send("对接电力接入方案")
    await county.press("赵干事")
    await county.send("12-10")
    await county.press("完成")
    sent_before = len(transport.sent)

    async def day(d: date) -> list[tuple[int, str]]:
        clock.now = datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC)  # 10:00 in Zhangye
        mark = len(transport.sent)
        await send_due(app)
        await app.outbox.flush()
        return [(cid, getattr(item, "text", "")) for cid, item in transport.sent[mark:]]

    assert [t for t in await day(date(2026, 12, 6)) if "对接电力接入方案" in t[1]] == []
    [(to, text)] = [t for t in await day(date(2026, 12, 7)) if "对接电力接入方案" in t[1]]
    assert to == COUNTY and text.startswith("提醒")
    assert [t for t in await day(date(2026, 12, 8)) if "对接电力接入方案" in t[1]] == []  # once
    [(to, text)] = [t for t in await day(date(2026, 12, 11)) if "对接电力接入方案" in t[1]]
    assert to == COUNTY and text.startswith("逾期")
    assert [t for t in await day(date(2026, 12, 16)) if "对接电力接入方案" in t[1]] == []
    [(to, text)] = [t for t in await day(date(2026, 12, 17)) if "对接电力接入方案" in t[1]]
    assert to == LEADER and heard(text, "taskforce.told.task_escalated")

    # Once done, nothing more is said about it.
    await county.send("/taskforce 1")
    await county.press("任务办结")
    await county.press("对接电力接入方案")
    async with app.db.session() as session:
        [task] = (await session.exec(select(ForceTask))).all()
    assert task.state == "done" and task.done_on == date(2026, 12, 17)
    assert len(transport.sent) > sent_before
