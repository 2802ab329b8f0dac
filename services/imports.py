"""Spreadsheets of target enterprises sent by a chain lead or the bureau: check, preview, import.

A file is read (never trusted: not a spreadsheet, encrypted, merged headers, formulas,
too many rows each get a reason), its rows checked and matched against the enterprise
register — credit code first, then normalized name, then a near name — and against each
other. The rows wait in an :class:`ImportBatch` until the sender confirms; the import is
one transaction, so a failure leaves the database as it was.
"""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.conversation import Member
from bot.db import Database
from bot.i18n import catalog, translate
from models import Chain, Enterprise, EnterpriseName, EnterpriseTag, ImportBatch, ImportStatus, LibraryEntry, utcnow
from services import audit, library
from services.credit_code import is_valid_credit_code, normalize_credit_code
from services.enterprises import find_or_create, remember_alias, take_register
from services.money import InvalidMoney, parse_money
from services.names import best_matches, has_letters, normalize_name
from services.sheets import to_bytes, write_table

if TYPE_CHECKING:
    from openpyxl import Workbook

MAX_BYTES = 50 * 1024 * 1024
#: A library is tens of enterprises a chain; a file of thousands is a register dump, not an import.
MAX_ROWS = 2000
HEADER_SEARCH_ROWS = 10
#: How long a checked file waits for its confirmation.
HOLD_FOR = timedelta(hours=24)
FUZZY_CUTOFF = 90.0
MAX_TEXT = {"name": 100, "region": 100, "contact_name": 64, "contact_phone": 32, "note": 500}

# Column keys in template order; the first two are required.
COLUMNS = ("name", "chain", "credit_code", "tags", "expected", "region", "contact_name", "contact_phone", "note")
REQUIRED = ("name", "chain")
_HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "name": ("企业名称", "企业", "名称", "公司名称", "公司", "enterprise", "enterprisename", "name", "company"),
    "chain": ("产业链", "所属产业链", "链", "chain", "industrychain"),
    "credit_code": ("统一社会信用代码", "信用代码", "社会信用代码", "creditcode", "uscc", "unifiedsocialcreditcode"),
    "tags": ("标签", "企业标签", "类型", "tags", "tag"),
    "expected": (
        "意向投资额",
        "投资额",
        "计划投资额",
        "预计投资额",
        "金额",
        "expectedinvestment",
        "investment",
        "amount",
    ),
    "region": ("所在地区", "地区", "所在地", "区域", "region", "location"),
    "contact_name": ("联系人", "contact", "contactname", "contactperson"),
    "contact_phone": ("联系电话", "电话", "手机", "phone", "contactphone", "telephone"),
    "note": ("备注", "说明", "note", "notes", "remark", "remarks"),
}
_UNIT_IN_HEADER = re.compile(r"[(（\[]?(万元|亿元|元|10kyuan|yuan)[)）\]]?$")
_HEADER_UNITS = {"万元": 10**4, "10kyuan": 10**4, "亿元": 10**8, "元": 1, "yuan": 1}
_TAG_SPLIT = re.compile(r"[、,，;；/|\n]+")
_TAG_WORDS: dict[str, str] = {
    "龙头": "leading",
    "行业龙头": "leading",
    "龙头企业": "leading",
    "专精特新": "specialised",
    "专精特新小巨人": "specialised",
    "小巨人": "specialised",
    "500强": "global500",
    "世界500强": "global500",
    "财富500强": "global500",
    "外资": "foreign",
    "外资企业": "foreign",
    "外商投资": "foreign",
    "链主": "chain_leader",
    "链主企业": "chain_leader",
}
_PLAIN_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")


