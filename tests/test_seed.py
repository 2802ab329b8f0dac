"""The seed file: Zhangye's units, chains and targets, loaded once however often it runs."""

from __future__ import annotations

from collections import Counter

from sqlmodel import func, select

from bot.app import App
from models import Chain, Setting, Target, Unit
from services import seed


async def counts(app: App) -> tuple[int, int, int, int]:
    async with app.db.session() as session:
        return (
            (await session.exec(select(func.count()).select_from(Unit))).one(),
            (await session.exec(select(func.count()).select_from(Chain))).one(),
            (await session.exec(select(func.count()).select_from(Target))).one(),
            (await session.exec(select(func.count()).select_from(Setting))).one(),
        )


async def test_seed_has_the_city(app: App) -> None:
    async with app.db.session() as session:
        units = (await session.exec(select(Unit))).all()
        chains = (await session.exec(select(Chain))).all()
    kinds = Counter(u.kind for u in units)
    assert kinds["county"] == 6 and kinds["zone"] == 1 and kinds["liaison"] == 3 and kinds["bureau"] == 1
    names = {u.name_zh for u in units}
    assert {"甘州区", "临泽县", "高台县", "山丹县", "民乐县", "肃南裕固族自治县", "张掖经开区"} <= names
    beijing = next(u for u in units if u.code == "liaison_beijing")
    assert "京津冀" in beijing.region_zh
    families = Counter(c.family for c in chains)
    assert families == {"1+3": 4, "1+4": 5, "1+6": 7}
    # The policy names no chain: every one is marked as an example.
    assert all(c.example for c in chains)
    assert all(c.lead_unit_id for c in chains)


async def test_policy_targets_are_seeded(app: App) -> None:
    async with app.db.session() as session:
        targets = (await session.exec(select(Target))).all()
    by_metric = {(t.metric, t.unit_kind or t.unit_id or "chain"): t for t in targets}
    assert by_metric[("effective_leads", "liaison")].value == 10
    assert by_metric[("effective_leads", "liaison")].period == "month"
    zone_target = next(t for t in targets if t.metric == "projects_over_threshold")
    assert zone_target.value == 10 and zone_target.threshold_yuan == 100_000_000
    dept = by_metric[("project_over_threshold", "department")]
    assert dept.threshold_yuan == 10_000_000 and dept.funds_ratio_pct == 50
    assert by_metric[("library_size", "chain")].value == 10


async def test_seeding_again_adds_nothing_and_keeps_bureau_edits(app: App) -> None:
    before = await counts(app)
    async with app.db.session() as session:
        target = (await session.exec(select(Target).where(Target.metric == "effective_leads"))).one()
        target.value = 12
        session.add(target)
    report = await seed.seed(app.db)
    assert not report.changed
    assert await counts(app) == before
    async with app.db.session() as session:
        target = (await session.exec(select(Target).where(Target.metric == "effective_leads"))).one()
    assert target.value == 12
