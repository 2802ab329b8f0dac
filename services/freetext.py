"""A lead read out of one message: typed on the road, pasted from a news item, forwarded.

``宁德时代 拟在西北建储能电池基地 投资约20亿 新能源`` is typed; ``3月10日，甘肃某某新材料
有限公司与高台县签订年产5万吨负极材料项目协议，总投资18亿元。`` is pasted. Both are read
the way a person reads them:

1. **Credit code** — a valid unified social credit code anywhere.
2. **Amount** — every amount is read with its currency (美元, 港元, 欧元, USD … after or
   before the number) and the words before it. Registered capital, output, revenue,
   financing and stock codes are not investment; the total (总投资, 投资总额, 总投) wins over
   everything else; phases (一期10亿、二期20亿) are added up when no total is given; a part
   (其中, 土建投资, 设备投资) or what was done this year counts only when nothing else is
   there. 过亿, 超亿 and 近亿 read as 1亿 and, like 超10亿 or 20多亿, are marked approximate.
3. **Chain** — from the whole text before anything is cut out. A keyword found inside a
   longer keyword matched at the same place is not counted again; a mention inside the
   enterprise's own name counts half; a chain named as a word of its own (a tag) wins;
   ties go to the chain with the strongest mention (its own name, then the longest
   keyword: 锂电池负极材料 is 负极材料 before it is 电池), then to the earliest.
4. **Enterprise** — leading dates (3月10日, 17日上午), datelines (…讯, …电, 【…】) and opening
   phrases (据悉, 近日, 其中, 活动中 …) are skipped; the candidates, in order, are a name
   of the register found in the text, the first word (up to a legal form or a word that
   starts a plan), a span shaped like an organisation (…有限公司, …集团, …股份, …商会) —
   one that invests or signs (followed by 拟/将/投资/签约 …, or after 与/由/引进) before one
   only mentioned — and the subject of 拟/将/计划/投资/签约/公告. Each is trimmed of particles (与, 由, 同 …) and
   bracketed stock codes and refused when it is a government, a place, a project or an
   anonymous "一家企业". When every candidate is refused the text names no enterprise, and
   the guess says so rather than inventing one.
5. **Plan** — the text without the code, the amount, a leading enterprise and chain tags.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from services.credit_code import is_valid_credit_code, normalize_credit_code
from services.money import find_all_money

YUAN = "CNY"


@dataclass(frozen=True)
class ChainHint:
    """An industry chain as the parser sees it: its own names first (``named`` of them), then keywords."""

    id: int
    names: tuple[str, ...]
    named: int = 2


@dataclass(frozen=True)
class LeadGuess:
    enterprise: str | None
    credit_code: str | None
    amount_yuan: int | None
    chain_id: int | None
    plan: str | None
    # An amount in another currency: as written, and which (amount_yuan is then converted).
    currency: str = YUAN
    amount_original: int | None = None
    approximate: bool = False


@dataclass(frozen=True)
class Amount:
    value: int  # in the currency's own units
    currency: str
    approximate: bool
    span: tuple[int, int]
    rank: int
    phase: str | None


# One character for one character, so spans stay valid in the original text.
_HALF_WIDTH = str.maketrans({**{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}, "\u3000": " "})

_SEPARATOR_CHARS = r"\s,、;:。!?"
_RE_TOKEN = re.compile(rf"[^{_SEPARATOR_CHARS}]+")
_RE_SEPARATOR_RUN = re.compile(r"[\s,，、;；:：。!！?？]+")
_RE_CODE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")
_RE_CLAUSE_END = re.compile(r"[,、;:。!?\s]")

# -- amounts ------------------------------------------------------------------------------
_CURRENCY_AFTER = re.compile(r"\s*(美元|美金|港元|港币|欧元|日元|英镑|usd|hkd|eur|jpy|gbp)(?![a-z])", re.IGNORECASE)
_CURRENCY_BEFORE = re.compile(r"(us\$|hk\$|\$|€|usd|hkd|eur|jpy|gbp)\s*$", re.IGNORECASE)
_CURRENCY_CODES = {
    "美元": "USD",
    "美金": "USD",
    "us$": "USD",
    "$": "USD",
    "usd": "USD",
    "港元": "HKD",
    "港币": "HKD",
    "hk$": "HKD",
    "hkd": "HKD",
    "欧元": "EUR",
    "€": "EUR",
    "eur": "EUR",
    "日元": "JPY",
    "jpy": "JPY",
    "英镑": "GBP",
    "gbp": "GBP",
}
# 过亿元, 超亿, 近亿, 上亿: a bound with no digits, which the money reader leaves alone.
_RE_BOUND = re.compile(r"(?<![0-9一二三四五六七八九十两百千])(过|超|近|逾|上)(十|百|千)?亿(元)?")
_BOUND_SCALE = {"": 10**8, "十": 10**9, "百": 10**10, "千": 10**11}
_RE_APPROXIMATE = re.compile(r"超过|超|逾|过|近|多|余|以上")

# What the words just before an amount make of it (the clause up to the number).
_RE_NOT_INVESTMENT = re.compile(
    r"注册资本|注册资金|产值|营收|营业收入|收入|销售|利税|税收|利润|融资|授信|贷款|市值|估值|补贴|奖励|奖补|产能|代码"
)
_RE_TOTAL = re.compile(r"总投|投资总额|总额|总规模|共计|合计|总计")
_RE_SOFT = re.compile(r"完成投资|完成|累计|年内|今年|年度|当年|到位")
_RE_PART = re.compile(r"其中|土建|设备投资|设备购置|建安|固定资产|流动资金|自有资金|配套")
_RE_PHASE = re.compile(r"([一二三四五六七八九1-9首]|后续)期")
_RE_INVEST = re.compile(r"投资|投入|建设|规模|签约|项目")
RANK_TOTAL, RANK_INVEST, RANK_PLAIN, RANK_PART, RANK_SOFT = 5, 4, 3, 2, 1

# -- enterprise ---------------------------------------------------------------------------
_LEAD_INS = [
    re.compile(p)
    for p in (
        r"^【[^】]{0,20}】",
        r"^[^\s,，]{0,16}?(?:社|网|台|报)[^\s,，]{0,10}?\d{1,2}月\d{1,2}日(?:电|消息|讯)",
        r"^[^\s,，(（]{0,12}?(?:日报|晚报|时报|报|网|社|台|新闻)讯(?:[(（][^)）]{0,20}[)）])?",
        r"^本报(?:[^\s,，]{0,8})?讯(?:[(（][^)）]{0,20}[)）])?",
        r"^(?:\d{4}年)?(?:\d{1,2}月)?(?:\d{1,2}日)(?:上午|下午|晚间|晚上|早上|凌晨|中午)?",
        r"^(?:\d{4}年)?\d{1,2}月(?:上旬|中旬|下旬|初|底|末)?",
        r"^\d{4}年(?:以来|初|底)?",
        r"^(?:今年以来|近年来|今年|去年|年初|近年|当天|当日|日前|近日|近期|目前|此前|此外|另外|同时|其中|据悉"
        r"|据了解|据介绍|据报道|据统计|记者获悉|记者了解到|消息称|听说|据称|会上|活动中|会议期间|期间|随后|最近)",
        r"^(?:记者|本报记者)(?:\d{1,2}日)?(?:从[^\s,，]{0,14}?)?(?:获悉|了解到|得知)",
        r"^(?:今天|昨天|今日|昨日|当天|当日|本周|上周)(?:上午|下午|晚间|晚上|早上)?",
        r"^[^\s,，]{0,8}?(?:指出|强调|透露|提到|要求)",
        r"^(?:明天|后天|上午|下午|刚才|刚刚|已)?(?:去|又|再)?(?:拜访了?|见了|走访了?|联系了?|考察了?|约了|对接了?)",
        r"^(?:和|跟|同)(?=[^\s,，]{2,12}?(?:对接|洽谈|见面|座谈|交流|合作|签))",
        r"^[^\s,，]{0,8}?(?:仪式|大会|会议|推介会|洽谈会|活动|现场)(?:上|中|期间)",
        r"^据[^\s,，]{0,14}?(?:消息|报道|介绍|了解|悉)",
        r"^[^,，:：。]{2,20}?(?:捷报|消息|项目|名单|清单|动态|快讯|简讯|一览|情况)[:：]",
        r"^(?:\d{1,2}|[一二三四五六七八九十]{1,3})[.、)）](?!\d)",
        r"^[(（](?:\d{1,2}|[一二三四五六七八九十]{1,3})[)）]",
        r"^[\s,，:：、。]+",
    )
]
_ORG_SUFFIX = (
    r"(?:株式会社|股份有限公司|有限责任公司|有限公司|股份公司|集团公司|集团|公司|股份|商会|协会|研究院|银行|合作社)"
)
_RE_ORG = re.compile(
    rf"[\u4e00-\u9fffA-Za-z0-9()（）·&]+?(?:\((?:集团|控股)\))?{_ORG_SUFFIX}+"
    rf"(?:[\u4e00-\u9fff]{{1,8}}?(?:分行|支行|分公司))?"
)
_RE_ORG_TAIL = re.compile(rf"[\u4e00-\u9fffA-Za-z0-9()（）·&]{{1,14}}?{_ORG_SUFFIX}+")
_RE_NOT_IN_TAIL = re.compile(r"拟|将|在|与|和|同|由|签|投资|建设|计划|项目|落户|携手|联合|引进|的")
_RE_LEGAL_FORM = re.compile(
    r"(?:\(集团\))?(?:集团|控股)*(?:股份)?(?:有限责任公司|有限公司|股份公司|公司)|集团|股份(?!有限)"
)
_RE_PLAN_START = re.compile(
    r"拟|计划|准备|打算|预计|意向|有意|将|投资|在|落户|新建|扩建|扩产|布局|欲|已|签约|签订|签署|决定"
    r"|发布|宣布|公告|表示|与|携手|联合|分两期|分期|举行|要|想|搞|对接|洽谈|考察"
)
_NAME_MIN = 2
# Words that join the investor to what comes before it: 县政府与X, 由X投资, 携手X.
_RE_JOINER = re.compile(r"与|同|由|携手|联合|和|及|的|引进|引入|招引|签约|签下|下属|旗下")
# 同 and 和 begin names (同仁堂, 和林格尔乳业): only a joiner with something before it is cut.
_RE_LEADING_PARTICLE = re.compile(r"^(?:由|与|经|被|对|向|为|是)+")
# Words that start a plan but also begin names (想念食品, 要发集团): not at the very start.
_WEAK_PLAN = frozenset({"要", "想", "搞", "已", "对接", "洽谈", "考察"})
_RE_WEAK_THEN_PLAN = re.compile(r"(?:要|想|搞|已)(?:在|到|去|来|把|将|拟|投|建|做|搞|落|签|开)")
_RE_DIGIT_NAME = re.compile(r"\d+(?![0-9.,万亿千百十吨年月日期个号兆米亩%])[A-Za-z\u4e00-\u9fff]")
_RE_TRAILING_VERB = re.compile(
    r"(?:发布公告称|发布公告|公告称|公告|宣布|表示|称|消息|发布|晚间|早间|今日|今天|昨日|昨天|日前|近日|近期|当天|今年)+$"
)
# A stock code or a reporter's byline in brackets; (集团) and (中国) are part of the name.
_RE_BRACKETED = re.compile(r"[(（][^)）]{0,24}?(?:\d|代码|记者|简称)[^)）]{0,24}[)）]|[(（][^)）]*$")
_RE_SUBJECT = re.compile(
    r"([\u4e00-\u9fffA-Za-z0-9·&]{2,16}?)(?:[(（][^)）]{0,24}[)）])?"
    r"(?:拟|将|计划|准备|打算|决定|有意|已|正式|公告|发布|宣布|表示|称|投资|落户|签约|签订|携手|联合"
    r"|牵头|主导|出资|承建)"
)
# What an investor's name never is; the second list only when no legal form ends the name
# (山东临工工程机械有限公司 is a name, 临泽县工程 is not).
_RE_NOT_A_NAME = re.compile(
    r"企业|客商|政府|管委会|人民|我市|我县|我区|该|本报|记者|一家|某|双方|有关|相关|当地|外地|南方|北方"
    r"|全市|全县|他们|我们|今年|去年|明年|目前"
)
_RE_NOT_A_NAME_UNLESS_LEGAL = re.compile(
    r"项目|年产|产值|达产|万吨|基地|园区|工程|生产线|仪式|开工|投产|竣工|规模|合同|协议|消息|招商|捷报|说"
)
_RE_ENDS_LEGAL = re.compile(rf"{_ORG_SUFFIX}$")
_RE_PLACE_OR_OFFICE = re.compile(r"(?:省|市|县|区|州|旗|镇|乡|村|局|委|办|处|厅|部|联|政府|管委会)$")
# An organisation that is the subject of an investment, or the partner a government signs with.
_RE_INVESTOR_AFTER = re.compile(
    r"[(（)）0-9A-Za-z.:：\s]{0,16}(?:拟|将|计划|准备|决定|已|正式|投资|落户|签约|签订|签署|共建|合作|公告|宣布)"
)
_RE_INVESTOR_BEFORE = re.compile(r"(?:与|同|和|由|携手|联合|引进|引入|招引|签约|签下)$")
# 牧原的王总: the enterprise, not the person met there.
_RE_PERSON_OF = re.compile(r"的[^的]{0,4}(?:总|董事长|总经理|经理|负责人|老板|主任|书记)$")
_RE_TRAILING_ADVERB = re.compile(r"(?:成功|正式|顺利|再次|共同|已经|已)+$")
# Latin legal forms typed after a name: "Tesla Inc.", "Siemens AG".
_RE_LATIN_FORM = re.compile(
    r"(?:\s+(?:inc|ltd|co|corp|corporation|llc|gmbh|ag|plc|group|limited|holdings?|s\.a|n\.v)\b\.?,?)+",
    re.IGNORECASE,
)
_GENERIC_ORG = re.compile(r"^(?:公司|集团|股份|该公司|本公司|子公司|分公司|合资公司|新公司|银行)$")


def _blank(text: str, span: tuple[int, int]) -> str:
    start, end = span
    return text[:start] + " " * (end - start) + text[end:]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


# -- amounts ------------------------------------------------------------------------------
def _clause_before(text: str, start: int, reach: int = 16, floor: int = 0) -> str:
    window_start = max(floor, start - reach)
    head = text[window_start:start]
    ends = list(_RE_CLAUSE_END.finditer(head))
    return head[ends[-1].end() :] if ends else head


def _rank(context: str) -> int | None:
    if _RE_NOT_INVESTMENT.search(context):
        return None
    if _RE_TOTAL.search(context):
        return RANK_TOTAL
    if _RE_SOFT.search(context):
        return RANK_SOFT
    if _RE_PART.search(context):
        return RANK_PART
    if _RE_PHASE.search(context) or _RE_INVEST.search(context):
        return RANK_INVEST
    return RANK_PLAIN


def find_amounts(text: str) -> list[Amount]:
    """Every amount of ``text`` with its currency, whether it is a bound, and how much it says about investment."""
    work = text.translate(_HALF_WIDTH)
    found: list[Amount] = []
    previous_end = 0
    for yuan, (start, end) in find_all_money(work):
        number = work[start:end]
        bare = not any(ch in number for ch in "万亿元") and not re.search(r"[a-z]", number, re.IGNORECASE)
        before = work[:start]
        if bare and (re.search(r"[(\[]\s*$", before) or re.search(r"代码\s*:?\s*$", before)):
            continue  # a stock code
        currency = YUAN
        after = _CURRENCY_AFTER.match(work, end)
        ahead = _CURRENCY_BEFORE.search(before)
        if after is not None:
            currency, end = _CURRENCY_CODES[after[1].lower()], after.end()
        elif ahead is not None:
            currency, start = _CURRENCY_CODES[ahead[1].lower()], ahead.start()
        before_words = _clause_before(work, start, floor=previous_end)
        previous_end = end
        context = before_words + number
        numeral = re.search(r"[0-9一二三四五六七八九十两百千万亿]", number)
        lead_words = number[: numeral.start()] if numeral else ""
        approximate = bool(_RE_APPROXIMATE.search(lead_words) or re.search(r"[多余]|以上", number[len(lead_words) :]))
        rank = _rank(before_words + lead_words)
        if rank is None:
            continue
        phase = _RE_PHASE.search(context)
        found.append(Amount(yuan, currency, approximate, (start, end), rank, phase[0] if phase else None))
    for match in _RE_BOUND.finditer(work):
        if any(a.span[0] <= match.start() < a.span[1] for a in found):
            continue
        rank = _rank(_clause_before(work, match.start()))
        if rank is None:
            continue
        value = _BOUND_SCALE[match[2] or ""]
        found.append(Amount(value, YUAN, True, match.span(), rank, None))
    return sorted(found, key=lambda a: a.span)


def pick_amount(amounts: Sequence[Amount]) -> tuple[Amount, list[tuple[int, int]]] | None:
    """The investment the text states, and the spans it was read from.

    The total if there is one; else the phases added up when two or more are given; else
    the first of the highest rank.
    """
    if not amounts:
        return None
    best = max(a.rank for a in amounts)
    if best < RANK_TOTAL:
        phases: dict[str, Amount] = {}
        for amount in amounts:
            if amount.phase and amount.rank >= RANK_INVEST and amount.phase not in phases:
                phases[amount.phase] = amount
        same_currency = len({a.currency for a in phases.values()}) == 1
        if len(phases) >= 2 and same_currency:
            parts = list(phases.values())
            total = Amount(
                sum(a.value for a in parts),
                parts[0].currency,
                any(a.approximate for a in parts),
                parts[0].span,
                RANK_TOTAL,
                None,
            )
            return total, [a.span for a in parts]
    chosen = next(a for a in amounts if a.rank == best)
    return chosen, [chosen.span]


def to_yuan(value: int, currency: str, rates: Mapping[str, Decimal]) -> int | None:
    """``value`` of ``currency`` in yuan at the bureau's rate; ``None`` when no rate is set."""
    if currency == YUAN:
        return value
    rate = rates.get(currency)
    if rate is None:
        return None
    return int((Decimal(value) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# -- chains -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Mention:
    chain: int
    start: int
    end: int
    strength: tuple[int, int]  # (own name, length)


@lru_cache(maxsize=4096)
def _keyword_pattern(key: str) -> re.Pattern[str]:
    if key.isascii():
        return re.compile(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])")
    return re.compile(re.escape(key))


@lru_cache(maxsize=8192)
def _folded_name(name: str) -> str:
    # The chains' names and keywords are the same few hundred on every message.
    return _fold(name).strip()


def _mentions(folded: str, chains: Sequence[ChainHint]) -> list[_Mention]:
    found: list[_Mention] = []
    for chain in chains:
        for index, name in enumerate(chain.names):
            key = _folded_name(name)
            # Most of the few hundred keywords are not in a message: a substring test rules them
            # out for a fraction of what a regex search costs.
            if not key or key not in folded:
                continue
            pattern = _keyword_pattern(key)
            strength = (1 if index < chain.named else 0, len(key))
            found.extend(_Mention(chain.id, m.start(), m.end(), strength) for m in pattern.finditer(folded))
    # 电池 inside 负极材料's neighbour 锂电池负极材料 is one thing said once: the longer keyword speaks.
    kept = [
        m
        for m in found
        if not any(
            o is not m and o.start <= m.start and m.end <= o.end and (o.end - o.start) > (m.end - m.start)
            for o in found
        )
    ]
    unique: dict[tuple[int, int, int], _Mention] = {}
    for m in kept:
        unique.setdefault((m.chain, m.start, m.end), m)
    return list(unique.values())


@lru_cache(maxsize=64)
def _bare_tags(names: tuple[str, ...]) -> frozenset[str]:
    # The same few hundred chain names and keywords on every message: folded once per process.
    return frozenset(_fold(name) for name in names if name.strip())


@lru_cache(maxsize=4096)
def _bounded(name: str) -> re.Pattern[str]:
    """``name`` as a whole token (or run of tokens), in any case."""
    words = [re.escape(word) for word in unicodedata.normalize("NFKC", name).split()]
    separator = rf"[{_SEPARATOR_CHARS}]"
    body = r"\s+".join(words)
    return re.compile(rf"(?:^|(?<={separator})){body}(?={separator}|$)", re.IGNORECASE)


def _chain_tags(text: str, chain: ChainHint) -> list[tuple[int, int]]:
    return [match.span() for name in chain.names if name.strip() for match in _bounded(name).finditer(text)]


def guess_chain(
    text: str, chains: Sequence[ChainHint], name_span: tuple[int, int] | None = None
) -> tuple[int | None, list[tuple[int, int]]]:
    """The chain the whole text speaks of most, and the spans of its bare tags (``None``: no mention)."""
    folded = text.translate(_HALF_WIDTH).lower()
    if len(folded) != len(text):
        folded = _fold(text)
    mentions = _mentions(folded, chains)
    if not mentions:
        return None, []
    scored = []
    for chain in chains:
        own = [m for m in mentions if m.chain == chain.id]
        if not own:
            continue
        weight = sum(
            1.0 if name_span is None or not (name_span[0] <= m.start and m.end <= name_span[1]) else 0.5 for m in own
        )
        tags = _chain_tags(text.translate(_HALF_WIDTH), chain)
        strongest = max(m.strength for m in own)
        earliest = min(m.start for m in own)
        scored.append(((len(tags), weight, strongest, -earliest), chain, tags))
    scored.sort(key=lambda item: item[0], reverse=True)
    return scored[0][1].id, scored[0][2]


# -- enterprise ---------------------------------------------------------------------------
def _skip_lead_ins(text: str, start: int = 0) -> int:
    """Where the text proper begins, after dates, datelines and opening phrases."""
    moved = True
    while moved:
        moved = False
        for pattern in _LEAD_INS:
            match = pattern.match(text[start:])
            if match is not None and match.end() > 0:
                start += match.end()
                moved = True
    return start


def _name_length(token: str) -> int:
    """How much of the first token names the enterprise (0: none)."""
    legal = _RE_LEGAL_FORM.search(token, _NAME_MIN - 1)
    for start in _RE_PLAN_START.finditer(token):
        if legal is not None and start.start() >= legal.start():
            break
        if start.start() == 0:
            if start[0] in _WEAK_PLAN:
                continue
            return 0
        # "XX投资(管理)有限公司" is a name, not "XX" planning to invest.
        if start[0] == "投资" and legal is not None and legal.start() - start.end() <= 4:
            continue
        if start.start() >= _NAME_MIN:
            return start.start()
    return legal.end() if legal is not None else len(token)


def _whole_org(work: str, end: int) -> int:
    """Extend a name that ends in a legal form over the unit it names (集团…研究院有限公司, …甘肃分公司)."""
    if not _RE_ENDS_LEGAL.search(work, 0, end):
        return end
    while (tail := _RE_ORG_TAIL.match(work, end)) is not None and not _RE_NOT_IN_TAIL.search(tail[0]):
        end = tail.end()
    return end


def _clean(candidate: str) -> str | None:
    """The investor's name inside a candidate span, or ``None`` when it names none."""
    name = _RE_BRACKETED.sub("", candidate).strip()
    name = name[_skip_lead_ins(name) :]
    joiners = list(_RE_JOINER.finditer(name))
    for joiner in reversed(joiners):
        left, right = name[: joiner.start()], name[joiner.end() :]
        if (
            len(left) >= 2
            and len(right) >= 3
            and (joiner[0] not in ("和", "及") or _RE_PLACE_OR_OFFICE.search(left) or _RE_NOT_A_NAME.search(left))
        ):
            name = right
            break
    name = _RE_LEADING_PARTICLE.sub("", name)
    name = _RE_TRAILING_VERB.sub("", name).strip()
    name = _RE_TRAILING_ADVERB.sub("", name).strip()
    name = _RE_PERSON_OF.sub("", name)
    if len(name) < _NAME_MIN or len(name) > 60 or (name[0].isdigit() and not _RE_DIGIT_NAME.match(name)):
        return None
    if _RE_NOT_A_NAME.search(name) or _RE_PLACE_OR_OFFICE.search(name) or _GENERIC_ORG.match(name):
        return None
    if not _RE_ENDS_LEGAL.search(name) and _RE_NOT_A_NAME_UNLESS_LEGAL.search(name):
        return None
    if (plan := _RE_PLAN_START.match(name)) is not None and plan[0] not in _WEAK_PLAN:
        return None
    if _RE_WEAK_THEN_PLAN.match(name):
        return None
    return name


def _locate(text: str, name: str, after: int = 0) -> tuple[int, int] | None:
    index = text.find(name, after)
    if index < 0:
        index = text.find(name)
    return (index, index + len(name)) if index >= 0 else None


def find_enterprise(
    work: str, original: str, bare_tags: AbstractSet[str], known: Mapping[str, str]
) -> tuple[str, tuple[int, int] | None, bool] | None:
    """The investor the text names (as written, or as the register has it), where, and whether it leads the text."""
    begin = _skip_lead_ins(work)
    folded = work.lower()
    hits = sorted((folded.find(key), key) for key in known if key and folded.find(key) >= 0)
    if hits:
        index, key = hits[0]
        return known[key], (index, index + len(key)), False

    first = next((m for m in _RE_TOKEN.finditer(work, begin) if _fold(m[0]) not in bare_tags), None)
    if first is not None:
        length = _name_length(first[0])
        end = _whole_org(work, first.start() + length) if length else 0
        if length and first[0].isascii() and (latin := _RE_LATIN_FORM.match(work, end)) is not None:
            end = latin.end()
        name = _clean(original[first.start() : end]) if length else None
        if name is not None:
            span = _locate(original, name, first.start())
            return name, span, span is not None and span[0] == first.start()

    organisations = []
    # Read around a name in the text as written: the amount blanked out took 拟投资 with it.
    half = original.translate(_HALF_WIDTH)
    for match in _RE_ORG.finditer(work, begin):
        end = _whole_org(work, match.end())
        name = _clean(original[match.start() : end])
        if name is not None:
            span = _locate(original, name, match.start())
            start = span[0] if span else match.start()
            invests = _RE_INVESTOR_AFTER.match(half, end) is not None or bool(
                _RE_INVESTOR_BEFORE.search(half, 0, start)
            )
            organisations.append((not invests, match.start(), name, span))
    if organisations:
        _, _, name, span = min(organisations, key=lambda item: (item[0], item[1]))
        return name, span, False

    clause_start = begin
    for end in [*(m.start() for m in _RE_CLAUSE_END.finditer(work, begin)), len(work)]:
        clause = work[clause_start:end]
        offset = clause_start + _skip_lead_ins(clause)
        subject = _RE_SUBJECT.match(work, offset, end)
        if subject is not None:
            name = _clean(original[subject.start(1) : subject.end(1)])
            if name is not None:
                return name, _locate(original, name, subject.start(1)), False
        clause_start = end + 1
    return None


# -- the whole message --------------------------------------------------------------------
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


def parse_lead_text(
    text: str,
    chains: Sequence[ChainHint],
    *,
    known: Mapping[str, str] | None = None,
    rates: Mapping[str, Decimal] | None = None,
) -> LeadGuess:
    """Whatever one message says about a lead; fields it does not say are ``None``.

    ``known`` maps names and aliases of the register, lower-cased, that occur in the text
    to the register's name for that enterprise; ``rates`` gives yuan per unit of a
    foreign currency.
    """
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

    amounts = find_amounts(work)
    picked = pick_amount(amounts)
    amount: Amount | None = None
    if picked is not None:
        amount, spans = picked
        removed.extend(spans)
    for found in amounts:
        work = _blank(work, found.span)

    bare_tags = _bare_tags(tuple(name for chain in chains for name in chain.names))
    enterprise: str | None = None
    name_span: tuple[int, int] | None = None
    begin = _skip_lead_ins(work)
    first_token = next((m for m in _RE_TOKEN.finditer(work, begin) if _fold(m[0]) not in bare_tags), None)
    if code_span is not None and (first_token is None or code_span[0] < first_token.start()):
        enterprise = credit_code
    else:
        found_name = find_enterprise(work, text, bare_tags, known or {})
        if found_name is not None:
            enterprise, name_span, leading = found_name
            # Only a name the message starts with is cut from the plan; one inside a
            # sentence stays, or "县政府与X签约" would read "县政府与签约".
            if leading and name_span is not None:
                removed.append(name_span)

    chain_id, tags = guess_chain(text, chains, name_span)
    removed.extend(tags)

    plan = _cut(text, removed)
    amount_yuan: int | None = None
    currency, original = YUAN, None
    if amount is not None:
        amount_yuan = to_yuan(amount.value, amount.currency, rates or {})
        if amount.currency != YUAN:
            currency, original = amount.currency, amount.value
    return LeadGuess(
        enterprise=enterprise or None,
        credit_code=credit_code,
        amount_yuan=amount_yuan,
        chain_id=chain_id,
        plan=_tidy(plan),
        currency=currency,
        amount_original=original,
        approximate=amount.approximate if amount is not None else False,
    )


# -- several projects in one message ------------------------------------------------------
_RE_ITEM_MARK = re.compile(r"^\s*(?:\d{1,2}[.、)）]|[(（]\d{1,2}[)）]|[一二三四五六七八九十]{1,3}、|[①-⑳])\s*")
_RE_CELL = re.compile(r"\t+|\s*[|｜]\s*")
_RE_CLAUSE_SPLIT = re.compile(r"[;；]")
_RE_CAPTURE_CUE = re.compile(r"投资|签约|签订|落户|亿元|万元|亿|美元|项目|拟建|扩产|建设|合作")


def _names_a_project(text: str) -> bool:
    work = text.translate(_HALF_WIDTH)
    return bool(find_amounts(work)) or any(_clean(m[0]) for m in _RE_ORG.finditer(work))


def split_projects(text: str) -> list[str]:
    """The projects of a signing list, one text each; a single project gives one text.

    A list is numbered lines (``1.``, ``(2)``, ``三、``, ``①``), the rows of a pasted
    table (cells split by tabs or ``|``) or clauses split by ``；`` — two or more of
    them, each naming an organisation or an amount. Lines that name neither (a heading,
    a table's header) are left out.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) >= 2:
        # A table's first cell is often its row number (序号).
        rows = [
            " ".join(
                cell
                for index, cell in enumerate(_RE_CELL.split(line))
                if cell.strip() and not (index == 0 and cell.strip().isdigit())
            )
            for line in lines
        ]
        items = [_RE_ITEM_MARK.sub("", row).strip() for row in rows]
        projects = [item for item in items if _names_a_project(item)]
        if len(projects) >= 2:
            return projects
    clauses = [part.strip() for part in _RE_CLAUSE_SPLIT.split(text) if part.strip()]
    if len(clauses) >= 2:
        projects = [_RE_ITEM_MARK.sub("", part).strip() for part in clauses if _names_a_project(part)]
        if len(projects) >= 2:
            return projects
    return [text.strip()]


def looks_like_a_lead(text: str, min_chars: int) -> bool:
    """A pasted text worth offering as a lead: long enough, and about investment."""
    return len(text.strip()) >= min_chars and _RE_CAPTURE_CUE.search(text) is not None