class SheetError(Exception):
    """Why a file cannot be read at all; ``key`` is the catalog key of the answer."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def key(self) -> str:
        return f"desk.import.bad.{self.code}"


@dataclass
class Row:
    line: int  # the row number people see in Excel
    values: dict[str, str] = field(default_factory=dict)  # as typed, for the rejects sheet
    name: str = ""
    credit_code: str | None = None
    chain_id: int | None = None
    tags: list[str] = field(default_factory=list)
    expected_yuan: int | None = None
    region: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    note: str = ""
    reasons: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    match_id: int | None = None
    match_name: str = ""
    match_how: str = ""  # code | name | near
    in_library: bool = False

    @property
    def ok(self) -> bool:
        return not self.reasons

    def reject(self, key: str, **params: Any) -> None:
        self.reasons.append((key, params))


@dataclass
class Checked:
    rows: list[Row]
    blank: int
    formulas: int

    @property
    def new(self) -> list[Row]:
        return [r for r in self.rows if r.ok and r.match_id is None]

    @property
    def matched(self) -> list[Row]:
        return [r for r in self.rows if r.ok and r.match_id is not None]

    @property
    def rejected(self) -> list[Row]:
        return [r for r in self.rows if not r.ok]


# -- reading the file ------------------------------------------------------------------
def _fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower().strip("*")


def _column_for(title: object) -> tuple[str | None, int | None]:
    """The column key a header names, and the unit of amounts it states (``意向投资额（万元）``)."""
    if title is None:
        return None, None
    text = _fold(str(title)).replace("*", "")
    unit = None
    if match := _UNIT_IN_HEADER.search(text):
        unit = _HEADER_UNITS[match[1]]
        text = text[: match.start()]
    text = text.strip("()（）")
    for key, words in _HEADER_WORDS.items():
        if text in words or text in {_fold(translate(lang, f"desk.col.{key}")) for lang in ("zh", "en")}:
            return key, unit
    return None, unit


def _open(content: bytes, *, data_only: bool) -> Workbook:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(content), data_only=data_only)


def read_workbook(content: bytes) -> tuple[Workbook, Workbook]:
    """The workbook twice: with computed values (what to import) and with formulas (to tell)."""
    if len(content) > MAX_BYTES:
        raise SheetError("too_big", limit=MAX_BYTES // (1024 * 1024))
    if content.startswith(_OLE_MAGIC):
        # An OLE file is either an old .xls or an .xlsx encrypted with a password, whose
        # package is stored in an "EncryptedPackage" stream.
        if "EncryptedPackage".encode("utf-16-le") in content:
            raise SheetError("encrypted")
        raise SheetError("old_xls")
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise SheetError("not_xlsx")
    try:
        return _open(content, data_only=True), _open(content, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds on a zip that is not a workbook
        raise SheetError("not_xlsx") from exc


def _header_row(ws: Any) -> tuple[int, dict[int, tuple[str, int | None]]]:
    best: tuple[int, dict[int, tuple[str, int | None]]] = (0, {})
    for r, values in enumerate(
        ws.iter_rows(min_row=1, max_row=min(HEADER_SEARCH_ROWS, ws.max_row), values_only=True), 1
    ):
        found: dict[int, tuple[str, int | None]] = {}
        for c, value in enumerate(values):
            key, unit = _column_for(value)
            if key is not None and key not in {k for k, _ in found.values()}:
                found[c] = (key, unit)
        if len(found) > len(best[1]):
            best = (r, found)
    return best


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(unicodedata.normalize("NFKC", str(value)).split())


def _amount(value: object, unit: int) -> int:
    """Yuan from a cell: a number is in the column's unit (万元 by default); text as people type it."""
    if isinstance(value, bool):
        raise InvalidMoney("unreadable", str(value))
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = _text(value).replace(",", "")
        if not _PLAIN_NUMBER.fullmatch(text):
            return parse_money(str(value))
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise InvalidMoney("unreadable", text) from exc
    if number < 0:
        raise InvalidMoney("negative", str(value))
    yuan = int((number * unit).to_integral_value())
    if yuan == 0:
        raise InvalidMoney("zero", str(value))
    return parse_money(str(yuan))


def _chain_names(chains: Iterable[Chain]) -> dict[str, int]:
    names: dict[str, int] = {}
    for chain in chains:
        assert chain.id is not None
        for name in (chain.name_zh, chain.name_en, chain.code):
            folded = _fold(name)
            names[folded] = chain.id
            names[folded.removesuffix("产业链")] = chain.id
    return names


def _tag_words() -> dict[str, str]:
    words = {_fold(k): v for k, v in _TAG_WORDS.items()}
    for tag in EnterpriseTag:
        words[_fold(tag.value)] = tag.value
        for lang in ("zh", "en"):
            words[_fold(catalog(lang).get(f"tag.{tag.value}", tag.value))] = tag.value
    return words


