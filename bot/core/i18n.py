"""Locale catalogs: every text a person reads is looked up here.

Catalogs are gettext ``.po`` files under ``locales/<lang>/LC_MESSAGES/``, one file per
area of the bot (``core.po``, ``lead.po`` …), merged per language. Babel writes and checks
them (``make``'s catalog targets, the tests); the bot reads their plain entries itself, in a
tenth of the time and without loading Babel's catalog machinery into every process.
Message ids are symbolic keys (``lead.ask.amount``) so that neither language is the
"source" one: Chinese is the default and both catalogs must be complete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
SUPPORTED = ("zh", "en")
DEFAULT_LOCALE = "zh"


def normalize_locale(code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Map a Telegram ``language_code`` (``zh-hans``, ``zh-CN``, ``en-US`` …) to ``zh`` or ``en``."""
    if not code:
        return default
    primary = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if primary in SUPPORTED else default


def person_locale(chosen: str | None, language_code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """A person's language: the one they chose, else their Telegram app's, else ``default``."""
    return chosen or normalize_locale(language_code, default)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)")
_LINE = re.compile(r'^(msgid|msgstr)?\s*"(.*)"\s*$')


def _unquoted(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), text)


def read_entries(text: str) -> dict[str, str]:
    """The translated entries of one ``.po`` file: ``msgid`` → ``msgstr``, each possibly
    continued over several quoted lines; comments, the header and empty translations left out."""
    entries: dict[str, str] = {}
    parts: dict[str, list[str]] = {"msgid": [], "msgstr": []}
    field: str | None = None

    def finish() -> None:
        key, value = "".join(parts["msgid"]), "".join(parts["msgstr"])
        if key and value:
            entries[key] = value
        parts["msgid"], parts["msgstr"] = [], []

    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        keyword, quoted = match.groups()
        if keyword == "msgid":
            finish()
        if keyword is not None:
            field = keyword
        if field is not None:
            parts[field].append(_unquoted(quoted))
    finish()
    return entries


@cache
def catalog(locale: str) -> Mapping[str, str]:
    """All messages of one language, merged from every ``.po`` file of that language."""
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / locale / "LC_MESSAGES").glob("*.po")):
        messages.update(read_entries(path.read_text(encoding="utf-8")))
    return messages


def translate(locale: str, key: str, /, **params: object) -> str:
    """The text for ``key`` in ``locale``, with ``{name}`` placeholders filled in.

    A key missing from the catalog falls back to the default language, then to the key
    itself, so a gap shows up as an odd word rather than a crash; a test keeps the
    catalogs complete.
    """
    text = catalog(locale).get(key) or catalog(DEFAULT_LOCALE).get(key) or key
    return text.format(**params) if params else text


class Translator:
    """``_("key", **params)`` bound to one person's language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in SUPPORTED else DEFAULT_LOCALE

    def __call__(self, key: str, /, **params: object) -> str:
        return translate(self.locale, key, **params)
