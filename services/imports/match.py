"""Matching checked rows to the enterprise register and to earlier rows of the same file.

Credit code first, then normalized name, then a near name; a row naming an enterprise an
earlier row already named is a duplicate. The register is read once, in four set-based
queries; the matching itself runs off the event loop.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, EnterpriseName, LibraryEntry
from services.imports.check import Checked, Row
from services.names import best_matches, normalize_name

FUZZY_CUTOFF = 90.0
PARTITION = 5000


def _bigrams(stem: str) -> set[str]:
    return {stem[i : i + 2] for i in range(len(stem) - 1)} or {stem}


class NearIndex:
    """Near-name lookup over many names without comparing against every one of them.

    A name one or two typed characters away from another still shares all but a few of its
    character pairs; candidates are the names holding one of the query's three rarest pairs
    (of those any name holds: a pair no name has finds nothing), so a common pair (科技, 能源)
    never drags in a large part of the register. A registered name found whole inside the
    query (宁德时代 in 宁德时代新能源科技股份有限公司) is always a candidate, however common
    its pairs.
    """

    RAREST = 3

    def __init__(self) -> None:
        self._grams: dict[str, list[int]] = defaultdict(list)
        self._stems: dict[str, list[int]] = defaultdict(list)
        self._names: dict[int, list[str]] = defaultdict(list)

    def add(self, key: int, name: str, stem: str | None = None) -> None:
        """Index ``name`` under ``key``; a key may have several names (an enterprise's aliases).

        ``stem``: the name normalized, when the register already holds it.
        """
        self._names[key].append(name)
        if stem is None:
            stem = normalize_name(name)
        self._stems[stem].append(key)
        for gram in _bigrams(stem):
            self._grams[gram].append(key)

    def near(self, name: str, *, cutoff: float, limit: int = 3) -> list[tuple[int, str, float]]:
        stem = normalize_name(name)
        held = [gram for gram in _bigrams(stem) if gram in self._grams]
        pool: set[int] = set()
        for gram in sorted(held, key=lambda g: len(self._grams[g]))[: self.RAREST]:
            pool.update(self._grams[gram])
        for start in range(len(stem) - 1):
            for end in range(start + 2, len(stem) + 1):
                pool.update(self._stems.get(stem[start:end], ()))
        candidates = [(k, known) for k in sorted(pool) for known in self._names[k]]
        found: dict[int, tuple[int, str, float]] = {}
        for key, known, score in best_matches(name, candidates, limit=len(candidates), cutoff=cutoff):
            found.setdefault(key, (key, known, score))
        return list(found.values())[:limit]


async def _rows(session: AsyncSession, query: Any) -> list[Any]:
    """All rows of ``query``, fetched in partitions: the event loop gets a turn between them."""
    result = await session.stream(query.execution_options(yield_per=PARTITION))
    rows: list[Any] = []
    async for part in result.partitions():
        rows.extend(tuple(row) for row in part)
    return rows


async def match(db: Database, checked: Checked) -> None:
    """Match good rows to enterprises in the register and to earlier rows of the same file."""
    async with db.session() as session:
        registered = await _rows(
            session,
            select(Enterprise.id, Enterprise.name, Enterprise.normalized_name, Enterprise.credit_code).where(
                col(Enterprise.merged_into).is_(None)
            ),
        )
        libraries = {
            (int(c), int(e))
            for c, e in await _rows(
                session,
                select(LibraryEntry.chain_id, LibraryEntry.enterprise_id).where(col(LibraryEntry.removed_at).is_(None)),
            )
        }
        merged = {
            int(i): int(into)
            for i, into in await _rows(
                session, select(Enterprise.id, Enterprise.merged_into).where(col(Enterprise.merged_into).is_not(None))
            )
            if i is not None and into is not None
        }
        coded = {
            str(code): int(i)
            for i, code in await _rows(
                session, select(Enterprise.id, Enterprise.credit_code).where(col(Enterprise.credit_code).is_not(None))
            )
            if code and i is not None
        }
        aliases = [
            (int(i), str(stem))
            for i, stem in await _rows(
                session,
                select(EnterpriseName.enterprise_id, EnterpriseName.normalized).where(col(EnterpriseName.alias)),
            )
        ]
    # Matching is CPU work over the whole register: off the event loop, so that other
    # people's messages are answered meanwhile.
    await asyncio.to_thread(_match_rows, checked, registered, libraries, merged, coded, aliases)


def _match_rows(
    checked: Checked,
    registered: list[tuple[int | None, str, str, str | None]],
    libraries: set[tuple[int, int]],
    merged: dict[int, int],
    coded: dict[str, int],
    aliases: list[tuple[int, str]],
) -> None:
    by_id = {int(i): (name, stem, code) for i, name, stem, code in registered if i is not None}
    by_stem: dict[str, int] = {}
    for i, (_name, stem, _code) in sorted(by_id.items()):
        by_stem.setdefault(stem, i)
    index = NearIndex()
    for i, (name, stem, _code) in by_id.items():
        index.add(i, name, stem)
    # A name the register knows only as an alias (BYD for 比亚迪) matches that enterprise.
    for i, stem in sorted(aliases):
        if i in by_id:
            by_stem.setdefault(stem, i)
            index.add(i, stem, stem)
    in_file = NearIndex()
    seen: dict[tuple[str, int | None], int] = {}
    accepted: dict[int, Row] = {}
    for row in checked.rows:
        if not row.ok:
            continue
        stem = normalize_name(row.name)
        keys = [("name:" + stem, row.chain_id)]
        if row.credit_code:
            keys.insert(0, ("code:" + row.credit_code, row.chain_id))
        earlier = next((seen[k] for k in keys if k in seen), None)
        if earlier is None:
            # The same enterprise typed two ways in one file (宁德时代 / 宁德时代新能源科技股份有限公司).
            for line, _name, _score in in_file.near(row.name, cutoff=FUZZY_CUTOFF):
                other = accepted[line]
                if other.chain_id == row.chain_id and not (
                    row.credit_code and other.credit_code and other.credit_code != row.credit_code
                ):
                    earlier = line
                    break
        if earlier is not None:
            row.reject("desk.import.reason.duplicate", line=earlier)
            continue
        for k in keys:
            seen[k] = row.line
        accepted[row.line] = row
        in_file.add(row.line, row.name)
        found: int | None = None
        if row.credit_code and row.credit_code in coded:
            found, row.match_how = coded[row.credit_code], "code"
            while found in merged:
                found = merged[found]
        if found is None and stem in by_stem:
            their_code = by_id[by_stem[stem]][2]
            if not (row.credit_code and their_code and their_code != row.credit_code):
                found, row.match_how = by_stem[stem], "name"
        if found is None:
            for i, _name, _score in index.near(row.name, cutoff=FUZZY_CUTOFF):
                their_code = by_id[i][2]
                if not (row.credit_code and their_code and their_code != row.credit_code):
                    found, row.match_how = i, "near"
                    break
        if found is not None:
            row.match_id = found
            row.match_name = by_id[found][0] if found in by_id else row.name
            row.in_library = (row.chain_id, found) in libraries
