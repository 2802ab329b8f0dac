"""The digests' charts, looked at element by element: labels, ticks, target lines, the empty state.

Each chart is built as a matplotlib figure from digest data, then drawn once so that its
texts have their final places; nothing compares pixels.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from handlers import digest as render
from services import charts
from services.charts import Chart
from services.digests import (
    AgainstTarget,
    BureauDigest,
    ChainDigest,
    ChainSection,
    UnitRow,
    Window,
)
from services.periods import month_of

ROOT = Path(__file__).resolve().parent.parent
COVERAGE = {"landed": 2, "in_talks": 1, "visited": 3, "contacted": 1, "untouched": 4}
STAGES = {"first_talk": 3, "negotiation": 2, "signed": 1, "started": 0, "operating": 1, "dropped": 0}


def section(chain_id: int, zh: str, en: str, scale: int = 1, target: int | None = 10) -> ChainSection:
    return ChainSection(
        zh,
        en,
        chain_id=chain_id,
        new_leads=3,
        new_visits=2,
        by_stage={k: v * scale for k, v in STAGES.items()},
        coverage={k: v * scale for k, v in COVERAGE.items()},
        lagging_count=0,
        lagging=[],
        funds_this_year=0,
        funds_last_year=0,
        library_target=target,
    )


def chain_digest() -> ChainDigest:
    window = Window(date(2026, 11, 23), date(2026, 11, 30))
    return ChainDigest(5, window, [section(1, "新能源", "New energy"), section(2, "新材料", "New materials", 2)])


def bureau_digest(funds: list[int]) -> BureauDigest:
    names = [("甘州区", "Ganzhou District"), ("临泽县", "Linze County"), ("张掖经开区", "Economic Development Zone")]
    rows = [
        UnitRow(zh, en, i + 1, yuan, 0, 0, 0, 0) for i, ((zh, en), yuan) in enumerate(zip(names, funds, strict=True))
    ]
    total = UnitRow("合计", "Total", 0, sum(funds), 0, 0, 0, 0)
    return BureauDigest(
        month_of(date(2026, 11, 1)),
        rows,
        total,
        behind=[],
        lagging_count=0,
        lagging=[],
        open_disputes=0,
        flagged_visits=0,
        big_landed=[
            AgainstTarget("甘州区", "Ganzhou District", 1, 1, 1),
            AgainstTarget("临泽县", "Linze County", 2, 0, 1),
            AgainstTarget("张掖经开区", "Economic Development Zone", 3, 4, 10),
        ],
        leads_by_office=[
            AgainstTarget("市政府驻北京联络处", "Beijing Liaison Office", 11, 7, 10),
            AgainstTarget("市政府驻上海联络处", "Shanghai Liaison Office", 12, 12, 10),
        ],
    )


def drawn(chart: Chart) -> Figure:
    """The chart's figure, drawn once so that every text has its final place."""
    fig = charts.build_figure(chart)
    FigureCanvasAgg(fig).draw()
    return fig


def texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def words(fig: Figure) -> set[str]:
    return {t.get_text() for t in texts(fig)}


def x_ticks(fig: Figure) -> list[float]:
    ax = fig.axes[0]
    low, high = ax.get_xlim()
    return [t for t in ax.get_xticks() if low <= t <= high]


def target_marks(fig: Figure) -> list[tuple[float, float]]:
    """(x, middle y) of each dashed target mark."""
    [marks] = [c for c in fig.axes[0].collections if isinstance(c, LineCollection) and c.get_gid() == "target"]
    return [(float(seg[0][0]), float((seg[0][1] + seg[1][1]) / 2)) for seg in marks.get_segments()]


