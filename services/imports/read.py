"""Reading a spreadsheet nobody vouches for, in a process of its own (see ``worker``).

The file is checked before anything parses it: its size, what kind of file it is, and the
archive inside — how large its parts say they unpack to, and how far each part is squeezed
(a zip bomb unpacks a few kilobytes into gigabytes). The first sheet is then read as a
stream (openpyxl's read-only mode): a few rows in memory at a time, and reading stops at the
row after the limit, however many rows follow. What comes back is plain data — the header's
columns and each row's cells — for the parent to check against the register.

This module imports nothing of the bot's, so the reading process stays small.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

#: Telegram gives a bot files of at most 20 MB.
MAX_BYTES = 20 * 1024 * 1024
#: A library is tens of enterprises a chain; a file of thousands is a register dump, not an import.
MAX_ROWS = 2000
HEADER_SEARCH_ROWS = 10
MAX_COLUMNS = 64
#: What the parts of a workbook may unpack to, together; a 2000-row sheet is a few MB.
MAX_UNPACKED = 256 * 1024 * 1024
#: How much a large part may be squeezed: XML compresses 5 to 30 times, bombs a thousand.
MAX_RATIO = 100
RATIO_FROM = 1024 * 1024

_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_UNIT_IN_HEADER = re.compile(r"[(（\[]?(万元|亿元|元|10kyuan|yuan)[)）\]]?$")
_HEADER_UNITS = {"万元": 10**4, "10kyuan": 10**4, "亿元": 10**8, "元": 1, "yuan": 1}
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_MERGE, _ROW, _C, _F = _MAIN + "mergeCell", _MAIN + "row", _MAIN + "c", _MAIN + "f"
_CELL = re.compile(r"([A-Z]+)(\d+)")


class SheetError(Exception):
    """Why a file cannot be read at all; ``key`` is the catalog key of the answer."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def key(self) -> str:
        return f"desk.import.bad.{self.code}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sheet_error, (self.code, self.params))


def _sheet_error(code: str, params: dict[str, object]) -> SheetError:
    return SheetError(code, **params)


@dataclass(frozen=True)
class RawRow:
    line: int  # the row number people see in Excel
    cells: dict[str, object]
    formulas: frozenset[str] = frozenset()  # columns whose cell is a formula


@dataclass
class Sheet:
    columns: dict[str, int | None]  # column key → the unit its header names (万元 …)
    rows: list[RawRow] = field(default_factory=list)
    blank: int = 0


