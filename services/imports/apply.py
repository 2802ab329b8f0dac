"""Importing a held batch on confirmation: one transaction, every row or none, in bulk statements.

The register is read for all rows at once (a few ``IN`` queries), what each row changes is
worked out in plain Python, and it is written back :data:`CHUNK` rows a statement — a
multi-row ``INSERT … VALUES … RETURNING`` where the new ids are needed, one executemany of
an ``INSERT`` or ``UPDATE`` elsewhere — a few dozen statements for 2,000 rows, not several
per row. The writes bypass the ORM's unit of work, so this
module keeps the name index (``services.name_index``) and the audit log itself, exactly as
the ORM's events and ``audit.record`` would. Between rounds the event loop gets a turn, so
others are answered while a large file is imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.db import Database
from models import AuditEntry, Enterprise, EnterpriseName, ImportBatch, ImportStatus, LibraryEntry, Member, utcnow
from services import name_index
from services.enterprises import take_register
from services.imports.preview import HOLD_FOR
from services.imports.turns import collection_paused, turn
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


#: Rows per statement (and per look-up's ``IN`` list); the event loop gets a turn between them.
CHUNK = 500
#: Rows worked on in Python between two looks at the clock (``turns``): a pinyin may take a millisecond.
STRIDE = 2

_ENTERPRISE: Table = Enterprise.__table__  # type: ignore[attr-defined]
_NAMES: Table = EnterpriseName.__table__  # type: ignore[attr-defined]
_LIBRARY: Table = LibraryEntry.__table__  # type: ignore[attr-defined]
_AUDIT: Table = AuditEntry.__table__  # type: ignore[attr-defined]
# What the import may change on an enterprise already in the register.
_FILLED = ("credit_code", "region", "contact_name", "contact_phone", "tags", "aliases", "chain_id", "updated_at")
_READ = (
    "id", "name", "normalized_name", "credit_code", "region", "chain_id", "tags", "aliases", "pinyin", "initials",
    "contact_name", "contact_phone", "merged_into",
)  # fmt: skip


@dataclass
class _Held:
    """An enterprise as the import sees it: read from the register, or about to be created."""

    id: int | None
    name: str
    normalized_name: str
    credit_code: str | None
    region: str
    chain_id: int | None
    tags: list[str]
    aliases: list[str]
    pinyin: str
    initials: str
    contact_name: str
    contact_phone: str
    merged_into: int | None = None
    created_code: str | None = None  # the credit code it was created with (for the audit)
    renamed: bool = False  # an alias was added: its name-index rows are rewritten

    def values(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _FILLED if key != "updated_at"}


@dataclass
class _Entry:
    """A library entry as the import sees it."""

    chain_id: int
    enterprise_id: int
    id: int | None = None
    added_by: int | None = None
    added_at: datetime | None = None
    removed_at: datetime | None = None
    removed_reason: str | None = None
    expected_yuan: int | None = None
    note: str = ""
    before: tuple[Any, ...] | None = None  # None: a new entry

    def state(self) -> tuple[Any, ...]:
        return (self.added_by, self.added_at, self.removed_at, self.removed_reason, self.expected_yuan, self.note)


async def _execute(session: AsyncSession, statement: Any, params: Any = None) -> Any:
    """A Core statement inside the session's transaction.

    A write goes through the session, not straight to its connection: the session is what
    opens the block's savepoint at its first write, without which a failure later in the
    import could not undo what was already written when the import runs inside an update.
    """
    if statement.is_select:
        connection = await session.connection()
        return await connection.execute(statement, params)
    return await session.exec(statement, params=params)


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for first in range(0, len(items), size):
        yield items[first : first + size]


async def _turn(count: int) -> None:
    """Every few rows of Python work, let the event loop answer others once its slice is up."""
    if count % STRIDE == 0:
        await turn()


def _remember_alias(enterprise: _Held, name: str) -> None:
    """``services.enterprises.remember_alias`` on the import's own copy of the enterprise."""
    stem = normalize_name(name)
    known = {normalize_name(n) for n in (enterprise.name, *enterprise.aliases)}
    if stem and stem not in known:
        enterprise.aliases = [*enterprise.aliases, name]
        enterprise.renamed = True


async def _read_enterprises(session: AsyncSession, ids: list[int]) -> dict[int, _Held]:
    found: dict[int, _Held] = {}
    columns = [_ENTERPRISE.c[name] for name in _READ]
    for chunk in _chunks(ids):
        for row in (await _execute(session, select(*columns).where(_ENTERPRISE.c.id.in_(chunk)))).all():
            values = dict(zip(_READ, row, strict=True))
            values["tags"], values["aliases"] = list(values["tags"] or []), list(values["aliases"] or [])
            found[int(values["id"])] = _Held(**values)
    return found


