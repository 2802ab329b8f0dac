"""Amounts of money as people type them (``5亿``, ``3,000万元``, ``两个亿``), kept as integer yuan.

Planned investment and funds in place are stored in yuan as ``int``: the policy's thresholds
(1000万元, 1亿元, 10亿元) must compare exactly, so nothing here goes through ``float``.
Chinese numerals are read by cn2an; Arabic numbers with 万/亿 units are computed with
``Decimal`` because cn2an's "smart" mode returns floats for plain digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from babel import Locale
from babel.numbers import parse_pattern

from bot.core.i18n import normalize_locale, translate

MoneyErrorCode = Literal["empty", "unreadable", "negative", "zero", "too_large"]

#: Above this nobody is describing a real project (10 trillion yuan, 10万亿元).
MAX_YUAN = 10**13

#: Below this a bare number inside a sentence is a count, a phase or a line number, not money.
BARE_NUMBER_MIN = 10_000


class InvalidMoney(ValueError):
    """Text that is not a usable amount; ``code`` selects the message ``money.err.<code>``."""

    def __init__(self, code: MoneyErrorCode, text: str = "") -> None:
        super().__init__(f"{code}: {text!r}")
        self.code: MoneyErrorCode = code
        self.text = text

    @property
    def message_key(self) -> str:
        return f"money.err.{self.code}"


# -- character level ---------------------------------------------------------------------
# One character in, one character out, so that spans found in the translated text are
# spans of the original text too (NFKC could change the length).
_HALF_WIDTH = str.maketrans(
    {
        **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)},
        "\u3000": " ",
        "\u00a0": " ",
        "\u2212": "-",
        "\uffe5": "¥",
        "萬": "万",
        "億": "亿",
        "兩": "两",
        "拾": "十",
        "佰": "百",
        "仟": "千",
    }
)

_CN_DIGITS = "零〇一二两三四五六七八九壹贰叁肆伍陆柒捌玖"
_CN_UNITS = "十百千万亿"
_CN_NUMERAL = _CN_DIGITS + _CN_UNITS

_UNIT_CHAINS: dict[str, int] = {
    "": 1,
    "十": 10,
    "百": 100,
    "千": 1000,
    "万": 10**4,
    "十万": 10**5,
    "百万": 10**6,
    "千万": 10**7,
    "亿": 10**8,
    "十亿": 10**9,
    "百亿": 10**10,
    "千亿": 10**11,
    "万亿": 10**12,
}
_LATIN_UNITS: dict[str, int] = {
    "thousand": 10**3,
    "mn": 10**6,
    "mln": 10**6,
    "million": 10**6,
    "bn": 10**9,
    "billion": 10**9,
}

_ARABIC = r"(?:\d+(?:\.\d+)?|\.\d+)"
_RE_ARABIC_UNITS = re.compile(rf"({_ARABIC})([{_CN_UNITS}]*)")
_RE_ARABIC_LATIN = re.compile(rf"({_ARABIC})({'|'.join(_LATIN_UNITS)})")
_RE_CN_DECIMAL = re.compile(rf"([{_CN_NUMERAL}]+)点([{_CN_DIGITS}]+)([{_CN_UNITS}]*)")
_RE_CN_ONLY = re.compile(rf"[{_CN_NUMERAL}]+")
_RE_MIXED = re.compile(rf"[0-9{_CN_NUMERAL}]+")
_RE_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
# "20多亿" / "十余万": a lower bound is what a person means to record.
_RE_ROUGHLY = re.compile(rf"(?<=[0-9{_CN_DIGITS}十百千])[多余](?=[万亿])")
_RE_RANGE = re.compile(r"(.+?)(?:-|~|—|–|至|到)(.+)")
_RE_TRAILING_UNIT = re.compile(rf"(?:[{_CN_UNITS}]+|{'|'.join(_LATIN_UNITS)})$")

# Words around an amount in an answer ("计划投资约20亿元左右"). Matched on compact,
# lower-cased text, so no whitespace and no upper case appear here.
_RE_LEADING_WORDS = re.compile(
    r"^(?:(?:计划|预计|拟|总|共计|合计|累计|意向)?投资(?:总额|金额|规模|额)?"
    r"|金额|总额|总计|共计|合计|约为|大约|大概|约|近|达|超过|超|逾|为|是"
    r"|人民币|rmb|cny|¥|:)+"
)
_RE_TRAILING_WORDS = re.compile(r"(?:元整|元|圆|块钱|块|人民币|rmb|cny|yuan|左右|上下|以上|多|余)+$")


def _compact(text: str) -> str:
    text = re.sub(r"\s+", "", text.translate(_HALF_WIDTH)).lower()
    return _RE_THOUSANDS.sub("", text)


def _cn2an(text: str, mode: str) -> Decimal | None:
    # Imported when an amount is first read: a few megabytes a bot that never asks need not hold.
    import cn2an

    try:
        value = cn2an.cn2an(text, mode)
    # cn2an reports most bad input as ValueError but trips over some (一亿二) with a KeyError.
    except (ValueError, KeyError, IndexError):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _number_value(text: str) -> Decimal | None:
    """A number and its unit, nothing around it: ``1.2亿``, ``五千万``, ``1亿2000万``, ``500million``."""
    if not text:
        return None
    text = _RE_ROUGHLY.sub("", text.replace("个亿", "亿"))
    if match := _RE_ARABIC_UNITS.fullmatch(text):
        multiplier = _UNIT_CHAINS.get(match[2])
        return None if multiplier is None else Decimal(match[1]) * multiplier
    if match := _RE_ARABIC_LATIN.fullmatch(text):
        return Decimal(match[1]) * _LATIN_UNITS[match[2]]
    if match := _RE_CN_DECIMAL.fullmatch(text):
        whole = _cn2an(match[1], "normal")
        multiplier = _UNIT_CHAINS.get(match[3])
        digits = [_cn2an(ch, "normal") for ch in match[2]]
        if whole is None or multiplier is None or any(d is None for d in digits):
            return None
        fraction = "".join(str(int(d)) for d in digits if d is not None)
        return (whole + Decimal(f"0.{fraction}")) * multiplier
    if _RE_CN_ONLY.fullmatch(text):
        return _cn2an(text, "normal")
    if _RE_MIXED.fullmatch(text):
        # Arabic digits between Chinese units (1亿2000万, 3千5百万): cn2an's smart mode
        # rewrites the digits as numerals and reads the whole, exactly, as an int.
        return _cn2an(text, "smart")
    return None


def _phrase_value(text: str) -> Decimal | None:
    """Like ``_number_value`` but also a range ``10-20亿`` (its lower bound, ``10亿``)."""
    value = _number_value(text)
    if value is not None:
        return value
    match = _RE_RANGE.fullmatch(text)
    if match is None:
        return None
    upper = _number_value(match[2])
    lower = _number_value(match[1])
    unit = _RE_TRAILING_UNIT.search(match[2])
    if lower is not None and unit is not None and _RE_TRAILING_UNIT.search(match[1]) is None:
        lower = _number_value(match[1] + unit[0])
    if lower is None or upper is None or lower > upper:
        return None
    return lower


def _to_yuan(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- parse --------------------------------------------------------------------------------
def parse_money(text: str) -> int:
    """The amount in yuan of an answer that is only an amount.

    Accepts Arabic or Chinese numerals with 万/亿 (``1.2亿``, ``五千万``, ``两个亿``,
    ``1亿2000万``), thousands separators (``3,000万``, ``3，000万``), full-width digits,
    ``million``/``billion``, words around the amount (``计划投资约20亿元左右``), and a range
    (``10-20亿`` gives its lower bound). Fractions of a yuan are rounded half up.

    Raises ``InvalidMoney`` with code ``empty``, ``unreadable``, ``negative``, ``zero`` or
    ``too_large`` (above ``MAX_YUAN``).
    """
    if not text or not text.strip():
        raise InvalidMoney("empty", text)
    compact = _RE_LEADING_WORDS.sub("", _compact(text))
    negative = compact[:1] in ("-", "负")
    if compact[:1] in ("-", "负", "+"):
        compact = _RE_LEADING_WORDS.sub("", compact[1:])
    compact = _RE_TRAILING_WORDS.sub("", compact)
    value = _phrase_value(compact)
    if value is None:
        raise InvalidMoney("unreadable", text)
    if value > MAX_YUAN:
        raise InvalidMoney("too_large", text)
    yuan = _to_yuan(value)
    if yuan == 0:
        raise InvalidMoney("zero", text)
    if negative:
        raise InvalidMoney("negative", text)
    return yuan


# Words that make a typed amount a round figure or a bound rather than the figure itself:
# "一个亿左右", "约5亿", "大概3000万", "2亿上下", "20多亿", "1亿以上", "近1亿", "超2亿".
_RE_APPROXIMATE = re.compile(
    rf"左右|上下|大约|大概|差不多|估计|约|近|超过|超|逾|以上|(?<=[0-9{_CN_DIGITS}十百千万亿])[多余]"
)


def is_approximate(text: str) -> bool:
    """Whether an amount as typed is approximate (``一个亿左右``): ``parse_money`` gives its number,
    and the record keeps that it was approximate instead of passing it off as exact."""
    return _RE_APPROXIMATE.search(_compact(text)) is not None


# -- find inside a sentence ---------------------------------------------------------------
_RE_RUN = re.compile(rf"[0-9{_CN_NUMERAL}][0-9{_CN_NUMERAL}.,点个多余]*")
_RE_SPACED_UNIT = re.compile(rf"\s*(?:[{_CN_UNITS}]+|(?:{'|'.join(_LATIN_UNITS)})(?![a-z]))", re.IGNORECASE)
_RE_AFTER = re.compile(r"(?:\s*(?:元整|元|圆|人民币|rmb|cny|yuan|左右|以上))*", re.IGNORECASE)
_RE_BEFORE = re.compile(
    r"(?:(?:(?:计划|预计|拟|总|共计|合计|累计|意向)?投资(?:总额|金额|规模|额)?|预计|金额|总额)\s*(?::\s*)?)?"
    # 签约, 最近, 到达 … end in the same characters as 约, 近, 达 but say nothing about the amount.
    r"(?:大约|大概|(?<![签节制预合特履违公条契])约为?|(?<![最附将邻靠])近|(?<![到抵雷表传发])达|超过|超|逾)?"
    r"\s*(?:人民币|rmb|¥)?\s*$",
    re.IGNORECASE,
)
_RE_CURRENCY_BEFORE = re.compile(r"(?:¥|人民币|rmb|cny)\s*$", re.IGNORECASE)
_RE_RANGE_BEFORE = re.compile(rf"([0-9.]+|[{_CN_NUMERAL}]+)\s*(?:-|~|—|–|至|到)\s*$")
# What follows a number that counts something other than money. Checked right after the
# number, not across a space: in "投资5亿 年产10GWh" the 年 starts the next phrase.
_RE_MEASURE = re.compile(
    r"(?:吨|平方|平米|㎡|亩|公顷|千瓦|瓦|度|台|套|辆|人|名|个|家|户|件|只|头|株|箱|张|片|颗|支"
    r"|米|公里|千米|立方|方|座|栋|条|层|倍|%|‰|℃|千升|升|千伏|伏|标箱|床|羽|车位|[a-z])",
    re.IGNORECASE,
)
# Dates, phases and ordinals, which only a bare number can be.
_RE_COUNTER = re.compile(r"(?:年|月|日|天|号|期|届|次|岁|项)")
_RE_MOBILE = re.compile(r"1[3-9]\d{9}")
_DIGIT_LIKE = frozenset("0123456789" + _CN_DIGITS + "十")


def _digits(text: str) -> bool:
    return any(ch in _DIGIT_LIKE for ch in text)


def _cuts_a_number(text: str, end: int) -> bool:
    if end >= len(text) or not text[end - 1].isascii() or not text[end - 1].isdigit():
        return False
    nxt = text[end]
    if nxt.isascii() and nxt.isdigit():
        return True
    return nxt in ".," and end + 1 < len(text) and text[end + 1].isascii() and text[end + 1].isdigit()


def _amount_in_run(text: str, start: int, run_end: int) -> tuple[Decimal, int, int, str] | None:
    """The longest amount starting at ``start``: value, end of the number, end of the phrase, number text."""
    ends: list[int] = []
    spaced = _RE_SPACED_UNIT.match(text, run_end)
    if spaced is not None and text[run_end - 1].isdigit():
        ends.append(spaced.end())
    ends.extend(range(run_end, start, -1))
    for end in ends:
        if _cuts_a_number(text, end):
            continue
        number = _compact(text[start:end])
        value = _phrase_value(number)
        if value is not None:
            after = _RE_AFTER.match(text, end)
            return value, end, after.end() if after else end, number
    return None


def _is_money(text: str, start: int, end: int, phrase_end: int, number: str, value: Decimal) -> bool:
    if start > 0 and ((text[start - 1].isascii() and text[start - 1].isalnum()) or text[start - 1] in "第.#"):
        return False
    if not _digits(number):
        return False
    suffix = text[end:phrase_end].lower()
    has_currency = any(word in suffix for word in ("元", "人民币", "rmb", "cny", "yuan"))
    if not has_currency and _RE_MEASURE.match(text, phrase_end):
        return False
    has_unit = any(ch in number for ch in "万亿") or _RE_ARABIC_LATIN.fullmatch(number) is not None
    if has_unit or has_currency or _RE_CURRENCY_BEFORE.search(text, 0, start):
        return True
    # A bare number: only a large Arabic one, and not a mobile phone number.
    return (
        re.fullmatch(r"[0-9.]+", number) is not None
        and _RE_COUNTER.match(text, phrase_end) is None
        and value >= BARE_NUMBER_MIN
        and _RE_MOBILE.fullmatch(number) is None
    )


def _iter_money(text: str) -> Iterator[tuple[int, tuple[int, int]]]:
    half = text.translate(_HALF_WIDTH)
    for run in _RE_RUN.finditer(half):
        found = _amount_in_run(half, run.start(), run.end())
        if found is None:
            continue
        value, end, phrase_end, number = found
        start = run.start()
        if not _is_money(half, start, end, phrase_end, number, value):
            continue
        ranged = _RE_RANGE_BEFORE.search(half, 0, start)
        if ranged is not None:
            lower = _phrase_value(_compact(half[ranged.start() : end]))
            if lower is not None and lower < value:
                value, start = lower, ranged.start()
        if value > MAX_YUAN:
            continue
        yuan = _to_yuan(value)
        if yuan <= 0:
            continue
        before = _RE_BEFORE.search(half, 0, start)
        if before is not None:
            start = before.start()
            while half[start].isspace():
                start += 1
        yield yuan, (start, phrase_end)


def find_all_money(text: str) -> list[tuple[int, tuple[int, int]]]:
    """Every amount in ``text``, in order, as (yuan, (start, end)) — see ``find_money``."""
    return list(_iter_money(text))


def find_money(text: str) -> tuple[int, tuple[int, int]] | None:
    """The first amount inside a sentence, and the span of its phrase in ``text``.

    The span takes in the words around the number (``投资约20亿元左右``) so that a caller
    can cut the amount out of the sentence. A number counts as money when it carries 万/亿
    (or million/billion), 元 or ¥; a bare Arabic number only when it is at least
    ``BARE_NUMBER_MIN`` — ``3期``, ``2号线`` and ``年产20万吨`` are not amounts.
    """
    return next(_iter_money(text), None)


# -- format -------------------------------------------------------------------------------
# The scale a reader thinks in: 亿/万 in Chinese, billion/million in English.
_SCALES: dict[str, tuple[tuple[int, str], ...]] = {
    "zh": ((10**8, "money.amount.yi"), (10**4, "money.amount.wan")),
    "en": ((10**9, "money.amount.billion"), (10**6, "money.amount.million")),
}
# Parsed once: Babel's format_decimal parses its pattern on every call, most of its cost
# when a digest writes a thousand amounts.
_NUMBER_FORMAT = {
    locale: (parse_pattern(pattern), Locale.parse(locale))
    for locale, pattern in (("zh", "0.####"), ("en", "#,##0.####"))
}
_PLACES = Decimal("0.0001")


def _number(value: Decimal, locale: str) -> str:
    pattern, babel_locale = _NUMBER_FORMAT[locale]
    return str(pattern.apply(value, babel_locale))


def format_money(yuan: int, locale: str) -> str:
    """``500_000_000`` → ``5亿元`` / ``500 million yuan``; at most four decimals, rounded half up."""
    locale = normalize_locale(locale)
    sign = "-" if yuan < 0 else ""
    size = abs(yuan)
    scales = _SCALES[locale]
    for index, (scale, key) in enumerate(scales):
        if size < scale:
            continue
        amount = (Decimal(size) / scale).quantize(_PLACES, rounding=ROUND_HALF_UP)
        # 999,999,999 rounds to 1000.0000 million: say 1 billion instead.
        if index > 0 and amount * scale >= scales[index - 1][0]:
            scale, key = scales[index - 1]
            amount = (Decimal(size) / scale).quantize(_PLACES, rounding=ROUND_HALF_UP)
        return translate(locale, key, amount=sign + _number(amount, locale))
    return translate(locale, "money.amount.yuan", amount=sign + _number(Decimal(size), locale))


def yuan_to_wan(yuan: int) -> Decimal:
    """Yuan as 万元, exactly (four decimal places), for spreadsheets kept in 万元."""
    return Decimal(yuan).scaleb(-4)


_FOREIGN_SCALES: dict[str, tuple[tuple[int, str], ...]] = {
    "zh": ((10**8, "money.foreign.yi"), (10**4, "money.foreign.wan")),
    "en": ((10**9, "money.foreign.billion"), (10**6, "money.foreign.million")),
}
CURRENCIES = ("USD", "HKD", "EUR", "JPY", "GBP")


def format_foreign(value: int, currency: str, locale: str) -> str:
    """An amount in another currency as a reader says it: ``1.29亿美元`` / ``129 million US dollars``."""
    locale = normalize_locale(locale)
    name = translate(locale, f"money.currency.{currency.lower()}") if currency in CURRENCIES else currency
    for scale, key in _FOREIGN_SCALES[locale]:
        if value >= scale:
            amount = (Decimal(value) / scale).quantize(_PLACES, rounding=ROUND_HALF_UP)
            return translate(locale, key, amount=_number(amount, locale), currency=name)
    return translate(locale, "money.foreign.unit", amount=_number(Decimal(value), locale), currency=name)
