"""The enterprise register: one record per enterprise however its name is typed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from models import Chain, Enterprise, utcnow
from services import audit
from services.credit_code import normalize_credit_code
from services.names import best_matches, normalize_name, pinyin_full, pinyin_initials


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    score: float


async def get(db: Database, enterprise_id: int) -> Enterprise | None:
    async with db.session() as session:
        return await session.get(Enterprise, enterprise_id)


async def by_credit_code(db: Database, code: str) -> Enterprise | None:
    async with db.session() as session:
        return await _by_code(session, normalize_credit_code(code))


async def _by_code(session: AsyncSession, code: str) -> Enterprise | None:
    return (await session.exec(select(Enterprise).where(Enterprise.credit_code == code))).first()


async def _by_normalized(session: AsyncSession, normalized: str) -> Enterprise | None:
    return (
        await session.exec(
            select(Enterprise)
            .where(Enterprise.normalized_name == normalized, col(Enterprise.merged_into).is_(None))
            .order_by(col(Enterprise.id))
        )
    ).first()


async def by_name(db: Database, name: str) -> Enterprise | None:
    """The enterprise whose normalized name is exactly this one's (``比亚迪`` = ``比亚迪股份有限公司``)."""
    async with db.session() as session:
        return await _by_normalized(session, normalize_name(name))


async def similar(db: Database, name: str, *, limit: int = 5, cutoff: float = 70.0) -> list[Candidate]:
    """Near matches to offer as "did you mean …?"."""
    async with db.session() as session:
        rows = (
            await session.exec(select(Enterprise.id, Enterprise.name).where(col(Enterprise.merged_into).is_(None)))
        ).all()
    matches = best_matches(name, [(int(i), n) for i, n in rows if i is not None], limit=limit, cutoff=cutoff)
    return [Candidate(i, n, s) for i, n, s in matches]


async def find_or_create(
    session: AsyncSession,
    *,
    name: str,
    credit_code: str | None,
    chain_id: int | None,
    actor_id: int,
) -> tuple[Enterprise, bool]:
    """Inside the caller's transaction: the existing record, or a new one (and whether new).

    Checked again here, not only when the person typed the name, because someone else may
    have registered the same enterprise while this draft was being filled in.
    """
    code = normalize_credit_code(credit_code) if credit_code else None
    existing = await _by_code(session, code) if code else None
    if existing is None and name:
        existing = await _by_normalized(session, normalize_name(name))
        if existing is not None and code and existing.credit_code and existing.credit_code != code:
            existing = None
    if existing is not None:
        if code and not existing.credit_code:
            existing.credit_code = code
            existing.updated_at = utcnow()
            session.add(existing)
        return existing, False
    enterprise = Enterprise(
        name=name,
        normalized_name=normalize_name(name),
        credit_code=code,
        chain_id=chain_id,
        pinyin=pinyin_full(name),
        initials=pinyin_initials(name),
        created_by=actor_id,
    )
    session.add(enterprise)
    await session.flush()
    assert enterprise.id is not None
    audit.record(
        session,
        actor_id=actor_id,
        entity="enterprise",
        entity_id=enterprise.id,
        action="created",
        name=name,
        credit_code=code,
    )
    return enterprise, True


async def resolve(
    session: AsyncSession,
    *,
    enterprise_id: int | None,
    name: str,
    credit_code: str | None,
    chain_id: int | None,
    actor_id: int,
) -> Enterprise:
    """The enterprise a draft names: the one picked (followed through merges), or found or created."""
    enterprise: Enterprise | None = None
    if enterprise_id is not None:
        enterprise = await session.get(Enterprise, enterprise_id)
        while enterprise is not None and enterprise.merged_into is not None:
            enterprise = await session.get(Enterprise, enterprise.merged_into)
    if enterprise is None:
        enterprise, _ = await find_or_create(
            session, name=name, credit_code=credit_code, chain_id=chain_id, actor_id=actor_id
        )
    return enterprise


async def chains(db: Database) -> list[Chain]:
    async with db.session() as session:
        return list((await session.exec(select(Chain).where(col(Chain.active)).order_by(col(Chain.id)))).all())


async def get_chain(db: Database, chain_id: int) -> Chain | None:
    async with db.session() as session:
        return await session.get(Chain, chain_id)
