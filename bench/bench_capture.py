"""How well one-message capture reads pasted texts: accuracy per field over the corpus.

    .venv/bin/python bench/bench_capture.py [corpus.toml] [-v]

The corpus (``tests/corpus/lead_texts.toml`` unless another is given, in the same form)
holds texts with a reader's answer each. Printed: the share right per field, per shape
of text, whether each goal of the issue is reached, and with ``-v`` every miss.
"""

from __future__ import annotations

import statistics
import sys
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.freetext import YUAN, ChainHint, parse_lead_text
from services.seed import read_seed

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "lead_texts.toml"
GOALS = {"enterprise": 0.85, "amount": 0.97, "chain": 0.90}


@dataclass(frozen=True)
class Verdict:
    shape: str
    text: str
    right: dict[str, bool]
    got: dict[str, object]
    expected: dict[str, object]


def seed_chains() -> tuple[list[ChainHint], dict[int, str]]:
    rows = read_seed()["chains"]
    hints = [
        ChainHint(index, (row["name_zh"], row.get("name_en", ""), *row.get("keywords", [])))
        for index, row in enumerate(rows, start=1)
    ]
    return hints, {index: row["code"] for index, row in enumerate(rows, start=1)}


def judge(entry: dict[str, Any], hints: list[ChainHint], codes: dict[int, str]) -> Verdict:
    guess = parse_lead_text(entry["text"], hints, rates={"USD": Decimal("7.1")})
    amount = guess.amount_original if guess.currency != YUAN else guess.amount_yuan
    got = {
        "enterprise": guess.enterprise or "",
        "amount": (amount or 0, guess.currency if amount else YUAN),
        "approximate": guess.approximate,
        "chain": codes.get(guess.chain_id or 0, ""),
    }
    expected = {
        "enterprise": entry["enterprise"],
        "amount": (entry["amount"], entry.get("currency", YUAN) if entry["amount"] else YUAN),
        "approximate": bool(entry.get("approximate", False)),
        "chain": entry["chain"],
    }
    right = {field: got[field] == expected[field] for field in got}
    return Verdict(entry["shape"], entry["text"], right, got, expected)


def main() -> None:
    args = [a for a in sys.argv[1:] if a.endswith(".toml")]
    verbose = "-v" in sys.argv
    path = Path(args[0]) if args else CORPUS
    with path.open("rb") as fh:
        entries = tomllib.load(fh)["text"]
    hints, codes = seed_chains()
    verdicts = [judge(entry, hints, codes) for entry in entries]
    total = len(verdicts)
    print(f"{total} texts from {path.name}")
    for field in ("enterprise", "amount", "approximate", "chain"):
        right = sum(v.right[field] for v in verdicts)
        goal = GOALS.get(field)
        status = "" if goal is None else ("  goal %d %% reached" if right / total >= goal else "  goal %d %% MISSED")
        print(f"  {field:<12} {right:4d} / {total}  {right / total:6.1%}" + (status % (goal * 100) if goal else ""))
    unnamed = [v for v in verdicts if not v.expected["enterprise"]]
    invented = [v for v in unnamed if v.got["enterprise"]]
    print(
        f"  no investor named: {len(unnamed)} texts, {len(invented)} given an invented one"
        + ("  goal reached" if not invented else "  goal MISSED")
    )
    by_shape: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_shape[verdict.shape].append(verdict)
    print(f"  {'shape':<15} {'texts':>5} {'enterprise':>10} {'amount':>7} {'chain':>6}")
    for shape, group in by_shape.items():
        cells = [
            f"{sum(v.right[f] for v in group):>{w}d}" for f, w in (("enterprise", 10), ("amount", 7), ("chain", 6))
        ]
        print(f"  {shape:<15} {len(group):5d} " + " ".join(cells))
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for entry in entries:
            parse_lead_text(entry["text"], hints)
        rounds.append((time.perf_counter() - started) / total * 1e6)
    spread = max(rounds) - min(rounds)
    print(f"  reading one text: median {statistics.median(rounds):.0f} µs over 5 rounds (spread {spread:.0f} µs)")
    if verbose:
        for verdict in verdicts:
            wrong = [f for f, ok in verdict.right.items() if not ok]
            if wrong:
                print(f"  MISS {wrong}: {verdict.text}")
                for field in wrong:
                    print(f"       {field}: got {verdict.got[field]!r}, expected {verdict.expected[field]!r}")


if __name__ == "__main__":
    main()
