"""Memory of the bot with 1,000 people in the middle of a conversation, against bare bots.

    .venv/bin/python -m bench.bench_memory [people]

Each bot runs in a process of its own against the fake Bot API server (``tests/botapi``):
investbot on python-telegram-bot and on aiogram, and beside each a bare bot of the same
framework with SQLModel doing the least equivalent work (``bench/bare_bots.py``). Every
person sends ``/lead`` and then an enterprise's name, so each holds a conversation with a
draft; the bot then waits for the next answer. Printed for each: resident memory once
polling (idle), with everyone mid-conversation, the peak, the growth per open conversation,
and investbot's figure against its bare peer's. Goals: under 150 MB on PTB; within 1.1× the
bare aiogram bot on aiogram.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.botapi import FakeBotAPI

PEOPLE = 1000
FIRST_ID = 900_000_000
PTB_GOAL_MB = 150.0
AIOGRAM_GOAL_RATIO = 1.1
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figures:
    idle_mb: float
    busy_mb: float
    peak_mb: float
    people: int

    @property
    def per_conversation_kb(self) -> float:
        return (self.busy_mb - self.idle_mb) * 1024 / self.people


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def prepare_investbot(path: Path, people: int) -> None:
    """A migrated, seeded database where every person is a liaison officer already."""
    from sqlalchemy import insert
    from sqlmodel import select

    from bot.core import migrate
    from bot.core.db import Database
    from models import Unit, User
    from services import seed

    db = Database(f"sqlite:///{path}")
    await migrate.upgrade(db)
    await seed.seed(db)
    async with db.session() as session:
        office = (await session.exec(select(Unit).where(Unit.kind == "liaison"))).first()
        assert office is not None
        rows = [
            {"telegram_id": FIRST_ID + n, "full_name": f"联络员{n}", "unit_id": office.id, "role": "liaison",
             "language_code": "zh-hans", "active": True}
            for n in range(people)
        ]  # fmt: skip
        for start in range(0, len(rows), 500):
            await session.exec(insert(User).values(rows[start : start + 500]))  # type: ignore[call-overload]
    await db.dispose()


async def measure(label: str, command: list[str], env: dict[str, str], api: FakeBotAPI, people: int) -> Figures:
    with tempfile.TemporaryDirectory() as home:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=home, env={**os.environ, **env}, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await api.wait_for_calls("getUpdates", timeout=120)
            await asyncio.sleep(2)
            idle, _ = memory_mb(process.pid)
            sent = len(api.calls_to("sendMessage"))
            for step, text in enumerate(("/lead", "宁德时代"), 1):
                for n in range(people):
                    api.send_text(FIRST_ID + n, text)
                await api.wait_for(
                    lambda step=step: len(api.calls_to("sendMessage")) - sent >= step * people,
                    600,
                    what=f"{label}: replies to step {step}",
                )
            await asyncio.sleep(2)
            busy, peak = memory_mb(process.pid)
        finally:
            process.terminate()
            _, errors = await process.communicate()
        if process.returncode not in (0, -15) and errors:
            print(errors.decode()[-2000:], file=sys.stderr)
    return Figures(idle, busy, peak, people)


async def contender(label: str, framework: str, bare: bool, people: int) -> Figures:
    async with FakeBotAPI() as api:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bench.sqlite3"
            if bare:
                command = [sys.executable, "-m", "bench.bare_bots", framework, api.root, api.token, str(path)]
                env = {"PYTHONPATH": str(ROOT)}
            else:
                await prepare_investbot(path, people)
                command = [sys.executable, "-m", "bot", "run"]
                env = {
                    # This checkout's code, whatever an installed copy of the package points at.
                    "PYTHONPATH": str(ROOT),
                    "BOT_TOKEN": api.token,
                    "BOT_API_SERVER": api.root,
                    "BOT_FRAMEWORK": framework,
                    "DATABASE_URL": f"sqlite:///{path}",
                    "LOG_LEVEL": "WARNING",
                }
            return await measure(label, command, env, api, people)


def line(label: str, figures: Figures, peer: Figures | None) -> str:
    ratio = f"  {figures.busy_mb / peer.busy_mb:4.2f}× bare" if peer else ""
    return (
        f"{label:<20} idle {figures.idle_mb:6.1f} MB  {figures.people:,} mid-conversation {figures.busy_mb:6.1f} MB"
        f"  peak {figures.peak_mb:6.1f} MB  {figures.per_conversation_kb:6.1f} KB per conversation{ratio}"
    )


async def main() -> None:
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    people = int(numbers[0]) if numbers else PEOPLE
    for framework in ("ptb", "aiogram"):
        bare = await contender(f"bare {framework}", framework, True, people)
        ours = await contender(f"investbot {framework}", framework, False, people)
        print(line(f"bare {framework}", bare, None))
        print(line(f"investbot {framework}", ours, bare))
        if framework == "ptb":
            print(f"{'':<20} goal < {PTB_GOAL_MB:.0f} MB: {'met' if ours.busy_mb < PTB_GOAL_MB else 'not met'}")
        else:
            met = ours.busy_mb <= AIOGRAM_GOAL_RATIO * bare.busy_mb
            print(f"{'':<20} goal within {AIOGRAM_GOAL_RATIO}× bare: {'met' if met else 'not met'}")


if __name__ == "__main__":
    asyncio.run(main())
