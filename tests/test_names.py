from __future__ import annotations

import random

import pytest

from services.names import best_matches, name_similarity, normalize_name, pinyin_full, pinyin_initials


# -- normalize_name -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "typed",
    [
        "比亚迪",
        "比亚迪股份有限公司",
        "比亚迪 股份",
        "比亚迪（集团）股份有限公司",
        "比亚迪(集团)股份有限公司",
        "比亚迪集团有限公司",
        "比亚迪有限责任公司",
        "比亚迪控股集团有限公司",
        "  比亚迪　公司 ",
        "【比亚迪】",
        "“比亚迪”",
    ],
)
def test_one_enterprise_however_typed(typed: str) -> None:
    assert normalize_name(typed) == "比亚迪"


@pytest.mark.parametrize(
    ("typed", "stem"),
    [
        ("宁德时代新能源科技股份有限公司", "宁德时代新能源科技"),
        ("中国平安保险（集团）股份有限公司", "中国平安保险"),
        ("BYD Company Limited", "byd"),
        ("ＢＹＤ Co., Ltd.", "byd"),
        ("Tesla, Inc.", "tesla"),
        ("Siemens AG", "siemens"),
        ("Mitsubishi Corp.", "mitsubishi"),
        ("Alibaba Group Holding Limited", "alibaba"),
        ("Zinc", "zinc"),  # "inc" is only a legal form as a word of its own
        ("Agco", "agco"),
        ("TCL科技集团股份有限公司", "tcl科技"),
        ("三一重工", "三一重工"),
        ("360", "360"),
    ],
)
def test_normalize_name(typed: str, stem: str) -> None:
    assert normalize_name(typed) == stem


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("有限公司", "有限公司"), ("集团有限公司", "集团有限公司"), ("Limited", "limited"), ("（集团）", "集团")],
)
def test_a_name_that_is_only_a_legal_form_keeps_its_text(typed: str, kept: str) -> None:
    assert normalize_name(typed) == kept


def test_normalize_name_of_nothing() -> None:
    assert normalize_name("") == ""
    assert normalize_name(" ，。 ") == ""


def test_normalize_name_is_idempotent() -> None:
    for typed in ("比亚迪（集团）股份有限公司", "BYD Co., Ltd.", "有限公司", "宁德时代"):
        once = normalize_name(typed)
        assert normalize_name(once) == once


# -- name_similarity ----------------------------------------------------------------------
def test_similarity_of_related_and_unrelated_names() -> None:
    assert name_similarity("比亚迪", "比亚迪汽车") >= 85
    assert name_similarity("宁德时代", "宁德时代新能源科技股份有限公司") >= 85
    assert name_similarity("比亚迪", "宁德时代") < 20
    assert name_similarity("比亚迪", "华为") < 20


def test_same_normalized_name_scores_100() -> None:
    assert name_similarity("比亚迪", "比亚迪（集团）股份有限公司") == 100
    assert name_similarity("BYD Co., Ltd.", "byd") == 100


def test_similarity_is_symmetric() -> None:
    pairs = [("比亚迪", "比亚迪汽车"), ("宁德时代", "时代新材"), ("华为", "华为技术"), ("中国石油", "中国石化")]
    for a, b in pairs:
        assert name_similarity(a, b) == name_similarity(b, a)


def test_one_character_does_not_match_every_name_containing_it() -> None:
    assert name_similarity("比", "比亚迪") < 80
    assert name_similarity("比", "比") == 100


def test_similarity_with_an_empty_name_is_zero() -> None:
    assert name_similarity("", "比亚迪") == 0
    assert name_similarity("  ", "") == 0


# -- best_matches -------------------------------------------------------------------------
CANDIDATES = [
    (11, "比亚迪汽车工业有限公司"),
    (12, "宁德时代新能源科技股份有限公司"),
    (13, "比亚迪股份有限公司"),
    (14, "华为技术有限公司"),
    (15, "深圳比亚迪电子有限公司"),
    (16, "比"),
    (17, "隆基绿能科技股份有限公司"),
]


def test_exact_normalized_match_comes_first_with_100() -> None:
    found = best_matches("比亚迪", CANDIDATES)
    assert found[0] == (13, "比亚迪股份有限公司", 100.0)
    assert [i for i, _, _ in found] == [13, 11, 15]
    assert all(score >= 80 for _, _, score in found)


def test_best_matches_orders_by_score_then_closeness_of_length() -> None:
    pool = [(1, "深圳比亚迪电子技术"), (2, "比亚迪汽车"), (3, "比亚迪汽车销售")]
    found = best_matches("比亚迪", pool)
    assert [score for _, _, score in found] == [90.0, 90.0, 90.0]
    assert [i for i, _, _ in found] == [2, 3, 1]


def test_best_matches_scores_are_descending() -> None:
    found = best_matches("比亚迪汽车", CANDIDATES, cutoff=0)
    scores = [score for _, _, score in found]
    assert scores == sorted(scores, reverse=True)
    assert found[0][0] in (11, 13)


def test_best_matches_limit_and_cutoff() -> None:
    assert len(best_matches("比亚迪", CANDIDATES, limit=2)) == 2
    assert best_matches("比亚迪", CANDIDATES, limit=0) == []
    assert best_matches("阿里巴巴", CANDIDATES) == []
    assert best_matches("", CANDIDATES) == []
    assert best_matches("比亚迪", []) == []


def test_best_matches_accepts_any_iterable() -> None:
    found = best_matches("宁德时代", (pair for pair in CANDIDATES))
    assert [i for i, _, _ in found] == [12]


def test_single_character_query_matches_only_itself() -> None:
    assert best_matches("比", CANDIDATES) == [(16, "比", 100.0)]


def test_best_matches_scores_are_name_similarity() -> None:
    rng = random.Random(7)
    alphabet = "比亚迪宁德时代新能源科技华为abc1"
    pool = [(i, "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20)))) for i in range(400)]
    for query in ("比亚迪", "宁德时代", "ab", "比", "新能源科技华为比亚迪"):
        for cutoff in (0.0, 50.0, 80.0, 95.0):
            found = best_matches(query, pool, limit=len(pool), cutoff=cutoff)
            expected = {i for i, name in pool if name_similarity(query, name) >= cutoff and normalize_name(name)}
            assert {i for i, _, _ in found} == expected, (query, cutoff)
            for _, name, score in found:
                assert score == pytest.approx(name_similarity(query, name)), (query, name)


def test_best_matches_finds_the_one_among_many() -> None:
    rng = random.Random(3)
    syllables = "华中国新科技星辰宏远金鼎天合信达恒通瑞丰泰安德隆盛博弘嘉润祥和光明阳泽海川云峰长江"
    pool = [(i, "".join(rng.choice(syllables) for _ in range(rng.randint(3, 6))) + "有限公司") for i in range(20_000)]
    pool.append((99_999, "比亚迪股份有限公司"))
    assert best_matches("比亚迪（集团）", pool)[0] == (99_999, "比亚迪股份有限公司", 100.0)


# -- pinyin -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "full", "initials"),
    [
        ("宁德时代", "ningdeshidai", "ndsd"),
        ("比亚迪股份有限公司", "biyadi", "byd"),
        ("重庆长安汽车", "chongqingchanganqiche", "cqcaqc"),
        ("TCL科技", "tclkeji", "tclkj"),
        ("隆基绿能", "longjilvneng", "ljln"),
    ],
)
def test_pinyin(name: str, full: str, initials: str) -> None:
    assert pinyin_full(name) == full
    assert pinyin_initials(name) == initials
    assert full.isascii() and full == full.lower()
