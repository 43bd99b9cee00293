"""Coordinate reference systems: the metric CRS for a place.

Storage is EPSG:4326. Metric work (areas, lengths, buffers) projects to a CRS chosen for the data:
inside China the CGCS2000 3-degree Gauss–Krüger zone (EPSG:4534–4554, central meridians 75°E–135°E),
elsewhere the UTM zone (EPSG:326xx north, 327xx south).
"""

from __future__ import annotations

import math

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
