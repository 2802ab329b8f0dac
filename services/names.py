"""Enterprise names: one enterprise however its name is typed.

``比亚迪``, ``比亚迪股份有限公司``, ``比亚迪 股份`` and ``比亚迪（集团）股份有限公司`` all
normalize to ``比亚迪``; near matches are scored with rapidfuzz so that a person adding
an enterprise is shown the ones that may already be in the target-enterprise library.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz, process

# Legal forms that say nothing about which enterprise it is. Stripped from the end, again
# and again, so "集团有限公司" goes as "集团" + "有限公司".
_CHINESE_FORMS = re.compile(r"(?:股份有限公司|有限责任公司|有限公司|股份公司|集团公司|总公司|公司|集团|控股|股份)+$")
# Latin forms are whole words only: glued together "zinc" must not lose its "inc".
_LATIN_FORMS = frozenset(
    {
        "co",
        "company",
        "corp",
        "corporation",
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "plc",
        "group",
        "holding",
        "holdings",
        "gmbh",
        "ag",
        "sa",
        "nv",
        "bv",
        "pte",
        "pty",
    }
)
# \W covers punctuation (Chinese brackets included), symbols and whitespace.
_SEPARATORS = re.compile(r"[\W_]+")

_CACHE_SIZE = 1 << 18


@lru_cache(maxsize=_CACHE_SIZE)
def normalize_name(name: str) -> str:
    """The stem that identifies an enterprise: ``比亚迪（集团）股份有限公司`` → ``比亚迪``.

    Full-width folded to half-width (NFKC), Latin lower-cased, whitespace and punctuation
    dropped, legal forms stripped from the end. A name that is nothing but a legal form
    keeps its normalized text rather than becoming empty.
    """
    words = [word for word in _SEPARATORS.split(unicodedata.normalize("NFKC", name).lower()) if word]
    original = "".join(words)
    while True:
        while words and words[-1] in _LATIN_FORMS:
            words.pop()
        joined = _CHINESE_FORMS.sub("", "".join(words))
        if joined == "".join(words):
            break
        words = [joined] if joined else []
    return joined or original


# WRatio rather than plain ratio: a short name inside a longer one (比亚迪 / 比亚迪汽车,
# 宁德时代 / 宁德时代新能源科技) is how the same enterprise is usually typed, and WRatio
# scores it as a partial match (90) where ratio gives 75 or less. Unrelated names share no
# characters and stay near 0. A single character would partially match every name that
# contains it, so one-character names are compared with plain ratio.
def _similarity(a: str, b: str) -> float:
    if a == b:
        return 100.0
    if len(a) < 2 or len(b) < 2:
        return float(fuzz.ratio(a, b))
    return float(fuzz.WRatio(a, b))


def name_similarity(a: str, b: str) -> float:
    """0–100: how likely two typed names are the same enterprise (100 = same normalized name)."""
    left, right = normalize_name(a), normalize_name(b)
    if not left or not right:
        return 0.0
    return _similarity(left, right)


# On strings without whitespace (normalized names have none) WRatio is ratio, raised to a
# scaled partial_ratio when one string is at least 1.5 times as long as the other; its
# token-based parts never score higher. best_matches computes the two parts as separate
# batch passes, which is several times faster than batch WRatio over 100,000 names.
PARTIAL_SCALE = 0.9
_FAR_SCALE = 0.6


def _partial_scale(a: int, b: int) -> float:
    longer, shorter = max(a, b), min(a, b)
    # Integer forms of WRatio's "length ratio >= 1.5" and "> 8".
    if shorter < 2 or 2 * longer < 3 * shorter:
        return 0.0
    return PARTIAL_SCALE if longer <= 8 * shorter else _FAR_SCALE


def best_matches(
    query: str,
    candidates: Iterable[tuple[int, str]],
    *,
    limit: int = 5,
    cutoff: float = 80.0,
) -> list[tuple[int, str, float]]:
    """The candidates (id, name) most like ``query``, as (id, name, score), best first.

    Scores are ``name_similarity``'s; an exact normalized match scores 100. Ties go to the
    name closest in length to the query, then to the earlier candidate.
    """
    wanted = normalize_name(query)
    if not wanted or limit <= 0:
        return []
    return best_stems(wanted, [(i, name, normalize_name(name)) for i, name in candidates], limit=limit, cutoff=cutoff)


def best_stems(
    wanted: str, candidates: list[tuple[int, str, str]], *, limit: int = 5, cutoff: float = 80.0
) -> list[tuple[int, str, float]]:
    """:func:`best_matches` for a normalized query and candidates (id, name, stem) whose stems are known.

    What a caller holding many names already normalized (the register's ``normalized_name``)
    uses, so that no name is normalized again for every query it is a candidate of.
    """
    if not wanted or limit <= 0:
        return []
    stems = [stem for _, _, stem in candidates]
    scores: dict[int, float] = {
        index: float(score)
        for _, score, index in process.extract(wanted, stems, scorer=fuzz.ratio, limit=None, score_cutoff=cutoff)
    }
    size = len(wanted)
    if cutoff <= 100 * PARTIAL_SCALE and size >= 2:
        partial = {
            index: stem
            for index, stem in enumerate(stems)
            if (length := len(stem)) >= 2 and (2 * length >= 3 * size or 3 * length <= 2 * size)
        }
        found = process.extract(
            wanted, partial, scorer=fuzz.partial_ratio, limit=None, score_cutoff=cutoff / PARTIAL_SCALE
        )
        for _, score, index in found:
            scaled = float(score) * _partial_scale(size, len(stems[index]))
            if scaled >= cutoff and scaled > scores.get(index, 0.0):
                scores[index] = scaled
    ranked = sorted(scores.items(), key=lambda item: (-item[1], abs(len(stems[item[0]]) - len(wanted)), item[0]))
    return [(candidates[index][0], candidates[index][1], score) for index, score in ranked[:limit]]


def close(size: int, length: int, cutoff: float) -> bool:
    """Whether ``fuzz.ratio`` could reach ``cutoff`` for stems of these lengths: it is at most
    ``200·min / (size + length)``, every extra character being an edit."""
    return 200 * min(size, length) >= (cutoff - 1e-9) * (size + length)


def reachable(size: int, length: int, cutoff: float) -> bool:
    """Whether a stem of ``length`` characters could score ``cutoff`` in :func:`best_stems`
    against a query of ``size``, by the lengths alone.

    ``fuzz.ratio`` as :func:`close` says; the partial score at most ``100 ×`` its length
    scale, and only when the lengths differ by half again. A look-up may leave out every
    stem this refuses without changing its answer.
    """
    if close(size, length, cutoff):
        return True
    partial = cutoff <= 100 * PARTIAL_SCALE and size >= 2 and length >= 2
    return partial and 100 * _partial_scale(size, length) >= cutoff - 1e-9


def whole_only(cutoff: float) -> bool:
    """Whether at ``cutoff`` a partial match counts only when one stem holds the other whole
    (a partial score of 100, scaled): true from 90 up."""
    return cutoff / PARTIAL_SCALE >= 100 - 1e-9


def has_letters(text: str) -> bool:
    """Whether ``text`` names something: at least one letter (Latin, CJK or any script's).

    A name of emoji, digits or punctuation alone normalizes to the same nothing as every
    other such name, so ``👍`` and ``🎉`` would be one enterprise.
    """
    return any(unicodedata.category(char).startswith("L") for char in text)


# pypinyin's dictionary is tens of megabytes in memory: it is loaded the first time a name
# is written, never to search (names are searched by the pinyin stored with them).
def pinyin_full(name: str) -> str:
    """Tone-less pinyin of the normalized stem (``宁德时代`` → ``ningdeshidai``); Latin letters and digits kept."""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(normalize_name(name), style=Style.NORMAL)).lower()


def pinyin_initials(name: str) -> str:
    """First letters of the stem's syllables (``宁德时代`` → ``ndsd``); Latin words are kept whole."""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(normalize_name(name), style=Style.FIRST_LETTER)).lower()