def assert_inside_canvas(fig: Figure) -> None:
    """Everything drawn (titles, tick labels, legend, the empty-state text) lies within the canvas."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    drawn_box = fig.get_tightbbox(renderer)  # inches, of what is actually drawn
    width, height = fig.get_size_inches()
    assert drawn_box.x0 >= -0.01 and drawn_box.y0 >= -0.01, drawn_box
    assert drawn_box.x1 <= width + 0.01 and drawn_box.y1 <= height + 0.01, drawn_box


def test_coverage_chart_has_every_chain_a_legend_inside_and_the_library_target() -> None:
    coverage, _ = render.chain_charts(chain_digest(), "zh")
    fig = drawn(coverage)
    ax = fig.axes[0]
    assert ax.get_title() == "目标企业库覆盖情况"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["新能源", "新材料"]
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {"已落地", "洽谈中", "已拜访", "已联系", "未接触", "目标企业数"}
    # The widest legend entry ("untouched" in English was cut off at the right edge).
    assert_inside_canvas(fig)
    # Library sizes 11 and 22: whole-number ticks, and a target mark at 10 on each chain's bar.
    assert all(float(t).is_integer() for t in x_ticks(fig))
    assert target_marks(fig) == [(10.0, 0.0), (10.0, 1.0)]
    assert ax.get_xlim()[1] >= 22


def test_the_english_coverage_chart_fits_its_canvas_too() -> None:
    coverage, stages = render.chain_charts(chain_digest(), "en")
    for chart in (coverage, stages):
        fig = drawn(chart)
        assert_inside_canvas(fig)
    assert "untouched" in words(drawn(coverage))


def test_stage_chart_counts_projects_of_each_chain_by_stage() -> None:
    _, stages = render.chain_charts(chain_digest(), "zh")
    fig = drawn(stages)
    ax = fig.axes[0]
    assert ax.get_title() == "各产业链项目阶段"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # Only the stages some chain has projects in.
    assert legend == ["首谈", "洽谈", "签约", "投产"]
    assert all(float(t).is_integer() for t in x_ticks(fig))
    # Stacked: each chain's bar ends at its number of projects (7 and 14).
    ends = {round(p.get_y() + p.get_height() / 2): p.get_x() + p.get_width() for p in ax.patches}
    assert ends == {0: 7, 1: 14}


def test_few_projects_still_get_whole_number_ticks() -> None:
    digest = ChainDigest(5, chain_digest().window, [section(1, "新能源", "New energy", 0, None)])
    digest.sections[0].by_stage["signed"] = 1
    digest.sections[0].by_stage["first_talk"] = 1
    _, stages = render.chain_charts(digest, "zh")
    ticks = x_ticks(drawn(stages))
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert 0.5 not in ticks and 1.5 not in ticks


def test_empty_library_and_no_projects_say_so_instead_of_an_empty_axis() -> None:
    digest = ChainDigest(5, chain_digest().window, [section(1, "新能源", "New energy", 0, None)])
    coverage, stages = render.chain_charts(digest, "zh")
    for chart, said in ((coverage, "目标企业库暂无企业"), (stages, "暂无项目")):
        fig = drawn(chart)
        assert fig.axes == []
        assert said in words(fig)
        assert_inside_canvas(fig)


def test_bureau_funds_all_zero_is_an_honest_empty_chart() -> None:
    funds, _, _ = render.bureau_charts(bureau_digest([0, 0, 0]), "zh")
    fig = drawn(funds)
    assert fig.axes == []  # no axis from -0.04 to 0.04
    assert {"各县区今年到位资金", "今年暂无数据"} <= words(fig)


def test_bureau_funds_are_shown_in_wan_or_yi_yuan() -> None:
    funds, _, _ = render.bureau_charts(bureau_digest([350_000_000, 80_000_000, 0]), "zh")
    ax = drawn(funds).axes[0]
    assert ax.get_xlabel() == "亿元"
    assert [p.get_width() for p in ax.patches] == [3.5, 0.8, 0.0]
    small, _, _ = render.bureau_charts(bureau_digest([3_000_000, 500_000, 0]), "zh")
    ax = drawn(small).axes[0]
    assert ax.get_xlabel() == "万元"
    assert [p.get_width() for p in ax.patches] == [300, 50, 0]
    english, _, _ = render.bureau_charts(bureau_digest([350_000_000, 80_000_000, 0]), "en")
    ax = drawn(english).axes[0]
    assert ax.get_xlabel() == "million yuan" and [p.get_width() for p in ax.patches] == [350, 80, 0]


def test_major_projects_against_each_units_target() -> None:
    _, major, _ = render.bureau_charts(bureau_digest([0, 0, 0]), "zh")
    fig = drawn(major)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["甘州区", "临泽县", "张掖经开区"]
    assert [p.get_width() for p in ax.patches] == [1, 0, 4]
    # A county's one demonstrative project (§2), the zone's ten of ≥ 1亿 (§8).
    assert target_marks(fig) == [(1.0, 0.0), (1.0, 1.0), (10.0, 2.0)]
    assert ax.get_xlim()[1] >= 10
    assert all(float(t).is_integer() for t in x_ticks(fig))
    assert "目标" in {t.get_text() for t in fig.legends[0].get_texts()}


def test_leads_by_office_against_the_monthly_ten() -> None:
    _, _, leads = render.bureau_charts(bureau_digest([0, 0, 0]), "zh")
    fig = drawn(leads)
    ax = fig.axes[0]
    assert ax.get_title() == "2026-11 各驻外机构有效线索"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["市政府驻北京联络处", "市政府驻上海联络处"]
    assert [p.get_width() for p in ax.patches] == [7, 12]
    assert target_marks(fig) == [(10.0, 0.0), (10.0, 1.0)]
    assert_inside_canvas(fig)


def test_every_chinese_character_drawn_has_a_glyph_in_its_font() -> None:
    figures = [
        drawn(c)
        for c in [*render.chain_charts(chain_digest(), "zh"), *render.bureau_charts(bureau_digest([1, 2, 3]), "zh")]
    ]
    chinese = set()
    for fig in figures:
        for text in texts(fig):
            hans = {ch for ch in text.get_text() if "\u4e00" <= ch <= "\u9fff"}
            if not hans:
                continue
            # The font matplotlib resolves for this very text, not the one we hoped for.
            path = font_manager.findfont(text.get_fontproperties(), fallback_to_default=False)
            font = FT2Font(path)
            assert [ch for ch in sorted(hans) if font.get_char_index(ord(ch)) == 0] == [], (text.get_text(), path)
            chinese |= hans
    assert len(chinese) > 30


def test_the_chart_font_comes_with_the_install() -> None:
    from noto_cjk_sans_otc import FONT_PATH

    assert charts.find_cjk_font() == "Noto Sans CJK SC"
    assert Path(str(FONT_PATH)).is_file()


def test_without_a_cjk_font_the_chart_is_drawn_in_english(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    coverage, _ = render.chain_charts(chain_digest(), "zh")
    assert "目标企业库覆盖情况" in words(drawn(coverage))
    monkeypatch.setattr(charts, "find_cjk_font", lambda: None)
    charts._warn_no_font.cache_clear()
    with caplog.at_level(logging.WARNING, logger="services.charts"):
        fig = drawn(coverage)
    shown = words(fig)
    assert {"Target-enterprise library coverage", "New energy", "untouched"} <= shown
    assert all(w.isascii() for w in shown), shown
    assert "no CJK font" in caplog.text


async def test_charts_are_drawn_in_another_process() -> None:
    coverage, stages = render.chain_charts(chain_digest(), "zh")
    pngs = await charts.draw_all([coverage, stages])
    assert [p[:4] for p in pngs] == [b"\x89PNG", b"\x89PNG"]
    assert pngs[0] != pngs[1]


def test_the_bot_process_does_not_load_matplotlib() -> None:
    script = """
import asyncio, sys
from handlers import digest as render
from services.charts import Bars, Chart

async def main():
    bars = Bars(title="目标企业库覆盖情况", labels=["新能源"], series=[("已落地", [3])], counts=True)
    [png] = await render.charts.draw_all([Chart(bars, bars, "zh")])
    assert png[:4] == b"\\x89PNG"

asyncio.run(main())
print("matplotlib" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
