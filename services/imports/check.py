"""Each row of a read spreadsheet checked on its own: name, credit code, chain, tags, amount.

A row that fails gets its reasons (catalog keys) and is shown as rejected; the rest go on to
matching (``services.imports.match``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import col, select

from bot.core.db import Database
from bot.core.i18n import catalog, translate
from models import Chain, EnterpriseTag, Member
from services import library
from services.credit_code import is_valid_credit_code, normalize_credit_code
from services.imports.read import RawRow, Sheet, fold, text_of
from services.imports.worker import read_file
from services.money import InvalidMoney, parse_money
from services.names import has_letters
from services.text import clean_text

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
#: Rows checked between two turns of the event loop.
STRIDE = 50


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


def header_words() -> dict[str, frozenset[str]]:
    """Every header a column is known by, folded: the usual words and both catalogs' names."""
    return {
        key: frozenset({fold(w) for w in words} | {fold(translate(lang, f"desk.col.{key}")) for lang in ("zh", "en")})
        for key, words in _HEADER_WORDS.items()
    }


def _amount(value: object, unit: int) -> int:
    """Yuan from a cell: a number is in the column's unit (万元 by default); text as people type it."""
    if isinstance(value, bool):
        raise InvalidMoney("unreadable", str(value))
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = text_of(value).replace(",", "")
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
            folded = fold(name)
            names[folded] = chain.id
            names[folded.removesuffix("产业链")] = chain.id
    return names


def _tag_words() -> dict[str, str]:
    words = {fold(k): v for k, v in _TAG_WORDS.items()}
    for tag in EnterpriseTag:
        words[fold(tag.value)] = tag.value
        for lang in ("zh", "en"):
            words[fold(catalog(lang).get(f"tag.{tag.value}", tag.value))] = tag.value
    return words


def rows_of(sheet: Sheet, chains: list[Chain], allowed_chains: set[int]) -> Checked:
    """Each row of the sheet checked on its own."""
    chain_ids = _chain_names(chains)
    tag_words = _tag_words()
    rows = [_row(raw, sheet.columns, chain_ids, allowed_chains, tag_words) for raw in sheet.rows]
    return Checked(rows, sheet.blank, sum(len(raw.formulas) for raw in sheet.rows))


async def rows_checked(sheet: Sheet, chains: list[Chain], allowed_chains: set[int]) -> Checked:
    """``rows_of`` on the event loop, a stride of rows at a time with others answered between.

    Not in a thread: a thread busy with Python holds the interpreter's lock, and on a
    loaded machine the loop can wait for it far longer than the thread's work takes.
    """
    chain_ids = _chain_names(chains)
    tag_words = _tag_words()
    rows: list[Row] = []
    for first in range(0, len(sheet.rows), STRIDE):
        stride = sheet.rows[first : first + STRIDE]
        rows += [_row(raw, sheet.columns, chain_ids, allowed_chains, tag_words) for raw in stride]
        await asyncio.sleep(0)
    return Checked(rows, sheet.blank, sum(len(raw.formulas) for raw in sheet.rows))


def _row(
    raw: RawRow,
    units: dict[str, int | None],
    chain_ids: dict[str, int],
    allowed: set[int],
    tag_words: dict[str, str],
) -> Row:
    row = Row(line=raw.line)
    for key, value in raw.cells.items():
        if key in raw.formulas and value is None:
            row.reject("desk.import.reason.formula", column=key)
        row.values[key] = clean_text(text_of(value))
    _check(row, raw.cells, units, chain_ids, allowed, tag_words)
    return row


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
        folded = fold(chain)
        chain_id = chain_ids.get(folded, chain_ids.get(folded.removesuffix("产业链")))
        if chain_id is None:
            row.reject("desk.import.reason.unknown_chain", chain=chain)
        elif chain_id not in allowed:
            row.reject("desk.import.reason.not_your_chain", chain=chain)
        else:
            row.chain_id = chain_id
    for part in _TAG_SPLIT.split(str(cells.get("tags") or "")):
        # "Fortune Global 500" is one tag; "龙头 外资" two.
        words = [part] if fold(part) in tag_words else part.split()
        for word in words:
            word = word.strip()
            if not word:
                continue
            tag = tag_words.get(fold(word))
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


async def check(db: Database, member: Member, content: bytes) -> Checked:
    """Read the file apart from the bot, check its rows, match them to the register."""
    from services.imports.match import match

    sheet = await read_file(content, header_words(), REQUIRED)
    chains = await _chains(db)
    allowed = {int(c.id) for c in await library.chains_for(db, member) if c.id is not None}
    checked = await rows_checked(sheet, chains, allowed)
    # Not read while the file is: inside an update, every session shares its one connection.
    await match(db, checked)
    return checked


async def _chains(db: Database) -> list[Chain]:
    async with db.session() as session:
        return list((await session.exec(select(Chain).where(col(Chain.active)))).all())