async def _resolve(session: AsyncSession, wanted: set[int]) -> dict[int, _Held]:
    """The enterprises of these ids, each followed to the one it was merged into (one copy each)."""
    found = await _read_enterprises(session, sorted(wanted))
    while True:
        merged = {e.merged_into for e in found.values() if e.merged_into is not None and e.merged_into not in found}
        if not merged:
            break
        found.update(await _read_enterprises(session, sorted(int(m) for m in merged)))
    resolved: dict[int, _Held] = {}
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


async def _insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in multi-row statements; their new ids, in the order given."""
    ids: list[int] = []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for chunk in _chunks(rows):
        ids.extend(int(i) for i in (await _execute(session, statement, chunk)).scalars().all())
        await asyncio.sleep(0)
    return ids


async def _write(session: AsyncSession, statement: Any, rows: list[dict[str, Any]]) -> None:
    """One statement for many rows (an executemany), a round at a time."""
    for chunk in _chunks(rows):
        await _execute(session, statement, chunk)
        await asyncio.sleep(0)


async def _audit(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Audit rows as ``audit.record`` writes them, in one statement per round."""
    await _write(session, insert(_AUDIT), entries)


def _audited(member: Member, entity: str, entity_id: int, action: str, at: datetime, **detail: Any) -> dict[str, Any]:
    return {
        "actor_id": member.id,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "at": at,
        "detail": detail,
    }


async def _enterprises_for(
    session: AsyncSession, member: Member, rows: list[dict[str, Any]], now: datetime
) -> tuple[list[_Held], int]:
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
    new: list[_Held] = []
    made: dict[str, _Held] = {}
    picked: list[_Held] = []
    for count, (row, key) in enumerate(zip(rows, chosen, strict=True), 1):
        await _turn(count)
        enterprise = known.get(key) if key is not None else None
        if enterprise is None:
            name = str(row["name"])
            stem = normalize_name(name)
            enterprise = made.get(stem)
            if enterprise is None:
                code = row.get("credit_code") or None
                enterprise = made[stem] = _Held(
                    id=None, name=name, normalized_name=stem, credit_code=code, region="",
                    chain_id=row["chain_id"], tags=[], aliases=[], pinyin="", initials="", contact_name="",
                    contact_phone="", created_code=code,
                )  # fmt: skip
                new.append(enterprise)
        else:
            # The row named it another way (宁德时代新能源科技股份有限公司 for 宁德时代): the
            # register keeps that name, so a lead or visit typing it finds the same enterprise.
            _remember_alias(enterprise, str(row["name"]))
        picked.append(enterprise)
    await _pinyin_loaded()
    for count, enterprise in enumerate(new, 1):
        await _turn(count)
        enterprise.pinyin, enterprise.initials = pinyin_full(enterprise.name), pinyin_initials(enterprise.name)
    ids = await _insert(
        session,
        _ENTERPRISE,
        [
            {
                "name": e.name, "normalized_name": e.normalized_name, "credit_code": e.credit_code,
                "chain_id": e.chain_id, "pinyin": e.pinyin, "initials": e.initials, "created_by": member.id,
                "created_at": now, "updated_at": now, "region": "", "tags": [], "aliases": [],
                "contact_name": "", "contact_phone": "", "registration_seq": 0,
            }
            for e in new
        ],
    )  # fmt: skip
    for enterprise, new_id in zip(new, ids, strict=True):
        enterprise.id = new_id
    # What the mapper's insert event would have written: each new enterprise's own name.
    await _write(session, insert(_NAMES), await _forms(new))
    await _audit(
        session,
        [
            _audited(member, "enterprise", int(e.id or 0), "created", now, name=e.name, credit_code=e.created_code)
            for e in new
        ],
    )
    return picked, len(new)


async def _pinyin_loaded() -> None:
    """Load pypinyin's dictionary (a second of work, once per process) in a thread, not on the loop."""
    await asyncio.to_thread(pinyin_full, "张掖")


async def _forms(enterprises: list[_Held]) -> list[dict[str, Any]]:
    """Their name-index rows, as the mapper's events write them."""
    await _pinyin_loaded()
    rows: list[dict[str, Any]] = []
    for count, e in enumerate(enterprises, 1):
        await _turn(count)
        rows += name_index.forms(int(e.id or 0), e.name, e.normalized_name, list(e.aliases), e.pinyin, e.initials)
    return rows


