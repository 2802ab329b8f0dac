"""Calendar periods in the configured zone: weeks, months, half-years, years.

Records carry UTC times and local dates; a period is a half-open range of local dates
``[start, end)`` and converts to UTC bounds for timestamp columns.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


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


def week_of(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    iso = start.isocalendar()
    return Period("week", f"{iso.year:04d}-W{iso.week:02d}", start, start + timedelta(days=7))


def of_kind(kind: str, day: date) -> Period:
    return {"week": week_of, "month": month_of, "half": half_of, "year": year_of}[kind](day)


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def first_working_day(year: int, month: int) -> date:
    """The first Monday-to-Friday of the month; public holidays are not known to the bot."""
    day = date(year, month, 1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
