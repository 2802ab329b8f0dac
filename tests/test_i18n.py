"""Every text a person reads is in both catalogs; Telegram's language codes map right."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from bot.core.i18n import catalog, normalize_locale, read_entries, translate

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("bot", "handlers", "services", "models")
KEY = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")


def literal_keys() -> set[str]:
    """Every string literal passed to ``_()``/``translate()`` or shaped like a catalog key."""
    keys: set[str] = set()
    for directory in CODE_DIRS:
        for path in (ROOT / directory).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    args = node.args[1:] if name == "translate" else node.args
                    if name in ("_", "translate") and args and isinstance(args[0], ast.Constant):
                        value = args[0].value
                        if isinstance(value, str):
                            keys.add(value)
    return keys


def test_every_key_used_in_code_is_translated_in_both_languages() -> None:
    keys = literal_keys()
    assert len(keys) > 50
    for locale in ("zh", "en"):
        missing = sorted(k for k in keys if not catalog(locale).get(k))
        assert not missing, f"{locale} catalog lacks {missing}"


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalog("zh"), catalog("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        fields_zh = set(re.findall(r"{(\w+)}", zh[key]))
        fields_en = set(re.findall(r"{(\w+)}", en[key]))
        assert fields_zh == fields_en, key


def test_dynamic_keys_are_complete() -> None:
    from models import LeaderLevel, LeadSource, LeadStatus, Role

    for locale in ("zh", "en"):
        for prefix, values in (
            ("role", Role),
            ("source", LeadSource),
            ("lead.status", LeadStatus),
            ("leader_level", LeaderLevel),
        ):
            for value in values:
                assert catalog(locale).get(f"{prefix}.{value.value}"), (locale, prefix, value)
        for code in ("empty", "unreadable", "negative", "zero", "too_large"):
            assert catalog(locale).get(f"money.err.{code}"), (locale, code)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh", "zh"),
        ("zh-hans", "zh"),
        ("zh-hans-beta", "zh"),
        ("zh-CN", "zh"),
        ("zh-TW", "zh"),
        ("zh_Hant", "zh"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("fr", "zh"),
        ("", "zh"),
        (None, "zh"),
        ("  ", "zh"),
    ],
)
def test_telegram_language_codes(code: str | None, expected: str) -> None:
    assert normalize_locale(code) == expected


def test_unknown_codes_follow_the_configured_default() -> None:
    assert normalize_locale("de", "en") == "en"


def test_missing_key_falls_back_visibly() -> None:
    assert translate("en", "no.such.key") == "no.such.key"
    assert translate("en", "core.cancel.done", what="x") == "Cancelled x."


def test_every_audited_action_reads_in_both_languages() -> None:
    """``/history`` words each audit action from the catalogs; a new action needs its words."""
    actions: set[str] = set()
    for directory in ("services", "handlers", "bot"):
        for path in (ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "record":
                    for keyword in node.keywords:
                        if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                            actions.add(str(keyword.value.value))
    actions |= {"reviewed_effective", "reviewed_rejected"}  # built from the review's status
    assert len(actions) > 10
    for locale in ("zh", "en"):
        for action in actions - {"merged", "merged_into"}:
            assert catalog(locale).get(f"desk.history.action.{action}"), (locale, action)
        for action in ("merged", "merged_into"):
            assert catalog(locale).get(f"desk.history.{action}"), (locale, action)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "locales").glob("*/LC_MESSAGES/*.po")), ids=lambda p: p.parent.parent.name + "/" + p.name
)
def test_the_bot_reads_every_catalog_as_babel_does(path: Path) -> None:
    """The bot's own reading of a ``.po`` file gives what Babel's does: every translated entry,
    continued lines joined and escapes undone."""
    from babel.messages.pofile import read_po

    with path.open("rb") as fh:
        babel = {
            m.id: m.string
            for m in read_po(fh, locale=path.parent.parent.name)
            if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string
        }
    assert read_entries(path.read_text(encoding="utf-8")) == babel


def test_continued_and_escaped_entries_are_read_whole() -> None:
    text = (
        '# a comment\nmsgid ""\nmsgstr ""\n"Language: zh\\n"\n\n'
        'msgid "a.b"\nmsgstr ""\n"第一行\\n"\n"第二行 \\"引号\\" \\\\ 完"\n\n'
        'msgid "a.untranslated"\nmsgstr ""\n\n'
        '#~ msgid "a.old"\n#~ msgstr "旧"\n'
        'msgid "a.c"\nmsgstr "{name}，你好"\n'
    )
    assert read_entries(text) == {"a.b": '第一行\n第二行 "引号" \\ 完', "a.c": "{name}，你好"}
