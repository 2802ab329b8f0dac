"""Visits, projects and progress typed as one message on the road.

``/visit 宁德时代 今天 谈了储能基地落地 下一步邀请来张掖考察 两周后跟进``
    the enterprise is the first token; a token that is a day (今天, 11-20, 11月20日) is the
    visit's date; ``<n>天/周/个月后(跟进)`` or ``<day>跟进`` the follow-up; ``下一步…`` the next
    step; whatever is left is the outcome.
``/project 宁德时代 储能电池基地 投资20亿 新能源 洽谈``
    the enterprise is the first token, the amount and chain are read as a lead's are, a
    token naming a stage is the stage; whatever is left is the project's name.
``/progress 12 签约 到位3亿 备注…`` (``/progress 12 signed funds 300 million``)
    the project's number, a stage, ``到位<amount>`` (``funds``) the funds in place now,
    ``计划投资<amount>`` (``planned``) the planned investment; whatever is left is a note
    (so "企业计划扩产" stays a note).

Each reader only fills what it finds; the conversation asks for the rest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.dates import InvalidDate, parse_day
from services.freetext import ChainHint, parse_lead_text
from services.money import InvalidMoney, find_all_money, parse_money

_NUMERALS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_UNIT_DAYS = {"天": 1, "日": 1, "周": 7, "星期": 7, "个月": 30, "月": 30}
_RE_RELATIVE = re.compile(
    r"(?P<n>\d{1,3}|[一两二三四五六七八九十]{1,2})\s*(?P<unit>天|日|周|星期|个月|月)(?:之?后|以后)\s*(?:再?跟进|回访|联系)?"
)
_RE_DAY_THEN = re.compile(r"(?P<day>\S+?)\s*(?:再?跟进|回访)")
_RE_NEXT = re.compile(r"下一步[:：,，]?\s*")
_RE_TOKEN = re.compile(r"[^\s,，、;；。]+")


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_RE_TOKEN.finditer(text))


def _number(raw: str) -> int | None:
    if raw.isdigit():
        return int(raw)
    if raw == "十":
        return 10
    if len(raw) == 2 and raw[0] == "十":
        return 10 + _NUMERALS.get(raw[1], 0)
    if len(raw) == 2 and raw[1] == "十":
        return _NUMERALS.get(raw[0], 0) * 10
    return _NUMERALS.get(raw)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(" ,，、;；。")


@dataclass(frozen=True)
class VisitGuess:
    enterprise: str | None
    visit_date: date | None
    follow_up: date | None  # counted from the visit's date when it says "in n days"
    next_step: str | None
    outcome: str | None


def parse_visit_text(text: str, today: date) -> VisitGuess:
    """What one message says about a visit; what it does not say is ``None``."""
    work = unicodedata.normalize("NFKC", text)
    follow_in: int | None = None
    follow_on: date | None = None
    if match := _RE_RELATIVE.search(work):
        number = _number(match["n"])
        if number:
            follow_in = number * _UNIT_DAYS[match["unit"]]
            work = _blank(work, *match.span())
    else:
        for match in _RE_DAY_THEN.finditer(work):
            try:
                follow_on = parse_day(match["day"], today)
            except InvalidDate:
                continue
            work = _blank(work, *match.span())
            break

    next_step: str | None = None
    if match := _RE_NEXT.search(work):
        next_step = _tidy(work[match.end() :]) or None
        work = work[: match.start()]

    tokens = _tokens(work)
    enterprise: str | None = None
    if tokens:
        enterprise = tokens[0][0]
        work = _blank(work, *tokens[0].span())
    visit_date: date | None = None
    for token in _tokens(work):
        try:
            visit_date = parse_day(token[0], today)
        except InvalidDate:
            continue
        work = _blank(work, *token.span())
        break

    follow_up = follow_on
    if follow_in is not None:
        follow_up = (visit_date or today) + timedelta(days=follow_in)
    return VisitGuess(enterprise, visit_date, follow_up, next_step, _tidy(work) or None)


@dataclass(frozen=True)
class ProjectGuess:
    enterprise: str | None
    credit_code: str | None
    name: str | None
    amount_yuan: int | None
    chain_id: int | None
    stage: str | None


def _stage_in(text: str, stages: Mapping[str, str]) -> tuple[str | None, str]:
    """The stage a token names (``stages``: word → stage value), and the text without it."""
    for token in _tokens(text):
        word = token[0].casefold()
        if word in stages:
            return stages[word], _blank(text, *token.span())
    return None, text


def parse_project_text(text: str, chains: Sequence[ChainHint], stages: Mapping[str, str]) -> ProjectGuess:
    """What one message says about a new project; the plan a lead would have is its name."""
    stage, rest = _stage_in(unicodedata.normalize("NFKC", text), stages)
    lead = parse_lead_text(rest, chains)
    return ProjectGuess(lead.enterprise, lead.credit_code, lead.plan, lead.amount_yuan, lead.chain_id, stage)


@dataclass(frozen=True)
class ProgressGuess:
    project_id: int | None
    stage: str | None
    funds_yuan: int | None
    planned_yuan: int | None
    note: str | None
    unreadable: str | None  # an amount after 到位/计划 that is not one: said back to the person


_RE_FUNDS = re.compile(r"(?:(?:资金)?到位(?:资金)?|\bfunds(?: in place)?)[:：=]?\s*", re.IGNORECASE)
_RE_PLANNED = re.compile(r"(?:计划投资额?|\bplanned)[:：=]?\s*", re.IGNORECASE)


def _amount_after(text: str, marker: re.Pattern[str]) -> tuple[int | None, str | None, str]:
    """The amount introduced by ``marker``: (yuan, unreadable text, the text without either)."""
    match = marker.search(text)
    if match is None:
        return None, None, text
    found = [m for m in find_all_money(text) if m[1][0] == match.end()]
    if found:
        yuan, (_start, end) = found[0]
        return yuan, None, _blank(text, match.start(), end)
    token = re.match(r"[^\s,，、;；]+", text[match.end() :])
    raw = token[0] if token else ""
    try:
        return parse_money(raw), None, _blank(text, match.start(), match.end() + len(raw))
    except InvalidMoney:
        return None, raw or None, _blank(text, match.start(), match.end() + len(raw))


def parse_progress_text(text: str, stages: Mapping[str, str]) -> ProgressGuess:
    """What ``/progress 12 签约 到位3亿`` asks to record."""
    work = unicodedata.normalize("NFKC", text)
    project_id: int | None = None
    tokens = _tokens(work)
    if tokens and tokens[0][0].lstrip("#").isdigit():
        project_id = int(tokens[0][0].lstrip("#"))
        work = _blank(work, *tokens[0].span())
    funds, bad_funds, work = _amount_after(work, _RE_FUNDS)
    planned, bad_planned, work = _amount_after(work, _RE_PLANNED)
    stage, work = _stage_in(work, stages)
    return ProgressGuess(project_id, stage, funds, planned, _tidy(work) or None, bad_funds or bad_planned)
