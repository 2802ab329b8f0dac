"""What SQLite and PostgreSQL do differently, pinned down once and run on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select

from bot.app import App
from models import AuditEntry, ConversationState, Enterprise, ProcessedUpdate, User


async def test_json_round_trips_nested_chinese_values(app: App) -> None:
    draft = {"enterprise": "宁德时代", "amount": 2_000_000_000, "tags": ["链主", "外资"], "back": None, "n": {"x": 1.5}}
    async with app.db.session() as session:
        session.add(ConversationState(chat_id=2**40, user_id=2**40 + 1, flow="lead", step="confirm", draft=draft))
    async with app.db.session() as session:
        row = await session.get(ConversationState, (2**40, 2**40 + 1))
        assert row is not None and row.draft == draft
    # A json column is not comparable in SQL on PostgreSQL (no json = json): filter in Python.
    async with app.db.session() as session:
        rows = (await session.exec(select(AuditEntry))).all()
    assert all(isinstance(r.detail, dict) for r in rows)


async def test_telegram_ids_beyond_32_bits(app: App) -> None:
    biggest = 2**62
    async with app.db.session() as session:
        session.add(ProcessedUpdate(update_id=biggest, bot_id=biggest - 1))
        session.add(User(telegram_id=biggest, role="liaison"))
    async with app.db.session() as session:
        assert (await session.get(ProcessedUpdate, biggest)) is not None
        user = (await session.exec(select(User).where(User.telegram_id == biggest))).one()
        assert user.telegram_id == biggest


async def test_times_come_back_aware_utc_and_compare_across_zones(app: App) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    local_midnight = datetime(2026, 11, 28, 0, 0, tzinfo=shanghai)
    async with app.db.session() as session:
        for minutes in (-1, 0, 1):
            at = local_midnight + timedelta(minutes=minutes)
            session.add(AuditEntry(at=at, entity="probe", entity_id=minutes + 10, action="tick"))
    # "Today in Shanghai" is a UTC range computed in Python: the same query on both backends.
    start, end = local_midnight, local_midnight + timedelta(days=1)
    async with app.db.session() as session:
        rows = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.entity == "probe", col(AuditEntry.at) >= start, col(AuditEntry.at) < end)
                .order_by(col(AuditEntry.at))
            )
        ).all()
    assert [r.entity_id for r in rows] == [10, 11]
    assert all(r.at.tzinfo is not None and r.at.utcoffset() == timedelta(0) for r in rows)
    assert rows[0].at == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


async def test_case_insensitive_search_is_the_same_on_both(app: App) -> None:
    async with app.db.session() as session:
        session.add(Enterprise(name="CATL 宁德时代", normalized_name="catl宁德时代", pinyin="ningdeshidai"))
    async with app.db.session() as session:
        # ilike is LIKE on SQLite (ASCII case-folding) and ILIKE on PostgreSQL.
        found = (await session.exec(select(Enterprise.name).where(col(Enterprise.name).ilike("%catl%")))).all()
        lowered = (
            await session.exec(select(Enterprise.name).where(func.lower(Enterprise.name).contains("catl")))
        ).all()
    assert found == lowered == ["CATL 宁德时代"]


async def test_ids_continue_after_the_seeded_rows(app: App) -> None:
    async with app.db.session() as session:
        highest = (await session.exec(select(func.max(User.id)))).one()
        user = User(telegram_id=77, role="liaison")
        session.add(user)
        await session.flush()
        assert user.id is not None and highest is not None and user.id > highest
