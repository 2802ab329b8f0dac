"""The command line: migrate and seed on a fresh database, as an operator would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import App
from bot.cli import main
from bot.core import migrate
from bot.core.config import Settings
from bot.core.db import Database
from bot.delivery import Outbox
from bot.scheduler import send_due
from models import Delivery
from services import demo, seed
from services.money import format_money
from tests.fixtures_year import YearData, build_year

ROOT = Path(__file__).resolve().parent.parent


def investbot(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin", "HOME": str(db.parent)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_migrate_then_seed_twice(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    migrated = investbot("migrate", db=db)
    assert migrated.returncode == 0, migrated.stderr
    assert "revision" in migrated.stdout
    first = investbot("seed", "--demo", db=db)
    assert first.returncode == 0, first.stderr
    assert "units +25" in first.stdout and "approval kinds +6" in first.stdout and "demo people +8" in first.stdout
    again = investbot("seed", "--demo", db=db)
    assert "units +0, chains +0, targets +0, settings +0" in again.stdout and "demo people +0" in again.stdout


def test_help_lists_the_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True)
    for command in ("run", "console", "migrate", "seed"):
        assert command in result.stdout


# -- investbot digest ------------------------------------------------------------------------
async def _city_with_a_year(url: str) -> YearData:
    db = Database(url)
    await migrate.upgrade(db)
    await seed.seed(db)
    await demo.seed_demo_people(db)
    year = await build_year(db)
    await db.dispose()
    return year


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet_root_logger: None) -> YearData:
    """A seeded database with a year of records, named by DATABASE_URL as an operator's would be."""
    url = f"sqlite:///{tmp_path / 'city.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    return asyncio.run(_city_with_a_year(url))


def test_digest_preview_prints_the_text_and_writes_the_charts(
    city: YearData, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["digest", "preview", "bureau", "--period", "2026-11", "--out", "charts"])
    out = capsys.readouterr().out
    assert code == 0
    funds, big, new, signed, started = city.bureau_row("ganzhou", date(2026, 11, 1), date(2026, 12, 1))
    assert out.startswith("📈 2026-11 招商引资月报")
    assert (
        f"甘州区：到位资金 {format_money(funds, 'zh')}，亿元以上项目 {big} 个，"
        f"新首谈 {new} 个，签约 {signed} 个，开工 {started} 个"
    ) in out
    written = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert written == [f"bureau_overview-2026-11-{n}.png" for n in ("funds", "leads", "major")]
    assert all((tmp_path / "charts" / name).read_bytes()[:4] == b"\x89PNG" for name in written)
    # A unit's monthly note, in English, and a liaison office's month as it closed.
    assert main(["digest", "preview", "targets", "--unit", "zone", "--period", "2026-06", "--locale", "en"]) == 0
    out = capsys.readouterr().out
    landed = city.landed_over("zone", 100_000_000, date(2026, 1, 1), date(2026, 6, 11))
    assert "Zhangye Economic Development Zone: targets this month (2026-06, as of 2026-06-10)" in out
    assert f"day 161: {landed} of 10" in out
    assert main(["digest", "preview", "close", "--user", "1002", "--period", "2026-10"]) == 0
    effective = city.liaison_figures("liaison_beijing", date(2026, 10, 1), date(2026, 10, 31))["effective"]
    assert f"本月有效线索 {effective} / 10 条" in capsys.readouterr().out


def test_digest_preview_refuses_what_it_cannot_show(city: YearData, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", "preview", "chain"]) == 2
    assert "--unit or --user" in capsys.readouterr().err
    assert main(["digest", "preview", "bureau", "--period", "2026-W48"]) == 2
    assert "reports on a month, not a week" in capsys.readouterr().err
    assert main(["digest", "preview", "targets", "--unit", "atlantis"]) == 2
    assert "no unit 'atlantis'" in capsys.readouterr().err


def test_send_due_queues_what_the_scheduler_would_and_nothing_twice(
    city: YearData, capsys: pytest.CaptureFixture[str]
) -> None:
    # Monday 30 November, 09:30: last week's chain digest and the month's liaison reminder are due.
    at = "2026-11-30T09:30+08:00"
    assert main(["digest", "send-due", "--at", at]) == 0
    assert "queued 2 scheduled message(s)" in capsys.readouterr().out
    chain_lead, liaison = city.users[1005].id, city.users[1002].id
    assert asyncio.run(_keys()) == {f"chain_digest:2026-W48:{chain_lead}", f"liaison_reminder:2026-11:{liaison}"}
    # Again, and then the scheduler itself at the same moment: the delivery keys hold.
    assert main(["digest", "send-due", "--at", at]) == 0
    assert "queued 0 scheduled message(s)" in capsys.readouterr().out
    assert asyncio.run(_scheduler_at(datetime.fromisoformat(at))) == 0
    assert len(asyncio.run(_keys())) == 2


async def _keys() -> set[str]:
    db = Database(os.environ["DATABASE_URL"])
    async with db.session() as session:
        keys = set((await session.exec(select(Delivery.dedupe_key))).all())
    await db.dispose()
    return {k for k in keys if k}


async def _scheduler_at(moment: datetime) -> int:
    settings = Settings()
    db = Database(settings.database_url)
    app = App(settings=settings, db=db, outbox=Outbox(db))
    try:
        return await send_due(app, moment)
    finally:
        await db.dispose()


async def test_the_dashboard_alone_serves_and_stops_cleanly_at_sigterm(tmp_path: Path) -> None:
    """``investbot web``: the dashboard answers on its port, and SIGTERM ends it with status 0."""
    import re
    import signal

    import aiohttp

    db = tmp_path / "web.sqlite3"
    assert investbot("migrate", db=db).returncode == 0
    env = {
        "DATABASE_URL": f"sqlite:///{db}",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "WEB_LISTEN": "127.0.0.1",
        "WEB_PORT": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "web", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{found[1]}/overview") as answer:
            # No signature, no data: the page asks to be opened from the chat.
            assert answer.status in (401, 403)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
