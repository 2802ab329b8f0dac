"""Every name an enterprise answers to, and finding enterprises by them through indexes.

Each enterprise not merged away has one :class:`EnterpriseName` row per name it is known
by — its own and each alias — normalized, with pinyin and initials. The rows are rewritten
whenever an enterprise's name, aliases or merge change, by whatever code changes them (a
mapper event, so a new writer cannot forget), and resolving or searching a typed name reads
only them:

- exact names and aliases, and initials or pinyin prefixes, through B-tree indexes;
- substrings of a name or of its pinyin through a trigram index: FTS5's trigram tokenizer
  on SQLite (``enterprisename_fts``, filled by triggers), ``pg_trgm`` GIN indexes on
  PostgreSQL (both created by migration 0006);
- two characters of a name (which make no trigram) through ``enterprisename_pair``, each
  pair's names in the order a search ranks them (filled by triggers, migration 0019);
- near names (a typo, a longer or shorter form) through the same index, asking only for
  trigrams few names hold (FTS5's vocabulary counts them; on PostgreSQL, runs of three
  characters inside a name), plus the registered names found whole inside the typed one, so
  that at most a few hundred candidates reach rapidfuzz.

The stored pinyin is what makes pinyin searchable without loading pypinyin's dictionary: it
is loaded only when a name is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    column,
    delete,
    event,
    func,
    insert,
    or_,
    table,
    text,
)
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import get_history
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import Enterprise, EnterpriseName
from services.names import normalize_name, pinyin_full, pinyin_initials

FTS_TABLE = "enterprisename_fts"
#: Each two characters of a name, keyed in the order by_stem ranks names (migration 0019).
_PAIRS = table(
    "enterprisename_pair",
    column("pair", String),
    column("length", Integer),
    column("alias", Boolean),
    column("enterprise_id", Integer),
    column("name_id", Integer),
)
#: Candidates the database hands over for one search or near-name check: enough for any real
#: query, and what keeps rapidfuzz's share of the time small.
POOL = 200
#: Names the rare trigrams of a near-name search may hold between them (see _rare_trigrams).
POSTINGS = 3000
# A typed name this short may be one wrong character from another with no three in a row
# in common (宁得时代 / 宁德时代): its first and last two characters find candidates too.
_SHORT = 5
# A typed name longer than this is cut before its stretches are looked up (a few hundred).
_LONGEST = 40
_ESCAPE = "!"
# FTS5 tokenizes the stored name between these marks, so a name's first and last characters
# make trigrams of their own: 比亚迪 typed 比亚笛 still shares "^比亚" with it.
_START, _END = "^", "$"


@dataclass(frozen=True)
class Form:
    """One indexed name of an enterprise as a search reads it."""

    enterprise_id: int
    normalized: str
    pinyin: str
    initials: str
    alias: bool


def forms_of(enterprise: Enterprise) -> list[dict[str, Any]]:
    """The index rows of an enterprise: its own name first, then each alias not already covered."""
    if enterprise.id is None or enterprise.merged_into is not None:
        return []
    return forms(
        enterprise.id,
        enterprise.name,
        enterprise.normalized_name,
        list(enterprise.aliases),
        enterprise.pinyin,
        enterprise.initials,
    )


def forms(
    enterprise_id: int, name: str, normalized_name: str, aliases: list[str], pinyin: str, initials: str
) -> list[dict[str, Any]]:
    """``forms_of`` from an enterprise's values, for writers that hold no ORM object (imports)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for alias, known in [(False, name), *((True, str(a)) for a in aliases)]:
        stem = normalize_name(known)
        if not stem or stem in seen:
            continue
        seen.add(stem)
        own = not alias and pinyin and normalized_name == stem
        rows.append(
            {
                "enterprise_id": enterprise_id,
                "normalized": stem[:256],
                "pinyin": (pinyin if own else pinyin_full(known))[:512],
                "initials": (initials if own else pinyin_initials(known))[:128],
                "alias": alias,
            }
        )
    return rows


