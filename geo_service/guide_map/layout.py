"""What a guide map shows, and the page's layout in millimetres: the data :mod:`.render` draws, without
matplotlib (the service builds it; only drawing needs the plotting stack, imported on the first render).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shapely.geometry.base import BaseGeometry

from geo_service.guide_map.text import Lang

Box = tuple[float, float, float, float]
OriginKind = Literal["community_center", "network_point", "area_point"]

# Page layout, millimetres from the sheet's lower-left corner.
PAGE_W_MM, PAGE_H_MM = 210.0, 297.0
PNG_PX = (2480, 3508)  # A4 at 300 dpi
PNG_DPI = 300
PNG_COMPRESS_LEVEL = 3  # zlib level: 6 takes much longer for a file only slightly smaller
MARGIN_MM = 10.0
MAP_MM = (MARGIN_MM, 86.0, PAGE_W_MM - 2 * MARGIN_MM, 181.5)  # x, y, width, height
TABLE_TOP_MM, TABLE_BOTTOM_MM = 82.0, 27.0
MAP_ASPECT = MAP_MM[2] / MAP_MM[3]


@dataclass(frozen=True)
class Facility:
    """A facility on the map; ``xy`` in the map's metric CRS (metres)."""

    category: str
    name: str | None
    xy: tuple[float, float]
    in_circle: bool = False
    in_area: bool = False
    walk_seconds: float | None = None  # along the network from the origin; None when not known
    distance_m: float = math.inf  # straight line from the origin, metres


@dataclass(frozen=True)
class Basemap:
    """Background features in the map's metric CRS: (class, name, geometry) triples."""

    roads: Sequence[tuple[str | None, str | None, BaseGeometry]] = ()
    buildings: Sequence[BaseGeometry] = ()
    water: Sequence[BaseGeometry] = ()
    green: Sequence[BaseGeometry] = ()
    rail: Sequence[tuple[str | None, BaseGeometry]] = ()


@dataclass(frozen=True)
class GuideMap:
    """Everything the page shows. Geometries are in the metric CRS ``epsg`` (metres)."""

    lang: Lang
    area_name: str
    area_level: str
    boundary: BaseGeometry
    view: Box  # what the map frame shows; from :func:`view_extent`
    origin: tuple[float, float]
    origin_kind: OriginKind
    origin_name: str | None
    circle: BaseGeometry | None  # the walking contour; None when there is no network near
    minutes: float
    speed_kmh: float
    facilities: Sequence[Facility]
    category_labels: dict[str, str]  # category id → legend label in ``lang``
    basemap: Basemap
    crs_name: str
    epsg: int
    date: str  # ISO date printed on the map
    parents: Sequence[str] = ()  # names of the enclosing areas, nearest first
    north_deg: float = 0.0  # true north, degrees clockwise from the map's up (meridian convergence)
    scale_factor: float = 1.0  # map metres per ground metre at the centre (the CRS's point scale)
    demo: bool = False
    no_network: bool = False  # no walking network near the area: no circle, and a note saying so


def view_extent(content: Box, min_side_m: float = 600.0, pad: float = 0.08) -> Box:
    """The map frame's extent (metres) around ``content``: padded, at least ``min_side_m`` across, and
    stretched to the frame's aspect ratio so both axes have one scale."""
    x0, y0, x1, y1 = content
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = max((x1 - x0) * (1 + 2 * pad), min_side_m)
    h = max((y1 - y0) * (1 + 2 * pad), min_side_m)
    if w / h > MAP_ASPECT:
        h = w / MAP_ASPECT
    else:
        w = h * MAP_ASPECT
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
