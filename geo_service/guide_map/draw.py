"""Drawing helpers of the guide map: shapely geometries as matplotlib paths, and label collision boxes.

Everything here works in the map's metric CRS (metres); nothing touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path
from matplotlib.textpath import TextPath


def polygon_path(geoms: Sequence[shapely.Geometry]) -> Path | None:
    """One compound path of every polygon ring in ``geoms`` (non-polygons are ignored), or None.

    Rings are oriented (shells counter-clockwise, holes clockwise) so the non-zero fill rule leaves holes
    open; one path per layer draws thousands of buildings as fast as one.
    """
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    kind = shapely.get_type_id(parts)
    polygons = shapely.orient_polygons(parts[kind == shapely.GeometryType.POLYGON])
    if len(polygons) == 0:
        return None
    rings = shapely.get_rings(polygons)
    counts = shapely.get_num_coordinates(rings)
    rings, counts = rings[counts >= 4], counts[counts >= 4]
    if len(rings) == 0:
        return None
    vertices = shapely.get_coordinates(rings)
    codes = np.full(len(vertices), Path.LINETO, dtype=np.uint8)
    ends = np.cumsum(counts)
    codes[ends - counts] = Path.MOVETO
    codes[ends - 1] = Path.CLOSEPOLY
    return Path(vertices, codes)


def line_coords(geoms: Sequence[shapely.Geometry]) -> list[np.ndarray]:
    """Vertex arrays (n, 2) of every line in ``geoms``, polygon outlines included (for a LineCollection)."""
    parts = shapely.get_parts(np.asarray(geoms, dtype=object))
    kind = shapely.get_type_id(parts)
    lines = parts[(kind == shapely.GeometryType.LINESTRING) | (kind == shapely.GeometryType.LINEARRING)]
    polygons = parts[kind == shapely.GeometryType.POLYGON]
    if len(polygons):
        lines = np.concatenate([lines, shapely.get_rings(polygons)])
    if len(lines) == 0:
        return []
    counts = shapely.get_num_coordinates(lines)
    coords = shapely.get_coordinates(lines)
    pieces = np.split(coords, np.cumsum(counts)[:-1])
    return [p for p in pieces if len(p) >= 2]


def line_path(geoms: Sequence[shapely.Geometry]) -> Path | None:
    """One compound, unfilled path of every line and polygon outline in ``geoms``, or None."""
    pieces = line_coords(geoms)
    if not pieces:
        return None
    vertices = np.concatenate(pieces)
    codes = np.full(len(vertices), Path.LINETO, dtype=np.uint8)
    starts = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    codes[starts] = Path.MOVETO
    return Path(vertices, codes)


class Occupancy:
    """Axis-aligned boxes (x0, y0, x1, y1, metres) already taken by icons, labels and map furniture."""

    def __init__(self, capacity: int = 1024) -> None:
        self._boxes = np.empty((capacity, 4))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def is_free(self, box: tuple[float, float, float, float]) -> bool:
        return self.all_free([box])

    def all_free(self, boxes: Sequence[tuple[float, float, float, float]]) -> bool:
        if self._n == 0:
            return True
        taken = self._boxes[: self._n]
        for x0, y0, x1, y1 in boxes:
            hit = (taken[:, 0] < x1) & (taken[:, 2] > x0) & (taken[:, 1] < y1) & (taken[:, 3] > y0)
            if hit.any():
                return False
        return True

    def take(self, box: tuple[float, float, float, float]) -> None:
        if self._n == len(self._boxes):
            self._boxes = np.concatenate([self._boxes, np.empty_like(self._boxes)])
        self._boxes[self._n] = box
        self._n += 1

    def take_all(self, boxes: Sequence[tuple[float, float, float, float]]) -> None:
        for box in boxes:
            self.take(box)


def square(x: float, y: float, half: float) -> tuple[float, float, float, float]:
    return (x - half, y - half, x + half, y + half)


def along_boxes(
    x: float, y: float, angle_rad: float, length: float, height: float
) -> list[tuple[float, float, float, float]]:
    """Square boxes of side ``height`` covering a text of ``length`` centred on (x, y) at ``angle_rad``.

    A rotated label is then checked against the same axis-aligned boxes as everything else, without the
    waste of its rotated bounding box.
    """
    n = max(1, int(np.ceil(length / height)))
    offsets = (np.arange(n) + 0.5) * (length / n) - length / 2
    dx, dy = np.cos(angle_rad), np.sin(angle_rad)
    return [square(x + t * dx, y + t * dy, height / 2) for t in offsets]


@lru_cache(maxsize=128)
def glyph_marker(glyph: str, prop: FontProperties) -> Path:
    """The outline of ``glyph`` centred on (0, 0), for use as a scatter marker (matplotlib scales a
    custom marker so its larger half-extent fills half the marker size)."""
    outline = TextPath((0, 0), glyph, prop=prop)
    (x0, y0), (x1, y1) = outline.vertices.min(axis=0), outline.vertices.max(axis=0)
    return Path(outline.vertices - [(x0 + x1) / 2, (y0 + y1) / 2], outline.codes)
