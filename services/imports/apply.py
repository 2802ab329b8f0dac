"""Importing a held batch on confirmation: one transaction, every row or none, set-based."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import Enterprise, ImportBatch, ImportStatus, LibraryEntry, Member, utcnow
from services import audit
from services.enterprises import remember_alias, take_register
from services.imports.preview import HOLD_FOR
from services.names import normalize_name, pinyin_full, pinyin_initials


@dataclass(frozen=True)
class Imported:
    created: int
    added: int
    updated: int
    chains: tuple[int, ...] = ()


class BatchGone(Exception):
    """The batch was imported or cancelled already, or is someone else's (``expired``: too old)."""

    def __init__(self, batch_id: int, *, expired: bool = False) -> None:
        super().__init__(batch_id)
        self.expired = expired


#: Rows written per round trip; the event loop gets a turn between rounds.
CHUNK = 250


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for first in range(0, len(items), CHUNK):
        yield items[first : first + CHUNK]


async def _breathe(session: AsyncSession, count: int) -> None:
    """Every ``CHUNK`` changes: write them, and let the event loop answer others meanwhile."""
    if count % CHUNK == 0:
        await session.flush()
        await asyncio.sleep(0)


async def _resolve(session: AsyncSession, wanted: set[int]) -> dict[int, Enterprise]:
    """The enterprises of these ids, each followed to the one it was merged into."""
    found: dict[int, Enterprise] = {}
    for chunk in _chunks(sorted(wanted)):
        for row in (await session.exec(select(Enterprise).where(col(Enterprise.id).in_(chunk)))).all():
            found[int(row.id or 0)] = row
    merged = {e.merged_into for e in found.values() if e.merged_into is not None and e.merged_into not in found}
    if merged:
        found.update(await _resolve(session, {int(m) for m in merged}))
    resolved: dict[int, Enterprise] = {}
    for key in wanted:
        enterprise = found.get(key)
        while enterprise is not None and enterprise.merged_into is not None:
            enterprise = found.get(enterprise.merged_into)
        if enterprise is not None:
            resolved[key] = enterprise
    return resolved


