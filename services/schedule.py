"""What is due to whom: the scheduled digests and reminders, decided by the database.

``due(now)`` lists every (recipient, kind, period) whose moment has come and which the
``delivery`` table does not hold yet under its dedupe key ``kind:period:recipient``. The
scheduler's jobs only wake this up: a job firing twice, a restart, or two processes
computing the same list enqueue each message once (the key is unique), and a bot that was
down catches up once when it starts — the latest occurrence of each kind only, and only
while it still makes sense (``MAX_LATENESS``): nobody wants last month's reminder.

Times are the bureau's settings (``services.settings``), in the configured zone.
Working days follow China's official calendar, public holidays and make-up working days
(调休) included (``services.periods.is_working_day``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from bot.core.i18n import person_locale
from models import Chain, Delivery, Role, Setting, Target, Unit, UnitKind, User
from services import settings as bureau_settings
from services.periods import (
    Period,
    first_working_day,
    half_of,
    month_of,
    of_kind,
    week_of,
)
from services.targets import applicable

CHAIN_DIGEST = "chain_digest"
LIAISON_REMINDER = "liaison_reminder"
LIAISON_CLOSE = "liaison_close"
BUREAU_OVERVIEW = "bureau_overview"
LEADER_SUMMARY = "leader_summary"
UNIT_TARGETS = "unit_targets"  # every unit with a yearly target: its standing, monthly
KINDS = (CHAIN_DIGEST, LIAISON_REMINDER, LIAISON_CLOSE, BUREAU_OVERVIEW, LEADER_SUMMARY, UNIT_TARGETS)

MAX_LATENESS: dict[str, timedelta] = {
    CHAIN_DIGEST: timedelta(days=6),
    LIAISON_REMINDER: timedelta(days=31),  # and never past the month's end (see below)
    LIAISON_CLOSE: timedelta(days=3),
    BUREAU_OVERVIEW: timedelta(days=20),
    LEADER_SUMMARY: timedelta(days=30),
    UNIT_TARGETS: timedelta(days=3),  # a note weeks late would misstate the pace
}

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_MMDD = re.compile(r"^(0?[1-9]|1[0-2])-(0?[1-9]|[12]\d|3[01])$")

# The settings that make the schedule, with how each is read.
SETTING_KEYS = (
    "chain_digest",
    "liaison_reminder_days_before_end",
    "liaison_reminder_time",
    "liaison_close_time",
    "bureau_overview_time",
    "leader_summary_dates",
    "leader_summary_time",
    "follow_up_time",
    "unit_targets_note",
)


class BadScheduleValue(ValueError):
    pass


def parse_time(value: Any) -> time:
    match = _HHMM.match(str(value).strip())
    if match is None:
        raise BadScheduleValue(str(value))
    return time(int(match[1]), int(match[2]))


def parse_weekly(value: Any) -> tuple[int, time]:
    """``"mon 08:30"`` → (0, 08:30)."""
    parts = str(value).strip().lower().split()
    if len(parts) != 2 or parts[0][:3] not in WEEKDAYS:
        raise BadScheduleValue(str(value))
    return WEEKDAYS.index(parts[0][:3]), parse_time(parts[1])


def parse_monthly(value: Any) -> tuple[int, time]:
    """``"10 09:00"`` → (10, 09:00): a day every month has (1 to 28) and a time."""
    parts = str(value).strip().split()
    if len(parts) != 2 or not parts[0].isdigit() or not 1 <= int(parts[0]) <= 28:
        raise BadScheduleValue(str(value))
    return int(parts[0]), parse_time(parts[1])


def parse_dates(value: Any) -> tuple[tuple[int, int], ...]:
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    dates = []
    for item in items:
        match = _MMDD.match(str(item).strip())
        if match is None:
            raise BadScheduleValue(str(item))
        month, day = int(match[1]), int(match[2])
        date(2024, month, day)  # a leap year: 02-29 is a real date
        dates.append((month, day))
    if not dates:
        raise BadScheduleValue(str(value))
    # One summary per half-year (§1: mid-year and year-end); a second date in the same half
    # would share its delivery key and never be sent.
    halves = [month <= 6 for month, _ in set(dates)]
    if len(halves) != len(set(halves)):
        raise BadScheduleValue(str(value))
    return tuple(sorted(set(dates)))


def parse_days(value: Any) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise BadScheduleValue(str(value)) from None
    if not 0 <= days <= 20:
        raise BadScheduleValue(str(value))
    return days


PARSERS = {
    "chain_digest": parse_weekly,
    "liaison_reminder_days_before_end": parse_days,
    "liaison_reminder_time": parse_time,
    "liaison_close_time": parse_time,
    "bureau_overview_time": parse_time,
    "leader_summary_dates": parse_dates,
    "leader_summary_time": parse_time,
    "follow_up_time": parse_time,
    "unit_targets_note": parse_monthly,
}


@dataclass(frozen=True)
class Times:
    chain_weekday: int
    chain_time: time
    liaison_days_before: int
    liaison_time: time
    liaison_close_time: time
    bureau_time: time
    leader_dates: tuple[tuple[int, int], ...]
    leader_time: time
    follow_up_time: time
    unit_targets_day: int = 10
    unit_targets_time: time = time(9)


@cache
def _default(key: str) -> Any:
    return bureau_settings.default(key)


def _read(key: str, value: Any) -> Any:
    try:
        return PARSERS[key](value)
    except BadScheduleValue:
        return PARSERS[key](_default(key))


async def load_times(db: Database) -> Times:
    async with db.session() as session:
        return await _load_times(session)


async def _load_times(session: AsyncSession) -> Times:
    rows = (await session.exec(select(Setting).where(col(Setting.key).in_(SETTING_KEYS)))).all()
    stored = {row.key: row.value for row in rows}
    values = {key: _read(key, stored[key] if key in stored else _default(key)) for key in SETTING_KEYS}
    weekday, chain_time = values["chain_digest"]
    note_day, note_time = values["unit_targets_note"]
    return Times(
        chain_weekday=weekday,
        chain_time=chain_time,
        liaison_days_before=values["liaison_reminder_days_before_end"],
        liaison_time=values["liaison_reminder_time"],
        liaison_close_time=values["liaison_close_time"],
        bureau_time=values["bureau_overview_time"],
        leader_dates=values["leader_summary_dates"],
        leader_time=values["leader_summary_time"],
        follow_up_time=values["follow_up_time"],
        unit_targets_day=note_day,
        unit_targets_time=note_time,
    )


async def set_time(db: Database, key: str, value: str, *, by: int | None, now: datetime | None = None) -> Any:
    """Change one schedule setting after checking it; returns the stored value."""
    if key not in PARSERS:
        raise BadScheduleValue(key)
    PARSERS[key](value)
    stored: Any = value.strip()
    if key == "leader_summary_dates":
        stored = [f"{m:02d}-{d:02d}" for m, d in parse_dates(value)]
    elif key == "liaison_reminder_days_before_end":
        stored = parse_days(value)
    elif key == "chain_digest":
        weekday, at = parse_weekly(value)
        stored = f"{WEEKDAYS[weekday]} {at:%H:%M}"
    elif key == "unit_targets_note":
        day, at = parse_monthly(value)
        stored = f"{day:02d} {at:%H:%M}"
    else:
        stored = f"{parse_time(value):%H:%M}"
    await bureau_settings.put(db, key, stored, by=by, now=now)
    return stored


async def current(db: Database, key: str) -> Any:
    return await bureau_settings.get(db, key)


# A running scheduler registers here to re-read the times when the bureau changes one in
# this process; schedulers in other processes notice at their next hourly check.
_listeners: list[Callable[[], None]] = []


def on_change(listener: Callable[[], None]) -> None:
    _listeners.append(listener)


def forget(listener: Callable[[], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def notify_changed() -> None:
    for listener in list(_listeners):
        listener()


# -- occurrences ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Occurrence:
    kind: str
    period: Period  # what the message reports on
    due_at: datetime  # UTC
    as_of: date  # the local day whose end the figures run to (pacing counts to it)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _prev_month(day: date) -> date:
    return day.replace(day=1) - timedelta(days=1)


def occurrences(times: Times, now: datetime, tz: ZoneInfo) -> list[Occurrence]:
    """The latest occurrence of each kind that has come by ``now`` and is not too late to send."""
    local = now.astimezone(tz)
    today = local.date()
    found: list[Occurrence] = []

    # Weekly chain digest: the seven days before the due day.
    day = today - timedelta(days=(today.weekday() - times.chain_weekday) % 7)
    if _at(day, times.chain_time, tz) > now:
        day -= timedelta(days=7)
    start = day - timedelta(days=7)
    week = week_of(start)
    found.append(Occurrence(CHAIN_DIGEST, Period("week", week.key, start, day), _at(day, times.chain_time, tz), day))

    # Liaison reminder: N days before the month ends; only within that month.
    month = month_of(today)
    reminder_day = max(month.start, month.last_day - timedelta(days=times.liaison_days_before))
    if _at(reminder_day, times.liaison_time, tz) <= now:
        found.append(Occurrence(LIAISON_REMINDER, month, _at(reminder_day, times.liaison_time, tz), reminder_day))

    # Month close: the last day; a late start in the next days still sends it.
    for period in (month, month_of(_prev_month(today))):
        due_at = _at(period.last_day, times.liaison_close_time, tz)
        if due_at <= now:
            found.append(Occurrence(LIAISON_CLOSE, period, due_at, period.last_day))
            break

    # Bureau overview of the previous month: first working day of this month.
    for this in (month, month_of(_prev_month(today))):
        first = first_working_day(this.start.year, this.start.month)
        due_at = _at(first, times.bureau_time, tz)
        if due_at <= now:
            reported = month_of(_prev_month(this.start))
            found.append(Occurrence(BUREAU_OVERVIEW, reported, due_at, reported.last_day))
            break

    # Leaders: mid-year and year-end summaries.
    candidates = [
        _at(date(year, m, d), times.leader_time, tz)
        for year in (today.year - 1, today.year)
        for m, d in times.leader_dates
        if (m, d) != (2, 29) or year % 4 == 0
    ]
    past = [c for c in candidates if c <= now]
    if past:
        due_at = max(past)
        day = due_at.astimezone(tz).date()
        found.append(Occurrence(LEADER_SUMMARY, half_of(day), due_at, day))

    # Every unit with a yearly target: its standing on the bureau's day of each month.
    for this in (month, month_of(_prev_month(today))):
        day = this.start.replace(day=times.unit_targets_day)
        due_at = _at(day, times.unit_targets_time, tz)
        if due_at <= now:
            found.append(Occurrence(UNIT_TARGETS, this, due_at, day))
            break

    return [o for o in found if now - o.due_at <= MAX_LATENESS[o.kind]]


# -- recipients -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DueItem:
    occurrence: Occurrence
    user_id: int
    telegram_id: int
    unit_id: int | None
    locale: str

    @property
    def kind(self) -> str:
        return self.occurrence.kind

    @property
    def key(self) -> str:
        return dedupe_key(self.kind, self.occurrence.period.key, self.user_id)


def dedupe_key(kind: str, period: str, recipient: int) -> str:
    return f"{kind}:{period}:{recipient}"


_RECIPIENTS: dict[str, tuple[Role, tuple[str, ...] | None]] = {
    CHAIN_DIGEST: (Role.CHAIN_LEAD, None),
    LIAISON_REMINDER: (Role.LIAISON, (UnitKind.LIAISON,)),
    LIAISON_CLOSE: (Role.LIAISON, (UnitKind.LIAISON,)),
    BUREAU_OVERVIEW: (Role.BUREAU, None),
    LEADER_SUMMARY: (Role.LEADER, None),
}
# Whoever's unit owes a yearly target gets the monthly note, whatever their role.
YEARLY = "year"


async def due(
    db: Database, now: datetime, tz: ZoneInfo, *, default_locale: str = "zh", times: Times | None = None
) -> list[DueItem]:
    """Every message due by ``now`` and not yet queued, one per recipient, kind and period."""
    async with db.session() as session:
        times = times or await _load_times(session)
        occ = occurrences(times, now, tz)
        if not occ:
            return []
        users_q = select(User).where(col(User.active), col(User.unreachable_at).is_(None)).order_by(col(User.id))
        users = list((await session.exec(users_q)).all())
        units = list((await session.exec(select(Unit))).all())
        unit_kinds = {u.id: u.kind for u in units}
        chains = list((await session.exec(select(Chain))).all())
        chain_units = {c.lead_unit_id for c in chains if c.active}
        target_rows = list((await session.exec(select(Target))).all())
        with_yearly = {
            a.unit_id
            for a in applicable(target_rows, [u for u in units if u.active], chains)
            if a.target.period == YEARLY
        }
        items: list[DueItem] = []
        for o in occ:
            for user in users:
                assert user.id is not None
                if user.created_at > o.due_at:
                    continue
                if o.kind == UNIT_TARGETS:
                    if user.unit_id not in with_yearly:
                        continue
                    locale = person_locale(user.locale, user.language_code, default_locale)
                    items.append(DueItem(o, user.id, user.telegram_id, user.unit_id, locale))
                    continue
                role, kinds = _RECIPIENTS[o.kind]
                if user.role != role:
                    continue
                if kinds is not None and unit_kinds.get(user.unit_id) not in kinds:
                    continue
                if o.kind == CHAIN_DIGEST and user.unit_id not in chain_units:
                    continue
                locale = person_locale(user.locale, user.language_code, default_locale)
                items.append(DueItem(o, user.id, user.telegram_id, user.unit_id, locale))
        if not items:
            return []
        keys = [item.key for item in items]
        sent = set((await session.exec(select(Delivery.dedupe_key).where(col(Delivery.dedupe_key).in_(keys)))).all())
    return [item for item in items if item.key not in sent]


# -- one digest on demand (the bureau's /digest <unit>, ``investbot digest preview``) ---------------
PERIOD_OF_KIND = {
    CHAIN_DIGEST: "week",
    LIAISON_REMINDER: "month",
    LIAISON_CLOSE: "month",
    BUREAU_OVERVIEW: "month",
    UNIT_TARGETS: "month",
    LEADER_SUMMARY: "half",
}


def occurrence_now(kind: str, today: date, tz: ZoneInfo, now: datetime) -> Occurrence:
    """``kind``'s digest of the period under way, counted to the end of ``today``."""
    return Occurrence(kind, of_kind(PERIOD_OF_KIND[kind], today), now, today)


