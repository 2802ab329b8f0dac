"""A year of fixture data (2026) and plain-Python counts of what was inserted.

The counts here are written from the definitions (DOMAIN.md and the docstrings of
``services.digests``/``services.targets``) over the Python objects this module inserted —
no SQL — so a digest figure that matches them matches what the database holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.core.db import Database
from models import (
    Chain,
    Dispute,
    Enterprise,
    Lead,
    LibraryEntry,
    Project,
    Target,
    Unit,
    User,
    Visit,
)

TZ = ZoneInfo("Asia/Shanghai")
YEAR = 2026
BIG = 100_000_000
LAGGING_DAYS = 30
LANDED = {"signed", "started", "operating"}
ACTIVE = {"first_talk", "negotiation", "signed", "started"}
STAGES = ("first_talk", "negotiation", "signed", "started", "operating", "dropped")


def local(day: date, hour: int = 2) -> datetime:
    """A moment on a local day, as aware UTC (2 a.m.: before any scheduled send)."""
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(UTC)


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=TZ).astimezone(UTC)


@dataclass
class YearData:
    units: dict[str, Unit]
    chains: dict[str, Chain]
    users: dict[int, User]  # by telegram id
    enterprises: list[Enterprise] = field(default_factory=list)
    library: list[LibraryEntry] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    # -- independent counts ------------------------------------------------------------------
    def chain_ids_of(self, unit_code: str) -> list[int]:
        unit_id = self.units[unit_code].id
        return sorted(c.id for c in self.chains.values() if c.lead_unit_id == unit_id and c.id is not None)

    def enterprise_chain(self, enterprise_id: int) -> int | None:
        return next(e.chain_id for e in self.enterprises if e.id == enterprise_id)

    def chain_figures(self, chain_id: int, start: date, end: date) -> dict[str, object]:
        s, e = utc_midnight(start), utc_midnight(end)
        leads = sum(1 for x in self.leads if x.chain_id == chain_id and s <= x.created_at < e)
        visits = sum(
            1 for v in self.visits if self.enterprise_chain(v.enterprise_id) == chain_id and start <= v.visit_date < end
        )
        by_stage = dict.fromkeys(STAGES, 0)
        for p in self.projects:
            if p.chain_id == chain_id and p.first_talk_date < end:
                by_stage[p.stage] += 1
        coverage = dict.fromkeys(("landed", "in_talks", "visited", "contacted", "untouched"), 0)
        for entry in self.library:
            if entry.chain_id != chain_id or entry.added_at >= e:
                continue
            if entry.removed_at is not None and entry.removed_at < e:
                continue
            ent = entry.enterprise_id
            projects = [p for p in self.projects if p.enterprise_id == ent and p.first_talk_date < end]
            if any(p.stage in LANDED for p in projects):
                coverage["landed"] += 1
            elif any(p.stage in {"first_talk", "negotiation"} for p in projects):
                coverage["in_talks"] += 1
            elif any(v.enterprise_id == ent and v.visit_date < end for v in self.visits):
                coverage["visited"] += 1
            elif any(x.enterprise_id == ent and x.created_at < e for x in self.leads):
                coverage["contacted"] += 1
            else:
                coverage["untouched"] += 1
        lagging = [
            p
            for p in self.projects
            if p.chain_id == chain_id
            and p.stage in ACTIVE
            and p.last_progress_at < e - timedelta(days=LAGGING_DAYS)
            and p.created_at < e
        ]
        year = (end - timedelta(days=1)).year
        this_year = sum(
            p.funds_in_place_yuan
            for p in self.projects
            if p.chain_id == chain_id and p.stage != "dropped" and date(year, 1, 1) <= p.first_talk_date < end
        )
        last_year = sum(
            p.funds_in_place_yuan
            for p in self.projects
            if p.chain_id == chain_id and p.stage != "dropped" and p.first_talk_date.year == year - 1
        )
        return {
            "new_leads": leads,
            "new_visits": visits,
            "by_stage": by_stage,
            "coverage": coverage,
            "lagging_count": len(lagging),
            "funds_this_year": this_year,
            "funds_last_year": last_year,
        }

    def liaison_figures(self, unit_code: str, month_start: date, as_of: date) -> dict[str, object]:
        unit_id = self.units[unit_code].id
        s, e = utc_midnight(month_start), utc_midnight(as_of + timedelta(days=1))
        mine = [x for x in self.leads if x.unit_id == unit_id]
        return {
            "effective": sum(1 for x in mine if x.status == "effective" and s <= x.created_at < e),
            "pending": sum(1 for x in mine if x.status == "pending" and x.created_at < e),
            "rejected": sorted(x.id for x in mine if x.status == "rejected" and s <= x.created_at < e),
        }

    def bureau_row(self, unit_code: str, month_start: date, month_end: date) -> tuple[int, int, int, int, int]:
        unit_id = self.units[unit_code].id
        mine = [p for p in self.projects if p.first_talk_unit_id == unit_id]
        in_year = [
            p for p in mine if date(month_start.year, 1, 1) <= p.first_talk_date < month_end and p.stage != "dropped"
        ]
        return (
            sum(p.funds_in_place_yuan for p in in_year),
            sum(1 for p in in_year if (p.planned_yuan or 0) >= BIG),
            sum(1 for p in mine if month_start <= p.first_talk_date < month_end),
            sum(1 for p in mine if p.signed_on is not None and month_start <= p.signed_on < month_end),
            sum(1 for p in mine if p.started_on is not None and month_start <= p.started_on < month_end),
        )

    def landed_on(self, p: Project) -> date:
        return p.signed_on or p.started_on or p.first_talk_date

    def landed_over(self, unit_code: str, threshold: int, start: date, until: date, ratio: int = 0) -> int:
        unit_id = self.units[unit_code].id
        return sum(
            1
            for p in self.projects
            if p.first_talk_unit_id == unit_id
            and p.stage in LANDED
            and (p.planned_yuan or 0) >= threshold
            and start <= self.landed_on(p) < until
            and p.funds_in_place_yuan * 100 >= (p.planned_yuan or 0) * ratio
        )

    def library_size(self, chain_id: int, until: date) -> int:
        e = utc_midnight(until)
        return sum(
            1
            for x in self.library
            if x.chain_id == chain_id and x.added_at < e and (x.removed_at is None or x.removed_at >= e)
        )

    def chain_leaders_landed(self, chain_id: int, start: date, until: date) -> int:
        tags = {e.id: e.tags for e in self.enterprises}
        return sum(
            1
            for p in self.projects
            if p.chain_id == chain_id
            and p.stage in LANDED
            and start <= self.landed_on(p) < until
            and "chain_leader" in tags[p.enterprise_id]
        )

    def effective_leads(self, unit_code: str, start: date, until: date) -> int:
        unit_id = self.units[unit_code].id
        s, e = utc_midnight(start), utc_midnight(until)
        return sum(1 for x in self.leads if x.unit_id == unit_id and x.status == "effective" and s <= x.created_at < e)


def _random_day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days))


async def build_year(db: Database, *, seed: int = 5) -> YearData:
    """Insert a year of leads, visits, projects, library entries and disputes; return them."""
    rng = random.Random(seed)
    async with db.session() as session:
        units = {u.code: u for u in (await session.exec(select(Unit))).all()}
        chains = {c.code: c for c in (await session.exec(select(Chain))).all()}
        users = {u.telegram_id: u for u in (await session.exec(select(User))).all()}
        targets = list((await session.exec(select(Target))).all())
        # The demo people joined before the year began.
        for user in users.values():
            user.created_at = datetime(2025, 12, 1, tzinfo=UTC)
            session.add(user)
    data = YearData(units, chains, users, targets=targets)
    chain_list = list(chains.values())
    liaison_user = users[1002]
    county_codes = ["ganzhou", "linze", "gaotai", "zone"]
    project_units = [*county_codes, "czj", "gxj"]
    by_unit = {
        code: next((u for u in users.values() if u.unit_id == units[code].id), users[1001]) for code in project_units
    }
    async with db.session() as session:
        for i in range(70):
            chain = chain_list[i % len(chain_list)]
            tags = ["chain_leader"] if i % 7 == 0 else (["specialised"] if i % 3 == 0 else [])
            ent = Enterprise(
                name=f"测试企业{i:03d}",
                normalized_name=f"测试企业{i:03d}",
                chain_id=chain.id,
                tags=tags,
            )
            session.add(ent)
            data.enterprises.append(ent)
        await session.flush()
        gxj_chains = [c for c in chain_list if c.lead_unit_id == units["gxj"].id]
        for chain in gxj_chains:
            members = [e for e in data.enterprises if e.chain_id == chain.id]
            for k, ent in enumerate(members):
                added = local(_random_day(rng, date(YEAR - 1, 10, 1), date(YEAR, 9, 1)))
                removed = added + timedelta(days=90) if k % 5 == 4 else None
                entry = LibraryEntry(chain_id=chain.id, enterprise_id=ent.id, added_at=added, removed_at=removed)
                session.add(entry)
                data.library.append(entry)
        lead_units = ["liaison_beijing"] * 5 + ["liaison_shanghai", "ganzhou", "gxj"]
        for i in range(260):
            unit_code = rng.choice(lead_units)
            ent = rng.choice(data.enterprises)
            day = _random_day(rng, date(YEAR, 1, 1), date(YEAR + 1, 1, 1))
            status = rng.choice(["effective", "effective", "rejected", "pending"])
            submitter = liaison_user if unit_code == "liaison_beijing" else users[1001]
            lead = Lead(
                enterprise_id=ent.id,
                chain_id=ent.chain_id if i % 6 else None,
                plan="扩产",
                amount_yuan=rng.choice([None, 50_000_000, 300_000_000]),
                source="liaison",
                unit_id=units[unit_code].id,
                submitted_by=submitter.id,
                status=status,
                review_reason=f"理由{i}" if status == "rejected" and i % 2 else None,
                created_at=local(day),
            )
            session.add(lead)
            data.leads.append(lead)
        for i in range(200):
            ent = rng.choice(data.enterprises)
            day = _random_day(rng, date(YEAR, 1, 1), date(YEAR + 1, 1, 1))
            unit_code = rng.choice(county_codes)
            visit = Visit(
                enterprise_id=ent.id,
                unit_id=units[unit_code].id,
                user_id=by_unit[unit_code].id,
                visit_date=day,
                flagged=i % 9 == 0,
                created_at=local(day, 10),
            )
            session.add(visit)
            data.visits.append(visit)
        for i in range(110):
            ent = rng.choice(data.enterprises)
            first = _random_day(rng, date(YEAR - 1, 7, 1), date(YEAR + 1, 1, 1))
            stage = rng.choice(STAGES)
            planned = rng.choice([None, 5_000_000, 20_000_000, 120_000_000, 500_000_000, 2_000_000_000])
            funds = (planned or 0) * rng.choice([0, 10, 50, 80]) // 100
            signed = first + timedelta(days=rng.randrange(10, 120)) if stage in LANDED else None
            started = (
                signed + timedelta(days=rng.randrange(5, 60)) if signed and stage in {"started", "operating"} else None
            )
            unit_code = rng.choice(project_units)
            project = Project(
                enterprise_id=ent.id,
                name=f"项目{i:03d}",
                normalized_name=f"项目{i:03d}",
                chain_id=ent.chain_id,
                planned_yuan=planned,
                funds_in_place_yuan=funds,
                first_talk_date=first,
                stage=stage,
                first_talk_unit_id=units[unit_code].id,
                executing_unit_id=units[unit_code].id,
                registered_by=by_unit[unit_code].id,
                leader_user_id=users[1008].id if i % 8 == 0 else None,
                last_progress_at=local(first + timedelta(days=rng.randrange(0, 200))),
                signed_on=signed,
                started_on=started,
                created_at=local(first),
            )
            session.add(project)
            data.projects.append(project)
        await session.flush()
        for i in range(6):
            p = data.projects[i * 7]
            dispute = Dispute(
                project_id=p.id,
                claimant_unit_id=units["linze"].id,
                claimant_user_id=users[1001].id,
                reason="我方先谈",
                status="open" if i % 2 == 0 else "dismissed",
                created_at=local(date(YEAR, 1 + i * 2, 10)),
            )
            session.add(dispute)
            data.disputes.append(dispute)
        await session.flush()
        # Ids are set by the flush and every other field by this module: no reload needed.
        session.expunge_all()
    return data
