"""Calendar periods in the configured zone: weeks, months, half-years, years.

Records carry UTC times and local dates; a period is a half-open range of local dates
``[start, end)`` and converts to UTC bounds for timestamp columns.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    kind: str  # week | month | half | year
    key: str  # 2026-W48 | 2026-11 | 2026-H2 | 2026
    start: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return local_midnight(self.start, tz), local_midnight(self.end, tz)

    def day_number(self, today: date) -> int:
        """1 on the first day of the period, ``days`` on its last (clamped outside it)."""
        return max(1, min(self.days, (today - self.start).days + 1))


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    end = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return Period("month", f"{day.year:04d}-{day.month:02d}", start, end)


def year_of(day: date) -> Period:
    return Period("year", f"{day.year:04d}", date(day.year, 1, 1), date(day.year + 1, 1, 1))


def half_of(day: date) -> Period:
    if day.month <= 6:
        return Period("half", f"{day.year:04d}-H1", date(day.year, 1, 1), date(day.year, 7, 1))
    return Period("half", f"{day.year:04d}-H2", date(day.year, 7, 1), date(day.year + 1, 1, 1))


def quarter_of(day: date) -> Period:
    first = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first, 1)
    end = date(day.year + 1, 1, 1) if first == 10 else date(day.year, first + 3, 1)
    return Period("quarter", f"{day.year:04d}-Q{(first - 1) // 3 + 1}", start, end)


def week_of(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    iso = start.isocalendar()
    return Period("week", f"{iso.year:04d}-W{iso.week:02d}", start, start + timedelta(days=7))


def parse_key(key: str) -> Period:
    """The period a key names: ``2026-W48``, ``2026-11``, ``2026-H2`` or ``2026``; ``ValueError`` otherwise."""
    text = key.strip().upper()
    year, _, rest = text.partition("-")
    if not year.isdigit() or len(year) != 4:
        raise ValueError(key)
    if not rest:
        return year_of(date(int(year), 1, 1))
    if rest.startswith("W") and rest[1:].isdigit():
        return week_of(date.fromisocalendar(int(year), int(rest[1:]), 1))
    if rest in ("H1", "H2"):
        return half_of(date(int(year), 1 if rest == "H1" else 7, 1))
    if rest.isdigit():
        return month_of(date(int(year), int(rest), 1))
    raise ValueError(key)


def of_kind(kind: str, day: date) -> Period:
    return {"week": week_of, "month": month_of, "half": half_of, "year": year_of}[kind](day)


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def is_working_day(day: date) -> bool:
    """A working day in China's official calendar: public holidays off, make-up days (调休) on.

    For a year the calendar package does not know yet (the State Council publishes each
    year's holidays in its last weeks), Monday to Friday, and the log says so once a year.
    """
    import chinese_calendar  # with the first working day asked: the calendar's tables are big

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _unknown_year(day.year)
        return day.weekday() < 5


@cache
def _unknown_year(year: int) -> None:
    log.warning("the official holiday calendar does not cover %s: working days are Monday to Friday", year)


def first_working_day(year: int, month: int) -> date:
    """The month's first working day (1 October is a holiday; a Sunday may be a make-up day)."""
    day = date(year, month, 1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day