def parse(content: bytes, chains: list[Chain], allowed_chains: set[int]) -> Checked:
    """Rows of the first sheet, each checked on its own; raises ``SheetError`` for the whole file."""
    values_wb, formulas_wb = read_workbook(content)
    ws, fws = values_wb.worksheets[0], formulas_wb.worksheets[0]
    header, columns = _header_row(ws)
    present = {key for key, _ in columns.values()}
    missing = [key for key in REQUIRED if key not in present]
    if missing:
        raise SheetError("columns", missing=missing)
    for merged in ws.merged_cells.ranges:
        if merged.min_row <= header <= merged.max_row:
            raise SheetError("merged_header", cells=str(merged.coord))
    chain_ids = _chain_names(chains)
    tag_words = _tag_words()
    rows: list[Row] = []
    blank = formulas = 0
    formula_rows = fws.iter_rows(min_row=header + 1, values_only=True)
    for line, values in enumerate(ws.iter_rows(min_row=header + 1, values_only=True), header + 1):
        raw_formulas = next(formula_rows, ())
        if all(_text(v) == "" for v in values):
            blank += 1
            continue
        if len(rows) >= MAX_ROWS:
            raise SheetError("too_many_rows", limit=MAX_ROWS)
        row = Row(line=line)
        cells: dict[str, object] = {}
        units: dict[str, int | None] = {}
        for c, (key, unit) in columns.items():
            value = values[c] if c < len(values) else None
            formula = raw_formulas[c] if c < len(raw_formulas) else None
            if isinstance(formula, str) and formula.startswith("="):
                formulas += 1
                if value is None:
                    row.reject("desk.import.reason.formula", column=key)
            cells[key] = value
            units[key] = unit
            row.values[key] = _text(value)
        _check(row, cells, units, chain_ids, allowed_chains, tag_words)
        rows.append(row)
    return Checked(rows, blank, formulas)


def _check(
    row: Row,
    cells: dict[str, object],
    units: dict[str, int | None],
    chain_ids: dict[str, int],
    allowed: set[int],
    tag_words: dict[str, str],
) -> None:
    row.name = row.values.get("name", "")
    if not row.name:
        row.reject("desk.import.reason.no_name")
    elif not has_letters(row.name):
        row.reject("desk.import.reason.name_no_letters", name=row.name)
    elif len(row.name) > MAX_TEXT["name"]:
        row.reject("desk.import.reason.too_long", column="name", max=MAX_TEXT["name"])
    code = row.values.get("credit_code", "")
    if code:
        if isinstance(cells.get("credit_code"), int | float) or not is_valid_credit_code(code):
            row.reject("desk.import.reason.credit_code", code=code)
        else:
            row.credit_code = normalize_credit_code(code)
    chain = row.values.get("chain", "")
    if not chain:
        row.reject("desk.import.reason.no_chain")
    else:
        folded = _fold(chain)
        chain_id = chain_ids.get(folded, chain_ids.get(folded.removesuffix("产业链")))
        if chain_id is None:
            row.reject("desk.import.reason.unknown_chain", chain=chain)
        elif chain_id not in allowed:
            row.reject("desk.import.reason.not_your_chain", chain=chain)
        else:
            row.chain_id = chain_id
    for part in _TAG_SPLIT.split(str(cells.get("tags") or "")):
        # "Fortune Global 500" is one tag; "龙头 外资" two.
        words = [part] if _fold(part) in tag_words else part.split()
        for word in words:
            word = word.strip()
            if not word:
                continue
            tag = tag_words.get(_fold(word))
            if tag is None:
                row.reject("desk.import.reason.unknown_tag", tag=word)
            elif tag not in row.tags:
                row.tags.append(tag)
    amount = cells.get("expected")
    if amount is not None and row.values.get("expected"):
        try:
            row.expected_yuan = _amount(amount, units.get("expected") or 10**4)
        except InvalidMoney as exc:
            row.reject("desk.import.reason.amount", text=row.values["expected"], why=exc.code)
    for key in ("region", "contact_name", "contact_phone", "note"):
        text = row.values.get(key, "")
        if len(text) > MAX_TEXT[key]:
            row.reject("desk.import.reason.too_long", column=key, max=MAX_TEXT[key])
        setattr(row, key, text[: MAX_TEXT[key]])


# -- matching --------------------------------------------------------------------------
def _bigrams(stem: str) -> set[str]:
    return {stem[i : i + 2] for i in range(len(stem) - 1)} or {stem}


