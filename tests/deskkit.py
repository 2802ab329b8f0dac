"""Records made directly in the database, for the desk's tests (library, export, search, merge)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import select

from bot.app import App
from models import Chain, Enterprise, FundsEntry, Lead, LibraryEntry, Project, Stage, Unit, User, Visit, utcnow
from services.names import normalize_name, pinyin_full, pinyin_initials

BUREAU, LIAISON, GANZHOU, ZONE, GXJ, CZJ, SOE, LEADER = 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008


async def user(app: App, telegram_id: int) -> User:
    async with app.db.session() as session:
        found = (await session.exec(select(User).where(User.telegram_id == telegram_id))).one()
        return found


async def unit(app: App, code: str) -> Unit:
    async with app.db.session() as session:
        return (await session.exec(select(Unit).where(Unit.code == code))).one()


async def chain(app: App, code: str) -> Chain:
    async with app.db.session() as session:
        return (await session.exec(select(Chain).where(Chain.code == code))).one()


async def enterprise(
    app: App,
    name: str,
    *,
    credit_code: str | None = None,
    chain_id: int | None = None,
    aliases: list[str] | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    tags: list[str] | None = None,
) -> Enterprise:
    async with app.db.session() as session:
        row = Enterprise(
            name=name,
            normalized_name=normalize_name(name),
            credit_code=credit_code,
            chain_id=chain_id,
            aliases=aliases or [],
            pinyin=pinyin_full(name),
            initials=pinyin_initials(name),
            contact_name=contact_name,
            contact_phone=contact_phone,
            tags=tags or [],
        )
        session.add(row)
        await session.flush()
        return row


async def lead(
    app: App,
    enterprise_id: int,
    telegram_id: int,
    *,
    chain_id: int | None = None,
    amount: int | None = None,
    at: datetime | None = None,
    plan: str = "扩产",
) -> Lead:
    person = await user(app, telegram_id)
    async with app.db.session() as session:
        row = Lead(
            enterprise_id=enterprise_id,
            chain_id=chain_id,
            plan=plan,
            amount_yuan=amount,
            unit_id=person.unit_id,
            submitted_by=person.id,
            created_at=at or utcnow(),
        )
        session.add(row)
        await session.flush()
        return row


async def visit(app: App, enterprise_id: int, telegram_id: int, *, on: date, outcome: str = "初步接洽") -> Visit:
    person = await user(app, telegram_id)
    assert person.unit_id is not None and person.id is not None
    async with app.db.session() as session:
        row = Visit(
            enterprise_id=enterprise_id,
            unit_id=person.unit_id,
            user_id=person.id,
            visit_date=on,
            place="张掖",
            participants="赵干事",
            outcome=outcome,
            next_step="再次对接",
        )
        session.add(row)
        await session.flush()
        return row


async def project(
    app: App,
    enterprise_id: int,
    telegram_id: int,
    name: str,
    *,
    stage: Stage = Stage.FIRST_TALK,
    planned: int | None = None,
    funds: int = 0,
    chain_id: int | None = None,
    first_talk: date = date(2026, 11, 2),
    leader_user_id: int | None = None,
) -> Project:
    person = await user(app, telegram_id)
    assert person.unit_id is not None and person.id is not None
    async with app.db.session() as session:
        row = Project(
            enterprise_id=enterprise_id,
            name=name,
            normalized_name=normalize_name(name),
            chain_id=chain_id,
            planned_yuan=planned,
            funds_in_place_yuan=funds,
            first_talk_date=first_talk,
            stage=stage,
            first_talk_unit_id=person.unit_id,
            executing_unit_id=person.unit_id,
            registered_by=person.id,
            leader_user_id=leader_user_id,
        )
        session.add(row)
        await session.flush()
        if funds:
            assert row.id is not None
            session.add(FundsEntry(project_id=row.id, on_date=first_talk, amount_yuan=funds))
        return row


async def library_entry(app: App, chain_id: int, enterprise_id: int) -> LibraryEntry:
    async with app.db.session() as session:
        row = LibraryEntry(chain_id=chain_id, enterprise_id=enterprise_id)
        session.add(row)
        await session.flush()
        return row
