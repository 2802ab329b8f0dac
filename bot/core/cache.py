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
                # Hand-written SQL (the delivery pace writes its row on every send): only a
                # write to a watched table, or one whose table cannot be read, drops copies.
                written_to = _written_table(statement) if context is not None else None
                if written_to == "" or written_to in watched:
                    self.drop(None if not written_to else (written_to,))
                    conn.info.setdefault(pending, set()).update({written_to} if written_to else watched)
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


_WRITES = {"INSERT": "INTO", "UPDATE": "", "DELETE": "FROM"}


def _written_table(statement: str) -> str | None:
    """The table a hand-written INSERT, UPDATE or DELETE writes ("": one it cannot tell);
    ``None`` for anything else."""
    words = statement.split(None, 3)
    verb = words[0].upper() if words else ""
    if verb == "WITH":
        # A write behind a CTE: which table is not worth reading out.
        upper = statement.upper()
        return "" if any(f"{w} " in upper for w in _WRITES) else None
    if verb not in _WRITES:
        return None
    if _WRITES[verb]:
        if len(words) < 3 or words[1].upper() != _WRITES[verb]:
            return ""
        name = words[2]
    else:
        name = words[1] if len(words) > 1 else ""
    name = name.split("(", 1)[0].strip('"`').lower()
    # A schema-qualified name, a CTE or a keyword (UPDATE OR REPLACE): not worth reading further.
    return name if name.isidentifier() and name not in ("or", "only") else ""


def missing(value: Any) -> bool:
    return value is _MISSING
