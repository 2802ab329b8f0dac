"""§10 events: the bureau creates and dates them, units take part, records are tagged to them,
and each event's signing list shows its follow-through."""

from __future__ import annotations

from sqlmodel import select

from bot.app import App
from bot.core.i18n import translate
from models import AuditEntry, ExpoUnit, Stage
from tests import deskkit as k
from tests.conftest import ChatFactory
from tests.kit import Chat, heard, zh


async def tag_project(person: Chat, number: int, event: str) -> None:
    await person.send("/source")
    await person.press("项目")
    await person.press(f"#{number} ")
    await person.press("节会")
    await person.press(event)


async def test_the_bureau_creates_an_event_and_a_county_takes_part(chat: ChatFactory, app: App) -> None:
    bureau = chat(k.BUREAU)
    await bureau.send("/events")
    # The seed file's events are there from the start, without dates.
    assert "第三十二届兰洽会张掖推介会（日期待定）" in bureau.last_text
    await bureau.press("新建节会")
    await bureau.send("2027年张掖文旅招商推介会")
    await bureau.send("2027-05-20 至 2027-05-18")
    assert translate("zh", "net.events.err.order", start="2027-05-20", end="2027-05-18") in bureau.last_text
    await bureau.send("五月二十")
    assert "没看懂日期“五月二十”" in bureau.last_text
    await bureau.send("2027-05-18 至 2027-05-20")
    assert "已新建节会：2027年张掖文旅招商推介会（2027-05-18 至 2027-05-20）。" in bureau.last_text
    await bureau.press("返回")
    await bureau.press("兰洽会")
    await bureau.press("设定日期")
    await bureau.send("2027-07-06 到 2027-07-10")
    assert "日期已设为 2027-07-06 至 2027-07-10" in bureau.last_text

    county = chat(k.GANZHOU)
    await county.send("/events")
    await county.press("兰洽会")
    assert county.heard("net.events.card", units="暂无")
    assert "设定日期" not in county.labels()
    await county.press("报名参加")
    assert county.heard("net.events.registered", unit="甘州区")
    assert county.heard("net.events.card", units="甘州区") and zh("net.events.take_part") not in county.labels()
    async with app.db.session() as session:
        assert len((await session.exec(select(ExpoUnit))).all()) == 1
        actions = [a.action for a in (await session.exec(select(AuditEntry).where(AuditEntry.entity == "expo")))]
    assert actions == ["created", "dated", "unit_registered"]


async def test_the_signing_list_shows_follow_through_and_laggards(chat: ChatFactory, app: App) -> None:
    made = [await k.enterprise(app, n) for n in ("甲新能源有限公司", "乙食品有限公司", "丙文旅有限公司")]
    ids = [int(e.id or 0) for e in made]
    p1 = await k.project(
        app, ids[0], k.ZONE, "光伏组件项目", stage=Stage.OPERATING, planned=500_000_000, funds=300_000_000
    )
    p2 = await k.project(app, ids[1], k.ZONE, "玉米深加工项目", stage=Stage.SIGNED, planned=200_000_000)
    p3 = await k.project(
        app, ids[2], k.ZONE, "丹霞民宿项目", stage=Stage.STARTED, planned=300_000_000, funds=100_000_000
    )
    await k.project(app, ids[2], k.ZONE, "未签约的项目", stage=Stage.NEGOTIATION)

    zone = chat(k.ZONE)
    for project in (p1, p2, p3):
        await tag_project(zone, int(project.id or 0), "兰洽会")
    assert "已标明：“丙文旅有限公司 丹霞民宿项目”来自 第三十二届兰洽会张掖推介会。" in zone.last_text

    bureau = chat(k.BUREAU)
    await bureau.send("/events")
    assert "第三十二届兰洽会张掖推介会（日期待定）— 参加单位 0 个，签约项目 3 个" in bureau.last_text
    await bureau.press("兰洽会")
    text = bureau.last_text
    assert "签约清单 3 个项目：已开工 2 个（67%），已投产 1 个（33%）；资金到位 4亿元 / 计划 10亿元（40%）" in text
    assert heard(text, "net.events.laggard", name="玉米深加工项目", enterprise="乙食品有限公司", stage="签约")
    assert "光伏组件项目" not in text.split("签约清单")[1].split("\n", 1)[1]

    # Another unit's project cannot be tagged by this one.
    county = chat(k.GANZHOU)
    await county.send("/source")
    await county.press("项目")
    assert translate("zh", "net.source.err.none") in county.last_text
