"""The enterprise register: one record per enterprise however its name is typed."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Protocol

from sqlalchemy import ColumnElement, and_, case, func, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import Database
from models import Chain, Enterprise, utcnow
from services import audit
from services.credit_code import normalize_credit_code
from services.names import PARTIAL_SCALE, best_matches, normalize_name, pinyin_full, pinyin_initials


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
    stem = normalize_name(name)
    if not stem:
        return []
    async with db.session() as session:
        rows = (
            await session.exec(
                select(Enterprise.id, Enterprise.name).where(
                    col(Enterprise.merged_into).is_(None), _may_match(stem, cutoff)
                )
            )
        ).all()
    matches = best_matches(name, [(int(i), n) for i, n in rows if i is not None], limit=limit, cutoff=cutoff)
    return [Candidate(i, n, s) for i, n, s in matches]


def _may_match(stem: str, cutoff: float) -> ColumnElement[bool]:
    """A SQL condition every name that ``best_matches`` could score at ``cutoff`` or more meets.

    Both of its scores count the characters two names have in common (M): plain ratio is
    2M / (q + l) for a query of q characters and a name of l; the partial score compares the
    shorter name with a stretch of the longer one, 0.9 × 2M / (s + w) with s the shorter
    length and w ≤ s the stretch's, so M ≥ p·s / (2 − p) for p = cutoff / 90. M is at most
    the query's characters found in the name (S, counted with their repeats in the query),
    so requiring S to reach either bound drops only names that cannot score — the results
    are those of comparing with every name, while the database skips most of the register.
    """
    q = len(stem)
    stored = col(Enterprise.normalized_name)
    length = func.length(stored)
    shared = reduce(
        operator.add,
        [case((stored.contains(c, autoescape=True), stem.count(c)), else_=0) for c in sorted(set(stem))],
    )
    by_ratio = and_(shared * 200 >= cutoff * (q + length), length * 200 >= cutoff * (q + length))
    partial = cutoff / PARTIAL_SCALE
    if q < 2 or partial > 100:
        return by_ratio
    shorter = case((length < q, length), else_=q)
    by_partial = and_(
        length >= 2,
        or_(2 * length >= 3 * q, 3 * length <= 2 * q),
        shared * (200 - partial) >= partial * shorter,
    )
    return or_(by_ratio, by_partial)


async def find_or_create(
    session: AsyncSession,
    *,
    name: str,
    credit_code: str | None,
    chain_id: int | None,
    actor_id: int,
    turn_taken: bool = False,
    now: datetime | None = None,
) -> tuple[Enterprise, bool]:
    """Inside the caller's transaction: the existing record, or a new one (and whether new).

    Checked again here, not only when the person typed the name, because someone else may
    have registered the same enterprise while this draft was being filled in — or be saving
    it at this very moment: see ``take_turn`` (``turn_taken``: the caller holds ``take_register``).
    """
    code = normalize_credit_code(credit_code) if credit_code else None
    if not turn_taken:
        await take_turn(session, name, code)
    existing = await _by_code(session, code) if code else None
    if existing is None and name:
        existing = await _by_normalized(session, normalize_name(name))
        if existing is not None and code and existing.credit_code and existing.credit_code != code:
            existing = None
    if existing is not None:
        if code and not existing.credit_code:
            existing.credit_code = code
            existing.updated_at = now or utcnow()
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
        created_at=now or utcnow(),
        updated_at=now or utcnow(),
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
        at=now,
        name=name,
        credit_code=code,
    )
    return enterprise, True


# Every save that may create an enterprise holds this key shared; an import, creating many at
# once, holds it alone instead of one lock per row (PostgreSQL's lock table is small).
_REGISTER_KEY = "enterprise-register"


async def take_turn(session: AsyncSession, name: str, credit_code: str | None = None) -> None:
    """Take turns before an enterprise that may not exist yet is looked up (or created).

    There is no row to lock yet, so two saves naming the same new enterprise at once would
    each create it. On PostgreSQL they take turns on transaction-scoped advisory locks keyed
    by the credit code (when given), then the normalized name — always in that order, so two
    saves never wait on each other's second lock. On SQLite any write takes the database's
    one write lock for the rest of the transaction, so a write that changes nothing is enough.
    """
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext(:key))"), {"key": _REGISTER_KEY})
        keys = ([f"code:{credit_code}"] if credit_code else []) + [normalize_name(name)]
        for key in keys:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
    else:
        await _sqlite_write_lock(session)


async def take_register(session: AsyncSession) -> None:
    """Hold the whole register for the rest of the transaction (an import creating many at once)."""
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _REGISTER_KEY})
    else:
        await _sqlite_write_lock(session)


async def _sqlite_write_lock(session: AsyncSession) -> None:
    conn = await session.connection()
    await conn.execute(text("UPDATE enterprise SET registration_seq = registration_seq WHERE id IS NULL"))


async def resolve(
    session: AsyncSession,
    *,
    enterprise_id: int | None,
    name: str,
    credit_code: str | None,
    chain_id: int | None,
    actor_id: int,
    now: datetime | None = None,
) -> Enterprise:
    """The enterprise a draft names: the one picked (followed through merges), or found or created."""
    enterprise: Enterprise | None = None
    if enterprise_id is not None:
        enterprise = await session.get(Enterprise, enterprise_id)
        while enterprise is not None and enterprise.merged_into is not None:
            enterprise = await session.get(Enterprise, enterprise.merged_into)
    if enterprise is None:
        enterprise, _ = await find_or_create(
            session, name=name, credit_code=credit_code, chain_id=chain_id, actor_id=actor_id, now=now
        )
    return enterprise


class NamesEnterprise(Protocol):
    """A draft's enterprise: the one picked from the register, or the name and code typed."""

    @property
    def enterprise_id(self) -> int | None: ...

    @property
    def enterprise_name(self) -> str: ...

    @property
    def credit_code(self) -> str | None: ...


async def resolve_draft(
    session: AsyncSession, draft: NamesEnterprise, *, chain_id: int | None, actor_id: int, now: datetime | None
) -> Enterprise:
    """:func:`resolve` for a record being saved from a draft."""
    return await resolve(
        session,
        enterprise_id=draft.enterprise_id,
        name=draft.enterprise_name,
        credit_code=draft.credit_code,
        chain_id=chain_id,
        actor_id=actor_id,
        now=now,
    )


async def chains(db: Database) -> list[Chain]:
    async with db.session() as session:
        return list((await session.exec(select(Chain).where(col(Chain.active)).order_by(col(Chain.id)))).all())


async def get_chain(db: Database, chain_id: int) -> Chain | None:
    async with db.session() as session:
        return await session.get(Chain, chain_id)
