"""The preview's side: rows held for confirmation, the reasons and rejects sheet, the template."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.db import Database
from bot.core.i18n import translate
from models import Chain, EnterpriseTag, ImportBatch, Member, utcnow
from services.imports.check import COLUMNS, REQUIRED, Checked, Row
from services.imports.read import MAX_ROWS
from services.sheets import put, to_bytes, write_table

#: How long a checked file waits for its confirmation.
HOLD_FOR = timedelta(hours=24)

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
    # Plain attribute reads: asdict() deep-copies every row's typed values and reasons, which
    # held the event loop for 150 ms at 2,000 rows.
    rows = [{k: getattr(r, k) for k in _KEPT} for r in checked.rows if r.ok]
    async with db.session() as session:
        batch = ImportBatch(user_id=member.id, file_name=file_name[:256], rows=rows, created_at=now or utcnow())
        session.add(batch)
        await session.flush()
        assert batch.id is not None
        return batch.id


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
        put(lists.cell(row=r, column=1), chain.name(locale))
    for r, tag in enumerate(EnterpriseTag, 1):
        put(lists.cell(row=r, column=2), translate(locale, f"tag.{tag.value}"))
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
