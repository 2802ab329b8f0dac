"""Excel out: leads, visits, projects, enterprises, the monthly overview, the networks and
the landing records (``services.landing_export``), as the bureau reads them — headers in the
reader's language, header row frozen, amounts in 万元, real dates, one sheet per unit for
visits and projects, contacts masked for anyone but the bureau.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select

from bot.core.db import Database
from bot.core.i18n import translate
from models import (
    ACTIVE_STAGES,
    Chain,
    Enterprise,
    Lead,
    LibraryEntry,
    Member,
    Project,
    Stage,
    Unit,
    UnitKind,
    User,
    Visit,
)
from services import settings
from services.access import scope, sees_everything
from services.landing_export import write_landing
from services.leads import origin_text, stated_amount
from services.library import coverage_of
from services.network_export import write_networks
from services.sheets import sheet_title, to_bytes, write_table

#: §15: projects of 1亿元 and more are counted apart in the overview.
MAJOR_YUAN = 100_000_000


class What(StrEnum):
    LEADS = "leads"
    VISITS = "visits"
    PROJECTS = "projects"
    ENTERPRISES = "enterprises"
    OVERVIEW = "overview"
    NETWORKS = "networks"  # §9–§13, see services.network_export
    LANDING = "landing"  # §15–§19, see services.landing_export


class Period(StrEnum):
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    THIS_YEAR = "this_year"
    CUSTOM = "custom"


def period_dates(period: Period, today: date) -> tuple[date, date]:
    """First and last day (inclusive) of a named period around ``today``."""
    if period is Period.THIS_MONTH:
        start = today.replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    if period is Period.LAST_MONTH:
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if period is Period.THIS_YEAR:
        return date(today.year, 1, 1), date(today.year, 12, 31)
    raise ValueError("a custom period has its own dates")


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****" if phone else ""


@dataclass(frozen=True)
class Request:
    what: What
    start: date
    end: date
    locale: str
    tz: ZoneInfo
    # What "now" is for sheets that show a state rather than a period (follow-through, cadences).
    now: datetime | None = None


class Exporter:
    def __init__(self, db: Database, member: Member, request: Request) -> None:
        self.db, self.member, self.req = db, member, request
        self.taken: set[str] = set()
        from openpyxl import Workbook

        self._library: tuple[set[int], set[int]] | None = None
        self.wb = Workbook()
        self.wb.remove(self.wb.active)

    # -- helpers -----------------------------------------------------------------------
    def _(self, key: str, **params: object) -> str:
        return translate(self.req.locale, key, **params)

    def _bounds(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.req.start, time.min, self.req.tz).astimezone(UTC)
        end = datetime.combine(self.req.end + timedelta(days=1), time.min, self.req.tz).astimezone(UTC)
        return start, end

    def _local(self, moment: datetime | None) -> datetime | None:
        return moment.astimezone(self.req.tz).replace(tzinfo=None) if moment else None

    async def _own_library(self) -> tuple[set[int], set[int]]:
        """The chains the reader's unit leads, and the enterprises in their libraries.

        A chain lead department keeps those enterprises' contacts itself: it sees them in
        full, and its own intended investment and library dates; nobody else but the
        bureau does.
        """
        if self._library is None:
            async with self.db.session() as session:
                chains = (
                    set((await session.exec(select(Chain.id).where(Chain.lead_unit_id == self.member.unit_id))).all())
                    if self.member.unit_id is not None
                    else set()
                )
                enterprises = (
                    set(
                        (
                            await session.exec(
                                select(LibraryEntry.enterprise_id).where(
                                    col(LibraryEntry.chain_id).in_(chains), col(LibraryEntry.removed_at).is_(None)
                                )
                            )
                        ).all()
                    )
                    if chains
                    else set()
                )
            self._library = ({c for c in chains if c is not None}, enterprises)
        return self._library

    def _contact(self, enterprise: Enterprise) -> tuple[str, str]:
        """The contact in full for the bureau and for the chain lead whose library holds the enterprise."""
        own = self._library[1] if self._library is not None else set()
        if sees_everything(self.member) or enterprise.id in own:
            return enterprise.contact_name, enterprise.contact_phone
        return mask_name(enterprise.contact_name), mask_phone(enterprise.contact_phone)

    def _library_entry_shown(self, entry: LibraryEntry | None) -> bool:
        """A library's intended investment and date are its chain lead's (and the bureau's) to see."""
        own = self._library[0] if self._library is not None else set()
        return entry is not None and (sees_everything(self.member) or entry.chain_id in own)

    def _sheet(self, title: str, columns: list[tuple[str, str]], rows: list[list[Any]]) -> None:
        ws = self.wb.create_sheet(sheet_title(title, self.taken))
        write_table(ws, self.req.locale, columns, rows)

    async def _names(self) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
        async with self.db.session() as session:
            units = {int(u.id or 0): u.name(self.req.locale) for u in (await session.exec(select(Unit))).all()}
            chains = {int(c.id or 0): c.name(self.req.locale) for c in (await session.exec(select(Chain))).all()}
            people = {int(p.id or 0): p.full_name for p in (await session.exec(select(User))).all()}
        return units, chains, people

    def _stage(self, stage: str) -> str:
        return self._(f"stage.{stage}") if stage in {s.value for s in Stage} else stage

    # -- sheets --------------------------------------------------------------------------
    async def leads(self) -> None:
        units, chains, people = await self._names()
        start, end = self._bounds()
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(Lead, Enterprise)
                    .join(Enterprise, col(Enterprise.id) == Lead.enterprise_id)
                    .where(scope(self.member, Lead), col(Lead.created_at) >= start, col(Lead.created_at) < end)
                    .order_by(col(Lead.created_at), col(Lead.id))
                )
            ).all()
        columns = [
            ("number", "int"), ("date", "date"), ("name", "text"), ("credit_code", "text"), ("chain", "text"),
            ("plan", "text"), ("amount", "wan"), ("source", "text"), ("unit", "text"), ("person", "text"),
            ("status", "text"), ("contact_name", "text"), ("contact_phone", "text"),
            ("amount_stated", "text"), ("origin", "text"), ("original_text", "text"),
        ]  # fmt: skip
        data = []
        for lead, enterprise in rows:
            contact, phone = self._contact(enterprise)
            data.append(
                [
                    lead.id, self._local(lead.created_at), enterprise.name, enterprise.credit_code or "",
                    chains.get(lead.chain_id or 0, ""), lead.plan, lead.amount_yuan,
                    self._(f"source.{lead.source}"), units.get(lead.unit_id, ""), people.get(lead.submitted_by, ""),
                    self._(f"lead.status.{lead.status}"), contact, phone,
                    stated_amount(lead, self.req.locale), origin_text(lead.origin, self.req.locale), lead.original_text,
                ]
            )  # fmt: skip
        self._sheet(self._("desk.export.sheet.leads"), columns, data)

    async def visits(self) -> None:
        units, _chains, people = await self._names()
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(Visit, Enterprise)
                    .join(Enterprise, col(Enterprise.id) == Visit.enterprise_id)
                    .where(
                        scope(self.member, Visit),
                        col(Visit.visit_date) >= self.req.start,
                        col(Visit.visit_date) <= self.req.end,
                    )
                    .order_by(col(Visit.visit_date), col(Visit.id))
                )
            ).all()
        columns = [
            ("number", "int"), ("visit_date", "date"), ("name", "text"), ("place", "text"),
            ("participants", "text"), ("outcome", "text"), ("next_step", "text"), ("follow_up", "date"),
            ("person", "text"), ("flagged", "text"),
        ]  # fmt: skip
        by_unit: dict[int, list[list[Any]]] = defaultdict(list)
        for visit, enterprise in rows:
            by_unit[visit.unit_id].append(
                [
                    visit.id, visit.visit_date, enterprise.name, visit.place, visit.participants, visit.outcome,
                    visit.next_step, visit.follow_up_date, people.get(visit.user_id, ""),
                    self._("desk.export.yes") if visit.flagged else "",
                ]
            )  # fmt: skip
        self._per_unit(units, by_unit, columns, "desk.export.sheet.visits")

    def _per_unit(
        self,
        units: dict[int, str],
        by_unit: dict[int, list[list[Any]]],
        columns: list[tuple[str, str]],
        empty_key: str,
    ) -> None:
        if not by_unit:
            self._sheet(self._(empty_key), columns, [])
        for unit_id in sorted(by_unit):
            self._sheet(units.get(unit_id, str(unit_id)), columns, by_unit[unit_id])

    async def projects(self) -> None:
        units, chains, people = await self._names()
        start, end = self._bounds()
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(Project, Enterprise)
                    .join(Enterprise, col(Enterprise.id) == Project.enterprise_id)
                    .where(
                        scope(self.member, Project),
                        # Registered in the period, or moved in it: what a period's ledger holds.
                        (col(Project.first_talk_date).between(self.req.start, self.req.end))
                        | ((col(Project.last_progress_at) >= start) & (col(Project.last_progress_at) < end)),
                    )
                    .order_by(col(Project.first_talk_date), col(Project.id))
                )
            ).all()
        columns = [
            ("number", "int"), ("project", "text"), ("name", "text"), ("chain", "text"), ("planned", "wan"),
            ("funds", "wan"), ("funds_ratio", "percent"), ("stage", "text"), ("first_talk_date", "date"),
            ("first_talk_unit", "text"), ("executing_unit", "text"), ("leader", "text"),
            ("signed_on", "date"), ("started_on", "date"),
        ]  # fmt: skip
        by_unit: dict[int, list[list[Any]]] = defaultdict(list)
        for project, enterprise in rows:
            ratio = project.funds_in_place_yuan / project.planned_yuan if project.planned_yuan else None
            by_unit[project.executing_unit_id].append(
                [
                    project.id, project.name, enterprise.name, chains.get(project.chain_id or 0, ""),
                    project.planned_yuan, project.funds_in_place_yuan, ratio, self._stage(project.stage),
                    project.first_talk_date, units.get(project.first_talk_unit_id, ""),
                    units.get(project.executing_unit_id, ""), people.get(project.leader_user_id or 0, ""),
                    project.signed_on, project.started_on,
                ]
            )  # fmt: skip
        self._per_unit(units, by_unit, columns, "desk.export.sheet.projects")

    async def enterprises(self) -> None:
        _units, chains, _people = await self._names()
        _start, end = self._bounds()
        async with self.db.session() as session:
            visible = select(Enterprise.id).where(scope(self.member, Enterprise), col(Enterprise.merged_into).is_(None))
            entries = (
                await session.exec(
                    select(LibraryEntry, Enterprise)
                    .join(Enterprise, col(Enterprise.id) == LibraryEntry.enterprise_id)
                    .where(
                        col(LibraryEntry.enterprise_id).in_(visible),
                        col(LibraryEntry.removed_at).is_(None),
                        col(LibraryEntry.added_at) < end,
                    )
                    .order_by(col(LibraryEntry.chain_id), col(LibraryEntry.added_at), col(LibraryEntry.id))
                )
            ).all()
            listed = {e.id for _, e in entries}
            others = (
                await session.exec(
                    select(Enterprise).where(col(Enterprise.id).in_(visible)).order_by(col(Enterprise.id))
                )
            ).all()
            others = [e for e in others if e.id not in listed]
            covered = await coverage_of(
                session, sorted({int(e.id or 0) for _, e in entries} | {int(e.id or 0) for e in others})
            )
        columns = [
            ("name", "text"), ("credit_code", "text"), ("chain", "text"), ("tags", "text"), ("expected", "wan"),
            ("coverage", "text"), ("region", "text"), ("contact_name", "text"), ("contact_phone", "text"),
            ("added", "date"),
        ]  # fmt: skip
        data: list[list[Any]] = []
        pairs: list[tuple[LibraryEntry | None, Enterprise]] = [*entries, *((None, e) for e in others)]
        for entry, enterprise in pairs:
            contact, phone = self._contact(enterprise)
            shown = self._library_entry_shown(entry)
            chain_id = entry.chain_id if entry else enterprise.chain_id
            data.append(
                [
                    enterprise.name, enterprise.credit_code or "", chains.get(chain_id or 0, ""),
                    "、".join(self._(f"tag.{t}") for t in enterprise.tags) if self.req.locale == "zh"
                    else ", ".join(self._(f"tag.{t}") for t in enterprise.tags),
                    entry.expected_yuan if entry and shown else None,
                    self._(f"coverage.{covered[int(enterprise.id or 0)].value}"),
                    enterprise.region, contact, phone, self._local(entry.added_at) if entry and shown else None,
                ]
            )  # fmt: skip
        self._sheet(self._("desk.export.sheet.enterprises"), columns, data)

    async def overview(self) -> None:
        start, end = self._bounds()
        lagging_days = await settings.lagging_days(self.db)
        stale = end - timedelta(days=lagging_days)
        async with self.db.session() as session:
            query = select(Unit).where(col(Unit.active)).order_by(col(Unit.id))
            if sees_everything(self.member):
                query = query.where(col(Unit.kind).in_([UnitKind.COUNTY, UnitKind.ZONE]))
            else:
                query = query.where(Unit.id == self.member.unit_id)
            units = (await session.exec(query)).all()
            data = []
            active = [s.value for s in ACTIVE_STAGES]
            for unit in units:
                executing = col(Project.executing_unit_id) == unit.id
                new_projects = await self._count(
                    session,
                    select(func.count()).where(
                        col(Project.first_talk_unit_id) == unit.id,
                        col(Project.first_talk_date).between(self.req.start, self.req.end),
                    ),
                )
                major = await self._count(
                    session,
                    select(func.count()).where(
                        executing, col(Project.planned_yuan) >= MAJOR_YUAN, col(Project.stage) != Stage.DROPPED
                    ),
                )
                planned = await self._count(
                    session,
                    select(func.coalesce(func.sum(Project.planned_yuan), 0)).where(
                        executing, col(Project.stage) != Stage.DROPPED
                    ),
                )
                funds = await self._count(
                    session, select(func.coalesce(func.sum(Project.funds_in_place_yuan), 0)).where(executing)
                )
                lagging = await self._count(
                    session,
                    select(func.count()).where(
                        executing, col(Project.stage).in_(active), col(Project.last_progress_at) < stale
                    ),
                )
                leads = await self._count(
                    session,
                    select(func.count()).where(
                        col(Lead.unit_id) == unit.id, col(Lead.created_at) >= start, col(Lead.created_at) < end
                    ),
                )
                visits = await self._count(
                    session,
                    select(func.count()).where(
                        col(Visit.unit_id) == unit.id, col(Visit.visit_date).between(self.req.start, self.req.end)
                    ),
                )
                data.append(
                    [unit.name(self.req.locale), new_projects, major, planned, funds,
                     funds / planned if planned else None, leads, visits, lagging]
                )  # fmt: skip
        columns = [
            ("unit", "text"), ("new_projects", "int"), ("major_projects", "int"), ("planned", "wan"),
            ("funds", "wan"), ("funds_ratio", "percent"), ("new_leads", "int"), ("visits", "int"),
            ("lagging", "int"),
        ]  # fmt: skip
        self._sheet(self._("desk.export.sheet.overview"), columns, data)

    async def networks(self) -> None:
        await write_networks(self)

    async def landing(self) -> None:
        await write_landing(self)

    @staticmethod
    async def _count(session: Any, query: Any) -> int:
        return int((await session.exec(query)).one() or 0)

    async def build(self) -> bytes:
        await self._own_library()
        await getattr(self, self.req.what.value)()
        return to_bytes(self.wb)


async def export(db: Database, member: Member, request: Request) -> tuple[str, bytes]:
    """The workbook and its file name (``线索_2026-11-01_2026-11-30.xlsx``)."""
    content = await Exporter(db, member, request).build()
    title = translate(request.locale, f"desk.export.file.{request.what.value}")
    return f"{title}_{request.start.isoformat()}_{request.end.isoformat()}.xlsx", content
