"""SQL for planning inside an area: the street network and the homes (with households) it contains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

from psycopg2.extensions import cursor as Cursor


class AreaOutline(TypedDict):
    """A current area and its outline (``wkb``: MultiPolygon, WGS-84)."""

    code: str
    name: str
    level: str
    wkb: bytes


def street_lines(
    cur: Cursor, area_wkb: bytes, highways: Sequence[str] | None = None
) -> list[tuple[bytes, str]]:
    """(WKB LineString, highway) of walking-network edges crossing an area (EPSG:4326 WKB), optionally only
    of the given ``highways`` classes."""
    cur.execute(
        """SELECT ST_AsBinary(e.geom), e.highway FROM walk_edges e
           WHERE e.geom && ST_GeomFromWKB(%s, 4326) AND ST_Intersects(e.geom, ST_GeomFromWKB(%s, 4326))
             AND (%s::text[] IS NULL OR e.highway = ANY(%s::text[]))
           ORDER BY e.id""",
        (
            area_wkb,
            area_wkb,
            None if highways is None else list(highways),
            None if highways is None else list(highways),
        ),
    )
    return [(bytes(row[0]), row[1]) for row in cur.fetchall()]


def homes(cur: Cursor, area_wkb: bytes) -> list[tuple[float, float, float]]:
    """(lon, lat, households) of residences inside an area; households = reported, else estimated."""
    cur.execute(
        """SELECT ST_X(r.geom), ST_Y(r.geom), coalesce(r.households_reported, r.households_est)
           FROM residences r WHERE ST_Covers(ST_GeomFromWKB(%s, 4326), r.geom)
           ORDER BY r.id""",
        (area_wkb,),
    )
    return [(float(x), float(y), float(h)) for x, y, h in cur.fetchall()]


def area_geometry(cur: Cursor, code: str) -> AreaOutline | None:
    cur.execute(
        """SELECT code, name, level, ST_AsBinary(geom) FROM areas WHERE code = %s AND valid_to IS NULL""",
        (code,),
    )
    row = cur.fetchone()
    return None if row is None else AreaOutline(code=row[0], name=row[1], level=row[2], wkb=bytes(row[3]))
