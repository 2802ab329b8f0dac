"""Keys the desk builds at run time are in both catalogs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.core.i18n import catalog
from handlers.history import FIELDS
from models import EnterpriseTag, Stage
from services.export import Period, What
from services.imports import COLUMNS
from services.library import Coverage

ROOT = Path(__file__).resolve().parent.parent


def reasons_in_code() -> set[str]:
    """``row.reject("desk.import.reason.…")`` keys: translated later, not through ``_()``."""
    tree = ast.parse((ROOT / "services" / "imports" / "check.py").read_text(encoding="utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "reject"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def dynamic_keys() -> list[str]:
    keys = [f"tag.{t.value}" for t in EnterpriseTag]
    keys += [f"coverage.{c.value}" for c in Coverage]
    keys += [f"stage.{s.value}" for s in Stage]
    for w in What:
        keys += [f"desk.export.what.{w.value}", f"desk.export.file.{w.value}", f"desk.export.sheet.{w.value}"]
    keys += [f"desk.export.period.{p.value}" for p in Period]
    keys += [f"desk.col.{c}" for c in COLUMNS]
    keys += [f"desk.template.about.{c}" for c in COLUMNS]
    keys += [f"desk.col.{c}" for c in ("line", "reason", "column", "required", "explanation")]
    keys += [
        f"desk.import.bad.{c}" for c in ("too_big", "encrypted", "old_xls", "not_xlsx", "columns", "merged_header")
    ]
    keys += ["desk.import.bad.too_many_rows"]
    keys += [f"desk.import.how.{h}" for h in ("code", "name", "near")]
    keys += [f"desk.history.entity.{e}" for e in ("lead", "visit", "project", "enterprise")]
    keys += [f"desk.history.{a}" for a in ("merged", "merged_into")]
    keys += [f"desk.history.field.{f}" for f in FIELDS]
    keys += [f"desk.merge.err.{c}" for c in ("same", "missing", "merged")]
    keys += sorted(reasons_in_code())
    return keys


def export_columns() -> set[str]:
    tree = ast.parse((ROOT / "services" / "export.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2:
            first, second = node.elts
            if (
                isinstance(first, ast.Constant)
                and isinstance(second, ast.Constant)
                and second.value in ("text", "int", "wan", "date", "percent")
            ):
                found.add(f"desk.col.{first.value}")
    return found


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_dynamic_desk_keys_are_complete(locale: str) -> None:
    keys = dynamic_keys() + sorted(export_columns())
    assert len(reasons_in_code()) >= 8 and len(export_columns()) >= 30
    missing = [key for key in keys if not catalog(locale).get(key)]
    assert not missing, missing
