"""The command line: migrate and seed on a fresh database, as an operator would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def investbot(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin", "HOME": str(db.parent)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_migrate_then_seed_twice(tmp_path: Path) -> None:
    db = tmp_path / "cli.sqlite3"
    migrated = investbot("migrate", db=db)
    assert migrated.returncode == 0, migrated.stderr
    assert "revision" in migrated.stdout
    first = investbot("seed", "--demo", db=db)
    assert first.returncode == 0, first.stderr
    assert "units +25" in first.stdout and "approval kinds +6" in first.stdout and "demo people +8" in first.stdout
    again = investbot("seed", "--demo", db=db)
    assert "units +0, chains +0, targets +0, settings +0" in again.stdout and "demo people +0" in again.stdout


def test_help_lists_the_commands() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "--help"], cwd=ROOT, capture_output=True, text=True)
    for command in ("run", "console", "migrate", "seed"):
        assert command in result.stdout
