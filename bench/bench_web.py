"""The dashboard's pages rendered on the server for a city ten times Zhangye's, against a trivial page.

    .venv/bin/python -m bench.bench_web [--scale 1.0] [--rounds 9]

The data is bench_digests' (at scale 1: 500 units, 100,000 leads, 50,000 visits — placed
on the map here — 20,000 projects, 30 chains), on SQLite. Each page is fetched over HTTP
from the running aiohttp application, as the bureau (who sees everything, the widest page)
and as a county, in interleaved rounds with a peer: a bare aiohttp handler on the same
server answering a short text, so what the peer costs is the HTTP round trip alone.
Each page is timed twice a round: counted afresh (the kept pages and figures emptied first)
and kept (the same person again within the cache's minute); after the bureau's two, a city
leader's view times the figures kept for the scope (another person, the page rendered anew).
Prints each one's median and spread, its ratio to the peer, and whether it is under the goal
(300 ms on the server).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import col, select

from bench.bench_digests import big_city, spread
from bot.app import App
from bot.web.server import DASHBOARD, INIT_HEADER, build_web_app
from models import Role, Unit, User
from services.webauth import sign_init_data

TOKEN = "1:bench-dashboard"
GOAL = 0.300
PAGES = ("/overview?span=month", "/overview?span=year", "/map?span=year", "/projects", "/leads?span=year", "/chains")
# The test kit's clock: late in the year, so the year's figures are full.
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def signed(telegram_id: int) -> str:
    user = f'{{"id": {telegram_id}}}'
    return sign_init_data({"auth_date": str(int(NOW.timestamp())), "user": user}, TOKEN)


async def _place_visits(app: App) -> None:
    """Spread the synthetic visits over Zhangye, so the map has as many marks as the city has visits."""
    async with app.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE visit SET latitude = 38.2 + (id % 97) / 60.0, longitude = 98.5 + (id % 89) / 25.0")
        )


async def _who(app: App) -> dict[str, int]:
    async with app.db.session() as session:
        bureau = (await session.exec(select(User.telegram_id).where(User.role == Role.BUREAU))).first()
        leader = (await session.exec(select(User.telegram_id).where(User.role == Role.LEADER))).first()
        county = (
            await session.exec(
                select(User.telegram_id).join(Unit, col(Unit.id) == User.unit_id).where(Unit.code == "ganzhou")
            )
        ).first()
    assert bureau is not None and leader is not None and county is not None
    return {"bureau": bureau, "leader": leader, "county": county}


async def main(scale: float, rounds: int) -> None:
    app, path = await big_city(scale, None)
    app.settings = app.settings.model_copy(update={"bot_token": SecretStr(TOKEN), "web_url": "https://bench.invalid"})
    app.clock = lambda: NOW
    await _place_visits(app)
    people = await _who(app)
    web_app = build_web_app(app)

    async def peer(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    web_app.router.add_get("/peer", peer)
    times: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    async with TestClient(TestServer(web_app)) as client:

        async def fetch(url: str, who: str | None) -> float:
            headers = {INIT_HEADER: signed(people[who])} if who else {}
            started, cpu = time.perf_counter(), time.process_time()
            response = await client.get(url, headers=headers)
            body = await response.read()
            elapsed = time.perf_counter() - started
            # The process's CPU (SQLite's thread included): steadier than the wall on a shared machine.
            cpus.setdefault(url if who is None else f"{who} {url}", []).append(time.process_time() - cpu)
            assert response.status == 200 and body, (url, who, response.status)
            return elapsed

        for who in people:  # warm: templates compiled, boundaries projected, caches filled
            for url in PAGES:
                await fetch(url, who)
        board = web_app[DASHBOARD]
        cpus.clear()
        for _ in range(rounds):
            times.setdefault("peer", []).append(await fetch("/peer", None))
            for who in ("bureau", "county"):
                for url in PAGES:
                    board.forget()
                    times.setdefault(f"{who} {url} (counted)", []).append(await fetch(url, who))
                    times.setdefault(f"{who} {url} (kept)", []).append(await fetch(url, who))
                    if who == "bureau":  # a city leader: another person of the bureau's scope
                        times.setdefault(f"leader {url} (scope's)", []).append(await fetch(url, "leader"))
    await app.db.dispose()
    path.unlink(missing_ok=True)
    peer_median = statistics.median(times["peer"])
    print(f"peer (bare aiohttp handler): median {peer_median * 1000:.2f} ms, spread {spread(times['peer'])}")
    worst = 0.0
    for name, values in times.items():
        if name == "peer":
            continue
        median = statistics.median(values)
        worst = max(worst, median)
        verdict = "met" if median < GOAL else "NOT met"
        print(
            f"{name:44} median {median * 1000:7.1f} ms  spread {spread(values):>20}  "
            f"x{median / peer_median:6.0f} peer  goal {GOAL * 1000:.0f} ms: {verdict}"
        )
    # A page's counted and kept views alternate in its list (a leader's are all of the scope's).
    print("CPU of the process per view, median ms (counted / kept, or the scope's):")
    for key, values in cpus.items():
        parts = [values] if key.startswith(("leader", "/")) else [values[0::2], values[1::2]]
        print(f"  {key:36} " + " / ".join(f"{statistics.median(v) * 1000:.1f}" for v in parts if v))
    print(f"slowest page median {worst * 1000:.1f} ms: goal {'met' if worst < GOAL else 'NOT met'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten times Zhangye (100,000 leads)")
    parser.add_argument("--rounds", type=int, default=9)
    args, _ = parser.parse_known_args()
    asyncio.run(main(args.scale, args.rounds))
