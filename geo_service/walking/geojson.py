"""GeoJSON text of isochrone outlines written by a compiled kernel: their coordinates are already rounded to a
known number of decimals, so each is printed as a scaled integer with that many decimals at most, several times
faster than a general float printer (GEOS's or orjson's shortest round trip) and the same numbers."""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo_service.jit import kernel


@kernel
def _put_number(out: np.ndarray, n: int, value: float, scale: float, decimals: int) -> int:
    """Write ``value`` (a multiple of 10**-decimals up to float rounding) at ``out[n:]``; the new end."""
    if value < 0:
        out[n] = 45  # '-'
        n += 1
        value = -value
    scaled = math.floor(value * scale + 0.5)
    whole = scaled // int(scale)
    fraction = scaled - whole * int(scale)
    if whole == 0:
        out[n] = 48
        n += 1
    else:
        digits = 0
        w = whole
        while w > 0:
            digits += 1
            w //= 10
        for k in range(digits - 1, -1, -1):
            out[n + k] = 48 + whole % 10
            whole //= 10
        n += digits
    out[n] = 46  # '.'
    n += 1
    if fraction == 0 or decimals == 0:
        out[n] = 48
        return n + 1
    kept = decimals
    while fraction % 10 == 0:
        fraction //= 10
        kept -= 1
    for k in range(kept - 1, -1, -1):
        out[n + k] = 48 + fraction % 10
        fraction //= 10
    return n + kept


@kernel
def _write(
    coords: np.ndarray, ring_offsets: np.ndarray, polygon_offsets: np.ndarray, decimals: int
) -> np.ndarray:
    """``[[[[x, y], ...], ...], ...]``: the coordinates of a MultiPolygon as UTF-8 bytes."""
    size = coords.shape[0] * 2 * (decimals + 24) + (ring_offsets.shape[0] + polygon_offsets.shape[0]) * 4 + 8
    out = np.empty(size, np.uint8)
    scale = 10.0**decimals
    n = 0
    out[n] = 91  # '['
    n += 1
    for p in range(polygon_offsets.shape[0] - 1):
        if p > 0:
            out[n] = 44  # ','
            n += 1
        out[n] = 91
        n += 1
        for r in range(polygon_offsets[p], polygon_offsets[p + 1]):
            if r > polygon_offsets[p]:
                out[n] = 44
                n += 1
            out[n] = 91
            n += 1
            for i in range(ring_offsets[r], ring_offsets[r + 1]):
                if i > ring_offsets[r]:
                    out[n] = 44
                    n += 1
                out[n] = 91
                n += 1
                n = _put_number(out, n, coords[i, 0], scale, decimals)
                out[n] = 44
                n += 1
                n = _put_number(out, n, coords[i, 1], scale, decimals)
                out[n] = 93  # ']'
                n += 1
            out[n] = 93
            n += 1
        out[n] = 93
        n += 1
    out[n] = 93
    n += 1
    return out[:n]


def geometry_json(geometry: BaseGeometry, decimals: int | None) -> bytes:
    """The GeoJSON ``geometry`` object of ``geometry``. A MultiPolygon whose coordinates are rounded to
    ``decimals`` (≤ 15; degrees, or anything whose scaled values stay below 2**53) goes through the compiled
    writer; anything else through GEOS's."""
    if decimals is None or not 0 <= decimals <= 15 or shapely.get_type_id(geometry) != 6:
        return shapely.to_geojson(geometry).encode()
    if shapely.is_empty(geometry):
        return b'{"type":"MultiPolygon","coordinates":[]}'
    # the coordinates come polygon by polygon, each outer ring then its holes: the order of get_rings
    polygons = shapely.get_parts(geometry)
    ring_offsets = np.zeros(1, np.int64)
    ring_sizes = shapely.get_num_coordinates(shapely.get_rings(polygons))
    ring_offsets = np.concatenate([ring_offsets, np.cumsum(ring_sizes, dtype=np.int64)])
    rings_per_polygon = shapely.get_num_interior_rings(polygons) + 1
    polygon_offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(rings_per_polygon, dtype=np.int64)])
    coords = shapely.get_coordinates(geometry)
    if np.abs(coords).max() * 10.0**decimals >= 2.0**53:  # not exact as a scaled integer: GEOS prints it
        return shapely.to_geojson(geometry).encode()
    body = _write(coords, ring_offsets, polygon_offsets, decimals)
    return b'{"type":"MultiPolygon","coordinates":' + body.tobytes() + b"}"
