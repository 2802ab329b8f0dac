"""Load the bureau's seed file (``seed/zhangye.toml``): units, chains, targets, settings, approval
kinds, and the networks' lists (contact kinds, events, scenarios).

Units, chains and events follow the file (matched by ``code``): editing a name there and
seeding again renames it; an event's dates set in the bot are kept unless the file gives
some. The contact kinds and scenarios are stored whole, as the file has them. Targets and
settings are only added when missing, because the bureau also changes those in the bot
(``/targets``) and a re-seed must not undo that.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import ROOT, Database
from models import ApprovalKind, Chain, Expo, Setting, Target, Unit

SEED_FILE = ROOT / "seed" / "zhangye.toml"
# Setting keys of the networks' lists; the file's copy replaces them at every seeding.
CONTACT_KINDS = "contact_kinds"
SCENARIOS = "scenarios"


@dataclass(frozen=True)
class SeedReport:
    units_added: int
    chains_added: int
    targets_added: int
    settings_added: int
    events_added: int = 0
    approval_kinds_added: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.units_added,
                self.chains_added,
                self.targets_added,
                self.settings_added,
                self.events_added,
                self.approval_kinds_added,
            )
        )


def read_seed(path: Path = SEED_FILE) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


async def seed(db: Database, path: Path = SEED_FILE) -> SeedReport:
    data = read_seed(path)
    async with db.session() as session:
        units = await _units(session, data.get("units", []))
        chains = await _chains(session, data.get("chains", []), units)
        targets = await _targets(session, data.get("targets", []), units)
        settings = await _settings(session, data.get("settings", {}))
        events = await _events(session, data.get("events", []))
        await _lists(session, data)
        approvals = await _approval_kinds(session, data.get("approval_kinds", []))
    return SeedReport(units, chains, targets, settings, events, approvals)


async def is_seeded(db: Database) -> bool:
    async with db.session() as session:
        return (await session.exec(select(Unit.id).limit(1))).first() is not None


async def _units(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    added = 0
    existing = {u.code: u for u in (await session.exec(select(Unit))).all()}
    for row in rows:
        unit = existing.get(row["code"])
        if unit is None:
            unit = Unit(code=row["code"], kind=row["kind"], name_zh=row["name_zh"], name_en=row["name_en"])
            added += 1
        unit.kind = row["kind"]
        unit.name_zh = row["name_zh"]
        unit.name_en = row.get("name_en", "")
        unit.region_zh = row.get("region_zh", "")
        unit.region_en = row.get("region_en", "")
        unit.example = bool(row.get("example", False))
        session.add(unit)
    await session.flush()
    return added


async def _unit_ids(session: AsyncSession) -> dict[str, int]:
    return {u.code: u.id for u in (await session.exec(select(Unit))).all() if u.id is not None}


async def _chains(session: AsyncSession, rows: list[dict[str, Any]], _units_added: int) -> int:
    added = 0
    unit_ids = await _unit_ids(session)
    existing = {c.code: c for c in (await session.exec(select(Chain))).all()}
    for row in rows:
        chain = existing.get(row["code"])
        if chain is None:
            chain = Chain(code=row["code"], family=row["family"], name_zh=row["name_zh"], name_en=row["name_en"])
            added += 1
        chain.family = row["family"]
        chain.leading = bool(row.get("leading", False))
        chain.name_zh = row["name_zh"]
        chain.name_en = row.get("name_en", "")
        chain.lead_unit_id = unit_ids.get(row.get("lead_unit", ""))
        chain.keywords = ",".join(row.get("keywords", []))
        chain.example = bool(row.get("example", False))
        session.add(chain)
    await session.flush()
    return added


async def _targets(session: AsyncSession, rows: list[dict[str, Any]], _units_added: int) -> int:
    added = 0
    unit_ids = await _unit_ids(session)
    existing = {(t.metric, t.unit_kind, t.unit_id, t.chain_scope) for t in (await session.exec(select(Target))).all()}
    for row in rows:
        unit_id = unit_ids.get(row["unit"]) if "unit" in row else None
        key = (row["metric"], row.get("unit_kind"), unit_id, row.get("scope") == "chain")
        if key in existing:
            continue
        session.add(
            Target(
                metric=row["metric"],
                unit_kind=row.get("unit_kind"),
                unit_id=unit_id,
                chain_scope=row.get("scope") == "chain",
                period=row["period"],
                value=int(row["value"]),
                threshold_yuan=int(row.get("threshold_yuan") or 0) or None,
                funds_ratio_pct=int(row.get("funds_ratio_pct") or 0) or None,
                policy=row.get("policy", ""),
                note_zh=row.get("note_zh", ""),
                note_en=row.get("note_en", ""),
            )
        )
        existing.add(key)
        added += 1
    return added


async def _approval_kinds(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """The §15 approvals checklist: kinds the file has and the database lacks (by code) are added.

    Once there, a kind is the bureau's to rename or retire in the chat (``/approvals``);
    seeding again never undoes that.
    """
    added = 0
    existing = {k.code for k in (await session.exec(select(ApprovalKind))).all()}
    last = len(existing)
    for position, row in enumerate(rows):
        if row["code"] in existing:
            continue
        session.add(
            ApprovalKind(
                code=row["code"],
                name_zh=row["name_zh"],
                name_en=row.get("name_en", ""),
                position=last + position,
                active=bool(row.get("active", True)),
            )
        )
        added += 1
    await session.flush()
    return added


async def _settings(session: AsyncSession, values: dict[str, Any]) -> int:
    added = 0
    for key, value in values.items():
        if await session.get(Setting, key) is None:
            session.add(Setting(key=key, value=value))
            added += 1
    return added


async def _events(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    added = 0
    existing = {e.code: e for e in (await session.exec(select(Expo))).all() if e.code}
    for row in rows:
        expo = existing.get(row["code"])
        if expo is None:
            expo = Expo(code=row["code"], name_zh=row["name_zh"])
            added += 1
        expo.name_zh = row["name_zh"]
        expo.name_en = row.get("name_en", "")
        if "starts_on" in row:
            expo.starts_on = row["starts_on"]
            expo.ends_on = row.get("ends_on", row["starts_on"])
        if "place" in row:
            expo.place = row["place"]
        session.add(expo)
    await session.flush()
    return added


async def _lists(session: AsyncSession, data: dict[str, Any]) -> None:
    for key in (CONTACT_KINDS, SCENARIOS):
        rows = [{k: v for k, v in row.items() if k != "policy"} for row in data.get(key, [])]
        setting = await session.get(Setting, key) or Setting(key=key, value=rows)
        setting.value = rows
        session.add(setting)
