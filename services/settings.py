"""Values the bureau sets (windows, schedule times), with the seed file's defaults."""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.core.cache import missing
from bot.core.db import Database
from models import Setting, utcnow
from services.seed import read_seed


def default(key: str) -> Any:
    return read_seed().get("settings", {}).get(key)


async def get(db: Database, key: str) -> Any:
    kept = db.cache.get("setting", key)
    if missing(kept):
        generation = db.cache.generation
        async with db.session() as session:
            row = await session.get(Setting, key)
            kept = row.value if row is not None else default(key)
        db.cache.put("setting", key, kept, generation)
    # A copy: callers may change what they get without changing what the process keeps.
    return copy.deepcopy(kept)


async def get_int(db: Database, key: str, fallback: int) -> int:
    value = await get(db, key)
    try:
        return int(value)
    except (TypeError, ValueError):
        return fallback


async def put(db: Database, key: str, value: Any, *, by: int | None = None, now: datetime | None = None) -> None:
    async with db.session() as session:
        row = await session.get(Setting, key) or Setting(key=key, value=value)
        row.value, row.updated_by, row.updated_at = value, by, now or utcnow()
        session.add(row)


async def exchange_rates(db: Database) -> dict[str, Decimal]:
    """Yuan per unit of each foreign currency the bureau set a rate for."""
    value = await get(db, "exchange_rates")
    rates: dict[str, Decimal] = {}
    if isinstance(value, dict):
        for code, rate in value.items():
            try:
                number = Decimal(str(rate))
            except ArithmeticError:
                continue
            if number > 0:
                rates[str(code).upper()] = number
    return rates


class BadRate(ValueError):
    """A currency code or a rate that cannot be used."""


async def set_exchange_rate(
    db: Database, currency: str, rate: str, *, by: int | None = None, now: datetime | None = None
) -> Decimal:
    """Set how many yuan one unit of ``currency`` is worth; leads saved from then on use it."""
    code = currency.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha() or code == "CNY":
        raise BadRate(currency)
    try:
        value = Decimal(rate.strip())
    except ArithmeticError as error:
        raise BadRate(rate) from error
    if not value.is_finite() or value <= 0 or value >= 1000:
        raise BadRate(rate)
    rates = {key: str(number) for key, number in (await exchange_rates(db)).items()}
    rates[code] = str(value)
    await put(db, "exchange_rates", rates, by=by, now=now)
    return value


async def lagging_days(db: Database) -> int:
    """How long a project may go without moving its stage or funds before it counts as lagging."""
    return await get_int(db, "lagging_after_days", 30)
