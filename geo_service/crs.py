"""Coordinate reference systems and the earth's shape: the metric CRS for a place, metres per degree, and
great-circle distances. The one place for these: every module that turns degrees into metres uses it.

Storage is EPSG:4326. Metric work (areas, lengths, buffers) projects to a CRS chosen for the data:
inside China the CGCS2000 3-degree Gauss–Krüger zone (EPSG:4534–4554, central meridians 75°E–135°E),
elsewhere the UTM zone (EPSG:326xx north, 327xx south).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

WGS84_A = 6378137.0  # semi-major axis, metres
WGS84_E2 = 6.69437999014e-3  # first eccentricity squared
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), for great-circle distances

_CHINA_BOX = (73.0, 18.0, 135.5, 54.0)  # lon_min, lat_min, lon_max, lat_max


def in_china_box(lon: float, lat: float) -> bool:
    lon_min, lat_min, lon_max, lat_max = _CHINA_BOX
    return lon_min <= lon <= lon_max and lat_min <= lat <= lat_max


def metric_epsg(lon: float, lat: float) -> int:
    """EPSG code of the metric CRS for a point (degrees, WGS-84)."""
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"not a WGS-84 coordinate: lon={lon}, lat={lat}")
    if in_china_box(lon, lat):
        central = min(max(round(lon / 3.0) * 3, 75), 135)
        return 4534 + (central - 75) // 3
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def metric_epsg_for(geoms: Sequence[BaseGeometry]) -> int:
    """The metric CRS for a set of WGS-84 geometries (chosen at the centre of their bounds); EPSG:3857 when
    they have no finite bounds (all empty)."""
    bounds = shapely.total_bounds(np.asarray(geoms, dtype=object))
    if not np.all(np.isfinite(bounds)):
        return 3857
    return metric_epsg((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, per degree of latitude) at ``lat`` on the WGS-84 ellipsoid."""
    phi = math.radians(lat)
    w = math.sqrt(1.0 - WGS84_E2 * math.sin(phi) ** 2)
    prime_vertical = WGS84_A / w
    meridional = WGS84_A * (1.0 - WGS84_E2) / w**3
    return math.radians(1) * prime_vertical * math.cos(phi), math.radians(1) * meridional


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance between two WGS-84 points on the mean-radius sphere, metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
