"""/find: enterprises, leads and projects by name, credit code, pinyin, initials or alias.

Filtering happens in SQL (substring matches on the normalized name, pinyin, initials and
aliases; for near names, a prefilter on the characters the query shares with a name), so
only a small candidate set reaches rapidfuzz, even with 100,000 enterprises. What a person
sees is cut to their scope (``services.access``) in the same queries.
"""

from __future__ import annotations

import json
import operator
import re
import unicodedata
from dataclasses import dataclass
from functools import reduce

from sqlalchemy import ColumnElement, String, case, cast, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, Lead, Member, Project
from services.access import scope
from services.credit_code import is_valid_credit_code, looks_like_credit_code, normalize_credit_code
from services.names import best_matches, normalize_name

LIMIT = 10
NEAR_CUTOFF = 70.0
# Candidates read for one search: enough for any real query, a bound for a pathological one.
NEAR_POOL = 20000
_LATIN = re.compile(r"[a-z0-9 .&'-]+")
_ESCAPE = "!"


@dataclass(frozen=True)
class Found:
    enterprises: list[Enterprise]
    leads: list[tuple[Lead, str]]
    projects: list[tuple[Project, str]]

    @property
    def empty(self) -> bool:
        return not (self.enterprises or self.leads or self.projects)


def _like(text: str) -> str:
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    return f"%{escaped}%"


def _alias_match(text: str) -> ColumnElement[bool]:
    """Aliases are a JSON list; its text may hold non-ASCII characters as \\u escapes."""
    stored = func.lower(cast(Enterprise.aliases, String))
    escaped = json.dumps(text)[1:-1]
    forms = {text, escaped}
    return or_(*(stored.like(_like(form), escape=_ESCAPE) for form in forms))


def _bigrams(stem: str) -> list[str]:
    return sorted({stem[i : i + 2] for i in range(len(stem) - 1)} or {stem})


async def enterprise_ids(session: AsyncSession, text: str, *, limit: int = 200) -> list[int]:
    """Enterprises matching ``text``, best first (unscoped: callers filter to what may be seen).

    One scan of the register for direct matches (name, pinyin, initials, alias); only when
    there is none, a second one for near names.
    """
    query = " ".join(text.split())
    if not query:
        return []
    code = normalize_credit_code(query)
    if looks_like_credit_code(code) and is_valid_credit_code(code):
        found = await session.exec(
            select(Enterprise.id).where(col(Enterprise.credit_code) == code, col(Enterprise.merged_into).is_(None))
        )
        return [int(i) for i in found.all() if i is not None]
    folded = unicodedata.normalize("NFKC", query).lower()
    latin = _LATIN.fullmatch(folded) is not None
    letters = folded.replace(" ", "")
    stem = normalize_name(query)
    if latin:
        where = or_(
            col(Enterprise.initials).startswith(letters, autoescape=True),
            col(Enterprise.pinyin).like(_like(letters), escape=_ESCAPE)
            if len(letters) >= 3
            else col(Enterprise.pinyin).startswith(letters, autoescape=True),
            func.lower(Enterprise.name).like(_like(folded), escape=_ESCAPE),
            _alias_match(folded),
        )
    else:
        where = or_(col(Enterprise.normalized_name).like(_like(stem), escape=_ESCAPE), _alias_match(stem))
    rows = (
        await session.exec(select(Enterprise).where(col(Enterprise.merged_into).is_(None), where).limit(NEAR_POOL))
    ).all()
    ranked: dict[int, float] = {}
    for row in rows:
        eid, name, normalized, pinyin, initials = row.id, row.name, row.normalized_name, row.pinyin, row.initials
        if eid is None:
            continue
        aliases = row.aliases
        score = 0.0
        alias_text = " ".join(str(a) for a in aliases).lower()
        if latin:
            if letters in (initials, pinyin):
                score = 100.0
            elif folded in alias_text or letters in alias_text.replace(" ", ""):
                score = 96.0
            elif initials.startswith(letters) or pinyin.startswith(letters):
                # ndsd: 宁德时代 (ndsd…) before a longer name whose initials merely begin so.
                score = 92.0 - min(len(initials) - len(letters), 10) * 0.2
            elif folded in name.lower():
                score = 90.0
            elif letters in pinyin:
                score = 85.0
        else:
            if normalized == stem:
                score = 100.0
            elif stem in alias_text or query.lower() in alias_text:
                score = 95.0
            elif stem in normalized:
                score = 90.0 - min(len(normalized) - len(stem), 20) * 0.2
        if score:
            ranked[int(eid)] = score
    if not ranked and not latin and len(stem) >= 2:
        ranked = dict(await _near(session, stem))
    return [eid for eid, _ in sorted(ranked.items(), key=lambda item: (-item[1], item[0]))][:limit]


async def _near(session: AsyncSession, stem: str) -> list[tuple[int, float]]:
    """Near names: a name sharing no pair of consecutive characters with the query cannot score high."""
    grams = [col(Enterprise.normalized_name).like(_like(gram), escape=_ESCAPE) for gram in _bigrams(stem)]
    # One wrong character in a longer name still leaves two pairs in common; asking for two
    # keeps common pairs (科技, 能源) from pulling in a sixth of the register.
    shares: ColumnElement[bool] = (
        or_(*grams) if len(grams) <= 3 else reduce(operator.add, [case((g, 1), else_=0) for g in grams]) >= 2
    )
    rows = (
        await session.exec(
            select(Enterprise.id, Enterprise.name).where(col(Enterprise.merged_into).is_(None), shares).limit(NEAR_POOL)
        )
    ).all()
    matches = best_matches(stem, [(int(i), n) for i, n in rows if i is not None], limit=LIMIT, cutoff=NEAR_CUTOFF)
    return [(i, s * 0.9) for i, _, s in matches]


async def find(db: Database, member: Member, text: str, *, limit: int = LIMIT) -> Found:
    async with db.session() as session:
        ids = await enterprise_ids(session, text)
        order = {eid: n for n, eid in enumerate(ids)}
        enterprises: list[Enterprise] = []
        if ids:
            rows = (
                await session.exec(select(Enterprise).where(col(Enterprise.id).in_(ids), scope(member, Enterprise)))
            ).all()
            enterprises = sorted(rows, key=lambda e: order.get(int(e.id or 0), 0))[:limit]
        leads = (
            (
                await session.exec(
                    select(Lead, Enterprise.name)
                    .join(Enterprise, col(Enterprise.id) == Lead.enterprise_id)
                    .where(col(Lead.enterprise_id).in_(ids), scope(member, Lead))
                    .order_by(col(Lead.created_at).desc())
                    .limit(limit)
                )
            ).all()
            if ids
            else []
        )
        stem = normalize_name(text)
        by_name = col(Project.normalized_name).like(_like(stem), escape=_ESCAPE) if stem else None
        project_match = col(Project.enterprise_id).in_(ids) if ids else None
        conditions = [c for c in (by_name, project_match) if c is not None]
        projects = (
            (
                await session.exec(
                    select(Project, Enterprise.name)
                    .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
                    .where(or_(*conditions), scope(member, Project))
                    .order_by(col(Project.created_at).desc())
                    .limit(limit)
                )
            ).all()
            if conditions
            else []
        )
    return Found(
        enterprises,
        [(lead, name) for lead, name in leads],
        [(project, name) for project, name in projects],
    )


async def search_ids(db: Database, text: str, *, limit: int = LIMIT) -> list[int]:
    """Enterprise ids matching ``text`` over the whole register (the bureau's view)."""
    async with db.session() as session:
        return (await enterprise_ids(session, text))[:limit]
