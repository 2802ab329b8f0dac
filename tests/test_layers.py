"""The layers stand on each other one way: models ← bot.core ← services ← handlers ← runtime.

The runtime is the rest of ``bot/`` (router, delivery, scheduler, adapters, CLI, web). A module
may import its own layer and the ones below it, never one above, so that a newcomer can read
the project from the bottom up and a lower layer can be tested without the higher ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("models", "bot.core", "services", "handlers", "bot")

# Upward imports still to be taken out; each one named, so that a new one fails.
ALLOWED: dict[str, set[str]] = {}


def layer_of(module: str) -> int | None:
    """The index of the layer ``module`` belongs to (the most specific prefix wins)."""
    best: tuple[int, int] | None = None
    for index, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            length = len(layer)
            if best is None or length > best[0]:
                best = (length, index)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str) -> set[str]:
    """Every project module ``source`` imports, at the top, inside functions or for typing alone."""
    found: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if layer_of(name) is not None}


def sources() -> list[Path]:
    return sorted(p for top in ("models", "bot", "services", "handlers") for p in (ROOT / top).rglob("*.py"))


def upward_imports(module: str, source: str) -> set[str]:
    own = layer_of(module)
    assert own is not None
    layer = LAYERS[own]
    allowed = ALLOWED.get(layer, set())
    wrong = set()
    for name in imports_of(source):
        target = layer_of(name)
        assert target is not None
        if target > own and not any(name == a or name.startswith(a + ".") for a in allowed):
            wrong.add(name)
    return wrong


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_layer_above_its_own(path: Path) -> None:
    assert upward_imports(module_name(path), path.read_text(encoding="utf-8")) == set()


def test_the_check_sees_an_upward_import() -> None:
    assert layer_of("bot.core.db") == 1 and layer_of("bot.router") == 4 and layer_of("services.money") == 2
    # A service that reached up into the router would be caught, even behind TYPE_CHECKING or
    # inside a function; importing its own layer and the ones below is fine.
    source = (
        "from typing import TYPE_CHECKING\nfrom models import Lead\nfrom bot.core.db import Database\n"
        "if TYPE_CHECKING:\n    from bot.router import Registry\n"
        "def f():\n    import handlers.lead\n"
    )
    assert upward_imports("services.probe", source) == {"bot.router", "bot.router.Registry", "handlers.lead"}
    # Handlers stand on the base alone: the registry and the app's shape are there.
    assert upward_imports("handlers.probe", "from bot.core.registry import Registry\n") == set()
    assert upward_imports("handlers.probe", "from bot.router import Router\n") == {"bot.router", "bot.router.Router"}
    assert upward_imports("models.probe", "from bot.core import Incoming\n") == {"bot.core", "bot.core.Incoming"}
