"""One aiohttp server socket, shared by the webhook and the dashboard."""

from __future__ import annotations

import socket

from aiohttp import web


async def listen(
    app: web.Application, host: str, port: int, *, shutdown_timeout: float = 60.0
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` and return its runner and the bound port.

    Port 0 lets the OS choose (tests); the bound port is the one to reach.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]
