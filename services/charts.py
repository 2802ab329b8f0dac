"""Charts for digests: matplotlib without a display, with Chinese glyphs or honest English.

The CJK font comes with the project's own install: the ``noto-cjk-sans-otc`` package ships
Noto Sans CJK (SIL OFL) as a font collection, registered with matplotlib the first time a
chart needs a font, so no system package is needed. A system font (Debian's
``fonts-noto-cjk`` or ``fonts-wqy-microhei``) is used as well when present. Should neither
be there, Chinese text would come out as empty boxes, so the chart is drawn with English
labels instead and the log says so once.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType

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


# matplotlib is some fifty megabytes once imported: it comes in with the first chart drawn,
# not when the bot starts.
@cache
def _font_manager() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    return font_manager


@cache
def _register_bundled_font() -> None:
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError:
        return
    _font_manager().fontManager.addfont(str(FONT_PATH))


def find_cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, if any."""
    _register_bundled_font()
    installed = {entry.name for entry in _font_manager().fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in installed), None)


@cache
def _warn_no_font() -> None:
    log.warning("no CJK font found (the noto-cjk-sans-otc package is missing): charts fall back to English labels")


def chart_locale(locale: str) -> tuple[str, str | None]:
    """The language a chart can be drawn in, and the font family to draw it with."""
    if locale == "en":
        return "en", None
    family = find_cjk_font()
    if family is None:
        _warn_no_font()
        return "en", None
    return locale, family


@dataclass(frozen=True)
class Bars:
    title: str
    labels: Sequence[str]
    series: Sequence[tuple[str, Sequence[float]]]  # (legend, one value per label)
    unit: str = ""
    stacked: bool = False  # one bar per label, the series as its segments


def bar_chart(bars: Bars, *, family: str | None) -> bytes:
    """A horizontal bar chart (grouped, or stacked) as PNG bytes."""
    font_manager = _font_manager()
    from matplotlib.figure import Figure

    per_label = 1 if bars.stacked else max(1, len(bars.series))
    height = max(2.5, 0.45 * len(bars.labels) * per_label + 1.8)
    fig = Figure(figsize=(7, height), dpi=100)
    ax = fig.add_subplot()
    font = {"family": family} if family else {}
    positions = range(len(bars.labels))
    if bars.stacked:
        left = [0.0] * len(bars.labels)
        for legend, values in bars.series:
            ax.barh(list(positions), list(values), left=list(left), height=0.6, label=legend)
            left = [a + float(b) for a, b in zip(left, values, strict=True)]
    else:
        width = 0.8 / per_label
        for index, (legend, values) in enumerate(bars.series):
            offsets = [p + (index - (per_label - 1) / 2) * width for p in positions]
            ax.barh(offsets, list(values), height=width, label=legend)
    ax.set_yticks(list(positions))
    ax.set_yticklabels(list(bars.labels), fontdict=font)
    ax.invert_yaxis()
    ax.set_title(bars.title, fontdict=font)
    if bars.unit:
        ax.set_xlabel(bars.unit, fontdict=font)
    if len(bars.series) > 1:
        ax.legend(
            prop=font_manager.FontProperties(family=family) if family else None,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=min(5, len(bars.series)),
            frameon=False,
        )
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
