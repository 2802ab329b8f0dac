from __future__ import annotations

import pytest

from services.credit_code import (
    ALPHABET,
    check_character,
    has_valid_organization_code,
    is_valid_credit_code,
    looks_like_credit_code,
    make_credit_code,
    normalize_credit_code,
)

# Codes published on the national enterprise credit information system and in annual
# reports; each passes both the GB 32100 and the embedded GB 11714 check.
PUBLISHED = {
    "91350100M000100Y43": "example code from the brief (Fuzhou registration authority)",
    "91440300192317458F": "比亚迪股份有限公司",
    "914403001922038216": "华为技术有限公司",
    "91440300708461136T": "深圳市腾讯计算机系统有限公司",
    "91350900587527783P": "宁德时代新能源科技股份有限公司",
    "91110108551385082Q": "小米科技有限责任公司",
}


@pytest.mark.parametrize("code", sorted(PUBLISHED))
def test_published_codes_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)
    assert has_valid_organization_code(code)
    assert check_character(code[:17]) == code[17]
    assert make_credit_code(code[:17]) == code


def test_worked_example() -> None:
    # 9 1 3 5 0 1 0 0 M 0 0 0 1 0 0 Y 4 with M = 21, Y = 30 in the 31-character alphabet:
    # weighted sum 1640, 1640 mod 31 = 28, 31 - 28 = 3.
    values = [ALPHABET.index(ch) for ch in "91350100M000100Y4"]
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert sum(v * w for v, w in zip(values, weights, strict=True)) == 1640
    assert check_character("91350100M000100Y4") == "3"


def test_remainder_zero_gives_check_zero() -> None:
    # 31 - 0 = 31, which the standard maps to 0.
    assert check_character("0" * 17) == "0"
    assert is_valid_credit_code("0" * 18)


def test_every_single_character_typo_is_caught() -> None:
    code = "91440300192317458F"
    for position in range(18):
        for ch in ALPHABET:
            if ch != code[position]:
                typo = code[:position] + ch + code[position + 1 :]
                assert not is_valid_credit_code(typo), typo


def test_every_swap_of_neighbours_is_caught() -> None:
    for code in PUBLISHED:
        for position in range(17):
            a, b = code[position], code[position + 1]
            if a != b:
                swapped = code[:position] + b + a + code[position + 2 :]
                assert not is_valid_credit_code(swapped), swapped


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("91440300192317458F", "91440300192317458F"),
        ("91440300192317458f", "91440300192317458F"),
        (" 9144 0300 1923 1745 8F ", "91440300192317458F"),
        ("９１４４０３００１９２３１７４５８Ｆ", "91440300192317458F"),
        ("9144030019231745８ｆ\u3000", "91440300192317458F"),
    ],
)
def test_normalize_credit_code(typed: str, normalized: str) -> None:
    assert normalize_credit_code(typed) == normalized
    assert looks_like_credit_code(typed)
    assert is_valid_credit_code(typed)


@pytest.mark.parametrize(
    "text",
    [
        "比亚迪",
        "比亚迪股份有限公司",
        "9144030019231745",  # 16
        "91440300192317458FF",  # 19
        "91440300192317458I",  # I is not in the alphabet
        "9144030019231745OF",  # nor O
        "9144030019231745ZF",  # nor Z
        "9144030019231745SF",  # nor S
        "9144030019231745VF",  # nor V
        "",
    ],
)
def test_not_a_code(text: str) -> None:
    assert not looks_like_credit_code(text)
    assert not is_valid_credit_code(text)


def test_looks_like_but_invalid() -> None:
    assert looks_like_credit_code("91440300192317458A")
    assert not is_valid_credit_code("91440300192317458A")


def test_check_character_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        check_character("9144030019231745")
    with pytest.raises(ValueError):
        check_character("91440300192317I58")
    with pytest.raises(ValueError):
        make_credit_code("比亚迪")


def test_made_codes_are_valid_for_any_body() -> None:
    for body in ("91620700MA7XXXXXX", "12620700000000000", "Y1620702ABCDEFGH1", "51620000123456789"):
        code = make_credit_code(body)
        assert len(code) == 18
        assert code.startswith(body)
        assert is_valid_credit_code(code)


def test_organization_code_check_is_separate() -> None:
    # A correct 18th character over an organization code whose own check (position 17) is
    # wrong: valid as a credit code, flagged by the advisory check.
    code = make_credit_code("91440300192317459")
    assert is_valid_credit_code(code)
    assert not has_valid_organization_code(code)
    assert not has_valid_organization_code("比亚迪")


def test_organization_check_has_exactly_one_answer_and_x_stands_for_ten() -> None:
    checks = []
    for n in range(200):
        body = f"91620700{n:08d}"
        valid = [ch for ch in "0123456789X" if has_valid_organization_code(make_credit_code(body + ch))]
        assert len(valid) == 1, body
        checks.append(valid[0])
    assert "X" in checks
    assert "0" in checks
