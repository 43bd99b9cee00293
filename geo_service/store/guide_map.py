"""SQL for the guide map: the area's service centre or a network point inside it, its ancestors, and what
lies in the map frame (basemap, walking network, facilities), transformed to the map's metric CRS.

Boxes are (west, south, east, north) in degrees, WGS-84; ``srid`` is the metric CRS to return geometries
in (WKB, metres).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from psycopg2.extensions import cursor as Cursor

Box = tuple[float, float, float, float]
MAX_ROWS = 250_000  # a whole city of buildings is more than a printed page can show anyway
_CURRENT_AREA = "SELECT geom FROM areas WHERE code = %(code)s AND valid_to IS NULL"


class CentreRow(TypedDict):
    """A community centre: its names (``name:zh``/``name:en`` tags when set) and point (WGS-84)."""

    name: str | None
    name_zh: str | None
    name_en: str | None
    lon: float
    lat: float


class MapFacilityRow(CentreRow):
    """A facility in the map frame: ``x``, ``y`` in the map's metric CRS (metres)."""

    category: str
    x: float
    y: float


def ancestor_names(cur: Cursor, code: str) -> list[str]:
    """Names of the current areas above ``code``, nearest first."""
    cur.execute(
        """WITH RECURSIVE up(code, parent_code, depth) AS (
               SELECT code, parent_code, 0 FROM areas WHERE code = %s AND valid_to IS NULL
               UNION ALL
               SELECT a.code, a.parent_code, up.depth + 1 FROM areas a JOIN up ON a.code = up.parent_code
               WHERE a.valid_to IS NULL AND up.depth < 10)
           SELECT a.name FROM up JOIN areas a ON a.code = up.code AND a.valid_to IS NULL
           WHERE up.depth > 0 ORDER BY up.depth""",
        (code,),
    )
    return [row[0] for row in cur.fetchall()]


def community_centres(cur: Cursor, code: str) -> list[CentreRow]:
    """Facilities of category ``community_center`` inside the area, nearest its centre first:
    ``name``, ``name_zh``, ``name_en``, ``lon``, ``lat``."""
    cur.execute(
        f"""WITH a AS ({_CURRENT_AREA})
            SELECT f.name, f.tags->>'name:zh' AS name_zh, f.tags->>'name:en' AS name_en,
                   ST_X(f.geom) AS lon, ST_Y(f.geom) AS lat
            FROM facilities f, a
            WHERE f.category = 'community_center' AND f.deleted_at IS NULL AND ST_Intersects(f.geom, a.geom)
            ORDER BY f.geom <-> ST_PointOnSurface(a.geom), f.id""",
        {"code": code},
    )
    return [
        CentreRow(name=name, name_zh=name_zh, name_en=name_en, lon=lon, lat=lat)
        for name, name_zh, name_en, lon, lat in cur.fetchall()
    ]


def network_point(cur: Cursor, code: str, candidates: int = 40) -> tuple[float, float] | None:
    """A walking-network node inside the area near its centre, (lon, lat); None when no node is inside.

    Of the ``candidates`` nodes nearest the centre, a junction (three or more edges) wins over a dead end
    or a bend, so the walk does not start on a stray path piece.
    """
    cur.execute(
        f"""WITH a AS ({_CURRENT_AREA}),
            centre AS (SELECT CASE WHEN ST_Intersects(ST_Centroid(geom), geom) THEN ST_Centroid(geom)
                                   ELSE ST_PointOnSurface(geom) END AS p, geom FROM a),
            near AS (SELECT n.dataset, n.id, n.geom, n.geom <-> centre.p AS d
                     FROM walk_nodes n, centre WHERE ST_Intersects(n.geom, centre.geom)
                     ORDER BY n.geom <-> centre.p LIMIT %(candidates)s)
            SELECT ST_X(near.geom), ST_Y(near.geom)
            FROM near
            CROSS JOIN LATERAL (SELECT count(*) AS degree FROM walk_edges e
                                WHERE e.geom && near.geom AND e.dataset = near.dataset
                                  AND (e.u = near.id OR e.v = near.id)) deg
            ORDER BY deg.degree >= 3 DESC, near.d
            LIMIT 1""",
        {"code": code, "candidates": candidates},
    )
    row = cur.fetchone()
    return (row[0], row[1]) if row else None


def basemap(
    cur: Cursor,
    box: Box,
    srid: int,
    simplify_m: float,
    skip_kinds: Sequence[str],
    skip_classes: Sequence[str],
) -> list[tuple[str, str | None, str | None, bytes]]:
    """Basemap features touching ``box``: (kind, class, name, WKB in ``srid``), simplified to
    ``simplify_m`` metres (collapsed features kept as points so nothing vanishes)."""
    cur.execute(
        """SELECT kind, class, name, ST_AsBinary(ST_Simplify(ST_Transform(geom, %(srid)s), %(tol)s, true))
           FROM basemap_features
           WHERE geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
             AND NOT (kind = ANY(%(skip_kinds)s)) AND NOT (coalesce(class, '') = ANY(%(skip_classes)s))
           LIMIT %(limit)s""",
        _box_params(box, srid, tol=simplify_m, skip_kinds=list(skip_kinds), skip_classes=list(skip_classes)),
    )
    return [(kind, cls, name, bytes(wkb)) for kind, cls, name, wkb in cur.fetchall()]


def walk_edges(
    cur: Cursor, box: Box, srid: int, simplify_m: float
) -> list[tuple[str | None, str | None, bytes]]:
    """Walking-network edges touching ``box`` as (highway, name, WKB in ``srid``): the streets to draw
    when a dataset came without basemap roads."""
    cur.execute(
        """SELECT highway, name, ST_AsBinary(ST_Simplify(ST_Transform(geom, %(srid)s), %(tol)s, true))
           FROM walk_edges WHERE geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
           LIMIT %(limit)s""",
        _box_params(box, srid, tol=simplify_m),
    )
    return [(highway, name, bytes(wkb)) for highway, name, wkb in cur.fetchall()]


def facilities(cur: Cursor, box: Box, srid: int) -> list[MapFacilityRow]:
    """Live (not deleted) facilities inside ``box``: ``category``, ``name``, ``name_zh``, ``name_en``, ``lon``, ``lat`` and
    ``x``, ``y`` in ``srid`` (metres)."""
    cur.execute(
        """SELECT category, name, tags->>'name:zh', tags->>'name:en', ST_X(geom), ST_Y(geom),
                  ST_X(ST_Transform(geom, %(srid)s)), ST_Y(ST_Transform(geom, %(srid)s))
           FROM facilities
           WHERE geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326) AND deleted_at IS NULL
           ORDER BY id LIMIT %(limit)s""",
        _box_params(box, srid),
    )
    return [
        MapFacilityRow(
            category=category, name=name, name_zh=name_zh, name_en=name_en, lon=lon, lat=lat, x=x, y=y
        )
        for category, name, name_zh, name_en, lon, lat, x, y in cur.fetchall()
    ]


def _box_params(box: Box, srid: int, **extra: Any) -> dict[str, Any]:
    w, s, e, n = box
    return {"w": w, "s": s, "e": e, "n": n, "srid": srid, "limit": MAX_ROWS, **extra}
