"""A lead typed as one message on the road: ``宁德时代 拟在西北建储能电池基地 投资约20亿 新能源``.

What is read, in this order, each piece cut out of the text before the next is looked for:

1. a valid unified social credit code anywhere in the text;
2. the amount (``services.money``): the one introduced by 投资 if there are several,
   else the first that is not an output or revenue figure (年产值50亿), else the first;
3. the enterprise: the first token, tokens being separated by whitespace (full-width
   too), commas, 、 and ；. A code typed in that place is the enterprise. A token that is
   a chain's name or keyword is a tag, not an enterprise, and is skipped;
4. the chain whose names or keywords match best;
5. the plan: whatever is left, tidied.

Messages typed without spaces (``比亚迪拟在张掖投资5亿建电池厂``): the enterprise is the
start of the first token, up to a legal form (``…股份有限公司``) or up to the first word
that starts a plan (拟, 计划, 准备, 将, 投资, 在, 落户, 新建, 扩建 …) when at least two
characters come before it. With neither, the whole token is taken as the name — a guess
the person confirms in the next step. Cutting the amount out also splits a token, so
``比亚迪投资5亿建电池厂`` gives ``比亚迪`` and the plan ``建电池厂``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from services.credit_code import is_valid_credit_code, normalize_credit_code
from services.money import find_all_money


@dataclass(frozen=True)
class ChainHint:
    """An industry chain as the parser sees it: its names (any language) and keywords."""

    id: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class LeadGuess:
    enterprise: str | None
    credit_code: str | None
    amount_yuan: int | None
    chain_id: int | None
    plan: str | None


# One character for one character, so spans stay valid in the original text.
_HALF_WIDTH = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " "})

_SEPARATOR_CHARS = r"\s,、;:。!?"
_RE_TOKEN = re.compile(rf"[^{_SEPARATOR_CHARS}]+")
_RE_SEPARATOR_RUN = re.compile(r"[\s,，、;；:：。!！?？]+")
_RE_CODE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")

_RE_LEGAL_FORM = re.compile(r"(?:\(集团\))?(?:集团|控股)*(?:股份)?(?:有限责任公司|有限公司|股份公司|公司)|集团")
_RE_PLAN_START = re.compile(r"拟|计划|准备|打算|预计|意向|有意|将|投资|在|落户|新建|扩建|扩产|布局|欲")
_NAME_MIN = 2

_RE_INVESTMENT = re.compile(r"投资")
_RE_NOT_INVESTMENT = re.compile(r"(?:产值|营收|收入|销售额?|利润|税收|产能)\s*(?:约|达|超过?|近)?\s*$")


def _blank(text: str, span: tuple[int, int]) -> str:
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _name_length(token: str) -> int:
    """How much of the first token names the enterprise (0: none)."""
    legal = _RE_LEGAL_FORM.search(token, _NAME_MIN - 1)
    for start in _RE_PLAN_START.finditer(token):
        if legal is not None and start.start() >= legal.start():
            break
        if start.start() == 0:
            return 0
        # "XX投资有限公司" is a name, not "XX" planning to invest.
        if start.start() >= _NAME_MIN and _RE_LEGAL_FORM.match(token, start.end()) is None:
            return start.start()
    return legal.end() if legal is not None else len(token)


def _pick_amount(text: str) -> tuple[int, tuple[int, int]] | None:
    found = find_all_money(text)
    for amount in found:
        start, end = amount[1]
        if _RE_INVESTMENT.search(text, start, end):
            return amount
    for amount in found:
        if _RE_NOT_INVESTMENT.search(text, 0, amount[1][0]) is None:
            return amount
    return found[0] if found else None


def _bounded(name: str) -> re.Pattern[str]:
    """``name`` as a whole token (or run of tokens), in any case."""
    words = [re.escape(word) for word in unicodedata.normalize("NFKC", name).split()]
    separator = rf"[{_SEPARATOR_CHARS}]"
    body = r"\s+".join(words)
    return re.compile(rf"(?:^|(?<={separator})){body}(?={separator}|$)", re.IGNORECASE)


def _keyword_hits(folded: str, names: Sequence[str]) -> int:
    found = []
    for name in names:
        key = _fold(name).strip()
        if not key:
            continue
        if key.isascii():
            hit = re.search(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", folded) is not None
        else:
            hit = key in folded
        if hit:
            found.append(key)
    # 中药 inside 中药材 is one mention, not two.
    return sum(1 for key in found if not any(key != other and key in other for other in found))


def _chain_tags(text: str, chain: ChainHint) -> list[tuple[int, int]]:
    return [match.span() for name in chain.names if name.strip() for match in _bounded(name).finditer(text)]


def _guess_chain(text: str, chains: Sequence[ChainHint]) -> tuple[int | None, list[tuple[int, int]]]:
    """The best chain and the spans of its bare tags; ``None`` when nothing matches or two chains tie.

    A chain name typed as a token of its own says more than a keyword inside the plan, so
    it ranks first; keywords only decide between chains with as many tags.
    """
    folded = _fold(text)
    scored: list[tuple[tuple[int, int], ChainHint, list[tuple[int, int]]]] = []
    for chain in chains:
        tags = _chain_tags(text, chain)
        score = (len(tags), _keyword_hits(folded, chain.names))
        if score > (0, 0):
            scored.append((score, chain, tags))
    if not scored:
        return None, []
    scored.sort(key=lambda item: item[0], reverse=True)
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None, []
    return scored[0][1].id, scored[0][2]


def _is_cjk(ch: str) -> bool:
    return ch >= "\u2e80" and not ch.isspace() and unicodedata.category(ch).startswith("L")


def _cut(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` without ``spans``: a cut between two Chinese characters closes up, any other becomes a space.

    "比亚迪股份有限公司拟在张掖投资5亿建电池厂" should leave "拟在张掖建电池厂", while
    "plans 2 billion base" must not become "plansbase".
    """
    keep = [True] * len(text)
    for start, end in spans:
        keep[start:end] = [False] * (end - start)
    out: list[str] = []
    index = 0
    while index < len(text):
        if keep[index]:
            out.append(text[index])
            index += 1
            continue
        end = index
        while end < len(text) and not keep[end]:
            end += 1
        if not (index > 0 and end < len(text) and _is_cjk(text[index - 1]) and _is_cjk(text[end])):
            out.append(" ")
        index = end
    return "".join(out)


