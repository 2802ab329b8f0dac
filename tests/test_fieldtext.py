"""Visits, projects and progress typed as one message: what each reader takes, and what it leaves."""

from __future__ import annotations

from datetime import date

from services.fieldtext import parse_progress_text, parse_project_text, parse_visit_text
from services.freetext import ChainHint

TODAY = date(2026, 11, 28)
STAGES = {"首谈": "first_talk", "洽谈": "negotiation", "签约": "signed", "开工": "started", "投产": "operating"}
CHAINS = [ChainHint(1, ("新能源", "储能", "光伏")), ChainHint(2, ("文旅", "旅游"))]


def test_a_visit_in_one_message() -> None:
    guess = parse_visit_text("宁德时代 今天 谈了储能基地落地 下一步邀请来张掖考察 两周后跟进", TODAY)
    assert guess.enterprise == "宁德时代" and guess.visit_date == TODAY
    assert guess.outcome == "谈了储能基地落地" and guess.next_step == "邀请来张掖考察"
    assert guess.follow_up == date(2026, 12, 12)


def test_a_visit_follow_up_counts_from_the_visit_and_takes_days() -> None:
    guess = parse_visit_text("比亚迪 11-20 有意向 10天后跟进", TODAY)
    assert guess.visit_date == date(2026, 11, 20) and guess.follow_up == date(2026, 11, 30)
    assert guess.outcome == "有意向" and guess.next_step is None
    guess = parse_visit_text("比亚迪 谈了电池 12-10跟进", TODAY)
    assert guess.follow_up == date(2026, 12, 10) and guess.visit_date is None and guess.outcome == "谈了电池"


def test_a_visit_with_only_the_enterprise_leaves_the_rest() -> None:
    guess = parse_visit_text("隆基绿能", TODAY)
    assert guess.enterprise == "隆基绿能" and guess.outcome is None and guess.follow_up is None
    assert parse_visit_text("", TODAY).enterprise is None


def test_a_project_in_one_message() -> None:
    guess = parse_project_text("宁德时代 储能电池基地 投资20亿 新能源 洽谈", CHAINS, STAGES)
    assert guess.enterprise == "宁德时代" and guess.name == "储能电池基地"
    assert guess.amount_yuan == 2_000_000_000 and guess.chain_id == 1 and guess.stage == "negotiation"
    bare = parse_project_text("比亚迪", CHAINS, STAGES)
    assert bare.enterprise == "比亚迪" and bare.name is None and bare.amount_yuan is None and bare.stage is None


def test_progress_in_one_message() -> None:
    guess = parse_progress_text("12 签约 到位3亿", STAGES)
    assert (guess.project_id, guess.stage, guess.funds_yuan, guess.planned_yuan) == (12, "signed", 300_000_000, None)
    assert guess.note is None and guess.unreadable is None
    guess = parse_progress_text("#7 计划投资5亿 企业董事会已通过", STAGES)
    assert (guess.project_id, guess.planned_yuan, guess.note) == (7, 500_000_000, "企业董事会已通过")
    assert parse_progress_text("12 到位很多", STAGES).unreadable == "很多"
    assert parse_progress_text("12 企业计划扩产", STAGES).note == "企业计划扩产"
    english = parse_progress_text("12 signed funds 300 million", {"signed": "signed"})
    assert (english.stage, english.funds_yuan, english.note) == ("signed", 300_000_000, None)
