from __future__ import annotations

import pytest

from services.freetext import ChainHint, LeadGuess, parse_lead_text

NEW_ENERGY = ChainHint(1, ("新能源", "New energy", "光伏", "风电", "光热", "储能", "氢能", "电池", "逆变器"))
NEW_MATERIALS = ChainHint(2, ("新材料", "New materials", "硅材料", "石墨", "碳纤维", "合金"))
DIGITAL = ChainHint(3, ("数字经济", "Digital economy", "数据中心", "算力", "大数据"))
FINANCE = ChainHint(4, ("金融服务", "Financial services", "金融", "银行"))
DAIRY = ChainHint(5, ("奶业", "Dairy", "奶牛", "乳业", "牧场"))
CHAINS = (NEW_ENERGY, NEW_MATERIALS, DIGITAL, FINANCE, DAIRY)

BYD_CODE = "91440300192317458F"


def parse(text: str) -> LeadGuess:
    return parse_lead_text(text, CHAINS)


def test_the_example_lead() -> None:
    assert parse("宁德时代 拟在西北建储能电池基地 投资约20亿 新能源") == LeadGuess(
        enterprise="宁德时代",
        credit_code=None,
        amount_yuan=2_000_000_000,
        chain_id=1,
        plan="拟在西北建储能电池基地",
    )


@pytest.mark.parametrize(
    "text",
    [
        "宁德时代，拟在西北建储能电池基地，投资约20亿，新能源",
        "宁德时代,拟在西北建储能电池基地,投资约20亿,新能源",
        "宁德时代\u3000拟在西北建储能电池基地\u3000投资约２０亿\u3000新能源",
        "宁德时代、拟在西北建储能电池基地；投资约20亿；新能源",
        "  宁德时代   拟在西北建储能电池基地\n投资约20亿元左右  新能源  ",
    ],
)
def test_separators(text: str) -> None:
    guess = parse(text)
    assert guess.enterprise == "宁德时代"
    assert guess.amount_yuan == 2_000_000_000
    assert guess.chain_id == 1
    assert guess.plan == "拟在西北建储能电池基地"


def test_no_spaces_the_amount_splits_name_from_plan() -> None:
    assert parse("比亚迪投资5亿建电池厂") == LeadGuess("比亚迪", None, 500_000_000, 1, "建电池厂")


def test_no_spaces_a_plan_word_ends_the_name() -> None:
    guess = parse("比亚迪拟在张掖建电池厂")
    assert guess.enterprise == "比亚迪"
    assert guess.plan == "拟在张掖建电池厂"
    assert guess.amount_yuan is None


def test_no_spaces_a_legal_form_ends_the_name() -> None:
    guess = parse("比亚迪股份有限公司拟在张掖投资5亿建电池厂")
    assert guess.enterprise == "比亚迪股份有限公司"
    assert guess.amount_yuan == 500_000_000
    # The cut between two Chinese characters closes up.
    assert guess.plan == "拟在张掖建电池厂"


def test_investment_in_a_company_name_is_not_a_plan_word() -> None:
    guess = parse("华信投资有限公司拟建储能电站")
    assert guess.enterprise == "华信投资有限公司"
    assert guess.plan == "拟建储能电站"


def test_a_legal_form_inside_the_plan_does_not_stretch_the_name() -> None:
    guess = parse("比亚迪拟与当地公司合资建厂")
    assert guess.enterprise == "比亚迪"
    assert guess.plan == "拟与当地公司合资建厂"


def test_a_message_that_starts_with_the_plan_names_no_enterprise() -> None:
    guess = parse("在张掖建电池厂 投资5亿")
    assert guess.enterprise is None
    assert guess.amount_yuan == 500_000_000
    assert guess.plan == "在张掖建电池厂"


def test_only_a_name() -> None:
    assert parse("比亚迪") == LeadGuess("比亚迪", None, None, None, None)
    assert parse("  比亚迪股份有限公司 ") == LeadGuess("比亚迪股份有限公司", None, None, None, None)


def test_nothing() -> None:
    empty = LeadGuess(None, None, None, None, None)
    assert parse("") == empty
    assert parse(" \u3000 ") == empty


def test_credit_code_in_place_of_the_name() -> None:
    assert parse(f"{BYD_CODE} 拟扩建电池厂 5亿") == LeadGuess(BYD_CODE, BYD_CODE, 500_000_000, 1, "拟扩建电池厂")


def test_credit_code_elsewhere_fills_the_code_and_leaves_the_name() -> None:
    guess = parse(f"比亚迪 扩建电池厂 {BYD_CODE.lower()} 3000万元")
    assert guess.enterprise == "比亚迪"
    assert guess.credit_code == BYD_CODE
    assert guess.amount_yuan == 30_000_000
    assert guess.plan == "扩建电池厂"


def test_credit_code_typed_full_width() -> None:
    wide = "".join(chr(ord(ch) + 0xFEE0) for ch in BYD_CODE)
    guess = parse(f"比亚迪 {wide}")
    assert guess.credit_code == BYD_CODE
    assert guess.enterprise == "比亚迪"
    assert guess.plan is None


