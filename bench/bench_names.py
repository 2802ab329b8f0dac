"""Time ``best_matches`` against 100,000 synthetic enterprise names.

    .venv/bin/python bench/bench_names.py [count]

The first query pays for normalizing every candidate; later ones hit the cache, which is
what a running bot sees for the enterprise register.
"""

from __future__ import annotations

import random
import sys
import time

from services.names import best_matches, normalize_name

REGIONS = ("北京", "上海", "深圳市", "广州", "杭州", "成都", "西安", "兰州", "张掖", "宁德", "合肥", "苏州")
SYLLABLES = "华中国新能源科技星辰宏远金鼎天合信达恒通瑞丰泰安德隆盛博弘嘉润祥和光明阳泽海川云峰长江"
TRADES = ("科技", "能源", "电池", "材料", "农业", "种业", "物流", "旅游", "数据", "装备", "化工", "乳业")
FORMS = ("有限公司", "股份有限公司", "集团有限公司", "有限责任公司", "(集团)股份有限公司", "")


def synthetic_names(count: int, seed: int = 2026) -> list[tuple[int, str]]:
    rng = random.Random(seed)
    names = []
    for index in range(count):
        core = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        names.append((index, f"{rng.choice(REGIONS)}{core}{rng.choice(TRADES)}{rng.choice(FORMS)}"))
    return names


def timed(label: str, query: str, candidates: list[tuple[int, str]], runs: int = 1) -> None:
    started = time.perf_counter()
    for _ in range(runs):
        found = best_matches(query, candidates, limit=5, cutoff=70.0)
    per_run = (time.perf_counter() - started) / runs
    print(f"{label:<34} {per_run * 1000:9.1f} ms  {len(found)} matches, best: {found[:1]}")


def main() -> None:
    # ``python -m bench bench_names`` leaves the script name in argv: only a number is a count.
    count = int(sys.argv[-1]) if len(sys.argv) > 1 and sys.argv[-1].isdigit() else 100_000
    candidates = synthetic_names(count)
    query = candidates[count // 2][1]
    print(f"{count:,} candidates; query {query!r} (stem {normalize_name(query)!r})")
    normalize_name.cache_clear()
    timed("cold (normalizes every name)", query, candidates)
    timed("warm, same query", query, candidates, runs=5)
    timed("warm, short query 宁德", "宁德", candidates, runs=5)
    timed("warm, no match", "比亚迪", candidates, runs=5)


if __name__ == "__main__":
    main()
