"""Spreadsheets of target enterprises sent by a chain lead or the bureau: read, match, preview, apply.

- ``read``: the file, never trusted — archive checked before parsing, the first sheet
  streamed, reading stopped at the row limit — in a process of its own with a memory and
  a time limit (``worker``);
- ``check``: each row on its own (name, credit code, chain, tags, amount), each failure a reason;
- ``match``: rows against the register — credit code, then normalized name, then a near
  name — and against each other;
- ``preview``: the rows held in an :class:`ImportBatch` until the sender confirms, the
  rejects sheet, the template;
- ``apply``: the import, one transaction, so a failure leaves the database as it was.
"""

from __future__ import annotations

from services.imports.apply import BatchGone, Imported, cancel, run
from services.imports.check import COLUMNS, REQUIRED, Checked, Row, check, header_words, rows_of
from services.imports.match import NearIndex, match
from services.imports.preview import HOLD_FOR, hold, reason_text, rejects_sheet, template
from services.imports.read import MAX_BYTES, MAX_ROWS, SheetError, read
from services.imports.worker import read_apart

__all__ = [
    "COLUMNS",
    "HOLD_FOR",
    "MAX_BYTES",
    "MAX_ROWS",
    "REQUIRED",
    "BatchGone",
    "Checked",
    "Imported",
    "NearIndex",
    "Row",
    "SheetError",
    "cancel",
    "check",
    "header_words",
    "hold",
    "match",
    "read",
    "read_apart",
    "reason_text",
    "rejects_sheet",
    "rows_of",
    "run",
    "template",
]
