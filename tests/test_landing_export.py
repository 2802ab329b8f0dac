"""/export → 落实推进: the landing records as sheets — task forces, tasks, approvals, element needs,
§17 reviews and exceptions, leaders' questions, supervision, funds entries — worded in the
reader's language, typed text kept as text, and each sheet only what the reader may see."""

from __future__ import annotations

from datetime import date

from openpyxl.worksheet.worksheet import Worksheet

from bot.app import App
from services import projects, taskforce
from tests.conftest import ChatFactory, Clock
from tests.test_desk_export import export, header
from tests.test_landing_history import every_landing_change
from tests.test_project import BUREAU, COUNTY, LEADER, ZONE, member, register

SHEETS = ["工作专班", "专班任务", "审批事项", "要素需求", "签约前审查", "点题询问", "联合督导", "资金到位记录"]


def rows(ws: Worksheet) -> list[list[object]]:
    return [[c.value for c in row] for row in ws.iter_rows(min_row=2)]


async def test_the_bureau_exports_every_landing_record(chat: ChatFactory, app: App, clock: Clock) -> None:
    county = chat(COUNTY)
    await register(county, amount="5亿", stage="洽谈")
    await every_landing_change(app, clock)
    person = await member(app.db, COUNTY)
    leader = await member(app.db, LEADER)
    await projects.assign_leader(app.db, member=await member(app.db, BUREAU), project_id=1, leader_user_id=leader.id)
    hostile = '=HYPERLINK("http://x","点我")'
    await taskforce.add_task(
        app.db, member=person, project_id=1, title=hostile, owner_user_id=person.id, due_on=date(2026, 12, 5),
        now=clock.now,
    )  # fmt: skip
    await projects.set_funds(
        app.db, member=person, project_id=1, total_yuan=30_000_000, now=clock.now, on=clock.now.date()
    )

    wb = await export(chat(BUREAU), "落实推进", "今年")
    assert wb.sheetnames == SHEETS
    forces = wb["工作专班"]
    assert header(forces) == ["编号", "项目名称", "责任单位", "包抓领导", "专班成员单位", "组建时间"]
    assert rows(forces)[0][:5] == [1, "储能电池基地项目", "甘州区", "郑市长", "市自然资源局"]

    tasks = {r[2]: r for r in rows(wb["专班任务"])}
    assert tasks["对接电力接入方案"][3:6] == ["赵干事", tasks["对接电力接入方案"][4], "已办结"]
    cell = next(c for c in wb["专班任务"]["C"] if c.value == hostile)
    assert cell.data_type == "s"  # shown as typed, never evaluated

    approvals = {r[2]: r for r in rows(wb["审批事项"])}
    assert approvals["立项/备案"][3:6] == ["办理中", "市发改委", "并联审批"]
    assert approvals["环评"][3] == "未启动" and len(approvals) == 6

    [need] = rows(wb["要素需求"])
    assert need[1:5] == [1, "储能电池基地项目", "用地", "200亩"] and need[6:8] == ["市自然资源局", "甘州区"]
    assert need[10:] == ["需补充材料", "补充用地红线图"]

    reviews = rows(wb["签约前审查"])
    assert [r[2:4] for r in reviews] == [["尽职调查", "某会计师事务所"], ["例外放行", "王局长"]]
    assert reviews[1][5] == "市政府常务会议同意"

    [question] = rows(wb["点题询问"])
    assert question[1:5] == ["郑市长", "甘州区", "储能电池基地项目", "用地何时落实？"]
    assert question[7] == "月底前" and question[9] == "是"

    [supervised] = rows(wb["联合督导"])
    assert supervised[1] == "储能电池基地项目" and supervised[3] == "开工滞后" and supervised[6] == "现场督导"

    [funds] = rows(wb["资金到位记录"])
    assert funds[:2] == [1, "储能电池基地项目"] and funds[3] == 3000 and funds[4] == "赵干事"

    english = await export(chat(BUREAU, language_code="en"), "Landing", "This year")
    assert english.sheetnames[0] == "Task forces"
    assert rows(english["Approvals"])[0][2:4] == ["Project approval or filing", "in progress"]


async def test_each_unit_exports_only_what_it_may_see(chat: ChatFactory, app: App, clock: Clock) -> None:
    county = chat(COUNTY)
    await register(county, amount="5亿", stage="洽谈")
    await every_landing_change(app, clock)

    # Another county sees none of it, and no unit sees the bureau's supervision list.
    other = await export(chat(ZONE), "落实推进", "今年")
    assert "联合督导" not in other.sheetnames
    assert all(rows(other[name]) == [] for name in other.sheetnames)

    own = await export(county, "落实推进", "今年")
    assert "联合督导" not in own.sheetnames
    assert rows(own["工作专班"])[0][0] == 1 and len(rows(own["审批事项"])) == 6
    assert len(rows(own["点题询问"])) == 1 and len(rows(own["要素需求"])) == 1