class NearIndex:
    """Near-name lookup over many names without comparing against every one of them.

    A name one or two typed characters away from another still shares all but a few of its
    character pairs; candidates are the names holding one of the query's three rarest pairs
    (of those any name holds: a pair no name has finds nothing), so a common pair (科技, 能源)
    never drags in a large part of the register. A registered name found whole inside the
    query (宁德时代 in 宁德时代新能源科技股份有限公司) is always a candidate, however common
    its pairs.
    """

    RAREST = 3

    def __init__(self) -> None:
        self._grams: dict[str, list[int]] = defaultdict(list)
        self._stems: dict[str, list[int]] = defaultdict(list)
        self._names: dict[int, list[str]] = defaultdict(list)

    def add(self, key: int, name: str) -> None:
        """Index ``name`` under ``key``; a key may have several names (an enterprise's aliases)."""
        self._names[key].append(name)
        stem = normalize_name(name)
        self._stems[stem].append(key)
        for gram in _bigrams(stem):
            self._grams[gram].append(key)

    def near(self, name: str, *, cutoff: float, limit: int = 3) -> list[tuple[int, str, float]]:
        stem = normalize_name(name)
        held = [gram for gram in _bigrams(stem) if gram in self._grams]
        pool: set[int] = set()
        for gram in sorted(held, key=lambda g: len(self._grams[g]))[: self.RAREST]:
            pool.update(self._grams[gram])
        for start in range(len(stem) - 1):
            for end in range(start + 2, len(stem) + 1):
                pool.update(self._stems.get(stem[start:end], ()))
        candidates = [(k, known) for k in sorted(pool) for known in self._names[k]]
        found: dict[int, tuple[int, str, float]] = {}
        for key, known, score in best_matches(name, candidates, limit=len(candidates), cutoff=cutoff):
            found.setdefault(key, (key, known, score))
        return list(found.values())[:limit]


async def match(db: Database, checked: Checked) -> None:
    """Match good rows to enterprises in the register and to earlier rows of the same file."""
    async with db.session() as session:
        registered = (
            await session.exec(
                select(Enterprise.id, Enterprise.name, Enterprise.normalized_name, Enterprise.credit_code).where(
                    col(Enterprise.merged_into).is_(None)
                )
            )
        ).all()
        libraries = {
            (c, e)
            for c, e in (
                await session.exec(
                    select(LibraryEntry.chain_id, LibraryEntry.enterprise_id).where(
                        col(LibraryEntry.removed_at).is_(None)
                    )
                )
            ).all()
        }
        merged = {
            int(i): int(into)
            for i, into in (
                await session.exec(
                    select(Enterprise.id, Enterprise.merged_into).where(col(Enterprise.merged_into).is_not(None))
                )
            ).all()
            if i is not None and into is not None
        }
        coded = {
            code: int(i)
            for i, code in (
                await session.exec(
                    select(Enterprise.id, Enterprise.credit_code).where(col(Enterprise.credit_code).is_not(None))
                )
            ).all()
            if code and i is not None
        }
        aliases = [
            (int(i), stem)
            for i, stem in (
                await session.exec(
                    select(EnterpriseName.enterprise_id, EnterpriseName.normalized).where(col(EnterpriseName.alias))
                )
            ).all()
        ]
    # Matching is CPU work over the whole register: off the event loop, so that other
    # people's messages are answered meanwhile.
    await asyncio.to_thread(_match_rows, checked, list(registered), libraries, merged, coded, aliases)


