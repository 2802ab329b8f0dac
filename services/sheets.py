"""Spreadsheets the bureau reads: headers in the reader's language, frozen, 万元 and real dates.

Every text goes in as a text cell, whatever it starts with: a name typed as
``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` is shown in Excel and WPS and never evaluated,
and characters a workbook cannot hold (C0 controls) are dropped rather than break the file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.core.i18n import translate

if TYPE_CHECKING:
    from openpyxl import Workbook

# openpyxl costs tens of megabytes once imported: it is imported by the first spreadsheet a
# person asks for or sends, not when the bot starts.

WAN_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_HEADER_COLOUR = "DDEBF7"
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
#: What spreadsheet programs read as the start of a formula (OWASP's CSV-injection list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: The control characters an xlsx cell cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE, copied
#: so that this module does not import openpyxl at start-up).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def sheet_title(name: str, taken: set[str]) -> str:
    """A worksheet title Excel accepts (31 characters, no []:*?/\\), unique in the workbook."""
    base = _SHEET_NAME_BAD.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip("'") or "Sheet"
    title = base[:31]
    number = 2
    while title.lower() in taken:
        suffix = f"({number})"
        title = base[: 31 - len(suffix)] + suffix
        number += 1
    taken.add(title.lower())
    return title


def write_table(ws: Any, locale: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> None:
    """Headers from the catalogs (``desk.col.<key>``), one row per record, header row frozen.

    ``columns`` is (key, kind) with kind ``text``, ``wan`` (a yuan amount shown in 万元),
    ``date``, ``int`` or ``percent``.
    """
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    for index, (key, _kind) in enumerate(columns, 1):
        cell = ws.cell(row=1, column=index, value=translate(locale, f"desk.col.{key}"))
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=_HEADER_COLOUR)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for r, values in enumerate(rows, 2):
        for c, ((_key, kind), value) in enumerate(zip(columns, values, strict=True), 1):
            cell = ws.cell(row=r, column=c)
            put(cell, _cell_value(kind, value))
            if kind == "wan":
                cell.number_format = WAN_FORMAT
            elif kind == "date":
                cell.number_format = DATE_FORMAT
            elif kind == "percent":
                cell.number_format = PERCENT_FORMAT
    for index, (key, kind) in enumerate(columns, 1):
        width = {"wan": 14, "date": 12, "int": 8, "percent": 10}.get(kind, 24 if key.endswith("name") else 16)
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"


def put(cell: Any, value: Any) -> None:
    """Write ``value``; a text is always a text cell, shown as typed and never run as a formula."""
    if not isinstance(value, str):
        cell.value = value
        return
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = text
    # openpyxl makes "=…" a formula; a text cell with Excel's quote prefix stays text even
    # when someone opens it for editing and presses Enter.
    cell.data_type = "s"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True


def _cell_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "wan":
        # 万元 with two decimals is how the bureau's reports read; float is fine for display.
        return float((Decimal(int(value)) / 10_000).quantize(Decimal("0.01")))
    if kind == "date":
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
    return value


def to_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
