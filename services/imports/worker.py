"""Reading a spreadsheet in a process of its own, with a memory and a time limit.

A hostile or careless file (a million rows, a zip bomb) must not take the bot down with it
or hold up everyone else: the reading runs in a child process whose address space is capped
(``RLIMIT_AS``) and which is killed when it runs past its time; the bot's event loop only
waits on a thread meanwhile. One file is read at a time — the machine has two cores, and
the bot needs one. Children come from a fork server that has the reader already imported,
so each file costs a fork, not a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import threading
from multiprocessing.connection import Connection
from typing import Any

from services.imports.read import Sheet, SheetError, read

#: Seconds a file may take to read; the answer comes within this and a fork.
TIME_LIMIT = 10.0
#: Memory a reading may add to the fresh reader process.
MEMORY_LIMIT = 384 * 1024 * 1024

_ONE_AT_A_TIME = threading.Lock()
_context: Any = None


def _mp() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        # openpyxl too: each child is then a fork, with nothing left to import per file.
        _context.set_forkserver_preload(["services.imports.read", "openpyxl"])
    return _context


def _address_space() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _child(
    conn: Connection, content: bytes, words: dict[str, frozenset[str]], required: tuple[str, ...], memory: int
) -> None:
    try:
        cap = _address_space() + memory
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        seconds = int(TIME_LIMIT) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
        conn.send(("ok", read(content, words, required)))
    except SheetError as error:
        conn.send(("error", error.code, error.params))
    except MemoryError:
        conn.send(("error", "memory", {}))
    finally:
        conn.close()


def read_apart(
    content: bytes,
    words: dict[str, frozenset[str]],
    required: tuple[str, ...],
    *,
    seconds: float = TIME_LIMIT,
    memory: int = MEMORY_LIMIT,
) -> Sheet:
    """``read`` in a child process; ``SheetError`` ``too_slow`` or ``memory`` when it overruns."""
    with _ONE_AT_A_TIME:
        mp = _mp()
        receiving, sending = mp.Pipe(duplex=False)
        process = mp.Process(target=_child, args=(sending, content, words, required, memory), daemon=True)
        process.start()
        sending.close()
        try:
            if not receiving.poll(seconds):
                raise SheetError("too_slow", seconds=round(seconds))
            try:
                outcome = receiving.recv()
            except (EOFError, OSError) as exc:
                # Killed for memory (or by its CPU limit) before it could say anything.
                raise SheetError("memory") from exc
        finally:
            if process.is_alive():
                process.kill()
            process.join()
            receiving.close()
    if outcome[0] == "ok":
        sheet: Sheet = outcome[1]
        return sheet
    raise SheetError(outcome[1], **outcome[2])


async def read_file(content: bytes, words: dict[str, frozenset[str]], required: tuple[str, ...]) -> Sheet:
    """Read off the event loop and out of the bot's process: other people are answered meanwhile."""
    return await asyncio.to_thread(read_apart, content, words, required, seconds=TIME_LIMIT, memory=MEMORY_LIMIT)