def _match_rows(
    checked: Checked,
    registered: list[tuple[int | None, str, str, str | None]],
    libraries: set[tuple[int, int]],
    merged: dict[int, int],
    coded: dict[str, int],
    aliases: list[tuple[int, str]],
) -> None:
    by_id = {int(i): (name, stem, code) for i, name, stem, code in registered if i is not None}
    by_stem: dict[str, int] = {}
    for i, (_name, stem, _code) in sorted(by_id.items()):
        by_stem.setdefault(stem, i)
    index = NearIndex()
    for i, (name, _stem, _code) in by_id.items():
        index.add(i, name)
    # A name the register knows only as an alias (BYD for 比亚迪) matches that enterprise.
    for i, stem in sorted(aliases):
        if i in by_id:
            by_stem.setdefault(stem, i)
            index.add(i, stem)
    in_file = NearIndex()
    seen: dict[tuple[str, int | None], int] = {}
    accepted: dict[int, Row] = {}
    for row in checked.rows:
        if not row.ok:
            continue
        stem = normalize_name(row.name)
        keys = [("name:" + stem, row.chain_id)]
        if row.credit_code:
            keys.insert(0, ("code:" + row.credit_code, row.chain_id))
        earlier = next((seen[k] for k in keys if k in seen), None)
        if earlier is None:
            # The same enterprise typed two ways in one file (宁德时代 / 宁德时代新能源科技股份有限公司).
            for line, _name, _score in in_file.near(row.name, cutoff=FUZZY_CUTOFF):
                other = accepted[line]
                if other.chain_id == row.chain_id and not (
                    row.credit_code and other.credit_code and other.credit_code != row.credit_code
                ):
                    earlier = line
                    break
        if earlier is not None:
            row.reject("desk.import.reason.duplicate", line=earlier)
            continue
        for k in keys:
            seen[k] = row.line
        accepted[row.line] = row
        in_file.add(row.line, row.name)
        found: int | None = None
        if row.credit_code and row.credit_code in coded:
            found, row.match_how = coded[row.credit_code], "code"
            while found in merged:
                found = merged[found]
        if found is None and stem in by_stem:
            their_code = by_id[by_stem[stem]][2]
            if not (row.credit_code and their_code and their_code != row.credit_code):
                found, row.match_how = by_stem[stem], "name"
        if found is None:
            for i, _name, _score in index.near(row.name, cutoff=FUZZY_CUTOFF):
                their_code = by_id[i][2]
                if not (row.credit_code and their_code and their_code != row.credit_code):
                    found, row.match_how = i, "near"
                    break
        if found is not None:
            row.match_id = found
            row.match_name = by_id[found][0] if found in by_id else row.name
            row.in_library = (row.chain_id, found) in libraries


async def check(db: Database, member: Member, content: bytes) -> Checked:
    chains = await _chains(db)
    allowed = {int(c.id) for c in await library.chains_for(db, member) if c.id is not None}
    checked = await asyncio.to_thread(parse, content, chains, allowed)
    await match(db, checked)
    return checked


async def _chains(db: Database) -> list[Chain]:
    async with db.session() as session:
        return list((await session.exec(select(Chain).where(col(Chain.active)))).all())


# -- waiting for confirmation, then importing --------------------------------------------
_KEPT = (
    "line",
    "name",
    "credit_code",
    "chain_id",
    "tags",
    "expected_yuan",
    "region",
    "contact_name",
    "contact_phone",
    "note",
    "match_id",
)


async def hold(db: Database, member: Member, file_name: str, checked: Checked, *, now: datetime | None = None) -> int:
    rows = [{k: v for k, v in asdict(r).items() if k in _KEPT} for r in checked.rows if r.ok]
    async with db.session() as session:
        batch = ImportBatch(user_id=member.id, file_name=file_name[:256], rows=rows, created_at=now or utcnow())
        session.add(batch)
        await session.flush()
        assert batch.id is not None
        return batch.id


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


async def _apply_row(
    session: AsyncSession, member: Member, row: dict[str, Any], batch_id: int, now: datetime
) -> tuple[bool, bool]:
    enterprise: Enterprise | None = None
    created = False
    if row.get("match_id") is not None:
        enterprise = await session.get(Enterprise, int(row["match_id"]))
        while enterprise is not None and enterprise.merged_into is not None:
            enterprise = await session.get(Enterprise, enterprise.merged_into)
    if enterprise is None:
        enterprise, created = await find_or_create(
            session,
            name=row["name"],
            credit_code=row.get("credit_code"),
            chain_id=row["chain_id"],
            actor_id=member.id,
            turn_taken=True,
            now=now,
        )
    elif not created:
        # The row named it another way (宁德时代新能源科技股份有限公司 for 宁德时代): the
        # register keeps that name, so a lead or visit typing it finds the same enterprise.
        remember_alias(enterprise, row["name"])
    code = row.get("credit_code")
    if code and not enterprise.credit_code:
        taken = (await session.exec(select(Enterprise.id).where(Enterprise.credit_code == code))).first()
        if taken is None:
            enterprise.credit_code = code
    # The file fills what the register lacks; it does not overwrite what people entered.
    for key in ("region", "contact_name", "contact_phone"):
        if row.get(key) and not getattr(enterprise, key):
            setattr(enterprise, key, row[key])
    enterprise.tags = [*enterprise.tags, *(t for t in row.get("tags", []) if t not in enterprise.tags)]
    if enterprise.chain_id is None:
        enterprise.chain_id = row["chain_id"]
    enterprise.updated_at = now
    session.add(enterprise)
    _, added = await library.put(
        session,
        chain_id=int(row["chain_id"]),
        enterprise=enterprise,
        actor_id=member.id,
        expected_yuan=row.get("expected_yuan"),
        note=row.get("note", ""),
        via=f"import:{batch_id}",
        now=now,
    )
    return created, added