def test_an_invalid_code_is_not_taken() -> None:
    guess = parse("比亚迪 91440300192317458A 扩建")
    assert guess.credit_code is None
    assert guess.enterprise == "比亚迪"
    assert guess.plan == "91440300192317458A 扩建"


def test_the_digits_of_a_code_are_not_an_amount() -> None:
    assert parse(f"{BYD_CODE} 扩建").amount_yuan is None
    assert parse("91440300192317458A 扩建").amount_yuan is None


# -- chain ----------------------------------------------------------------------------------
def test_a_chain_token_beats_keywords_in_the_plan() -> None:
    # Two new-energy keywords in the plan, but the person tagged the lead 新材料.
    guess = parse("贝特瑞 拟建储能电池负极材料基地 新材料")
    assert guess.chain_id == 2
    assert guess.plan == "拟建储能电池负极材料基地"


def test_keywords_decide_when_no_chain_is_named() -> None:
    assert parse("蒙牛 拟在山丹建万头奶牛牧场").chain_id == 5
    assert parse("宁德时代 拟建储能电池基地").chain_id == 1


def test_more_keywords_win() -> None:
    # 储能 and 电池 (new energy) against 石墨 (new materials).
    assert parse("某企业 拟建石墨储能电池项目").chain_id == 1


def test_a_tie_goes_to_the_strongest_mention_and_keeps_the_tags() -> None:
    # One tag each: 新材料 is the chain's own name, 光伏 only a keyword of new energy.
    guess = parse("隆基绿能 光伏 新材料 硅片项目")
    assert guess.chain_id == 2
    assert guess.plan == "光伏 硅片项目"


def test_a_tie_of_equal_mentions_goes_to_the_earliest() -> None:
    assert parse("某企业 拟建石墨电池项目").chain_id == 2
    assert parse("某企业 拟建电池石墨项目").chain_id == 1


def test_the_enterprise_name_does_not_pick_the_chain() -> None:
    guess = parse("中国银行 拟在张掖设立数据中心")
    assert guess.enterprise == "中国银行"
    assert guess.chain_id == 3


def test_a_chain_tag_before_the_name_is_not_the_name() -> None:
    guess = parse("新能源 宁德时代 拟建基地")
    assert guess.enterprise == "宁德时代"
    assert guess.chain_id == 1
    assert guess.plan == "拟建基地"


def test_english_chain_names_of_several_words() -> None:
    guess = parse("CATL plans a battery base 2 billion new energy")
    assert guess.enterprise == "CATL"
    assert guess.amount_yuan == 2_000_000_000
    assert guess.chain_id == 1
    assert guess.plan == "plans a battery base"


def test_a_keyword_inside_a_longer_latin_word_does_not_count() -> None:
    chains = (ChainHint(7, ("Digital economy", "AI")),)
    assert parse_lead_text("Acme SAIC parts plant", chains).chain_id is None
    assert parse_lead_text("Acme AI parts plant", chains).chain_id == 7


def test_no_chains_known() -> None:
    guess = parse_lead_text("宁德时代 拟建储能电池基地 新能源", [])
    assert guess.chain_id is None
    assert guess.plan == "拟建储能电池基地 新能源"


# -- amount ---------------------------------------------------------------------------------
def test_the_investment_amount_is_preferred_over_output() -> None:
    guess = parse("宁德时代 达产后年产值50亿 投资20亿 储能")
    assert guess.amount_yuan == 2_000_000_000
    assert guess.plan == "达产后年产值50亿"


def test_an_output_figure_is_skipped_when_another_amount_exists() -> None:
    assert parse("某企业 年产值50亿 项目3亿元").amount_yuan == 300_000_000


def test_quantities_are_not_amounts() -> None:
    guess = parse("伊利 拟建3期牧场 存栏2万头")
    assert guess.amount_yuan is None
    assert guess.plan == "拟建3期牧场 存栏2万头"
    assert guess.chain_id == 5


def test_signing_is_not_an_approximation() -> None:
    guess = parse("比亚迪 签约5亿元项目")
    assert guess.amount_yuan == 500_000_000
    assert guess.plan == "签约项目"


# -- names that begin like a plan or a particle -------------------------------------------------
@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("同仁堂 拟建中药饮片厂", "同仁堂"),
        ("和林格尔乳业 拟建液态奶工厂", "和林格尔乳业"),
        ("同方股份有限公司拟建数据中心", "同方股份有限公司"),
        ("想念食品拟建挂面厂 1亿", "想念食品"),
        ("要发集团拟建物流园", "要发集团"),
        ("3M 拟建新材料工厂", "3M"),
        ("58同城 拟设客服中心", "58同城"),
        ("Tesla Inc. plans a storage plant", "Tesla Inc."),
    ],
)
def test_a_name_that_begins_like_a_particle_or_a_plan_is_kept_whole(text: str, name: str) -> None:
    assert parse(text).enterprise == name


@pytest.mark.parametrize(
    "text", ["想在张掖建个冷库 1亿", "已在张掖建厂", "2万吨蔬菜项目 1亿", "在张掖建电池厂 投资5亿"]
)
def test_a_plan_without_an_investor_names_none(text: str) -> None:
    assert parse(text).enterprise is None
