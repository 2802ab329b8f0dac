"""A scheduled send of every digest for a city ten times Zhangye's, then for twice that, on SQLite.

    .venv/bin/python -m bench.bench_digests [--scale 1.0] [--rounds 5] [--keep PATH] [--no-charts]

At scale 1: 500 units (100 liaison offices), 100,000 leads, 50,000 visits, 20,000
projects, 30 chains (and 20,000 enterprises, 1,500 library entries). ``--scale 0.05`` is a
quick run for CI. Times ``send_due`` at a moment when every kind is due (each chain lead's
week, each liaison office's month close, the bureau's month, each leader's half-year,
every unit's targets note): the whole run, charts drawn in the worker included, and
interleaved with it the same run without drawing (data, text and queueing: goal < 1 s),
with the processor time it took (on a shared machine the wall clock also counts waiting
for a core). Median and spread over the rounds, then the same after the data doubles, and
the ratio (goal: below ×2). ``--no-charts`` leaves out the drawing rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, literal
from sqlmodel import col, select

from bot.app import App
from bot.core import migrate
from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Outbox
from bot.scheduler import send_due
from models import Chain, Delivery, Enterprise, FundsEntry, Lead, LibraryEntry, Project, Unit, User, Visit
from services import charts, schedule, seed

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 30)
STAGES = ("first_talk", "negotiation", "signed", "started", "operating", "dropped")
BASE = {"leads": 100_000, "visits": 50_000, "projects": 20_000, "enterprises": 20_000, "library": 50}


ROLE_OF_KIND = {
    "county": "county",
    "zone": "county",
    "liaison": "liaison",
    "chain_dept": "chain_lead",
    "department": "department",
    "soe": "soe",
    "bureau": "bureau",
    "leadership": "leader",
}
# Ten times Zhangye: 500 units, among them 100 liaison offices.
EXTRA_UNITS = {"liaison": 97, "county": 63, "department": 200, "soe": 117}


async def _setup(db: Database) -> None:
    await migrate.upgrade(db)
    await seed.seed(db)
    async with db.session() as session:
        for kind, count in EXTRA_UNITS.items():
            for index in range(count):
                session.add(
                    Unit(code=f"bench_{kind}_{index}", kind=kind, name_zh=f"{kind}{index}", name_en=f"{kind} {index}")
                )
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
        joined = datetime(2025, 1, 1, tzinfo=UTC)
        for index, unit in enumerate(units):
            role = ROLE_OF_KIND.get(unit.kind, "county")
            session.add(
                User(
                    telegram_id=5_000_000 + index, full_name=unit.name_zh, unit_id=unit.id, role=role, created_at=joined
                )
            )
        for index in range(5):
            session.add(User(telegram_id=6_000_000 + index, full_name=f"领导{index}", role="leader", created_at=joined))
    # Every kind of digest falls due at one moment (RUN_AT): the chain week, the liaison
    # close, the bureau's overview, a leader summary and every unit's targets note.
    await schedule.set_time(db, "unit_targets_note", "01 08:00", by=None)
    await schedule.set_time(db, "leader_summary_dates", "06-30 12-01", by=None)


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


RUN_AT = datetime(2026, 12, 1, 10, 0, tzinfo=TZ).astimezone(UTC)


async def _forget_sent(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(delete(Delivery))


async def scheduled_run(app: App) -> tuple[float, int]:
    """One scheduled send of every digest due at RUN_AT: data, text, charts, queueing."""
    elapsed, _cpu, queued = await scheduled_run_cpu(app)
    return elapsed, queued


async def scheduled_run_cpu(app: App) -> tuple[float, float, int]:
    """As :func:`scheduled_run`, with the processor time this process spent on it (its database thread too)."""
    await _forget_sent(app.db)
    started, cpu = time.perf_counter(), time.process_time()
    queued = await send_due(app, RUN_AT)
    return time.perf_counter() - started, time.process_time() - cpu, queued


async def _stub_draw(chart: charts.Chart) -> bytes:
    return b"\x89PNG stub"


async def timed(app: App, rounds: int, *, draw: bool = True) -> dict[str, list[float]]:
    """Interleaved rounds: the whole run, and the same run with charts not drawn (data and text).

    Beside the wall-clock time, the processor time of the data rounds: on a machine shared
    with other work the wall clock also counts the waits for a core, the processor time
    does not (what the run itself costs; the chart worker is another process).
    """
    real_draw = charts.draw
    await scheduled_run(app)  # warm: the chart worker started, the caches as a running bot has them
    times: dict[str, list[float]] = {"whole run": [], "data, text, queue": [], "  its processor time": []}
    if not draw:
        del times["whole run"]
    queued = 0
    for _ in range(rounds):
        if draw:
            elapsed, queued = await scheduled_run(app)
            times["whole run"].append(elapsed)
        charts.draw = _stub_draw  # type: ignore[assignment]
        try:
            elapsed, cpu, queued = await scheduled_run_cpu(app)
        finally:
            charts.draw = real_draw  # type: ignore[assignment]
        times["data, text, queue"].append(elapsed)
        times["  its processor time"].append(cpu)
    print(f"  {queued} messages queued per run")
    for name, values in times.items():
        print(f"  {name:20s} median {statistics.median(values) * 1000:8.1f} ms  spread {spread(values)}")
    return times


def spread(values: list[float]) -> str:
    return f"{min(values) * 1000:.1f}-{max(values) * 1000:.1f} ms"


async def big_city(scale: float, keep: Path | None) -> tuple[App, Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench_digests_")) if keep is None else keep
    path = directory / "bench.sqlite3"
    path.unlink(missing_ok=True)
    settings = Settings(_env_file=None, database_url=f"sqlite:///{path}")  # type: ignore[call-arg]
    db = Database(settings.database_url)
    await _setup(db)
    started = time.perf_counter()
    await _grow(db, scale, 1)
    print(f"  data loaded in {time.perf_counter() - started:.1f} s")
    return App(settings=settings, db=db, outbox=Outbox(db)), path


async def main(scale: float, keep: Path | None, rounds: int, draw: bool) -> None:
    sizes = {k: int(v * scale) for k, v in BASE.items() if k != "library"}
    print(f"scale {scale}: {sizes}, 500 units, 30 chains; goal: data, text, queue < 1 s at scale 1")
    app, _ = await big_city(scale, keep)
    try:
        first = await timed(app, rounds, draw=draw)
        await _grow(app.db, scale, 2)
        print(f"doubled: { ({k: 2 * v for k, v in sizes.items()}) }")
        second = await timed(app, rounds, draw=draw)
        for name in ("data, text, queue", "  its processor time"):
            ratio = statistics.median(second[name]) / statistics.median(first[name])
            print(f"growth of {name.strip()} when the data doubles: x{ratio:.2f} (goal: below x2)")
    finally:
        charts.shutdown()
        await app.db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten times Zhangye (100,000 leads)")
    parser.add_argument("--keep", type=Path, default=None, help="directory for the database (default: a temp dir)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-charts", action="store_true", help="leave out the rounds that draw the charts")
    args, _ = parser.parse_known_args()
    asyncio.run(main(args.scale, args.keep, args.rounds, not args.no_charts))
