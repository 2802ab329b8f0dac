"""Settings: the contract's variables, URLs people write, and a token that never leaks."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from bot.core.config import Settings
from bot.core.db import async_url
from bot.core.logs import JsonFormatter, Redact

TOKEN = "123456:AAE-secret-token-value"


def make(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[arg-type]


def test_defaults_are_the_contract() -> None:
    s = make()
    assert s.bot_token is None and s.bot_framework == "ptb" and s.timezone == "Asia/Shanghai"
    assert s.default_locale == "zh" and s.webhook_url is None
    assert s.database_url.startswith("sqlite:///") and "data" in s.database_url
    assert s.bot_api_server == "https://api.telegram.org"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("BOT_ADMIN_IDS", "123, 9000000000001")
    monkeypatch.setenv("BOT_FRAMEWORK", "aiogram")
    monkeypatch.setenv("BOT_API_SERVER", "http://127.0.0.1:8081/")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.token() == TOKEN
    assert s.bot_admin_ids == frozenset({123, 9_000_000_000_001})
    assert s.bot_framework == "aiogram" and s.bot_api_server == "http://127.0.0.1:8081"


def test_bad_values_refuse_to_start() -> None:
    with pytest.raises(ValidationError):
        make(bot_framework="telethon")
    with pytest.raises(ValidationError):
        make(timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        make(default_locale="fr")


def test_the_token_is_secret_in_reprs_and_errors() -> None:
    s = make(bot_token=TOKEN)
    assert TOKEN not in repr(s) and TOKEN not in str(s.model_dump())
    with pytest.raises(ValidationError) as info:
        make(bot_token=TOKEN, bot_framework="nope")
    assert TOKEN not in str(info.value)


def test_the_token_is_redacted_from_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "POST https://api.telegram.org/bot%s/getMe", (TOKEN,), None
    )
    Redact([TOKEN]).filter(record)
    line = JsonFormatter().format(record)
    assert TOKEN not in line and "bot***/getMe" in line


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///data/x.sqlite3", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@localhost/db", "postgresql+asyncpg"),
        ("postgres://u@localhost/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@localhost/db", "postgresql+asyncpg"),
    ],
)
def test_database_urls_pick_the_async_driver(url: str, driver: str) -> None:
    assert async_url(url).drivername == driver
