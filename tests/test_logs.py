"""Logs: one line per update, JSON when asked, never the token, never a whole message."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.core import Kind, logs
from tests.conftest import ChatFactory

TOKEN = "123456789:AAHsecretsecretsecretsecretsecret123"
MARKER = "机密投资细节在这里"


@pytest.fixture
def log_stream(quiet_root_logger: None) -> io.StringIO:
    """The bot's own logging set-up, writing into a buffer; the test process's put back after."""
    return io.StringIO()


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


async def test_one_json_line_per_update_with_its_conversation(chat: ChatFactory, log_stream: io.StringIO) -> None:
    logs.setup(level="DEBUG", json_lines=True, secrets=[TOKEN], stream=log_stream)
    liaison = chat(1002)
    await liaison.send(f"/lead 宁德时代 拟在西北建储能电池基地 投资约20亿 新能源 {MARKER}")
    await liaison.press("确认保存")
    await liaison.send(f"随便说一句话，后面是{MARKER}")
    await liaison.send("/help")

    entries = json_lines(log_stream)  # every line is JSON
    handled = [e for e in entries if e["message"] == "update handled"]
    assert len(handled) == 4
    for entry in handled:
        assert entry["level"] == "INFO" and entry["logger"] == "bot.router"
        assert entry["user_id"] == 1002 and isinstance(entry["update_id"], int)
        assert entry["outcome"] == "ok" and isinstance(entry["duration_ms"], int | float)
    assert [e["conversation"] for e in handled] == ["lead", "lead", None, None]
    assert [e["kind"] for e in handled] == ["command", "button", "text", "command"]
    assert handled[0]["preview"] == "/lead" and handled[3]["preview"] == "/help"
    assert handled[2]["preview"] == "随便说一句话，后面是机密…"
    assert MARKER not in log_stream.getvalue()


async def test_outcomes_are_told_apart(chat: ChatFactory, log_stream: io.StringIO) -> None:
    logs.setup(level="INFO", json_lines=True, stream=log_stream)
    person = chat(1003)
    await person.send("/help")
    message = person._incoming(Kind.TEXT, text="again")
    await person.deliver(message)
    await person.deliver(message)  # Telegram redelivered it
    outcomes = [e["outcome"] for e in json_lines(log_stream) if e["message"] == "update handled"]
    assert outcomes == ["ok", "ok", "duplicate"]


def test_the_token_never_reaches_a_log_line(log_stream: io.StringIO) -> None:
    for json_mode in (True, False):
        logs.setup(level="INFO", json_lines=json_mode, secrets=[TOKEN], stream=log_stream)
        log = logging.getLogger("test.redact")
        log.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        log.warning("request failed", extra={"url": f"https://api.telegram.org/bot{TOKEN}/sendMessage"})
        try:
            raise RuntimeError(f"HTTP 401 for /bot{TOKEN}/getUpdates")
        except RuntimeError:
            log.exception("polling stopped")
    output = log_stream.getvalue()
    assert TOKEN not in output
    assert output.count("***") >= 6
    assert "bot***/getMe" in output


def test_text_mode_carries_the_same_fields(log_stream: io.StringIO) -> None:
    logs.setup(level="INFO", json_lines=False, stream=log_stream)
    logging.getLogger("bot.router").info(
        "update handled", extra={"update_id": 7, "user_id": 1, "conversation": "lead", "outcome": "ok"}
    )
    line = log_stream.getvalue().strip()
    assert line.endswith("update handled update_id=7 user_id=1 conversation=lead outcome=ok")
