"""Giving the event loop a turn by the clock, not by a count of items.

What an item costs varies a hundredfold (a name's pairs, its pinyin, a row of a sheet), and on
a busy machine a few milliseconds of work can take ten times as long on the clock while the
process waits for a core: a fixed count of items between turns either yields far too often or
holds the loop for a tenth of a second. Checking the clock every few items and yielding once
``SLICE`` has passed keeps every hold of the loop short whatever the work and the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Iterator

#: Seconds of the loop's time one stretch of work may take before others get a turn.
SLICE = 0.005

_last = 0.0


async def turn() -> None:
    """A turn for others, when ``SLICE`` has passed since the last one this work gave."""
    global _last
    now = time.perf_counter()
    if now - _last >= SLICE:
        await asyncio.sleep(0)
        _last = time.perf_counter()


_paused = 0


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a check holds the register in memory.

    Reading 100,000 names builds a few hundred thousand objects that live until the check
    ends; each full collection meanwhile walks all of them, on the loop, for 0.1–1 s on this
    machine — the longest holds of the loop a check had. Reference counting still frees what
    the check drops; cycles wait until the check is done. Nested checks share one pause.
    """
    global _paused
    was = gc.isenabled() if _paused == 0 else True
    _paused += 1
    gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0 and was:
            gc.enable()