async def _fill(session: AsyncSession, rows: list[dict[str, Any]], picked: list[_Held], now: datetime) -> None:
    """The file fills what the register lacks; it does not overwrite what people entered."""
    codes = sorted({str(r["credit_code"]) for r in rows if r.get("credit_code")})
    taken: set[str] = set()
    for chunk in _chunks(codes):
        query = select(Enterprise.credit_code).where(col(Enterprise.credit_code).in_(chunk))
        taken.update(str(code) for code in (await session.exec(query)).all())
    for count, (row, enterprise) in enumerate(zip(rows, picked, strict=True), 1):
        await _turn(count)
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
    # Every enterprise a row named is marked updated, as saving each would mark it.
    changed = {id(e): e for e in picked}.values()
    await _write(
        session,
        update(_ENTERPRISE)
        .where(_ENTERPRISE.c.id == bindparam("_id"))
        .values({key: bindparam(f"_{key}", type_=_ENTERPRISE.c[key].type) for key in _FILLED}),
        [{"_id": e.id, **{f"_{k}": v for k, v in e.values().items()}, "_updated_at": now} for e in changed],
    )
    renamed = [e for e in changed if e.renamed]
    if renamed:
        # What the mapper's update event would have done: the names rewritten, aliases included.
        for chunk in _chunks([int(e.id or 0) for e in renamed]):
            await _execute(session, delete(_NAMES).where(_NAMES.c.enterprise_id.in_(chunk)))
        await _write(session, insert(_NAMES), await _forms(renamed))


async def _libraries(
    session: AsyncSession, member: Member, rows: list[dict[str, Any]], picked: list[_Held], via: str, now: datetime
) -> int:
    """Each enterprise in its row's chain library (back in, if it had been removed); how many were not."""
    pairs = {(int(r["chain_id"]), int(e.id or 0)) for r, e in zip(rows, picked, strict=True)}
    entries: dict[tuple[int, int], _Entry] = {}
    ids = sorted({e for _, e in pairs})
    chains = sorted({c for c, _ in pairs})
    columns = [
        _LIBRARY.c[name]
        for name in ("id", "chain_id", "enterprise_id", "added_by", "added_at", "removed_at", "removed_reason",
                     "expected_yuan", "note")
    ]  # fmt: skip
    for chunk in _chunks(ids):
        query = select(*columns).where(_LIBRARY.c.enterprise_id.in_(chunk), _LIBRARY.c.chain_id.in_(chains))
        for found in (await _execute(session, query)).all():
            read = _Entry(
                id=found.id, chain_id=found.chain_id, enterprise_id=found.enterprise_id, added_by=found.added_by,
                added_at=found.added_at, removed_at=found.removed_at, removed_reason=found.removed_reason,
                expected_yuan=found.expected_yuan, note=found.note,
            )  # fmt: skip
            read.before = read.state()
            entries[(read.chain_id, read.enterprise_id)] = read
    added: list[_Entry] = []
    fresh: list[_Entry] = []
    for count, (row, enterprise) in enumerate(zip(rows, picked, strict=True), 1):
        await _turn(count)
        key = (int(row["chain_id"]), int(enterprise.id or 0))
        entry = entries.get(key)
        if entry is None or entry.removed_at is not None:
            if entry is None:
                entry = entries[key] = _Entry(chain_id=key[0], enterprise_id=key[1])
                fresh.append(entry)
            # Back in the library after a removal: the same row, so its history stays in one place.
            entry.removed_at, entry.removed_reason = None, None
            entry.added_by, entry.added_at = member.id, now
            added.append(entry)
        if row.get("expected_yuan") is not None:
            entry.expected_yuan = row["expected_yuan"]
        if row.get("note"):
            entry.note = row["note"]
    new_ids = await _insert(
        session,
        _LIBRARY,
        [
            {"chain_id": e.chain_id, "enterprise_id": e.enterprise_id, "added_by": e.added_by, "added_at": e.added_at,
             "removed_at": None, "removed_reason": None, "expected_yuan": e.expected_yuan, "note": e.note}
            for e in fresh
        ],
    )  # fmt: skip
    for entry, new_id in zip(fresh, new_ids, strict=True):
        entry.id = new_id
    moved = [e for e in entries.values() if e.before is not None and e.state() != e.before]
    keys = ("added_by", "added_at", "removed_at", "removed_reason", "expected_yuan", "note")
    await _write(
        session,
        update(_LIBRARY)
        .where(_LIBRARY.c.id == bindparam("_id"))
        .values({key: bindparam(f"_{key}", type_=_LIBRARY.c[key].type) for key in keys}),
        [{"_id": e.id, **{f"_{k}": getattr(e, k) for k in keys}} for e in moved],
    )
    await _audit(
        session,
        [
            _audited(
                member, "enterprise", e.enterprise_id, "library_added", now, chain_id=e.chain_id, entry_id=e.id, via=via
            )
            for e in added
        ],
    )
    return len(added)


async def run(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> Imported:
    """Import a held batch in ONE transaction: every row, or (on any failure) none.

    Set-based: the register is read in a few queries for all rows at once, and the records
    are written in multi-row statements of ``CHUNK`` rows, whatever the file's size.
    """
    now = now or utcnow()
    # As a check does: thousands of rows' records live until the commit, and a full
    # collection walking them would hold the loop.
    with collection_paused():
        return await _run(db, member, batch_id, now)


async def _run(db: Database, member: Member, batch_id: int, now: datetime) -> Imported:
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
        await _audit(
            session,
            [
                _audited(
                    member, "import", batch_id, "imported", now, file=batch.file_name, rows=len(rows), created=created
                )
            ],
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
