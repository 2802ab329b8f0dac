"""Health: the container's check and ``GET /healthz`` say whether the database answers."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from bot.app import App
from bot.cli import main
from bot.core.config import Settings
from bot.core.db import Database
from bot.health import check, healthz

DOWN = "postgresql://investbot@127.0.0.1:9/none"  # nothing listens on the discard port


async def test_healthz_answers_200_when_the_database_answers(app: App) -> None:
    status, body = await healthz(app.db)
    assert status == 200 and json.loads(body) == {"ok": True, "database": "ok"}


async def test_healthz_answers_503_when_it_does_not() -> None:
    db = Database(DOWN)
    try:
        status, body = await healthz(db)
    finally:
        await db.dispose()
    assert status == 503
    assert json.loads(body)["database"].startswith("unavailable")
    assert "127.0.0.1" not in body


async def test_webhook_mode_also_asks_the_local_healthz(database_url: str, unused_tcp_port: int) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text='{"ok": true}')

    server = web.Application()
    server.router.add_get("/healthz", ok)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        webhook_url="https://bot.example/hook",
        webhook_port=unused_tcp_port,
    )
    try:
        assert (await check(settings)).checks == {"database": "ok", "webhook": "ok"}
    finally:
        await runner.cleanup()
    health = await check(settings)
    assert not health.ok and health.checks["webhook"].startswith("unreachable")


@pytest.mark.usefixtures("quiet_root_logger")
def test_cli_health_exit_status(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEBHOOK_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["health"]) == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "database": "ok"}
    monkeypatch.setenv("DATABASE_URL", DOWN)
    assert main(["health"]) == 1
