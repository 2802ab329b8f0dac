"""The composition root's product: the base's :class:`~bot.core.app.App` with the runtime's outbox."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import app as base
from bot.delivery import Outbox


@dataclass
class App(base.App):
    outbox: Outbox

    def __post_init__(self) -> None:
        # Delivery times follow the app's clock, so a test can let hours pass.
        self.outbox.clock = lambda: self.clock()
