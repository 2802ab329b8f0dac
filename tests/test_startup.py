"""Starting the bot loads none of the heavy libraries that only some requests need."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# matplotlib (charts), openpyxl (spreadsheets) and pypinyin (writing a new name) weigh over
# a hundred megabytes together; a bot that has drawn, read or written none yet holds none. Nor
# the XML parser, which reads spreadsheets in the reader process, or the official calendar
# before a working day is asked.
HEAVY = ("matplotlib", "numpy", "openpyxl", "pypinyin", "xml.etree", "chinese_calendar")

START_UP = """
import json, sys
import bot.cli, bot.app, bot.runner, bot.scheduler, bot.webhook
import bot.adapters.ptb, bot.adapters.aiogram, bot.adapters.console
import handlers
handlers.build_registry()
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def test_start_up_imports_no_heavy_library() -> None:
    out = subprocess.run(
        [sys.executable, "-c", START_UP.format(heavy=HEAVY)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_searching_does_not_load_the_pinyin_dictionary() -> None:
    script = """
import json, sys
from services import search, enterprises, name_index
print(json.dumps("pypinyin" in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) is False


# The dashboard (jinja2, its maps), the webhook server and PostgreSQL's dialect: a bot polling
# on SQLite without WEB_URL needs none of them, and each costs memory in every process.
ONLY_WHEN_ASKED = (
    "jinja2", "bot.web", "bot.web.server", "aiohttp.web", "bot.webhook", "sqlalchemy.dialects.postgresql",
)  # fmt: skip

POLLING = """
import json, sys
import bot.cli, bot.app, bot.runner, bot.scheduler, bot.leadership, bot.router, bot.delivery
import bot.adapters.ptb, bot.adapters.aiogram
import handlers
handlers.build_registry()
print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))
"""


def test_a_polling_bot_loads_no_dashboard_webhook_server_or_postgresql_dialect() -> None:
    out = subprocess.run(
        [sys.executable, "-c", POLLING.format(modules=ONLY_WHEN_ASKED)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_a_long_running_process_caps_malloc_arenas_unless_the_operator_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import fewer_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert fewer_malloc_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert fewer_malloc_arenas() is (sys.platform.startswith("linux"))
