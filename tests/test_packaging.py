"""The Docker image and compose file, checked without Docker.

Docker does not run here, so the image's steps are checked the cheap way that still
catches real mistakes: the files the Dockerfile copies are enough to migrate, seed and
pass the health check (run from a copy holding nothing else); the install is the
Makefile's; every variable compose sets is one the bot reads; the health check and the
command are real CLI commands; the user is not root.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from bot.cli import build_parser
from bot.core.config import Settings

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = {
    "BOT_TOKEN",
    "BOT_FRAMEWORK",
    "BOT_API_SERVER",
    "DATABASE_URL",
    "BOT_ADMIN_IDS",
    "TIMEZONE",
    "DEFAULT_LOCALE",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    steps = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            steps.append((instruction.upper(), " ".join(rest.split())))
    return steps


def args_of(instruction: str) -> list[str]:
    return [rest for name, rest in dockerfile() if name == instruction]


def exec_form(rest: str) -> list[str]:
    import json

    return list(json.loads(rest))


def settings_variables() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def test_compose_sets_only_variables_the_bot_reads() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    env = set(bot["environment"])
    assert env <= settings_variables(), env - settings_variables()
    assert env >= CONTRACT
    # The database URL points at the compose PostgreSQL with its user and database.
    postgres = compose["services"]["postgres"]
    url = bot["environment"]["DATABASE_URL"]
    user, db = postgres["environment"]["POSTGRES_USER"], postgres["environment"]["POSTGRES_DB"]
    assert url.startswith(f"postgresql://{user}:") and url.endswith(f"@postgres:5432/{db}")
    assert postgres["image"] == "postgres:16"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert str(bot["environment"]["WEBHOOK_PORT"]) in {p.split(":")[-1] for p in bot["ports"]}


def test_dockerfile_env_is_read_by_the_bot() -> None:
    for rest in args_of("ENV"):
        for name in re.findall(r"([A-Z_]+)=", rest):
            assert name in settings_variables() or name.startswith(("PYTHON", "PIP_")), name


def test_dockerfile_shape() -> None:
    steps = dockerfile()
    names = [name for name, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    apt = " ".join(args_of("RUN"))
    assert "postgresql-client" in apt
    # Chinese chart labels need no system font: the font comes with the Python install.
    assert "fonts-noto-cjk" not in apt
    # Not root at run time, and only after everything is installed.
    [user] = args_of("USER")
    assert user not in ("root", "0")
    assert names.index("USER") > max(i for i, (n, r) in enumerate(steps) if n == "RUN")
    assert names.index("USER") < names.index("CMD")
    # The health check and the command are commands the CLI has.
    parser = build_parser()
    [healthcheck] = args_of("HEALTHCHECK")
    probe = exec_form(healthcheck.split(" CMD ", 1)[1])
    assert probe == ["investbot", "health"]
    assert parser.parse_args(probe[1:]).command == "health"
    [cmd] = args_of("CMD")
    assert exec_form(cmd) == ["investbot", "run"]
    assert parser.parse_args(["run"]).command == "run"


def pip_install(command: str) -> list[str]:
    """The arguments of a ``pip install`` after its options, extras dropped: what gets installed."""
    words = shlex.split(command)
    words = words[words.index("install") + 1 :]
    targets = [w for w in words if not w.startswith("--") or w == "-e"]
    return [re.sub(r"\[.*\]$", "", w) for w in targets]


def test_the_image_installs_the_project_as_make_does() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    [make_line] = [line for line in makefile.splitlines() if "pip install" in line and "-e" in line]
    [image_line] = [rest for rest in args_of("RUN") if "pip install" in rest]
    assert pip_install(image_line) == pip_install(make_line) == ["-e", "."]


def copied_paths() -> list[str]:
    sources: list[str] = []
    for rest in args_of("COPY"):
        *src, _dest = rest.split()
        sources += [s.rstrip("/") for s in src]
    return sources


def test_the_image_holds_every_package_and_the_dockerignore_keeps_secrets_out() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(copied_paths())
    assert packages <= copied
    assert {"pyproject.toml", "README.md", "alembic.ini", "locales", "migrations", "seed"} <= copied
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    }
    assert {".env", ".git", ".venv", "data"} <= ignored
    assert not copied & ignored


def test_the_copied_files_are_enough_to_start(tmp_path: Path) -> None:
    """Lay out /app as the COPY steps do, and migrate, seed and pass the health check there."""
    app = tmp_path / "app"
    app.mkdir()
    for source in copied_paths():
        src = ROOT / source
        if src.is_dir():
            shutil.copytree(src, app / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, app / source)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(app),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'investbot.sqlite3'}",
        "BACKUP_DIR": str(tmp_path / "backups"),
    }

    def investbot(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=app, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run(
        [sys.executable, "-c", "import bot, bot.core.i18n as i; print(bot.__file__, len(i.catalog('zh')) > 0)"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(app)) and where.strip().endswith("True")
    assert "database at revision" in investbot("migrate")
    assert "units +" in investbot("seed")
    assert '"ok": true' in investbot("health")
    assert "backup written to" in investbot("backup")
    assert list((tmp_path / "backups").iterdir())