def reindex(connection: Connection, enterprise: Enterprise) -> None:
    """Rewrite an enterprise's index rows on ``connection`` (inside the caller's transaction)."""
    connection.execute(delete(EnterpriseName).where(col(EnterpriseName.enterprise_id) == enterprise.id))
    rows = forms_of(enterprise)
    if rows:
        connection.execute(insert(EnterpriseName), rows)


_INDEXED = ("name", "aliases", "merged_into")


@event.listens_for(Enterprise, "after_insert")
def _indexed_on_insert(_mapper: Mapper[Any], connection: Connection, target: Enterprise) -> None:
    reindex(connection, target)


@event.listens_for(Enterprise, "after_update")
def _indexed_on_update(_mapper: Mapper[Any], connection: Connection, target: Enterprise) -> None:
    if any(get_history(target, key).has_changes() for key in _INDEXED):
        reindex(connection, target)


def fill_rows(enterprises: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Index rows for enterprises written in bulk (``id``, ``name``, ``aliases`` and stored pinyin)."""
    rows: list[dict[str, Any]] = []
    for values in enterprises:
        rows.extend(
            forms(
                values["id"],
                values["name"],
                values.get("normalized_name") or normalize_name(values["name"]),
                list(values.get("aliases") or []),
                values.get("pinyin") or "",
                values.get("initials") or "",
            )
        )
    return rows


# -- reading ---------------------------------------------------------------------------------
def _escaped(text_: str) -> str:
    return text_.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")


def _like(text_: str) -> str:
    return f"%{_escaped(text_)}%"


def _phrase(text_: str) -> str:
    return '"' + text_.replace('"', '""') + '"'


def _prefix(column: Any, letters: str) -> ColumnElement[bool]:
    """``column`` starts with ``letters``, as a range a B-tree index answers on either backend."""
    return and_(column >= letters, column < letters + "\U0010ffff")


async def _dialect(session: AsyncSession) -> str:
    return (await session.connection()).dialect.name


async def _contains(session: AsyncSession, field: str, part: str) -> ColumnElement[bool]:
    """``field`` of the index contains ``part``: through the trigram or pair index when it can help."""
    if len(part) == 2 and field == "normalized":
        return col(EnterpriseName.id).in_(select(_PAIRS.c.name_id).where(_PAIRS.c.pair == part))
    stored = getattr(EnterpriseName, field)
    if await _dialect(session) != "sqlite" or len(part) < 3:
        return col(stored).like(_like(part), escape=_ESCAPE)
    query = f"{field} : ({_phrase(part)})"
    matching = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q").bindparams(q=query)
    return col(EnterpriseName.id).in_(matching.columns(column("rowid", Integer)))


async def with_name(session: AsyncSession, stem: str) -> list[int]:
    """Enterprises whose name or an alias normalizes to ``stem``: own names first, then by id."""
    rows = await session.exec(
        select(EnterpriseName.enterprise_id)
        .where(EnterpriseName.normalized == stem)
        .order_by(col(EnterpriseName.alias), col(EnterpriseName.enterprise_id))
    )
    return list(dict.fromkeys(int(i) for i in rows.all()))


async def _forms(session: AsyncSession, where: ColumnElement[bool], order: list[Any]) -> list[Form]:
    rows = await session.exec(select(EnterpriseName).where(where).order_by(*order).limit(POOL))
    return [Form(r.enterprise_id, r.normalized, r.pinyin, r.initials, r.alias) for r in rows.all()]


async def by_stem(session: AsyncSession, stem: str) -> list[Form]:
    """Names and aliases equal to or containing ``stem``, the closest in length first."""
    length = func.length(EnterpriseName.normalized)
    order = [length, col(EnterpriseName.alias), col(EnterpriseName.enterprise_id)]
    if len(stem) == 2:
        # Thousands of names may hold two common characters; the pair index is kept in this
        # order, so only the names handed over are read.
        first = (
            select(_PAIRS.c.name_id)
            .where(_PAIRS.c.pair == stem)
            .order_by(_PAIRS.c.length, _PAIRS.c.alias, _PAIRS.c.enterprise_id, _PAIRS.c.name_id)
            .limit(POOL)
        )
        return await _forms(session, col(EnterpriseName.id).in_(first), order)
    where = or_(col(EnterpriseName.normalized) == stem, await _contains(session, "normalized", stem))
    return await _forms(session, where, order)


async def by_letters(session: AsyncSession, letters: str, stem: str) -> list[Form]:
    """Initials or pinyin beginning with ``letters``, pinyin containing them, Latin names containing ``stem``."""
    conditions = [_prefix(col(EnterpriseName.initials), letters), _prefix(col(EnterpriseName.pinyin), letters)]
    if len(letters) >= 3:
        conditions.append(await _contains(session, "pinyin", letters))
    if stem and stem != letters:
        conditions.append(await _contains(session, "normalized", stem))
    length = func.length(EnterpriseName.initials)
    return await _forms(
        session, or_(*conditions), [length, col(EnterpriseName.alias), col(EnterpriseName.enterprise_id)]
    )


def _inside(stem: str) -> list[str]:
    """Every stretch of two or more characters of ``stem``: the names it may hold whole."""
    stem = stem[:_LONGEST]
    return sorted({stem[i:j] for i in range(len(stem) - 1) for j in range(i + 2, len(stem) + 1)})


async def near(session: AsyncSession, stem: str) -> list[Form]:
    """Candidates for a near match: names sharing rare trigrams with ``stem``, and names inside it.

    A registered name found whole inside the typed one (宁德时代 in 宁德时代新能源科技) is always
    a candidate, however common its characters; the others are ranked by the database.
    """
    if not stem:
        return []
    inside = await _forms(
        session, col(EnterpriseName.normalized).in_(_inside(stem)), [col(EnterpriseName.enterprise_id)]
    )
    if await _dialect(session) == "postgresql":
        return inside + await _forms(session, _pg_near(stem), [func.similarity(EnterpriseName.normalized, stem).desc()])
    grams = await _rare_trigrams(session, _START + stem + _END)
    if not grams:
        return inside
    query = "normalized : (" + " OR ".join(_phrase(g) for g in grams) + ")"
    ranked = text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q ORDER BY rank LIMIT {POOL}").bindparams(
        q=query
    )
    where = col(EnterpriseName.id).in_(ranked.columns(column("rowid", Integer)))
    return inside + await _forms(session, where, [col(EnterpriseName.id)])


def _pg_near(stem: str) -> ColumnElement[bool]:
    """Names holding any three characters of ``stem`` in a row, or (a short stem) its first or last two.

    pg_trgm's similarity operator would read the index entries of the word's start and end,
    which thousands of names share (宁德…, …科技); a pattern inside the word reads only the
    entries of its own trigram, a few names each. The database ranks them by similarity.
    """
    stored = col(EnterpriseName.normalized)
    patterns = [_like(stem[i : i + 3]) for i in range(len(stem) - 2)]
    if len(stem) <= _SHORT:
        patterns += [_escaped(stem[:2]) + "%", "%" + _escaped(stem[-2:])]
    return or_(*(stored.like(pattern, escape=_ESCAPE) for pattern in patterns))


async def _rare_trigrams(session: AsyncSession, bounded: str) -> list[str]:
    """The text's trigrams that some name holds, rarest first, up to :data:`POSTINGS` names in all.

    A name one character off still shares most trigrams with the typed one; asking for the
    rare ones finds it without ranking the thousands of names a common one (科技, 宁德) is in.
    The rarest is always asked, so a text made of common trigrams still gets candidates.
    """
    grams = sorted({bounded[i : i + 3] for i in range(len(bounded) - 2)})
    connection = await session.connection()
    held = (
        await connection.execute(
            text(f"SELECT term, doc FROM {FTS_TABLE}_vocab WHERE col = 'normalized' AND term IN :grams").bindparams(
                bindparam("grams", expanding=True)
            ),
            {"grams": grams},
        )
    ).all()
    chosen: list[str] = []
    total = 0
    for term, count in sorted(held, key=lambda row: (row[1], row[0])):
        if chosen and total + count > POSTINGS:
            break
        chosen.append(str(term))
        total += int(count)
    return chosen
