"""``python -m tests.crashpoint WHERE MARKER``: the bot, stopped dead at WHERE on a button press.

The process writes MARKER when it gets there and waits for the test to kill it (SIGKILL, as a
crash or an OOM killer would):

- ``before-commit``: the handler ran and its records and replies are written, uncommitted;
- ``before-send``: the update is committed, nothing of its answer has been sent (this process
  sends nothing at all in the background, so the answer can only leave after a restart).

``python -m tests.crashpoint restart``: the bot started again after such a crash, as if it came
back an ``ANSWER_LEASE`` later: its clock runs that far ahead of the wall clock, so the claims
the dead process left have lapsed for it, and the test does not wait them out on the wall clock.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot import cli
from bot.app import App
from bot.core import Incoming, Kind, Response
from bot.delivery import ANSWER_LEASE, Outbox
from bot.router import Router
from models import utcnow


def main() -> int:
    if sys.argv[1:] == ["restart"]:
        post_init = App.__post_init__

        def a_lease_later(self: App) -> None:
            self.clock = lambda: utcnow() + ANSWER_LEASE
            post_init(self)  # the outbox follows the app's clock

        App.__post_init__ = a_lease_later  # type: ignore[method-assign]
        return cli.main(["run", "--no-scheduler"])
    where, marker = sys.argv[1], Path(sys.argv[2])

    async def stop_dead(msg: Incoming) -> None:
        marker.write_text(str(msg.update_id))  # noqa: ASYNC240 - the process stops right here anyway
        await asyncio.Event().wait()

    if where == "before-commit":
        queue = Router._queue

        async def queue_then_stop(self: Router, msg: Incoming, response: Response) -> None:
            await queue(self, msg, response)
            if msg.kind is Kind.BUTTON:
                await stop_dead(msg)

        Router._queue = queue_then_stop  # type: ignore[method-assign]
    elif where == "before-send":
        handle = Router.handle

        async def handle_then_stop(self: Router, msg: Incoming) -> Response:
            response = await handle(self, msg)
            if msg.kind is Kind.BUTTON:
                await stop_dead(msg)
            return response

        async def no_worker(self: Outbox) -> None:
            await asyncio.Event().wait()

        Router.handle = handle_then_stop  # type: ignore[method-assign]
        Outbox.run = no_worker  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown crash point {where!r}")
    return cli.main(["run", "--no-scheduler"])


if __name__ == "__main__":
    sys.exit(main())