def fold(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower().strip("*")


def text_of(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(unicodedata.normalize("NFKC", str(value)).split())


def column_for(title: object, words: dict[str, frozenset[str]]) -> tuple[str | None, int | None]:
    """The column key a header names, and the unit of amounts it states (``意向投资额（万元）``)."""
    if title is None:
        return None, None
    text = fold(str(title)).replace("*", "")
    unit = None
    if match := _UNIT_IN_HEADER.search(text):
        unit = _HEADER_UNITS[match[1]]
        text = text[: match.start()]
    text = text.strip("()（）")
    for key, names in words.items():
        if text in names:
            return key, unit
    return None, unit


def check_archive(content: bytes) -> None:
    """Refuse what is not a workbook, or would unpack into far more than it is."""
    if len(content) > MAX_BYTES:
        raise SheetError("too_big", limit=MAX_BYTES // (1024 * 1024))
    if content.startswith(_OLE_MAGIC):
        # An OLE file is either an old .xls or an .xlsx encrypted with a password, whose
        # package is stored in an "EncryptedPackage" stream.
        if "EncryptedPackage".encode("utf-16-le") in content:
            raise SheetError("encrypted")
        raise SheetError("old_xls")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SheetError("not_xlsx") from exc
    unpacked = 0
    for part in parts:
        unpacked += part.file_size
        squeezed = part.file_size > RATIO_FROM and part.file_size > MAX_RATIO * max(part.compress_size, 1)
        if squeezed or unpacked > MAX_UNPACKED:
            raise SheetError("unpacked", limit=MAX_UNPACKED // (1024 * 1024))


def _letters_to_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def _marks(archive: Any, path: str) -> tuple[list[tuple[str, int, int]], set[tuple[int, int]]]:
    """The merged ranges of a sheet and its formula cells (row, column from 0), streamed.

    Read-only mode loads neither merged ranges nor, beside a cell's cached value, whether it
    was a formula; one pass over the sheet's XML finds both, where a second workbook opened
    for the formulas would parse every cell again.
    """
    from xml.etree.ElementTree import iterparse  # in the reader process only

    found: list[tuple[str, int, int]] = []
    formulas: set[tuple[int, int]] = set()
    row, column = 0, -1
    with archive.open(path) as stream:
        for event, element in iterparse(stream, events=("start", "end")):
            tag = element.tag
            if event == "start":
                if tag == _ROW:
                    # A row or cell without its reference follows the one before it, as in openpyxl.
                    row = int(element.get("r") or row + 1)
                    column = -1
                continue
            if tag == _C:
                ref = element.get("r")
                cell = _CELL.fullmatch(ref) if ref else None
                column = _letters_to_index(cell[1]) if cell else column + 1
                if element.find(_F) is not None:
                    formulas.add((int(cell[2]) if cell else row, column))
            elif tag == _MERGE:
                ref = element.get("ref", "")
                rows = [int(m[2]) for m in _CELL.finditer(ref)]
                if rows:
                    found.append((ref, min(rows), max(rows)))
            if tag != _F:
                # A cell's formula is looked for at the cell's end, so it is cleared with the cell.
                element.clear()
    return found, formulas


def read(content: bytes, words: dict[str, frozenset[str]], required: tuple[str, ...]) -> Sheet:
    """The header's columns and the rows below it, of the first sheet; ``SheetError`` if none."""
    from openpyxl import load_workbook  # imported by the first file read, not at start-up

    check_archive(content)
    try:
        values_wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        ws = values_wb.worksheets[0]
    except MemoryError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a zip that is not a workbook
        raise SheetError("not_xlsx") from exc
    try:
        return _rows(ws, words, required)
    finally:
        values_wb.close()


def _rows(ws: Any, words: dict[str, frozenset[str]], required: tuple[str, ...]) -> Sheet:
    header, columns = 0, dict[int, tuple[str, int | None]]()
    for r, values in enumerate(ws.iter_rows(max_row=HEADER_SEARCH_ROWS, max_col=MAX_COLUMNS, values_only=True), 1):
        found: dict[int, tuple[str, int | None]] = {}
        for c, value in enumerate(values):
            key, unit = column_for(value, words)
            if key is not None and key not in {k for k, _ in found.values()}:
                found[c] = (key, unit)
        if len(found) > len(columns):
            header, columns = r, found
    present = {key for key, _ in columns.values()}
    missing = [key for key in required if key not in present]
    if missing:
        raise SheetError("columns", missing=missing)
    merged, formula_cells = _marks(ws.parent._archive, ws._worksheet_path)
    for ref, first, last in merged:
        if first <= header <= last:
            raise SheetError("merged_header", cells=ref)
    sheet = Sheet(dict(columns.values()))
    kept = 0
    for line, values in enumerate(ws.iter_rows(min_row=header + 1, max_col=MAX_COLUMNS, values_only=True), header + 1):
        if all(text_of(v) == "" for v in values):
            sheet.blank += 1
            continue
        kept += 1
        if kept > MAX_ROWS:
            # Stop here: the rest of the file is never read.
            raise SheetError("too_many_rows", limit=MAX_ROWS)
        cells: dict[str, object] = {}
        formulas: set[str] = set()
        for c, (key, _unit) in columns.items():
            cells[key] = values[c] if c < len(values) else None
            if (line, c) in formula_cells:
                formulas.add(key)
        sheet.rows.append(RawRow(line, cells, frozenset(formulas)))
    return sheet
