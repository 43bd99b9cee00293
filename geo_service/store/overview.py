"""SQL for the overview map: imported network, residences and facilities as GeoJSON-ready rows."""

from __future__ import annotations

import json

from psycopg2.extensions import cursor as Cursor

from geo_service.geojson import Feature


def _features(cur: Cursor) -> list[Feature]:
    return [
        {"type": "Feature", "geometry": json.loads(row[0]), "properties": row[1]} for row in cur.fetchall()
    ]


def network_features(cur: Cursor, limit: int) -> list[Feature]:
    cur.execute(
        """SELECT ST_AsGeoJSON(geom, 6), jsonb_build_object('highway', highway, 'name', name, 'steps', steps)
           FROM walk_edges ORDER BY id LIMIT %s""",
        (limit,),
    )
    return _features(cur)


def residence_features(cur: Cursor, limit: int) -> list[Feature]:
    cur.execute(
        """SELECT ST_AsGeoJSON(geom, 6), jsonb_build_object(
                  'households', round(coalesce(households_reported, households_est)::numeric, 1),
                  'building', building, 'address', address)
           FROM residences ORDER BY id LIMIT %s""",
        (limit,),
    )
    return _features(cur)


def facility_features(cur: Cursor, limit: int) -> list[Feature]:
    cur.execute(
        """SELECT ST_AsGeoJSON(geom, 6), jsonb_build_object('name', coalesce(name, ''), 'category', category)
           FROM facilities WHERE deleted_at IS NULL ORDER BY id LIMIT %s""",
        (limit,),
    )
    return _features(cur)


def basemap_features(cur: Cursor, kinds: tuple[str, ...], limit: int) -> list[Feature]:
    """Water, green and building polygons (simplified ~1 m) to draw under the network."""
    cur.execute(
        """SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.00001), 6), jsonb_build_object('kind', kind)
           FROM basemap_features
           WHERE kind = ANY(%s) AND GeometryType(geom) IN ('POLYGON', 'MULTIPOLYGON')
           ORDER BY kind, id LIMIT %s""",
        (list(kinds), limit),
    )
    return _features(cur)


def data_extent(cur: Cursor) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of the imported network, or None when nothing is imported."""
    cur.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM walk_edges) s"
    )
    row = cur.fetchone()
    return None if row is None or row[0] is None else (row[0], row[1], row[2], row[3])
