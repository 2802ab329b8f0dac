"""Build every digest for a city ten times Zhangye's, then for twice that, on SQLite.

    .venv/bin/python -m bench.bench_digests [--scale 1.0] [--keep PATH]

At scale 1: 100,000 leads, 50,000 visits, 20,000 projects, 30 chains (and 20,000
enterprises, 1,500 library entries). ``--scale 0.05`` is a quick run for CI. Prints the
time to build every scheduled digest once (each chain lead's week, each liaison office's
month, the bureau's month with every unit's targets, each leader's half-year), then the
same after the data doubles, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, literal
from sqlmodel import col, select

from bot.db import Database
from models import Chain, Enterprise, FundsEntry, Lead, LibraryEntry, Project, Unit, User, Visit
from services import digests, seed
from services.digests import Window
from services.periods import half_of, month_of

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 30)
STAGES = ("first_talk", "negotiation", "signed", "started", "operating", "dropped")
BASE = {"leads": 100_000, "visits": 50_000, "projects": 20_000, "enterprises": 20_000, "library": 50}


async def _setup(db: Database) -> None:
    await db.migrate()
    await seed.seed(db)
    async with db.session() as session:
        units = list((await session.exec(select(Unit).order_by(col(Unit.id)))).all())
        chains = list((await session.exec(select(Chain))).all())
        leads_by = [u for u in units if u.kind == "chain_dept"]
        for index in range(len(chains), 30):
            session.add(
                Chain(
                    code=f"bench_{index}",
                    family="1+6",
                    name_zh=f"链{index}",
                    name_en=f"Chain {index}",
                    lead_unit_id=leads_by[index % len(leads_by)].id,
                )
            )
        for index, unit in enumerate(units):
            session.add(User(telegram_id=5_000_000 + index, full_name=unit.name_zh, unit_id=unit.id, role="county"))
        for index in range(5):
            session.add(User(telegram_id=6_000_000 + index, full_name=f"领导{index}", role="leader"))


async def _grow(db: Database, scale: float, seed_value: int) -> None:
    """Add one batch of synthetic records of the given scale."""
    rng = random.Random(seed_value)
    async with db.session() as session:
        unit_ids = [u.id for u in (await session.exec(select(Unit))).all()]
        counties = [
            u.id for u in (await session.exec(select(Unit).where(col(Unit.kind).in_(("county", "zone"))))).all()
        ]
        chain_ids = [c.id for c in (await session.exec(select(Chain))).all()]
        users = [u.id for u in (await session.exec(select(User))).all()]
        leaders = [u.id for u in (await session.exec(select(User).where(User.role == "leader"))).all()]
        first_enterprise = (
            (await session.exec(select(Enterprise.id).order_by(col(Enterprise.id).desc()))).first() or 0
        ) + 1

    def day() -> date:
        return date(2025, 1, 1) + timedelta(days=rng.randrange(700))

    def moment(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 2, tzinfo=UTC)

    n_ent = int(BASE["enterprises"] * scale)
    enterprises = [
        {
            "id": first_enterprise + i,
            "name": f"企业{seed_value}-{i}",
            "normalized_name": f"企业{seed_value}-{i}",
            "chain_id": rng.choice(chain_ids),
            "tags": ["chain_leader"] if i % 50 == 0 else [],
            "aliases": [],
            "created_at": moment(day()),
            "updated_at": moment(day()),
        }
        for i in range(n_ent)
    ]
    ent_ids = [e["id"] for e in enterprises]
    library = [
        {"chain_id": chain, "enterprise_id": eid, "added_at": moment(day())}
        for chain in chain_ids
        for eid in rng.sample(ent_ids, min(len(ent_ids), max(1, int(BASE["library"] * scale))))
    ]
    leads: list[dict[str, Any]] = []
    for _ in range(int(BASE["leads"] * scale)):
        d = day()
        leads.append(
            {
                "enterprise_id": rng.choice(ent_ids),
                "chain_id": rng.choice(chain_ids),
                "unit_id": rng.choice(unit_ids),
                "submitted_by": rng.choice(users),
                "status": rng.choice(("pending", "effective", "rejected")),
                "plan": "",
                "source": "other",
                "source_detail": "",
                "created_at": moment(d),
            }
        )
    visits: list[dict[str, Any]] = []
    for _ in range(int(BASE["visits"] * scale)):
        d = day()
        visits.append(
            {
                "enterprise_id": rng.choice(ent_ids),
                "unit_id": rng.choice(counties),
                "user_id": rng.choice(users),
                "visit_date": d,
                "photos": [],
                "flag_detail": {},
                "flagged": rng.random() < 0.05,
                "created_at": moment(d),
            }
        )
    projects: list[dict[str, Any]] = []
    for i in range(int(BASE["projects"] * scale)):
        d = day()
        stage = rng.choice(STAGES)
        planned = rng.choice((5_000_000, 20_000_000, 150_000_000, 1_500_000_000))
        unit = rng.choice(unit_ids)
        projects.append(
            {
                "enterprise_id": rng.choice(ent_ids),
                "name": f"项目{seed_value}-{i}",
                "normalized_name": f"项目{seed_value}-{i}",
                "chain_id": rng.choice(chain_ids),
                "planned_yuan": planned,
                "funds_in_place_yuan": planned * rng.choice((0, 20, 60)) // 100,
                "first_talk_date": d,
                "stage": stage,
                "description": "",
                "industrial": True,
                "first_talk_unit_id": unit,
                "executing_unit_id": unit,
                "registered_by": rng.choice(users),
                "leader_user_id": rng.choice(leaders) if i % 20 == 0 else None,
                "last_progress_at": moment(d + timedelta(days=rng.randrange(200))),
                "signed_on": d + timedelta(days=30) if stage in ("signed", "started", "operating") else None,
                "started_on": d + timedelta(days=60) if stage in ("started", "operating") else None,
                "created_at": moment(d),
            }
        )
    async with db.engine.begin() as conn:
        for table, rows in (
            (Enterprise, enterprises),
            (LibraryEntry, library),
            (Lead, leads),
            (Visit, visits),
            (Project, projects),
        ):
            for start in range(0, len(rows), 5000):
                await conn.execute(insert(table), rows[start : start + 5000])
        # Each total as one entry on the first-talk day, as the migration does for old totals.
        await conn.execute(
            insert(FundsEntry).from_select(
                ["project_id", "on_date", "amount_yuan", "recorded_at", "origin"],
                select(
                    col(Project.id),
                    col(Project.first_talk_date),
                    col(Project.funds_in_place_yuan),
                    col(Project.created_at),
                    literal(""),
                ).where(col(Project.funds_in_place_yuan) != 0),
            )
        )


async def build_every_digest(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        chain_leads = sorted(
            {c.lead_unit_id for c in (await session.exec(select(Chain))).all() if c.lead_unit_id is not None}
        )
        liaisons = [u.id for u in (await session.exec(select(Unit).where(Unit.kind == "liaison"))).all()]
        leaders = [u.id for u in (await session.exec(select(User).where(User.role == "leader"))).all()]
    week = Window(TODAY - timedelta(days=7), TODAY)
    month = month_of(TODAY)
    built: dict[str, Any] = {}
    built["chain"] = [await digests.build_chain_digest(db, unit, week, TZ) for unit in chain_leads]
    built["liaison"] = [await digests.build_liaison_digest(db, unit or 0, month, TODAY, TZ) for unit in liaisons]
    built["bureau"] = await digests.build_bureau_digest(db, month, TZ)
    built["leader"] = [await digests.build_leader_digest(db, user or 0, half_of(TODAY), TODAY, TZ) for user in leaders]
    return built


async def timed(db: Database) -> float:
    await build_every_digest(db)  # warm the caches as a running bot would have them
    started = time.perf_counter()
    built = await build_every_digest(db)
    elapsed = time.perf_counter() - started
    sections = sum(len(d.sections) for d in built["chain"])
    print(
        f"  every digest: {elapsed * 1000:8.1f} ms  "
        f"({len(built['chain'])} chain leads / {sections} chains, {len(built['liaison'])} liaison offices, "
        f"1 bureau, {len(built['leader'])} leaders)"
    )
    return elapsed


async def main(scale: float, keep: Path | None) -> None:
    directory = Path(tempfile.mkdtemp(prefix="bench_digests_")) if keep is None else keep
    path = directory / "bench.sqlite3"
    path.unlink(missing_ok=True)
    db = Database(f"sqlite:///{path}")
    try:
        await _setup(db)
        sizes = {k: int(v * scale) for k, v in BASE.items() if k != "library"}
        print(f"scale {scale}: {sizes}, 30 chains")
        started = time.perf_counter()
        await _grow(db, scale, 1)
        print(f"  data loaded in {time.perf_counter() - started:.1f} s")
        first = await timed(db)
        await _grow(db, scale, 2)
        print(f"doubled: { ({k: 2 * v for k, v in sizes.items()}) }")
        second = await timed(db)
        print(f"growth when the data doubles: x{second / first:.2f}")
    finally:
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten times Zhangye (100,000 leads)")
    parser.add_argument("--keep", type=Path, default=None, help="directory for the database (default: a temp dir)")
    args, _ = parser.parse_known_args()
    asyncio.run(main(args.scale, args.keep))
