from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest
from babel.messages.pofile import read_po

from bot.core.i18n import LOCALES_DIR, translate
from services.money import (
    MAX_YUAN,
    InvalidMoney,
    MoneyErrorCode,
    find_all_money,
    find_money,
    format_money,
    is_approximate,
    parse_money,
    yuan_to_wan,
)

YI = 100_000_000
WAN = 10_000


# -- parse_money --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("5亿", 5 * YI),
        ("5 亿元", 5 * YI),
        ("3000万", 3000 * WAN),
        ("3,000万元", 3000 * WAN),
        ("3，000万元", 3000 * WAN),
        ("1.2亿", 120_000_000),
        ("1.2 亿", 120_000_000),
        ("五千万", 50_000_000),
        ("一亿二千万", 120_000_000),
        ("两亿", 2 * YI),
        ("50000000", 50_000_000),
        ("5000元", 5000),
        ("约20亿", 20 * YI),
        ("投资约20亿", 20 * YI),
        ("计划投资20亿元", 20 * YI),
        ("20亿左右", 20 * YI),
        ("大约20亿元人民币", 20 * YI),
        ("５亿", 5 * YI),
        ("０.５亿", 50_000_000),
        ("0.5亿", 50_000_000),
        ("0.35万", 3500),
        ("1.23456789亿", 123_456_789),
        ("壹亿", YI),
        ("两个亿", 2 * YI),
        ("1亿2000万", 120_000_000),
        ("3千万", 30_000_000),
        ("十亿", 10 * YI),
        ("一点二亿", 120_000_000),
        ("20多亿", 20 * YI),
        ("人民币5亿元", 5 * YI),
        ("¥5,000,000", 5_000_000),
        ("￥５，０００，０００", 5_000_000),
        ("500 million", 500_000_000),
        ("1.2 billion yuan", 1_200_000_000),
        ("RMB 30 million", 30_000_000),
        ("10-20亿", 10 * YI),
        ("10万亿", MAX_YUAN),
        ("  5亿  ", 5 * YI),
    ],
)
def test_parse_money_reads_what_people_type(text: str, yuan: int) -> None:
    result = parse_money(text)
    assert result == yuan
    assert type(result) is int


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u3000", "empty"),
        ("很多", "unreadable"),
        ("abc", "unreadable"),
        ("元", "unreadable"),
        ("1,2亿", "unreadable"),
        ("5亿5亿", "unreadable"),
        ("-5亿", "negative"),
        ("负五亿", "negative"),
        ("0", "zero"),
        ("0元", "zero"),
        ("零", "zero"),
        ("0.4", "zero"),
        ("10.0001万亿", "too_large"),
        ("99999999999999", "too_large"),
        ("1" + "0" * 40, "too_large"),
    ],
)
def test_parse_money_rejects_with_a_stable_code(text: str, code: str) -> None:
    with pytest.raises(InvalidMoney) as caught:
        parse_money(text)
    assert caught.value.code == code
    assert caught.value.message_key == f"money.err.{code}"


@pytest.mark.parametrize(
    ("text", "yuan", "approximate"),
    [
        ("一个亿左右", YI, True),
        ("约5亿", 5 * YI, True),
        ("大概3000万", 3000 * WAN, True),
        ("2亿上下", 2 * YI, True),
        ("20多亿", 20 * YI, True),
        ("1亿以上", YI, True),
        ("一个亿", YI, False),
        ("3000万元", 3000 * WAN, False),
        ("1.2亿", 120_000_000, False),
    ],
)
def test_an_approximate_amount_is_its_number_and_says_so(text: str, yuan: int, approximate: bool) -> None:
    assert parse_money(text) == yuan
    assert is_approximate(text) is approximate


def test_invalid_money_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_money("很多")


def test_parse_money_never_goes_through_float() -> None:
    # 0.1 + 0.2 style errors would show here as an off-by-one yuan.
    assert parse_money("0.0001万") == 1
    assert parse_money("1.00000001亿") == 100_000_001
    assert parse_money("12345678.9012万") == 123_456_789_012


@pytest.mark.parametrize("yuan", [5 * YI, 120_000_000, 1_200_000_000, 30_000_000, 99_995_000, 12_500, 800])
@pytest.mark.parametrize("locale", ["zh", "en"])
def test_formatted_amounts_read_back(yuan: int, locale: str) -> None:
    assert parse_money(format_money(yuan, locale)) == yuan


# -- find_money ---------------------------------------------------------------------------
def _found(text: str) -> tuple[int, str] | None:
    result = find_money(text)
    if result is None:
        return None
    yuan, (start, end) = result
    return yuan, text[start:end]