def occurrence_of(kind: str, period: Period, times: Times, tz: ZoneInfo) -> Occurrence:
    """``kind``'s scheduled digest of ``period``, as of the day the schedule sends it."""
    if kind == CHAIN_DIGEST:
        day = period.end  # the week is reported on the day after it
    elif kind == LIAISON_REMINDER:
        day = max(period.start, period.last_day - timedelta(days=times.liaison_days_before))
    elif kind == UNIT_TARGETS:
        day = period.start.replace(day=times.unit_targets_day)
    elif kind == LEADER_SUMMARY:
        days = [date(period.start.year, m, d) for m, d in times.leader_dates if (m, d) != (2, 29)]
        day = next((d for d in days if period.start <= d < period.end), period.last_day)
    else:
        day = period.last_day
    at = {
        CHAIN_DIGEST: times.chain_time,
        LIAISON_REMINDER: times.liaison_time,
        LIAISON_CLOSE: times.liaison_close_time,
        BUREAU_OVERVIEW: times.bureau_time,
        LEADER_SUMMARY: times.leader_time,
        UNIT_TARGETS: times.unit_targets_time,
    }[kind]
    return Occurrence(kind, period, _at(day, at, tz), day)


async def kind_for_unit(db: Database, unit: Unit) -> str | None:
    """The digest a unit's people get on a schedule (a chain lead department's is its weekly one)."""
    if unit.kind == UnitKind.LIAISON:
        return LIAISON_REMINDER
    if unit.kind == UnitKind.BUREAU:
        return BUREAU_OVERVIEW
    async with db.session() as session:
        leads = (await session.exec(select(Chain.id).where(Chain.lead_unit_id == unit.id, col(Chain.active)))).first()
        if leads is not None:
            return CHAIN_DIGEST
        chains = list((await session.exec(select(Chain))).all())
        rows = list((await session.exec(select(Target))).all())
    if any(a.target.period == YEARLY for a in applicable(rows, [unit], chains)):
        return UNIT_TARGETS
    return None
