"""The seed file's networks lists: contact kinds, events and scenarios, loaded again safely."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import select

from bot.app import App
from models import Expo
from services import contacts, opportunities, seed


async def test_the_lists_are_seeded_and_follow_the_file(app: App, tmp_path: Path) -> None:
    assert [k.name_zh for k in await contacts.kinds(app.db)] == ["重点企业", "商协会", "乡贤", "招商顾问"]
    assert {s.code: s.owner for s in await opportunities.scenarios(app.db)} == {
        "smart_agriculture": "nyncj",
        "industrial_upgrade": "gxj",
        "culture_tourism": "wglyj",
    }
    async with app.db.session() as session:
        names = [e.name_zh for e in (await session.exec(select(Expo).order_by(Expo.id))).all()]
    assert names == ["第三十二届兰洽会张掖推介会", "进博会", "丝博会", "投洽会"]

    assert not (await seed.seed(app.db)).changed
    edited = tmp_path / "zhangye.toml"
    text = seed.SEED_FILE.read_text(encoding="utf-8")
    text = text.replace('name_zh = "丝博会"', 'name_zh = "第九届丝博会"\nstarts_on = 2027-05-20\nends_on = 2027-05-24')
    text = text.replace("cadence_days = 60", "cadence_days = 45")
    edited.write_text(text, encoding="utf-8")
    report = await seed.seed(app.db, edited)
    assert report.events_added == 0
    async with app.db.session() as session:
        expo = (await session.exec(select(Expo).where(Expo.code == "silk_road_expo"))).one()
    assert expo.name_zh == "第九届丝博会" and expo.starts_on is not None and expo.starts_on.isoformat() == "2027-05-20"
    assert {k.code: k.cadence_days for k in await contacts.kinds(app.db)}["adviser"] == 45
