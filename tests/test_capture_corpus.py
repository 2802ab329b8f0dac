"""Pasted and forwarded texts, shape by shape: each entry of the corpus reads as its answer says."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.freetext import YUAN, ChainHint, parse_lead_text
from services.seed import read_seed

CORPUS = Path(__file__).parent / "corpus" / "lead_texts.toml"
RATES = {"USD": Decimal("7.1"), "HKD": Decimal("0.91"), "EUR": Decimal("7.8")}


def _entries() -> dict[str, list[dict[str, Any]]]:
    with CORPUS.open("rb") as fh:
        entries = tomllib.load(fh)["text"]
    by_shape: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        by_shape[entry["shape"]].append(entry)
    return by_shape


SHAPES = _entries()
CHAINS = read_seed()["chains"]
HINTS = [ChainHint(i, (c["name_zh"], c["name_en"], *c["keywords"])) for i, c in enumerate(CHAINS, start=1)]
CODES = {i: c["code"] for i, c in enumerate(CHAINS, start=1)}


def read(entry: dict[str, Any]) -> dict[str, object]:
    guess = parse_lead_text(entry["text"], HINTS, rates=RATES)
    amount = guess.amount_original if guess.currency != YUAN else guess.amount_yuan
    return {
        "enterprise": guess.enterprise or "",
        "amount": amount or 0,
        "currency": guess.currency if amount else YUAN,
        "approximate": guess.approximate,
        "chain": CODES.get(guess.chain_id or 0, ""),
    }


def expected(entry: dict[str, Any]) -> dict[str, object]:
    return {
        "enterprise": entry["enterprise"],
        "amount": entry["amount"],
        "currency": entry.get("currency", YUAN) if entry["amount"] else YUAN,
        "approximate": bool(entry.get("approximate", False)),
        "chain": entry["chain"],
    }


def test_the_corpus_is_large_enough_and_covers_every_shape() -> None:
    assert sum(len(group) for group in SHAPES.values()) >= 100
    assert set(SHAPES) >= {
        "typed", "date", "dateline", "opening", "government", "particle", "stock", "no_investor",
        "currency", "not_investment", "total", "phases", "bound", "chain", "subject",
    }  # fmt: skip


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_shape_reads_as_a_reader_would(shape: str) -> None:
    misses = [(e["text"], read(e), expected(e)) for e in SHAPES[shape] if read(e) != expected(e)]
    assert misses == []


def test_a_foreign_amount_is_converted_at_the_rate_given() -> None:
    guess = parse_lead_text("韩国晓星集团拟投资2亿美元建设高性能碳纤维项目。", HINTS, rates=RATES)
    assert (guess.currency, guess.amount_original, guess.amount_yuan) == ("USD", 200_000_000, 1_420_000_000)


def test_a_currency_without_a_rate_keeps_the_amount_but_no_yuan() -> None:
    guess = parse_lead_text("某某集团拟投资3亿日元", HINTS, rates=RATES)
    assert (guess.currency, guess.amount_original, guess.amount_yuan) == ("JPY", 300_000_000, None)


def test_no_keyword_in_one_chain_is_inside_a_keyword_of_another() -> None:
    words = [(c["code"], w) for c in CHAINS for w in (c["name_zh"], *c["keywords"])]
    clashes = [(a, w, b, v) for a, w in words for b, v in words if a != b and w in v]
    assert clashes == []
