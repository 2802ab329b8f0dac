"""However start-up fails, on either framework, the bot token is nowhere in what is printed.

The real command line is started in a subprocess with a ``BOT_API_SERVER`` that is wrong
in the two ways seen in the field: a server that answers 404 at that path (the frameworks
then call the token invalid, and python-telegram-bot names it), and a value that is not a
URL at all (aiogram's error repeats the request URL, ``…/bot<token>/getMe``).
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAHsecretSECRETsecretSECRETsecret12"


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b'{"ok":false,"error_code":404,"description":"Not Found"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def wrong_path() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/not-the-bot-api"
    server.shutdown()


@pytest.mark.parametrize(("framework", "server"), [("ptb", "wrong_path"), ("aiogram", "not-a-url")])
def test_start_up_failures_never_print_the_token(
    framework: str, server: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    api = str(request.getfixturevalue("wrong_path")) if server == "wrong_path" else server
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "BOT_FRAMEWORK": framework,
        "BOT_API_SERVER": api,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "LOG_LEVEL": "DEBUG",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run", "--no-scheduler"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 1, printed
    assert "investbot run failed" in printed  # it did fail, and said so
    assert TOKEN not in printed
    assert TOKEN.split(":")[1] not in printed
