"""The near-name index of an import gives the answers of ranking every name it has to consider.

The index keeps a pair's names by length and leaves out the lengths that cannot reach the
cutoff; this checks, on names typed the ways people type them, that nothing it leaves out
would have been found.
"""

from __future__ import annotations

import asyncio
import random

from bench.register import synthetic_names
from services.imports.match import NearIndex, _bigrams, register_index
from services.names import best_stems, normalize_name


def ranked_in_full(
    entries: list[tuple[int, str, str]], query: str, cutoff: float, limit: int = 3
) -> list[tuple[int, str, float]]:
    """Every name of every key holding one of the query's three rarest pairs, or found whole
    inside the query, ranked by ``best_stems``: what the index must answer."""
    stem = normalize_name(query)
    counts: dict[str, int] = {}
    for _key, _name, form in entries:
        for gram in _bigrams(form):
            counts[gram] = counts.get(gram, 0) + 1
    held = sorted((g for g in _bigrams(stem) if counts.get(g)), key=lambda g: counts[g])[:3]
    substrings = {stem[a:b] for a in range(len(stem) - 1) for b in range(a + 2, len(stem) + 1)}
    pool = {k for k, _n, form in entries if _bigrams(form) & set(held) or form in substrings}
    candidates = sorted((e for e in entries if e[0] in pool), key=lambda e: e[0])
    found: dict[int, tuple[int, str, float]] = {}
    for key, known, score in best_stems(stem, candidates, limit=len(candidates), cutoff=cutoff):
        found.setdefault(key, (key, known, score))
    return list(found.values())[:limit]


def typed(names: list[str], rnd: random.Random) -> list[str]:
    """The register's names as a file gives them: exact, a character wrong, a suffix more,
    cut short, a prefix more or less, half of it."""
    out: list[str] = []
    for n in names:
        i = rnd.randrange(len(n))
        out += [n, n[:i] + "新" + n[i + 1 :], n + "有限公司", n[:-2], "甘肃" + n, n[2:], n[: len(n) // 2]]
    return out


def test_the_index_answers_as_ranking_every_candidate() -> None:
    rnd = random.Random(3)
    register = synthetic_names(3000)
    entries = [(i, name, normalize_name(name)) for i, name in enumerate(register, 1)]
    # An enterprise known by a second name too (an alias), of another length.
    entries += [(7, "宁德时代", normalize_name("宁德时代")), (9, "比亚迪", normalize_name("比亚迪"))]
    queries = [*typed(rnd.sample(register, 60), rnd), "宁德时代新能源科技股份有限公司", "比亚迪汽车", "宁德"]
    queries += synthetic_names(3040, seed=5)[3000:]
    index = asyncio.run(register_index(entries, queries))
    built = NearIndex()
    for key, name, stem in entries:
        built.add(key, name, stem)
    found = 0
    for query in queries:
        expected = ranked_in_full(entries, query, 90.0)
        assert index.near(query, cutoff=90.0) == expected, query
        assert built.near(query, cutoff=90.0) == expected, query
        found += bool(expected)
    # The check means something only if most typed names are found and some are not.
    assert 200 < found < len(queries)


def test_the_collector_is_held_off_for_a_check_and_given_back_after() -> None:
    import gc

    from services.imports.turns import collection_paused

    assert gc.isenabled()
    with collection_paused():
        with collection_paused():
            assert not gc.isenabled()
        # A second check ending does not start collections while the first still runs.
        assert not gc.isenabled()
    assert gc.isenabled()
    # Whoever turned the collector off keeps it off.
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
