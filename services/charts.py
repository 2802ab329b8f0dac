"""Charts for digests: described here as plain data, drawn by matplotlib in a worker process.

A :class:`Chart` is what a digest wants drawn, worded twice: in the reader's language and
in English. :func:`build_figure` turns it into a matplotlib figure (tests look at its
labels, ticks and lines), :func:`render_png` into PNG bytes, and :func:`draw` does that in
a process pool: matplotlib holds the GIL while it draws, so drawing in the bot's own
process would stall every conversation for as long as the chart takes. matplotlib is
imported only where a figure is built, never when this module is imported, so the bot's
process does not carry it.

The CJK font comes with the project's own install: the ``noto-cjk-sans-otc`` package ships
Noto Sans CJK (SIL OFL) as a font collection, registered with matplotlib the first time a
chart needs a font, so no system package is needed. A system font (Debian's
``fonts-noto-cjk`` or ``fonts-wqy-microhei``) is used as well when present. Should neither
be there, Chinese text would come out as empty boxes, so the chart is drawn with its
English wording instead and the log says so once.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "Source Han Sans CN",
)
# Phone width: a 6.4-inch canvas at 150 dpi is 960 px, shown full width without zooming.
WIDTH_INCHES = 6.4
DPI = 150
TARGET_COLOUR = "#d62728"


@dataclass(frozen=True)
class Bars:
    """A horizontal bar chart, one bar (or one group of bars) per label."""

    title: str
    labels: Sequence[str]
    series: Sequence[tuple[str, Sequence[float]]]  # (legend, one value per label)
    unit: str = ""
    stacked: bool = False  # one bar per label, the series as its segments
    counts: bool = False  # the values are counts: whole-number ticks only
    targets: Sequence[float | None] = ()  # per label, drawn as a dashed mark across its bar
    target_label: str = ""
    empty: str = ""  # said instead of an axis when there is nothing to draw

    @property
    def is_empty(self) -> bool:
        """Nothing to draw: no rows, or every value zero and no target to hold them against."""
        if not self.labels:
            return True
        return not any(v for _, values in self.series for v in values) and not any(t is not None for t in self.targets)


@dataclass(frozen=True)
class Chart:
    """One chart in the reader's language, and its English wording for a machine without CJK glyphs."""

    wanted: Bars
    english: Bars
    locale: str = "zh"
    name: str = field(default="chart.png", compare=False)


# -- fonts ------------------------------------------------------------------------------------
@cache
def _register_bundled_font() -> None:
    from matplotlib import font_manager

    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return
    font_manager.fontManager.addfont(str(FONT_PATH))


def find_cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, if any."""
    from matplotlib import font_manager

    _register_bundled_font()
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


@cache
def _warn_no_font() -> None:
    log.warning("no CJK font found (the noto-cjk-sans-otc package is missing): charts fall back to English labels")


def chart_wording(chart: Chart) -> tuple[Bars, str | None]:
    """The wording a chart can be drawn in here, and the font family to draw it with."""
    if chart.locale == "en":
        return chart.english, None
    family = find_cjk_font()
    if family is None:
        _warn_no_font()
        return chart.english, None
    return chart.wanted, family


# -- drawing ----------------------------------------------------------------------------------
def build_figure(chart: Chart) -> Figure:
    """The chart as a matplotlib figure, laid out to fit its canvas."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    bars, family = chart_wording(chart)
    if family:
        # Every text of the figure, the tick numbers included, in the font that has the glyphs.
        matplotlib.rcParams["font.family"] = [family, "DejaVu Sans"]
    else:
        matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    if bars.is_empty:
        fig = Figure(figsize=(WIDTH_INCHES, 2.4), dpi=DPI, layout="constrained")
        fig.suptitle(bars.title)
        fig.text(0.5, 0.45, bars.empty, ha="center", va="center", fontsize=14, color="#555555")
        return fig

    per_label = 1 if bars.stacked else max(1, len(bars.series))
    height = min(16.0, max(2.8, 0.42 * len(bars.labels) * per_label + 2.2))
    fig = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    positions = list(range(len(bars.labels)))
    legend = len(bars.series) > 1
    if bars.stacked:
        left = [0.0] * len(bars.labels)
        for name, values in bars.series:
            ax.barh(positions, list(values), left=list(left), height=0.6, label=name)
            left = [a + float(b) for a, b in zip(left, values, strict=True)]
    else:
        width = 0.8 / per_label
        for index, (name, values) in enumerate(bars.series):
            offsets = [p + (index - (per_label - 1) / 2) * width for p in positions]
            ax.barh(offsets, list(values), height=width, label=name or None)
    marks = [(p, t) for p, t in zip(positions, bars.targets, strict=False) if t is not None]
    if marks:
        ys = [p for p, _ in marks]
        xs = [float(t) for _, t in marks]
        ax.vlines(
            xs,
            [y - 0.42 for y in ys],
            [y + 0.42 for y in ys],
            colors=TARGET_COLOUR,
            linestyles="dashed",
            linewidth=1.6,
            label=bars.target_label,
            gid="target",
        )
        legend = True
        # A target beyond every bar must still be on the axis.
        ax.set_xlim(right=max(ax.get_xlim()[1], max(xs) * 1.08))
    ax.set_yticks(positions)
    ax.set_yticklabels(list(bars.labels))
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    if bars.counts:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(bars.title)
    if bars.unit:
        ax.set_xlabel(bars.unit)
    ax.grid(axis="x", alpha=0.3)
    if legend:
        handles, _labels = ax.get_legend_handles_labels()
        # Below the plot, in as many rows as it takes: a legend beside it is cut off at phone width.
        fig.legend(handles=handles, loc="outside lower center", ncol=min(3, len(handles)), frameon=False)
    return fig


def render_png(chart: Chart) -> bytes:
    """The chart as PNG bytes (runs in the drawing process)."""
    fig = build_figure(chart)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def _warm_up() -> None:
    """Load matplotlib and the font once per worker, before the first chart waits for it."""
    import matplotlib

    matplotlib.use("Agg")
    find_cjk_font()


_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        # forkserver: a fork of this (threaded) process could inherit a held lock; spawn
        # would re-import the bot's __main__.
        context = multiprocessing.get_context("forkserver")
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_warm_up)
    return _pool


async def draw(chart: Chart) -> bytes:
    """PNG bytes of ``chart``, drawn in the worker process while the event loop goes on."""
    global _pool
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_executor(), render_png, chart)
    except BrokenProcessPool:
        # The worker died (killed, out of memory): one new worker, one more try.
        log.warning("the chart worker died; starting another")
        _pool = None
        return await loop.run_in_executor(_executor(), render_png, chart)


async def draw_all(charts: Sequence[Chart]) -> list[bytes]:
    return list(await asyncio.gather(*(draw(chart) for chart in charts)))


def shutdown() -> None:
    """Stop the drawing process (at the end of the bot's life; the next :func:`draw` starts another)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def money_unit(values: Sequence[int], locale: str) -> tuple[int, str]:
    """The divisor and catalog key that show these yuan amounts readably: 万元 or 亿元 (millions in English)."""
    if locale == "en":
        return 1_000_000, "chart.unit.million"
    if max(values, default=0) >= 100_000_000:
        return 100_000_000, "chart.unit.yi"
    return 10_000, "chart.unit.wan"