async def _existing(session: AsyncSession, rows: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Enterprises registered since the preview: by credit code, and by normalized name."""
    codes = sorted({str(r["credit_code"]) for r in rows if r.get("credit_code")})
    stems = sorted({normalize_name(str(r["name"])) for r in rows})
    by_code: dict[str, int] = {}
    by_stem: dict[str, int] = {}
    for chunk in _chunks(codes):
        query = select(Enterprise.id, Enterprise.credit_code).where(col(Enterprise.credit_code).in_(chunk))
        by_code.update({str(code): int(i or 0) for i, code in (await session.exec(query)).all()})
    for chunk in _chunks(stems):
        query = (
            select(Enterprise.id, Enterprise.normalized_name)
            .where(col(Enterprise.normalized_name).in_(chunk), col(Enterprise.merged_into).is_(None))
            .order_by(col(Enterprise.id).desc())
        )
        # Ordered newest first, so the oldest of several same-named records wins, as elsewhere.
        by_stem.update({stem: int(i or 0) for i, stem in (await session.exec(query)).all()})
    return by_code, by_stem


async def _enterprises_for(
    session: AsyncSession, member: Member, rows: list[dict[str, Any]], now: datetime
) -> tuple[list[Enterprise], int]:
    """Each row's enterprise — matched at the preview, registered since, or new — and how many are new."""
    by_code, by_stem = await _existing(session, [r for r in rows if r.get("match_id") is None])
    wanted = {int(r["match_id"]) for r in rows if r.get("match_id") is not None}
    chosen: list[int | None] = []
    for row in rows:
        if row.get("match_id") is not None:
            chosen.append(int(row["match_id"]))
            continue
        code = row.get("credit_code")
        found = by_code.get(str(code)) if code else None
        if found is None:
            found = by_stem.get(normalize_name(str(row["name"])))
        chosen.append(found)
        if found is not None:
            wanted.add(found)
    known = await _resolve(session, wanted)
    new: list[Enterprise] = []
    made: dict[str, Enterprise] = {}
    picked: list[Enterprise] = []
    for row, key in zip(rows, chosen, strict=True):
        enterprise = known.get(key) if key is not None else None
        if enterprise is None:
            stem = normalize_name(str(row["name"]))
            enterprise = made.get(stem)
            if enterprise is None:
                enterprise = made[stem] = Enterprise(
                    name=row["name"],
                    normalized_name=stem,
                    credit_code=row.get("credit_code") or None,
                    chain_id=row["chain_id"],
                    pinyin=pinyin_full(row["name"]),
                    initials=pinyin_initials(row["name"]),
                    created_by=member.id,
                    created_at=now,
                    updated_at=now,
                )
                new.append(enterprise)
        else:
            # The row named it another way (宁德时代新能源科技股份有限公司 for 宁德时代): the
            # register keeps that name, so a lead or visit typing it finds the same enterprise.
            remember_alias(enterprise, str(row["name"]))
        picked.append(enterprise)
    for chunk in _chunks(new):
        session.add_all(chunk)
        await session.flush()
        await asyncio.sleep(0)
    for count, enterprise in enumerate(new, 1):
        await _breathe(session, count)
        audit.record(
            session,
            actor_id=member.id,
            entity="enterprise",
            entity_id=int(enterprise.id or 0),
            action="created",
            at=now,
            name=enterprise.name,
            credit_code=enterprise.credit_code,
        )
    return picked, len(new)


async def _fill(session: AsyncSession, rows: list[dict[str, Any]], picked: list[Enterprise], now: datetime) -> None:
    """The file fills what the register lacks; it does not overwrite what people entered."""
    codes = sorted({str(r["credit_code"]) for r in rows if r.get("credit_code")})
    taken: set[str] = set()
    for chunk in _chunks(codes):
        query = select(Enterprise.credit_code).where(col(Enterprise.credit_code).in_(chunk))
        taken.update(str(code) for code in (await session.exec(query)).all())
    for count, (row, enterprise) in enumerate(zip(rows, picked, strict=True), 1):
        await _breathe(session, count)
        code = row.get("credit_code")
        if code and not enterprise.credit_code and code not in taken:
            enterprise.credit_code = code
            taken.add(code)
        for key in ("region", "contact_name", "contact_phone"):
            if row.get(key) and not getattr(enterprise, key):
                setattr(enterprise, key, row[key])
        extra = [t for t in row.get("tags", []) if t not in enterprise.tags]
        if extra:
            enterprise.tags = [*enterprise.tags, *extra]
        if enterprise.chain_id is None:
            enterprise.chain_id = row["chain_id"]
        enterprise.updated_at = now
        session.add(enterprise)


async def _libraries(
    session: AsyncSession, member: Member, rows: list[dict[str, Any]], picked: list[Enterprise], via: str, now: datetime
) -> int:
    """Each enterprise in its row's chain library (back in, if it had been removed); how many were not."""
    pairs = {(int(r["chain_id"]), int(e.id or 0)) for r, e in zip(rows, picked, strict=True)}
    entries: dict[tuple[int, int], LibraryEntry] = {}
    ids = sorted({e for _, e in pairs})
    for chunk in _chunks(ids):
        query = select(LibraryEntry).where(
            col(LibraryEntry.enterprise_id).in_(chunk), col(LibraryEntry.chain_id).in_({c for c, _ in pairs})
        )
        entries.update({(e.chain_id, e.enterprise_id): e for e in (await session.exec(query)).all()})
    added: list[LibraryEntry] = []
    for row, enterprise in zip(rows, picked, strict=True):
        key = (int(row["chain_id"]), int(enterprise.id or 0))
        entry = entries.get(key)
        if entry is None or entry.removed_at is not None:
            if entry is None:
                entry = entries[key] = LibraryEntry(chain_id=key[0], enterprise_id=key[1])
            # Back in the library after a removal: the same row, so its history stays in one place.
            entry.removed_at, entry.removed_reason = None, None
            entry.added_by, entry.added_at = member.id, now
            added.append(entry)
        if row.get("expected_yuan") is not None:
            entry.expected_yuan = row["expected_yuan"]
        if row.get("note"):
            entry.note = row["note"]
        session.add(entry)
    for chunk in _chunks(list(entries.values())):
        session.add_all(chunk)
        await session.flush()
        await asyncio.sleep(0)
    for count, entry in enumerate(added, 1):
        await _breathe(session, count)
        audit.record(
            session,
            actor_id=member.id,
            entity="enterprise",
            entity_id=entry.enterprise_id,
            action="library_added",
            at=now,
            chain_id=entry.chain_id,
            entry_id=entry.id,
            via=via,
        )
    return len(added)


async def run(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> Imported:
    """Import a held batch in ONE transaction: every row, or (on any failure) none.

    Set-based: the register is read in a few queries for all rows at once, and new records
    are written in rounds of ``CHUNK`` rows, whatever the file's size.
    """
    now = now or utcnow()
    async with db.session() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.user_id != member.id or batch.status != ImportStatus.PENDING:
            raise BatchGone(batch_id)
        if batch.created_at < now - HOLD_FOR:
            # The register may have changed a lot since this preview; the person should look again.
            raise BatchGone(batch_id, expired=True)
        await take_register(session)
        rows = list(batch.rows)
        picked, created = await _enterprises_for(session, member, rows, now)
        await _fill(session, rows, picked, now)
        added = await _libraries(session, member, rows, picked, f"import:{batch_id}", now)
        batch.status = ImportStatus.IMPORTED
        batch.finished_at = now
        session.add(batch)
        audit.record(
            session,
            actor_id=member.id,
            entity="import",
            entity_id=batch_id,
            action="imported",
            at=now,
            file=batch.file_name,
            rows=len(rows),
            created=created,
        )
    return Imported(created, added, len(rows) - added, tuple(sorted({int(r["chain_id"]) for r in rows})))


async def cancel(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> bool:
    async with db.session() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.user_id != member.id or batch.status != ImportStatus.PENDING:
            return False
        batch.status = ImportStatus.CANCELLED
        batch.finished_at = now or utcnow()
        session.add(batch)
        return True
