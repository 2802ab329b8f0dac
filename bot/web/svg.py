"""Charts drawn on the server as inline SVG: phone width, no script, no library to fetch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from bot.web.geo import Drawing

WIDTH = 360
ROW = 26
LABEL = 120
STAGE_COLOURS = {
    "first_talk": "#9e9e9e",
    "negotiation": "#1e88e5",
    "signed": "#8e24aa",
    "started": "#fb8c00",
    "operating": "#43a047",
    "dropped": "#e53935",
}
VISIT_COLOUR = "#00897b"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str  # the value as a person reads it (亿/万, a count)
    target: float | None = None  # drawn as a tick
    pace: float | None = None  # where the unit should be by now, a dashed tick
    colour: str = "#1e88e5"


def bars(items: Sequence[Bar], *, title: str = "") -> Markup:
    """Horizontal bars, one per row, with the target and the pace as ticks."""
    if not items:
        return Markup("")
    top = max([b.value for b in items] + [b.target or 0 for b in items] + [b.pace or 0 for b in items] + [1])
    span = WIDTH - LABEL - 60
    height = ROW * len(items) + 6
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, bar in enumerate(items):
        y = 3 + index * ROW
        length = max(bar.value / top * span, 0 if bar.value <= 0 else 1.5)
        out.append(
            f'<text x="{LABEL - 6}" y="{y + 16}" text-anchor="end" font-size="12">{escape(bar.label[:12])}</text>'
            f'<rect x="{LABEL}" y="{y + 4}" width="{length:.1f}" height="16" rx="2" fill="{bar.colour}"/>'
            f'<text x="{LABEL + length + 4:.1f}" y="{y + 16}" font-size="11">{escape(bar.shown)}</text>'
        )
        if bar.target:
            x = LABEL + bar.target / top * span
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + 23}" stroke="#d32f2f" stroke-width="2"/>'
            )
        if bar.pace:
            x = LABEL + bar.pace / top * span
            out.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + 23}" stroke="#555" '
                'stroke-dasharray="3,2" stroke-width="1.5"/>'
            )
    out.append("</svg>")
    return Markup("".join(out))


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    kind: str  # "visit" or "project"
    stage: str | None
    label: str
    href: str | None


def county_map(drawing: Drawing, names: dict[str, str], highlight: set[str], markers: Sequence[Marker]) -> Markup:
    """The counties, the zone's mark, and every placed visit and project coloured by stage."""
    out = [
        f'<svg class="map" viewBox="0 0 {drawing.width} {drawing.height}" width="100%" '
        'xmlns="http://www.w3.org/2000/svg" role="img">'
    ]
    for county in drawing.counties:
        fill = "#e3f2fd" if county.code in highlight else "#f5f5f5"
        out.append(
            f'<path d="{county.path}" fill="{fill}" stroke="#607d8b" stroke-width="0.8" data-county="{county.code}"/>'
        )
    for county in drawing.counties:
        x, y = county.centre
        out.append(
            f'<text x="{x}" y="{y}" font-size="10" text-anchor="middle" fill="#37474f">'
            f"{escape(names.get(county.code, county.code))}</text>"
        )
    zone = drawing.centre_of("zone")
    if zone is not None:
        out.append(
            f'<rect x="{zone[0] - 3}" y="{zone[1] - 3}" width="6" height="6" fill="none" stroke="#37474f"/>'
            f'<text x="{zone[0] + 5}" y="{zone[1] + 12}" font-size="9" fill="#37474f">'
            f"{escape(names.get('zone', ''))}</text>"
        )
    for marker in markers:
        colour = VISIT_COLOUR if marker.kind == "visit" else STAGE_COLOURS.get(marker.stage or "", "#000")
        shape = (
            f'<circle cx="{marker.x}" cy="{marker.y}" r="3.2" fill="{colour}" fill-opacity="0.85" '
            f'class="{marker.kind}" data-stage="{escape(marker.stage or "")}">'
            f"<title>{escape(marker.label)}</title></circle>"
            if marker.kind == "project"
            else f'<rect x="{marker.x - 2.5}" y="{marker.y - 2.5}" width="5" height="5" fill="{colour}" '
            f'fill-opacity="0.7" class="visit"><title>{escape(marker.label)}</title></rect>'
        )
        out.append(f'<a href="{escape(marker.href)}">{shape}</a>' if marker.href else shape)
    out.append("</svg>")
    return Markup("".join(out))