def test_find_money_in_the_example_lead() -> None:
    assert _found("宁德时代 拟在西北建储能电池基地 投资约20亿 新能源") == (20 * YI, "投资约20亿")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("比亚迪投资5亿建电池厂", (5 * YI, "投资5亿")),
        ("项目总投资 1.2 亿元人民币。", (120_000_000, "总投资 1.2 亿元人民币")),
        ("投资额：3,000万元，用于建设", (30_000_000, "投资额：3,000万元")),
        ("预计20亿左右，明年开工", (20 * YI, "预计20亿左右")),
        ("拟投资五千万元建设冷库", (50_000_000, "拟投资五千万元")),
        ("合同金额 5000元", (5000, "金额 5000元")),
        ("签约 5000元", (5000, "5000元")),
        ("设备款 ¥5000", (5000, "¥5000")),
        ("设备款 人民币 5000", (5000, "人民币 5000")),
        ("资金 50000000 到位", (50_000_000, "50000000")),
        ("投资10-20亿建基地", (10 * YI, "投资10-20亿")),
        ("三一重工投资五千万", (50_000_000, "投资五千万")),
        ("宁德时代　投资约２０亿　新能源", (20 * YI, "投资约２０亿")),
        ("两个亿的项目", (2 * YI, "两个亿")),
    ],
)
def test_find_money_returns_the_amount_phrase(text: str, expected: tuple[int, str]) -> None:
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "3期 2号线",
        "一期工程 第3条产线",
        "2026年开工",
        "年产20万吨",
        "占地500亩 建筑面积3万平方米",
        "装机100万千瓦",
        "带动就业2万人",
        "10GW 电池",
        "联系电话13800138000",
        "代码 91350100M000100Y43",
        "万达 亿纬锂能 百万级 千万不要",
        "三一重工 五粮液",
        "",
    ],
)
def test_find_money_ignores_numbers_that_are_not_money(text: str) -> None:
    assert find_money(text) is None


def test_find_money_takes_the_first_amount_and_skips_quantities_before_it() -> None:
    assert _found("年产10万吨 投资3亿元 产值5亿") == (3 * YI, "投资3亿元")


def test_find_money_does_not_eat_the_next_phrase() -> None:
    assert _found("投资5亿 年产10GWh电池") == (5 * YI, "投资5亿")


def test_find_money_span_can_be_cut_out() -> None:
    text = "宁德时代 拟在西北建储能电池基地 投资约20亿元左右 新能源"
    found = find_money(text)
    assert found is not None
    start, end = found[1]
    assert text[:start] + text[end:] == "宁德时代 拟在西北建储能电池基地  新能源"


def test_find_all_money_lists_every_amount_in_order() -> None:
    assert [yuan for yuan, _ in find_all_money("年产值50亿 投资20亿 另有3000万元配套")] == [
        50 * YI,
        20 * YI,
        3000 * WAN,
    ]


def test_find_money_skips_absurd_amounts() -> None:
    assert find_money("9999999万亿") is None


# -- format_money -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("yuan", "zh", "en"),
    [
        (5 * YI, "5亿元", "500 million yuan"),
        (120_000_000, "1.2亿元", "120 million yuan"),
        (1_200_000_000, "12亿元", "1.2 billion yuan"),
        (30_000_000, "3000万元", "30 million yuan"),
        (12_500, "1.25万元", "12,500 yuan"),
        (10_000, "1万元", "10,000 yuan"),
        (800, "800元", "800 yuan"),
        (0, "0元", "0 yuan"),
        (123_456_789, "1.2346亿元", "123.4568 million yuan"),
        (99_995_000, "9999.5万元", "99.995 million yuan"),
        (999_999_999, "10亿元", "1 billion yuan"),
        (MAX_YUAN, "100000亿元", "10,000 billion yuan"),
        (-5000, "-5000元", "-5,000 yuan"),
    ],
)
def test_format_money(yuan: int, zh: str, en: str) -> None:
    assert format_money(yuan, "zh") == zh
    assert format_money(yuan, "en") == en


def test_format_money_accepts_telegram_language_codes() -> None:
    assert format_money(5 * YI, "zh-hans") == "5亿元"
    assert format_money(5 * YI, "en-US") == "500 million yuan"


def test_format_money_takes_its_words_from_the_catalogs() -> None:
    assert format_money(5 * YI, "zh") == translate("zh", "money.amount.yi", amount="5")
    assert format_money(30_000_000, "en") == translate("en", "money.amount.million", amount="30")


def test_yuan_to_wan_is_exact() -> None:
    assert yuan_to_wan(12_345) == Decimal("1.2345")
    assert yuan_to_wan(5 * YI) == Decimal(50_000)
    assert yuan_to_wan(1) == Decimal("0.0001")
    assert isinstance(yuan_to_wan(1), Decimal)


# -- catalogs -----------------------------------------------------------------------------
def _messages(locale: str) -> dict[str, str]:
    path = Path(LOCALES_DIR) / locale / "LC_MESSAGES" / "money.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    assert catalog.locale is not None and str(catalog.locale) == locale
    return {str(m.id): str(m.string) for m in catalog if m.id}


def test_money_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = _messages("zh"), _messages("en")
    assert zh.keys() == en.keys()
    for key in zh:
        assert zh[key] and en[key], key
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_key_the_code_uses_is_in_the_catalogs() -> None:
    keys = {f"money.err.{code}" for code in get_args(MoneyErrorCode)}
    keys |= {f"money.amount.{unit}" for unit in ("yi", "wan", "billion", "million", "yuan")}
    for locale in ("zh", "en"):
        assert keys <= _messages(locale).keys()
