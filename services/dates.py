"""Days as people type them: ``2026-11-20``, ``11-20``, ``11月20日``, ``昨天``, ``yesterday``."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

_RELATIVE = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "昨天": -1,
    "昨日": -1,
    "yesterday": -1,
    "前天": -2,
    "明天": 1,
    "明日": 1,
    "tomorrow": 1,
    "后天": 2,
}
_FULL = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})[-/.月](\d{1,2})[日号]?$")


class InvalidDate(ValueError):
    """Text that is not a day."""


def parse_day(text: str, today: date) -> date:
    """The day ``text`` names. Without a year, the such day nearest to ``today``.

    "12-28" typed on 2 January is last December; "01-05" typed on 28 December is next
    January. Whether the day may be past or future is the caller's question.
    """
    cleaned = "".join(unicodedata.normalize("NFKC", text).lower().split())
    if cleaned in _RELATIVE:
        return today + timedelta(days=_RELATIVE[cleaned])
    try:
        if match := _FULL.match(cleaned) or _COMPACT.match(cleaned):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _MONTH_DAY.match(cleaned):
            month, day = int(match[1]), int(match[2])
            years = [today.year - 1, today.year, today.year + 1]
            # 29 February exists only in some of the three years.
            days = [d for d in (_day(y, month, day) for y in years) if d is not None]
            if not days:
                raise ValueError(text)
            return min(days, key=lambda d: abs((d - today).days))
    except ValueError as exc:
        raise InvalidDate(text) from exc
    raise InvalidDate(text)


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
