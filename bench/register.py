"""A synthetic enterprise register for the benchmarks, written the way the bot writes one.

Every enterprise gets the name index rows the bot keeps (``services.name_index``), so a
benchmark searches exactly what a running bot searches. A few real names are planted among
the synthetic ones: the enterprises the queries look for.
"""

from __future__ import annotations

import os
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from bot.core import migrate
from bot.core.db import Database
from models import Enterprise, EnterpriseName, utcnow
from services import seed
from services.name_index import fill_rows
from services.names import normalize_name, pinyin_full, pinyin_initials

REGIONS = ("北京", "上海", "深圳市", "广州", "杭州", "成都", "西安", "兰州", "张掖", "宁德", "合肥", "苏州")
SYLLABLES = "华中国新能源科技星辰宏远金鼎天合信达恒通瑞丰泰安德隆盛博弘嘉润祥和光明阳泽海川云峰长江"
TRADES = ("科技", "能源", "电池", "材料", "农业", "种业", "物流", "旅游", "数据", "装备", "化工", "乳业")
FORMS = ("有限公司", "股份有限公司", "集团有限公司", "有限责任公司", "(集团)股份有限公司", "")
CATL_CODE = "91350900587527783P"
PLANTED: tuple[tuple[str, list[str], str | None], ...] = (
    ("宁德时代新能源科技股份有限公司", ["CATL", "宁德时代"], CATL_CODE),
    ("比亚迪股份有限公司", ["BYD"], None),
    ("隆基绿能科技股份有限公司", [], None),
)
PG_URL = os.environ.get("BENCH_PG_URL", os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432/test"))


def synthetic_names(count: int, seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    names = []
    for _ in range(count):
        core = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        names.append(f"{rng.choice(REGIONS)}{core}{rng.choice(TRADES)}{rng.choice(FORMS)}")
    return names


def enterprise_rows(count: int) -> list[dict[str, Any]]:
    """``count`` synthetic enterprises and the planted ones, with the pinyin the bot stores."""
    now = utcnow()
    named = [(name, [], None) for name in synthetic_names(count)] + list(PLANTED)
    return [
        {
            "id": index,
            "name": name,
            "normalized_name": normalize_name(name),
            "pinyin": pinyin_full(name)[:512],
            "initials": pinyin_initials(name)[:128],
            "tags": [],
            "aliases": aliases,
            "contact_name": "",
            "contact_phone": "",
            "region": "",
            "registration_seq": 0,
            "credit_code": code,
            "created_at": now,
            "updated_at": now,
        }
        for index, (name, aliases, code) in enumerate(named, 1)
    ]


async def fill(db: Database, rows: list[dict[str, Any]]) -> None:
    await migrate.upgrade(db)
    await seed.seed(db)
    names = fill_rows(rows)
    async with db.session() as session:
        for start in range(0, len(rows), 2000):
            await session.exec(insert(Enterprise).values(rows[start : start + 2000]))  # type: ignore[call-overload]
        for start in range(0, len(names), 2000):
            await session.exec(insert(EnterpriseName).values(names[start : start + 2000]))  # type: ignore[call-overload]
    async with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            # Rows written with their ids leave the sequence behind; the planner wants statistics.
            await conn.execute(text("SELECT setval('enterprise_id_seq', (SELECT max(id) FROM enterprise))"))
        else:
            await conn.execute(text("ANALYZE"))
    if db.engine.dialect.name == "postgresql":
        # A bulk load leaves the trigram index's new entries in its pending list, which every
        # search reads through until autovacuum merges it; a running bot's trickle of writes
        # does not. Merge it now, as autovacuum would.
        async with db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))


@asynccontextmanager
async def postgres() -> AsyncIterator[str | None]:
    """A database of its own on the PostgreSQL server, dropped afterwards (None: no server)."""
    import asyncpg

    admin = make_url(PG_URL).set(drivername="postgresql")
    name = f"bench_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False), timeout=3)
    except (OSError, asyncpg.PostgresError):
        yield None
        return
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