async def run(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> Imported:
    """Import a held batch in ONE transaction: every row, or (on any failure) none."""
    now = now or utcnow()
    created = added = updated = 0
    async with db.session() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.user_id != member.id or batch.status != ImportStatus.PENDING:
            raise BatchGone(batch_id)
        if batch.created_at < now - HOLD_FOR:
            # The register may have changed a lot since this preview; the person should look again.
            raise BatchGone(batch_id, expired=True)
        await take_register(session)
        for row in batch.rows:
            new, in_library = await _apply_row(session, member, row, batch_id, now)
            created += new
            added += in_library
            updated += not in_library
        rows = batch.rows
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
            rows=len(batch.rows),
            created=created,
        )
    return Imported(created, added, updated, tuple(sorted({int(r["chain_id"]) for r in rows})))


async def cancel(db: Database, member: Member, batch_id: int, *, now: datetime | None = None) -> bool:
    async with db.session() as session:
        batch = await session.get(ImportBatch, batch_id)
        if batch is None or batch.user_id != member.id or batch.status != ImportStatus.PENDING:
            return False
        batch.status = ImportStatus.CANCELLED
        batch.finished_at = now or utcnow()
        session.add(batch)
        return True


# -- spreadsheets sent back --------------------------------------------------------------
def reason_text(locale: str, row: Row) -> str:
    parts = []
    for key, params in row.reasons:
        shown = dict(params)
        if "column" in shown:
            shown["column"] = translate(locale, f"desk.col.{shown['column']}")
        if "why" in shown:
            shown["why"] = translate(locale, f"money.err.{shown['why']}", text=shown.get("text", ""))
        parts.append(translate(locale, key, **shown))
    return "；".join(parts) if locale == "zh" else "; ".join(parts)


def rejects_sheet(locale: str, rows: list[Row]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = translate(locale, "desk.import.rejects_sheet")[:31]
    columns = [("line", "int"), *((key, "text") for key in COLUMNS), ("reason", "text")]
    data = [[r.line, *(r.values.get(key, "") for key in COLUMNS), reason_text(locale, r)] for r in rows]
    write_table(ws, locale, columns, data)
    return to_bytes(wb)


def template(locale: str, chains: list[Chain]) -> bytes:
    """The empty spreadsheet: its columns, a sheet explaining them, drop-downs for chain and tag."""
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = translate(locale, "desk.template.sheet")[:31]
    write_table(ws, locale, [(key, "text") for key in COLUMNS], [])
    for index, key in enumerate(COLUMNS, 1):
        if key in REQUIRED:
            ws.cell(row=1, column=index).value = translate(locale, f"desk.col.{key}") + "*"
    lists = wb.create_sheet(translate(locale, "desk.template.lists")[:31])
    for r, chain in enumerate(chains, 1):
        lists.cell(row=r, column=1, value=chain.name(locale))
    for r, tag in enumerate(EnterpriseTag, 1):
        lists.cell(row=r, column=2, value=translate(locale, f"tag.{tag.value}"))
    lists.sheet_state = "hidden"
    title = lists.title.replace("'", "''")
    chain_list = DataValidation(type="list", formula1=f"'{title}'!$A$1:$A${max(len(chains), 1)}", allow_blank=True)
    chain_list.add(f"B2:B{MAX_ROWS + 1}")
    # Several tags go in one cell, so the tag list suggests and does not refuse.
    tag_list = DataValidation(
        type="list", formula1=f"'{title}'!$B$1:$B${len(EnterpriseTag)}", allow_blank=True, showErrorMessage=False
    )
    tag_list.add(f"D2:D{MAX_ROWS + 1}")
    ws.add_data_validation(chain_list)
    ws.add_data_validation(tag_list)
    notes = wb.create_sheet(translate(locale, "desk.template.notes"))
    write_table(
        notes,
        locale,
        [("column", "text"), ("required", "text"), ("explanation", "text")],
        [
            [
                translate(locale, f"desk.col.{key}"),
                translate(locale, "desk.template.yes" if key in REQUIRED else "desk.template.no"),
                translate(locale, f"desk.template.about.{key}", limit=MAX_ROWS),
            ]
            for key in COLUMNS
        ],
    )
    notes.column_dimensions["C"].width = 80
    wb.move_sheet(notes, offset=-1)
    return to_bytes(wb)
