"""Matching checked rows to the enterprise register and to earlier rows of the same file.

Credit code first, then normalized name, then a near name; a row naming an enterprise an
earlier row already named is a duplicate. The register is read once, in three set-based
queries, as plain tuples; the near-name index is built only for the character pairs the file's
names hold, and the matching runs in strides with the event loop answering others between
them — so a 2,000-row file against 100,000 enterprises is checked in about a second.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import operator
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, EnterpriseName, LibraryEntry
from services.imports.check import Checked, Row
from services.imports.turns import collection_paused, turn
from services.names import best_stems, close, normalize_name, reachable, whole_only

FUZZY_CUTOFF = 90.0
PARTITION = 2000
#: Names indexed between two looks at the clock (``turns``): well under a millisecond of work.
STRIDE = 100


def _bigrams(stem: str) -> set[str]:
    return {stem[i : i + 2] for i in range(len(stem) - 1)} or {stem}


Entry = tuple[int, str, str]  # key, name, stem


@functools.lru_cache(maxsize=4096)
def _lengths(size: int, longest: int, cutoff: float) -> tuple[frozenset[int], frozenset[int]]:
    """The stem lengths up to ``longest`` that could reach ``cutoff`` against ``size``: those
    near enough in length for the plain ratio, and those only a partial match could reach."""
    near = frozenset(n for n in range(1, longest + 1) if close(size, n, cutoff))
    far = frozenset(n for n in range(1, longest + 1) if n not in near and reachable(size, n, cutoff))
    return near, far


class NearIndex:
    """Near-name lookup over many names without comparing against every one of them.

    A name one or two typed characters away from another still shares all but a few of its
    character pairs; candidates are the names holding one of the query's three rarest pairs
    (of those any name holds: a pair no name has finds nothing), so a common pair (科技, 能源)
    never drags in a large part of the register. A registered name found whole inside the
    query (宁德时代 in 宁德时代新能源科技股份有限公司) is always a candidate, however common
    its pairs.

    A pair's names are kept by length: a look-up takes only the lengths that could reach the
    cutoff (``names.reachable``), and at 90 a much longer or shorter name only when one holds
    the other whole — the same answers as ranking every candidate, for a fraction of them,
    gathered by whole lists rather than name by name.
    """

    RAREST = 3

    def __init__(self) -> None:
        # (pair, length) → the names of that length of every key one of whose names holds the pair.
        self._grams: defaultdict[tuple[str, int], list[Entry]] = defaultdict(list)
        self._stems: dict[str, list[int]] = defaultdict(list)
        self._names: dict[int, list[Entry]] = defaultdict(list)
        self._counts: dict[str, int] = {}  # how many names hold each pair
        self._longest = 0

    def _count(self, gram: str) -> int:
        return self._counts.get(gram, 0)

    def _post(self, gram: str, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self._grams[gram, len(entry[2])].append(entry)

    def add(self, key: int, name: str, stem: str | None = None) -> None:
        """Index ``name`` under ``key``; a key may have several names (an enterprise's aliases).

        ``stem``: the name normalized, when the register already holds it.
        """
        if stem is None:
            stem = normalize_name(name)
        names = self._names[key]
        names.append((key, name, stem))
        self._stems[stem].append(key)
        self._longest = max(self._longest, len(stem))
        for gram in _bigrams(stem):
            self._counts[gram] = self._counts.get(gram, 0) + 1
        # Every name of a key is a candidate wherever one of them is (a look-up drops copies).
        for gram in {g for _key, _known, form in names for g in _bigrams(form)}:
            self._post(gram, names)

    def near(self, name: str, *, cutoff: float, limit: int = 3) -> list[tuple[int, str, float]]:
        stem = normalize_name(name)
        size = len(stem)
        near, far = _lengths(size, self._longest, cutoff)
        whole = whole_only(cutoff)

        def fits(entry: Entry) -> bool:
            form = entry[2]
            return len(form) in near or (len(form) in far and (not whole or form in stem or stem in form))

        gathered: list[Entry] = []
        held = [gram for gram in _bigrams(stem) if self._count(gram)]
        postings = self._grams
        for gram in sorted(held, key=self._count)[: self.RAREST]:
            for n in near:
                gathered.extend(postings.get((gram, n), ()))
            for n in far:
                gathered.extend(filter(fits, postings.get((gram, n), ())))
        for start in range(len(stem) - 1):
            for end in range(start + 2, len(stem) + 1):
                for key in self._stems.get(stem[start:end], ()):
                    gathered.extend(filter(fits, self._names[key]))
        # In order of key, as ties are ranked; each name once.
        candidates = sorted(dict.fromkeys(gathered), key=operator.itemgetter(0))
        found: dict[int, tuple[int, str, float]] = {}
        for key, known, score in best_stems(stem, candidates, limit=len(candidates), cutoff=cutoff):
            found.setdefault(key, (key, known, score))
        return list(found.values())[:limit]


async def _rows(session: AsyncSession, query: Any) -> list[tuple[Any, ...]]:
    """All rows of ``query`` as plain tuples (Core, no ORM), in partitions: the event loop
    gets a turn between them."""
    rows: list[tuple[Any, ...]] = []
    async for part in _partitions(session, query):
        rows.extend(part)
    return rows


async def _partitions(session: AsyncSession, query: Any) -> AsyncIterator[list[tuple[Any, ...]]]:
    connection = await session.connection()
    result = await connection.stream(query.execution_options(yield_per=PARTITION))
    async for part in result.partitions():
        yield [tuple(row) for row in part]
        await asyncio.sleep(0)


def _pairs(stem: str) -> set[str]:
    """``_bigrams``, as the C-level map a hundred thousand names need."""
    return set(map(operator.add, stem, stem[1:])) if len(stem) > 1 else {stem}


async def register_index(entries: list[tuple[int, str, str]], queries: list[str]) -> NearIndex:
    """A :class:`NearIndex` of the register that answers ``near`` for these names alone.

    The same answers as with every name ``add``-ed, for far less work: a look-up reads the
    postings of its three rarest pairs only, so the register is read twice — once to count
    how many names hold each pair the queries have, once to post the names holding a pair
    that is among some query's rarest — and the million pairs of 100,000 names are never
    all posted. Cut into strides with the event loop answering others between them.
    """
    index = NearIndex()
    names, stems = index._names, index._stems
    asked = [_bigrams(normalize_name(q)) for q in queries]
    grams = set().union(*asked)
    # The names holding any pair the file's names have, with those pairs: the second pass
    # needs no other name, and no name's pairs twice.
    holding: list[tuple[int, set[str]]] = []
    counts: Counter[str] = Counter()
    for first in range(0, len(entries), STRIDE):
        part = entries[first : first + STRIDE]
        for entry in part:
            names[entry[0]].append(entry)
            stems[entry[2]].append(entry[0])
        found = [item for item in ((key, _pairs(stem) & grams) for key, _name, stem in part) if item[1]]
        holding.extend(found)
        # A stride's pairs counted in one C-level pass, not name by name.
        counts.update(itertools.chain.from_iterable(pairs for _key, pairs in found))
        await turn()
    index._counts = dict(counts)
    index._longest = max(map(len, map(operator.itemgetter(2), entries)), default=0)
    needed: set[str] = set()
    for held in asked:
        present = [gram for gram in held if counts[gram]]
        needed.update(sorted(present, key=counts.__getitem__)[: NearIndex.RAREST])
    post, postings = index._post, index._grams
    for first in range(0, len(holding), STRIDE):
        for key, shared in holding[first : first + STRIDE]:
            forms = names[key]
            if len(forms) == 1:
                entry = forms[0]
                length = len(entry[2])
                for gram in shared & needed:
                    postings[gram, length].append(entry)
            else:
                for gram in shared & needed:
                    post(gram, forms)
        await turn()
    return index


@dataclass
class Register:
    """The register as matching reads it, read once for a whole file."""

    by_id: dict[int, tuple[str, str, str | None]] = field(default_factory=dict)  # "", stem, credit code
    by_stem: dict[str, int] = field(default_factory=dict)  # names and aliases, the oldest record first
    merged: dict[int, int] = field(default_factory=dict)
    coded: dict[str, int] = field(default_factory=dict)
    entries: list[tuple[int, str, str]] = field(default_factory=list)  # what the near-name index holds
    libraries: set[tuple[int, int]] = field(default_factory=set)  # (chain, enterprise) in a library


async def match(db: Database, checked: Checked) -> None:
    """Match good rows to enterprises in the register and to earlier rows of the same file."""
    with collection_paused():
        register = await load(db)
        await match_in(register, checked)
    # The register is read without its names (a hundred thousand strings nobody is shown);
    # the few a file matched are read now.
    matched = sorted({r.match_id for r in checked.rows if r.match_id is not None and r.match_id in register.by_id})
    names: dict[int, str] = {}
    async with db.session() as session:
        for first in range(0, len(matched), 900):  # under SQLite's oldest limit of bound values
            query = core_select(col(Enterprise.id), col(Enterprise.name)).where(
                col(Enterprise.id).in_(matched[first : first + 900])
            )
            names.update((int(i), str(name)) for i, name in await _rows(session, query))
    for row in checked.rows:
        if row.match_id in names:
            row.match_name = names[row.match_id]


async def match_in(register: Register, checked: Checked) -> None:
    """Match good rows to a register read with :func:`load`."""
    index = await register_index(register.entries, [row.name for row in checked.rows if row.ok])
    await _match_rows(
        checked, register.by_id, register.by_stem, index, register.libraries, register.merged, register.coded
    )


async def load(db: Database) -> Register:
    """Read the register for matching: what a file is checked against, whatever the file holds."""
    enterprise = core_select(
        col(Enterprise.id), col(Enterprise.normalized_name), col(Enterprise.credit_code), col(Enterprise.merged_into),
    ).order_by(col(Enterprise.id))  # fmt: skip
    register = Register()
    by_id, by_stem, merged, coded, entries = (
        register.by_id, register.by_stem, register.merged, register.coded, register.entries
    )  # fmt: skip
    async with db.session() as session:
        # Taken in as it arrives, a partition at a time: no one pass over the whole register
        # holds the event loop. In order of id, so the oldest of same-named records wins.
        async for part in _partitions(session, enterprise):
            for i, stem, code, into in part:
                if code:
                    coded[str(code)] = int(i)
                if into is not None:
                    merged[int(i)] = int(into)
                    continue
                by_id[int(i)] = ("", stem, code)
                by_stem.setdefault(stem, int(i))
                entries.append((int(i), stem, stem))
        register.libraries = {
            (int(c), int(e))
            for c, e in await _rows(
                session,
                select(LibraryEntry.chain_id, LibraryEntry.enterprise_id).where(col(LibraryEntry.removed_at).is_(None)),
            )
        }
        aliases = [
            (int(i), str(stem))
            for i, stem in await _rows(
                session,
                select(EnterpriseName.enterprise_id, EnterpriseName.normalized).where(col(EnterpriseName.alias)),
            )
        ]
    # A name the register knows only as an alias (BYD for 比亚迪) matches that enterprise.
    for i, stem in sorted(aliases):
        if i in by_id:
            by_stem.setdefault(stem, i)
            entries.append((i, stem, stem))
    return register


async def _match_rows(
    checked: Checked,
    by_id: dict[int, tuple[str, str, str | None]],
    by_stem: dict[str, int],
    index: NearIndex,
    libraries: set[tuple[int, int]],
    merged: dict[int, int],
    coded: dict[str, int],
) -> None:
    in_file = NearIndex()
    seen: dict[tuple[str, int | None], int] = {}
    accepted: dict[int, Row] = {}
    for row in checked.rows:
        # A near-name look-up may rank a few hundred names: others get a turn once the slice is up.
        await turn()
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
