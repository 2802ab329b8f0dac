"""Reading a spreadsheet in a process of its own, with a memory and a time limit.

A hostile or careless file (a million rows, a zip bomb) must not take the bot down with it
or hold up everyone else: the reading runs in a child process whose address space is capped
(``RLIMIT_AS``) and which is killed when it runs past its time; the bot's event loop only
waits on a thread meanwhile. The time counted is the processor time the reading itself
spent, not the clock: on a busy machine a normal 2,000-row file waits for a core several
times longer than it works, and must not be refused for that; a file that really is too
much work is still stopped after ``TIME_LIMIT`` seconds of it (about as many on the clock
when the machine is idle, within issue 11's 15 s). The clock only stops a reading that
neither works nor ends (``WALL_LIMIT``). One file is read at a time — the machine has two cores, and
the bot needs one. Children come from a fork server that has the reader already imported,
so each file costs a fork, not a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from services.imports.read import Sheet, SheetError, read

#: Processor seconds a file may take to read.
TIME_LIMIT = 10.0
#: Seconds on the clock after which a reading is stopped however little it worked.
WALL_LIMIT = 120.0
#: How often the parent looks at the reader's processor time.
_LOOK = 0.05
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


def _cpu_seconds(pid: int) -> float | None:
    """Processor seconds (user and system) process ``pid`` has spent; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name (field 2) may hold spaces; the fields after it are plain.
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


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
    wall: float = WALL_LIMIT,
) -> Sheet:
    """``read`` in a child process; ``SheetError`` ``too_slow`` or ``memory`` when it overruns.

    ``seconds`` counts the child's processor time where the system tells it (Linux), else
    the clock.
    """
    with _ONE_AT_A_TIME:
        mp = _mp()
        receiving, sending = mp.Pipe(duplex=False)
        process = mp.Process(target=_child, args=(sending, content, words, required, memory), daemon=True)
        process.start()
        sending.close()
        try:
            started = time.monotonic()
            while True:
                took = time.monotonic() - started
                used = _cpu_seconds(process.pid) if process.pid is not None else None
                if (took if used is None else used) >= seconds or took >= wall:
                    raise SheetError("too_slow", seconds=round(seconds))
                if receiving.poll(_LOOK):
                    break
            try:
                outcome = receiving.recv()
            except (EOFError, OSError) as exc:
                process.join(1.0)
                if process.exitcode == -signal.SIGXCPU:
                    # Stopped by its own processor limit, the backstop of the parent's.
                    raise SheetError("too_slow", seconds=round(seconds)) from exc
                # Killed for memory before it could say anything.
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
