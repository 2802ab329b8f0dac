"""The enterprise register: one record per enterprise however its name is typed.

A typed name resolves to the enterprise whose name or alias normalizes the same way
(``宁德时代`` = ``宁德时代新能源科技股份有限公司`` once one was matched to the other; ``BYD``
= ``比亚迪`` once merged), read from the name index (``services.name_index``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import String, and_, case, cast, func, literal, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.cache import missing
from bot.core.db import Database
from models import Chain, Enterprise, EnterpriseName, utcnow
from services import audit, name_index
from services.access import in_register
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
    """The enterprise named or also known as ``normalized`` (its own name wins over an alias)."""
    # One query where the name index and then each record were two or more: every /lead asks it.
    query = (
        select(Enterprise)
        .join(EnterpriseName, col(EnterpriseName.enterprise_id) == col(Enterprise.id))
        .where(EnterpriseName.normalized == normalized, col(Enterprise.merged_into).is_(None))
        .order_by(col(EnterpriseName.alias), col(EnterpriseName.enterprise_id))
        .limit(1)
    )
    return (await session.exec(query)).first()


async def by_name(db: Database, name: str) -> Enterprise | None:
    """The enterprise whose normalized name is exactly this one's (``比亚迪`` = ``比亚迪股份有限公司``)."""
    async with db.session() as session:
        return await _by_normalized(session, normalize_name(name))


async def named_in(db: Database, text: str) -> dict[str, str]:
    """Names and aliases of the register that occur in ``text``, lower-cased, each with the register's name.

    A pasted news item names its investor among places, partners and dates; one the
    register already knows is the surest reading of it.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    compact = "".join(ch for ch in folded if ch.isalnum())
    if not compact:
        return {}
    stored = col(Enterprise.normalized_name)
    named = and_(func.length(stored) >= 2, literal(compact).contains(stored))
    has_aliases = cast(Enterprise.aliases, String) != "[]"
    found: dict[str, str] = {}
    # Names and aliases in one query (every /lead reads its text against the register).
    async with db.session() as session:
        rows = (
            await session.exec(
                select(
                    Enterprise.normalized_name,
                    Enterprise.name,
                    Enterprise.aliases,
                    case((named, True), else_=False),
                ).where(col(Enterprise.merged_into).is_(None), or_(named, has_aliases))
            )
        ).all()
    for stem, name, _, in_text in rows:
        if in_text and stem in folded:
            found[stem] = name
    for _, name, aliases, _ in rows:
        for alias in aliases or []:
            key = unicodedata.normalize("NFKC", str(alias)).lower().strip()
            if len(key) >= 2 and key in folded:
                found.setdefault(key, name)
    return found


async def similar(db: Database, name: str, *, limit: int = 5, cutoff: float = 70.0) -> list[Candidate]:
    """Near matches to offer as "did you mean …?", each enterprise once under its own name.

    Candidates are the names and aliases the trigram index ranks nearest, and those holding
    the typed name whole (宁德时代 inside 宁德时代新能源科技); rapidfuzz scores them. They come
    from the whole shared register, whoever's records are on them (``access.in_register``):
    a suggestion shows a name and nothing more, and is what keeps one enterprise one record.
    """
    stem = normalize_name(name)
    if not stem:
        return []
    async with db.session() as session:
        forms = await name_index.near(session, stem) + await name_index.by_stem(session, stem)
        ranked = best_matches(name, [(f.enterprise_id, f.normalized) for f in forms], limit=len(forms), cutoff=cutoff)
        best: dict[int, float] = {}
        for enterprise_id, _form, score in ranked:
            best.setdefault(enterprise_id, score)
        chosen = list(best.items())[:limit]
        names = dict(
            (
                await session.exec(
                    select(Enterprise.id, Enterprise.name).where(
                        col(Enterprise.id).in_([i for i, _ in chosen]), in_register()
                    )
                )
            ).all()
        )
    return [Candidate(i, names[i], score) for i, score in chosen if i in names]


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


def remember_alias(enterprise: Enterprise, name: str) -> bool:
    """Keep ``name`` as one of the enterprise's aliases unless it already answers to it."""
    stem = normalize_name(name)
    known = {normalize_name(n) for n in (enterprise.name, *enterprise.aliases)}
    if not stem or stem in known:
        return False
    enterprise.aliases = [*enterprise.aliases, name]
    return True


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
    """The active chains in order (the rows are the process's shared copies: read, never change them)."""
    kept = db.cache.get("chain", "active")
    if not missing(kept):
        return list(kept)
    generation = db.cache.generation
    async with db.session() as session:
        found = list((await session.exec(select(Chain).where(col(Chain.active)).order_by(col(Chain.id)))).all())
    db.cache.put("chain", "active", found, generation)
    return list(found)


async def get_chain(db: Database, chain_id: int) -> Chain | None:
    """One chain (an active one is the process's shared copy: read, never change it)."""
    for chain in await chains(db):
        if chain.id == chain_id:
            return chain
    async with db.session() as session:
        return await session.get(Chain, chain_id)