def _tidy(text: str) -> str | None:
    def one(match: re.Match[str]) -> str:
        marks = [ch for ch in match[0] if not ch.isspace()]
        return marks[0] if marks else " "

    tidy = _RE_SEPARATOR_RUN.sub(one, text)
    tidy = re.sub(r"^[\s,，、;；:：]+|[\s,，、;；:：]+$", "", tidy)
    return tidy or None


def parse_lead_text(text: str, chains: Sequence[ChainHint]) -> LeadGuess:
    """Whatever one message says about a lead; fields it does not say are ``None``."""
    work = text.translate(_HALF_WIDTH)
    removed: list[tuple[int, int]] = []

    credit_code: str | None = None
    code_span: tuple[int, int] | None = None
    for match in _RE_CODE.finditer(work):
        if is_valid_credit_code(match[0]):
            credit_code, code_span = normalize_credit_code(match[0]), match.span()
            removed.append(code_span)
            work = _blank(work, code_span)
            break

    amount_yuan: int | None = None
    picked = _pick_amount(work)
    if picked is not None:
        amount_yuan, span = picked
        removed.append(span)
        work = _blank(work, span)

    bare_tags = {_fold(name) for chain in chains for name in chain.names if name.strip()}
    enterprise: str | None = None
    first = next((m for m in _RE_TOKEN.finditer(work) if _fold(m[0]) not in bare_tags), None)
    if code_span is not None and (first is None or code_span[0] < first.start()):
        enterprise = credit_code
    elif first is not None:
        length = _name_length(first[0])
        if length:
            span = (first.start(), first.start() + length)
            enterprise = text[span[0] : span[1]].strip()
            removed.append(span)
            work = _blank(work, span)

    chain_id, tags = _guess_chain(work, chains)
    removed.extend(tags)

    plan = _cut(text, removed)
    return LeadGuess(
        enterprise=enterprise or None,
        credit_code=credit_code,
        amount_yuan=amount_yuan,
        chain_id=chain_id,
        plan=_tidy(plan),
    )
