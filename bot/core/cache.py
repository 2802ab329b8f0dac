"""Per-process copies of what rarely changes: people, units, chains, the bureau's settings.

Every update needs the person who sent it, and many need the chain list; reading them again
each time was a good part of an update's cost. A copy is dropped

- at once when this process writes one of the tables it came from (any INSERT, UPDATE or
  DELETE on them through the engine, the ORM's and Core's alike), and again when that
  transaction ends, so a reader that fetched the old row meanwhile cannot keep it;
- after ``ttl`` seconds in any case, which bounds how long a change made by another process
  (a second webhook process, the command line) goes unseen here.

A short lifetime was chosen over a version check per update because the check would cost a
statement on every update, the very thing the cache saves, while people, units and chains
change a few times a day and a few seconds' delay in another process is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

# The tables each kind of copy is made of: a write to any of them drops the copies.
WATCHED: dict[str, frozenset[str]] = {
    "member": frozenset({"user", "unit"}),
    "unit": frozenset({"unit"}),
    "chain": frozenset({"chain"}),
    "setting": frozenset({"setting"}),
}
TTL = 5.0
_MISSING = object()


class Cache:
    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, dict[Hashable, tuple[float, Any]]] = {name: {} for name in WATCHED}
        # Bumped on every drop: a copy read before a drop is not kept after it.
        self.generation = 0

    def get(self, name: str, key: Hashable) -> Any:
        """The copy, or ``MISSING`` (compare with :func:`missing`)."""
        found = self._entries[name].get(key)
        if found is None:
            return _MISSING
        at, value = found
        if self.clock() - at > self.ttl:
            del self._entries[name][key]
            return _MISSING
        return value

    def put(self, name: str, key: Hashable, value: Any, generation: int) -> None:
        """Keep ``value`` unless something it was read from changed since ``generation``."""
        if generation == self.generation:
            self._entries[name][key] = (self.clock(), value)

    def drop(self, tables: Iterable[str] | None = None) -> None:
        """Drop the copies made of ``tables`` (all of them: ``None``)."""
        self.generation += 1
        touched = None if tables is None else set(tables)
        for name, made_of in WATCHED.items():
            if touched is None or made_of & touched:
                self._entries[name].clear()

    def watch(self, engine: Engine) -> None:
        """Drop copies whenever this engine writes their tables, and again when that ends."""
        watched = frozenset().union(*WATCHED.values())
        pending = "investbot_cache_tables"

        def written(
            conn: Connection, _cursor: object, statement: str, _params: object, context: Any, _many: bool
        ) -> None:
            if context is None or not (context.isinsert or context.isupdate or context.isdelete):
                if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE") and context is not None:
                    # Hand-written SQL: which table is not worth parsing out.
                    self.drop()
                    conn.info.setdefault(pending, set()).update(watched)
                return
            table = getattr(getattr(context.compiled, "statement", None), "table", None)
            name = getattr(table, "name", None)
            if name is None or name in watched:
                self.drop(None if name is None else (name,))
                conn.info.setdefault(pending, set()).update(watched if name is None else {name})

        def ended(conn: Connection) -> None:
            try:
                tables = conn.info.pop(pending, None)
            except Exception:
                # A connection lost mid-transaction (its info is out of reach): forget everything.
                self.drop()
                return
            if tables:
                self.drop(tables)

        event.listen(engine, "before_cursor_execute", written)
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)


def missing(value: Any) -> bool:
    return value is _MISSING
