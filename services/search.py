"""/find: enterprises, leads and projects by name, credit code, pinyin, initials or alias.

Enterprises are found through the name index (``services.name_index``): every kind of search
is an indexed lookup that hands at most a few hundred names and aliases to the ranking here,
however large the register. What a person sees follows ``services.access``: an enterprise in
their scope is shown whole; one outside it only as the shared register's entry (name and
credit code), so nobody registers it twice; leads and projects are cut to their scope in the
queries that load them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, Lead, Member, Project
from services import name_index
from services.access import RegisterEntry, Sight, register_entries, scope, sights
from services.credit_code import is_valid_credit_code, looks_like_credit_code, normalize_credit_code
from services.names import best_matches, normalize_name

LIMIT = 10
NEAR_CUTOFF = 70.0
_LATIN = re.compile(r"[a-z0-9 .&'-]+")
_ESCAPE = "!"


@dataclass(frozen=True)
class Found:
    enterprises: list[Enterprise]
    leads: list[tuple[Lead, str]]
    projects: list[tuple[Project, str]]
    entries: list[RegisterEntry] = field(default_factory=list)  # outside the person's scope

    @property
    def empty(self) -> bool:
        return not (self.enterprises or self.leads or self.projects or self.entries)


def _like(text: str) -> str:
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    return f"%{escaped}%"


async def enterprise_ids(session: AsyncSession, text: str, *, limit: int = 200) -> list[int]:
    """Enterprises matching ``text``, best first (unscoped: callers filter to what may be seen).

    Direct matches (name, alias, pinyin, initials) first; only when there is none, near names.
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
    ranked: dict[int, float] = {}
    if latin:
        for form in await name_index.by_letters(session, letters, stem):
            _keep(ranked, form.enterprise_id, _latin_score(form, letters, stem))
    elif stem:
        for form in await name_index.by_stem(session, stem):
            _keep(ranked, form.enterprise_id, _stem_score(form, stem))
    if not ranked and not latin and len(stem) >= 2:
        forms = await name_index.near(session, stem)
        for eid, _name, score in best_matches(
            stem, [(f.enterprise_id, f.normalized) for f in forms], limit=len(forms), cutoff=NEAR_CUTOFF
        ):
            _keep(ranked, eid, score * 0.9)
    return [eid for eid, _ in sorted(ranked.items(), key=lambda item: (-item[1], item[0]))][:limit]


def _keep(ranked: dict[int, float], enterprise_id: int, score: float) -> None:
    if score > ranked.get(enterprise_id, 0.0):
        ranked[enterprise_id] = score


def _latin_score(form: name_index.Form, letters: str, stem: str) -> float:
    """ndsd / ningdeshidai / catl: a whole match first, then a beginning, then a part."""
    if letters in (form.initials, form.pinyin):
        return 96.0 if form.alias else 100.0
    if form.initials.startswith(letters) or form.pinyin.startswith(letters):
        # ndsd: 宁德时代 (ndsd…) before a longer name whose initials merely begin so.
        return 92.0 - min(len(form.initials) - len(letters), 10) * 0.2
    if stem and stem in form.normalized:
        return 90.0
    if letters in form.pinyin:
        return 85.0
    return 0.0


def _stem_score(form: name_index.Form, stem: str) -> float:
    if form.normalized == stem:
        return 95.0 if form.alias else 100.0
    if stem in form.normalized:
        return 90.0 - min(len(form.normalized) - len(stem), 20) * 0.2 - (1.0 if form.alias else 0.0)
    return 0.0


async def find(db: Database, member: Member, text: str, *, limit: int = LIMIT) -> Found:
    async with db.session() as session:
        ids = await enterprise_ids(session, text)
        order = {eid: n for n, eid in enumerate(ids)}
        enterprises: list[Enterprise] = []
        entries: list[RegisterEntry] = []
        if ids:
            # How much may be seen is asked of ids alone; only the few shown are loaded.
            seen = await sights(session, member, ids)
            shown = sorted(seen, key=order.__getitem__)[:limit]
            whole = [i for i in shown if seen[i] is Sight.RECORD]
            rows = (await session.exec(select(Enterprise).where(col(Enterprise.id).in_(whole)))).all()
            enterprises = sorted(rows, key=lambda e: order[int(e.id or 0)])
            told = await register_entries(session, [i for i in shown if seen[i] is Sight.REGISTER])
            entries = sorted(told.values(), key=lambda e: order[e.id])
        # Leads and projects are read on their own and their enterprises' names after: joined,
        # SQLite may walk the whole register to find a handful of projects.
        leads = (
            list(
                (
                    await session.exec(
                        select(Lead)
                        .where(col(Lead.enterprise_id).in_(ids), scope(member, Lead))
                        .order_by(col(Lead.created_at).desc())
                        .limit(limit)
                    )
                ).all()
            )
            if ids
            else []
        )
        stem = normalize_name(text)
        by_name = col(Project.normalized_name).like(_like(stem), escape=_ESCAPE) if stem else None
        project_match = col(Project.enterprise_id).in_(ids) if ids else None
        conditions = [c for c in (by_name, project_match) if c is not None]
        projects = (
            list(
                (
                    await session.exec(
                        select(Project)
                        .where(or_(*conditions), scope(member, Project))
                        .order_by(col(Project.created_at).desc())
                        .limit(limit)
                    )
                ).all()
            )
            if conditions
            else []
        )
        named = {r.enterprise_id for r in leads} | {p.enterprise_id for p in projects}
        names: dict[int, str] = {}
        if named:
            pairs = await session.exec(select(Enterprise.id, Enterprise.name).where(col(Enterprise.id).in_(named)))
            names = {int(i): n for i, n in pairs.all() if i is not None}
    return Found(
        enterprises,
        [(lead, names.get(lead.enterprise_id, "")) for lead in leads],
        [(project, names.get(project.enterprise_id, "")) for project in projects],
        entries,
    )


async def search_ids(db: Database, text: str, *, limit: int = LIMIT) -> list[int]:
    """Enterprise ids matching ``text`` over the whole register (the bureau's view)."""
    async with db.session() as session:
        return (await enterprise_ids(session, text))[:limit]
