"""§18 results that are compared: units ranked on the core indicators, and the bureau's lists
of candidates for commendation (通报表扬) and for an interview (约谈).

Counties and the zone are ranked on funds in place this year, projects of ≥ 1亿 and new
first-talk projects (the figures of the bureau's overview); liaison offices on effective
leads against their target. Ties share a rank. Candidates are for the bureau only: no
message to a unit carries them.

- commendation: a unit first on an indicator (with more than nothing);
- interview: a unit behind pace on some target at the end of each of the last
  ``interview_after_months`` months (3 by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.core.db import Database
from models import Unit, UnitKind
from services import members, settings, targets
from services.periods import month_of

INTERVIEW_SETTING, DEFAULT_INTERVIEW_MONTHS = "interview_after_months", 3
INDICATORS = ("funds", "big_projects", "new_first_talk", "effective_leads")


@dataclass(frozen=True)
class Ranked:
    unit_id: int
    name_zh: str
    name_en: str
    value: int
    target: int | None
    rank: int

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_zh


@dataclass(frozen=True)
class UnitFigures:
    """What the ranking reads of one county or zone (the bureau overview's row)."""

    unit_id: int
    name_zh: str
    name_en: str
    funds: int
    big_projects: int
    new_first_talk: int


@dataclass(frozen=True)
class Rankings:
    by_indicator: dict[str, list[Ranked]]
    commend: list[tuple[Ranked, list[str]]] = field(default_factory=list)
    interview: list[tuple[Unit, int]] = field(default_factory=list)


def ranked(
    items: Sequence[tuple[int, str, str, int, int | None]], key: Callable[[int, int | None], float]
) -> list[Ranked]:
    """Order (id, zh, en, value, target) best first; equal scores share a rank."""
    ordered = sorted(items, key=lambda i: (-key(i[3], i[4]), i[0]))
    out: list[Ranked] = []
    for position, (uid, zh, en, value, target) in enumerate(ordered, start=1):
        same = out and key(out[-1].value, out[-1].target) == key(value, target)
        out.append(Ranked(uid, zh, en, value, target, out[-1].rank if same else position))
    return out


async def _leads(
    db: Database, day: date, lines_on: targets.ProgressByDay
) -> list[tuple[int, str, str, int, int | None]]:
    async with db.session() as session:
        offices = list((await session.exec(select(Unit).where(Unit.kind == UnitKind.LIAISON, col(Unit.active)))).all())
    lines = await lines_on.on(day)
    items = []
    for unit in offices:
        assert unit.id is not None
        line = next((x for x in lines.get(unit.id, []) if x.metric == "effective_leads"), None)
        items.append((unit.id, unit.name_zh, unit.name_en, line.actual if line else 0, line.value if line else None))
    return items


async def interview_days(db: Database, last_day: date) -> list[date]:
    """The days the interview list looks at: ``last_day`` and the ends of the months before it."""
    months = await settings.get_int(db, INTERVIEW_SETTING, DEFAULT_INTERVIEW_MONTHS)
    days = [last_day]
    while len(days) < max(months, 1):
        days.append(month_of(days[-1]).start - timedelta(days=1))
    return days


async def interview_candidates(
    db: Database, last_day: date, tz: ZoneInfo, lines_on: targets.ProgressByDay | None = None
) -> list[tuple[Unit, int]]:
    """Units behind pace at the end of each of the last N months; with how many targets behind now."""
    lines_on = lines_on or targets.ProgressByDay(db, tz)
    days = await interview_days(db, last_day)
    by_day = await lines_on.on_days(days)
    behind_every: set[int] | None = None
    latest: dict[int, int] = {}
    for index, day in enumerate(days):
        behind = {uid: sum(1 for x in ls if x.behind > 0) for uid, ls in by_day[day].items()}
        now_behind = {uid for uid, n in behind.items() if n}
        if index == 0:
            latest = behind
        behind_every = now_behind if behind_every is None else behind_every & now_behind
    units = await members.every_unit(db)
    return [(units[uid], latest[uid]) for uid in sorted(behind_every or set()) if uid in units]


async def build(
    db: Database,
    rows: Sequence[UnitFigures],
    last_day: date,
    tz: ZoneInfo,
    *,
    bureau: bool,
    lines_on: targets.ProgressByDay | None = None,
) -> Rankings:
    """The rankings as of ``last_day``; ``bureau`` adds the candidate lists.

    ``lines_on`` is the run's target progress by day, when the caller keeps one (a
    scheduled run counts each day once for all its digests).
    """
    lines_on = lines_on or targets.ProgressByDay(db, tz)

    def plain(value: int, _target: int | None) -> float:
        return value

    def share(value: int, target: int | None) -> float:
        return value / target if target else value

    by_indicator = {
        "funds": ranked([(r.unit_id, r.name_zh, r.name_en, r.funds, None) for r in rows], plain),
        "big_projects": ranked([(r.unit_id, r.name_zh, r.name_en, r.big_projects, None) for r in rows], plain),
        "new_first_talk": ranked([(r.unit_id, r.name_zh, r.name_en, r.new_first_talk, None) for r in rows], plain),
        "effective_leads": ranked(await _leads(db, last_day, lines_on), share),
    }
    if not bureau:
        return Rankings(by_indicator)
    firsts: dict[int, tuple[Ranked, list[str]]] = {}
    for indicator, items in by_indicator.items():
        for item in items:
            if item.rank == 1 and item.value > 0:
                firsts.setdefault(item.unit_id, (item, []))[1].append(indicator)
    return Rankings(by_indicator, list(firsts.values()), await interview_candidates(db, last_day, tz, lines_on))
