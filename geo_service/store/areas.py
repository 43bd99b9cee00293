"""SQL for areas (district → street → community → grid) and their versions.

Geometries travel as WKB (``wkb`` column, bytes); callers turn them into shapely geometries. The current
version of a code is the row with ``valid_to IS NULL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import shapely
from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json
from shapely.geometry import MultiPolygon
from typing_extensions import TypedDict  # pydantic documents AreaRef (locate) on Python 3.11

from geo_service.db.rows import all_with_wkb, fetch_one

_COLUMNS = """id, code, name, level, parent_code, households, population, workers, properties, source,
              version, valid_from, valid_to, changed_by, change, closed_by, closed_change,
              ST_AsBinary(geom) AS wkb"""


class AreaRef(TypedDict):
    """An area as others record it (an incident's ``area_snapshot``, locate's answers): the version meant."""

    level: str
    code: str
    name: str
    version: int


class AreaRow(TypedDict):
    """One version of an area as :data:`_COLUMNS` reads it; ``wkb`` its MultiPolygon (WGS-84) as WKB."""

    id: int
    code: str
    name: str
    level: str
    parent_code: str | None
    households: int | None
    population: int | None
    workers: list[dict[str, Any]]
    properties: dict[str, Any]
    source: str
    version: int
    valid_from: datetime
    valid_to: datetime | None
    changed_by: str | None
    change: str
    closed_by: str | None
    closed_change: str | None
    wkb: bytes


class NewArea(TypedDict):
    """What a new version of an area stores (:func:`insert_version`); ``wkb`` its outline (WGS-84)."""

    code: str | None
    name: str | None
    level: str
    parent_code: str | None
    households: int | None
    population: int | None
    workers: list[dict[str, Any]]  # as the planner gave them: name, phone, ...
    properties: dict[str, Any]  # the planner's own members, kept as they are
    source: str
    wkb: bytes


class IndexRow(TypedDict):
    """A current area in the locate index's snapshot (``wkb`` as in :class:`AreaRow`)."""

    revision: int
    code: str
    name: str
    level: str
    parent_code: str | None
    version: int
    wkb: bytes


class AreaStatsRow(TypedDict):
    """An area's planning numbers: ``area_m2`` on the ellipsoid, the residences inside and their households,
    workers on record in it and below it."""

    code: str
    name: str
    level: str
    parent_code: str | None
    version: int
    households: int | None
    population: int | None
    area_m2: float
    residences: int
    residence_households: float
    workers_on_record: int
    own_workers: int
    children: int


def geometry(row: AreaRow) -> MultiPolygon:
    """The area's outline (WGS-84): stored as a MultiPolygon always (``ST_Multi`` on insert)."""
    return cast(MultiPolygon, shapely.from_wkb(row["wkb"]))


def _rows(cur: Cursor) -> list[AreaRow]:
    """The rows of a ``SELECT {_COLUMNS}`` (WKB as bytes, not the driver's memoryview)."""
    return all_with_wkb(cur, AreaRow)


def lock_codes(cur: Cursor, codes: Iterable[str]) -> None:
    """Transaction-level advisory locks on ``codes`` (in sorted order, so two writers never deadlock).

    A write locks its own code and its parent's, so edits to one area and to any of its children or siblings
    are serialised: the overlap, inside-parent and code checks then see every committed neighbour.
    """
    for code in sorted(set(codes)):
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('areas:' || %s, 0))", (code,))


def current_area(cur: Cursor, code: str, for_update: bool = False) -> AreaRow | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(f"SELECT {_COLUMNS} FROM areas WHERE code = %s AND valid_to IS NULL{lock}", (code,))
    rows = _rows(cur)
    return rows[0] if rows else None


def current_areas_by_code(cur: Cursor, codes: Sequence[str], for_update: bool = False) -> dict[str, AreaRow]:
    if not codes:
        return {}
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(
        f"SELECT {_COLUMNS} FROM areas WHERE code = ANY(%s) AND valid_to IS NULL ORDER BY code{lock}",
        (list(codes),),
    )
    return {row["code"]: row for row in _rows(cur)}


def latest_versions(cur: Cursor, codes: Sequence[str]) -> dict[str, AreaRow]:
    """The newest version of each code, current or closed."""
    if not codes:
        return {}
    cur.execute(
        f"""SELECT DISTINCT ON (code) {_COLUMNS} FROM areas WHERE code = ANY(%s)
            ORDER BY code, version DESC""",
        (list(codes),),
    )
    return {row["code"]: row for row in _rows(cur)}


def version_of(cur: Cursor, code: str, version: int) -> AreaRow | None:
    cur.execute(f"SELECT {_COLUMNS} FROM areas WHERE code = %s AND version = %s", (code, version))
    rows = _rows(cur)
    return rows[0] if rows else None


def history(cur: Cursor, code: str) -> list[AreaRow]:
    cur.execute(f"SELECT {_COLUMNS} FROM areas WHERE code = %s ORDER BY version", (code,))
    return _rows(cur)


def siblings(cur: Cursor, level: str, parent_code: str | None, exclude: Sequence[str] = ()) -> list[AreaRow]:
    """Current areas under the same parent (roots: same level, no parent), minus ``exclude``."""
    if parent_code is None:
        cur.execute(
            f"""SELECT {_COLUMNS} FROM areas WHERE valid_to IS NULL AND parent_code IS NULL AND level = %s
                AND NOT (code = ANY(%s)) ORDER BY code""",
            (level, list(exclude)),
        )
    else:
        cur.execute(
            f"""SELECT {_COLUMNS} FROM areas WHERE valid_to IS NULL AND parent_code = %s
                AND NOT (code = ANY(%s)) ORDER BY code""",
            (parent_code, list(exclude)),
        )
    return _rows(cur)


def children(cur: Cursor, code: str) -> list[AreaRow]:
    cur.execute(
        f"SELECT {_COLUMNS} FROM areas WHERE valid_to IS NULL AND parent_code = %s ORDER BY code", (code,)
    )
    return _rows(cur)


def codes_ever_used(cur: Cursor, prefix: str) -> set[str]:
    """Every code (any version, deleted ones included) that starts with ``prefix``."""
    cur.execute("SELECT DISTINCT code FROM areas WHERE code LIKE %s", (prefix.replace("%", r"\%") + "%",))
    return {row[0] if isinstance(row, tuple) else row["code"] for row in cur.fetchall()}


def list_current(
    cur: Cursor,
    level: str | None = None,
    parent_code: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int | None = None,
) -> list[AreaRow]:
    where = ["valid_to IS NULL"]
    params: list[Any] = []
    if level is not None:
        where.append("level = %s")
        params.append(level)
    if parent_code is not None:
        where.append("parent_code = %s")
        params.append(parent_code)
    if bbox is not None:
        where.append("geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
        params.extend(bbox)
    limit_sql = ""
    if limit is not None:
        limit_sql = " LIMIT %s"
        params.append(limit)
    cur.execute(
        f"""SELECT {_COLUMNS} FROM areas WHERE {" AND ".join(where)}
            ORDER BY array_position(ARRAY['district','street','community','grid'], level), code{limit_sql}""",
        params,
    )
    return _rows(cur)


def insert_version(
    cur: Cursor, area: NewArea, version: int, actor: str | None, change: str, valid_from: Any = None
) -> int:
    """Insert a version (``area`` holds code, name, level, parent_code, households, population, workers,
    properties, source, wkb); ``valid_from`` defaults to the transaction time. Returns its id."""
    cur.execute(
        """INSERT INTO areas (code, name, level, parent_code, households, population, workers, properties,
                              source, version, changed_by, change, valid_from, geom)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()),
                   ST_Multi(ST_SetSRID(ST_GeomFromWKB(%s), 4326)))
           RETURNING id""",
        (
            area["code"],
            area["name"],
            area["level"],
            area["parent_code"],
            area["households"],
            area["population"],
            Json(area["workers"]),
            Json(area["properties"]),
            area["source"],
            version,
            actor,
            change,
            valid_from,
            area["wkb"],
        ),
    )
    return _returning_id(cur)


def _returning_id(cur: Cursor) -> int:
    row = fetch_one(cur)
    return int(row["id"] if isinstance(row, dict) else row[0])


def close_version(cur: Cursor, area_id: int, actor: str | None, change: str) -> Any:
    """Close a current version (``change`` is 'update', 'delete' or 'merge') and return its ``valid_to``.

    ``valid_to`` is the transaction time, or the version's own start when that is later (a writer that
    waited on a lock may have started before the version it closes was opened); the next version opens at
    the same instant, so validity intervals tile time without overlap."""
    cur.execute(
        """UPDATE areas SET valid_to = greatest(now(), valid_from), closed_by = %s, closed_change = %s
           WHERE id = %s AND valid_to IS NULL RETURNING valid_to""",
        (actor, change, area_id),
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"area version {area_id} was not current")
    return row["valid_to"] if isinstance(row, dict) else row[0]


def revision(cur: Cursor) -> int:
    """The ``areas`` revision from ``data_revisions`` (0 before the first write)."""
    cur.execute("SELECT revision FROM data_revisions WHERE entity = 'areas'")
    row = cur.fetchone()
    if row is None:
        return 0
    return int(row["revision"] if isinstance(row, dict) else row[0])


def index_snapshot(cur: Cursor) -> tuple[int, list[IndexRow]]:
    """The ``areas`` revision and every current area, read by one statement (so from one snapshot: the
    rows are exactly those of that revision)."""
    cur.execute(
        """SELECT r.revision, a.code, a.name, a.level, a.parent_code, a.version, ST_AsBinary(a.geom) AS wkb
           FROM (SELECT coalesce(max(revision), 0) AS revision FROM data_revisions WHERE entity = 'areas') r
           LEFT JOIN areas a ON a.valid_to IS NULL
           ORDER BY a.code"""
    )
    rows = all_with_wkb(cur, IndexRow)
    rev = int(rows[0]["revision"]) if rows else 0
    return rev, [r for r in rows if r["code"] is not None]


def area_stats(cur: Cursor, code: str) -> AreaStatsRow | None:
    """Area (m², on the ellipsoid), residences and their households inside, and the workers on record in the
    area and every area below it."""
    cur.execute(
        """WITH RECURSIVE a AS (SELECT * FROM areas WHERE code = %s AND valid_to IS NULL),
           tree AS (
               SELECT code, workers FROM a
               UNION ALL
               SELECT c.code, c.workers FROM areas c JOIN tree t ON c.parent_code = t.code
               WHERE c.valid_to IS NULL)
           SELECT a.code, a.name, a.level, a.parent_code, a.version, a.households, a.population,
                  ST_Area(a.geom::geography) AS area_m2,
                  (SELECT count(*) FROM residences r WHERE ST_Covers(a.geom, r.geom)) AS residences,
                  (SELECT coalesce(sum(coalesce(r.households_reported, r.households_est)), 0)
                     FROM residences r WHERE ST_Covers(a.geom, r.geom)) AS residence_households,
                  (SELECT coalesce(sum(jsonb_array_length(t.workers)), 0) FROM tree t) AS workers_on_record,
                  jsonb_array_length(a.workers) AS own_workers,
                  (SELECT count(*) FROM areas c WHERE c.parent_code = a.code AND c.valid_to IS NULL) AS children
           FROM a""",
        (code,),
    )
    row = cur.fetchone()
    return None if row is None else cast(AreaStatsRow, dict(row))


def postgis_locate(cur: Cursor, lon: Any, lat: Any, on_boundary_deg: float = 1e-11) -> list[str | None]:
    """The reference answer for locate, computed by PostGIS alone: for each point the lowest code
    (``COLLATE "C"``, code-point order) among the current grids that ``ST_Covers`` it; covered by none, the
    lowest among those within ``on_boundary_deg`` of it (on a boundary up to rounding); else None."""
    return postgis_covers(cur, lon, lat, on_boundary_deg)[0]


def postgis_covers(
    cur: Cursor, lon: Any, lat: Any, on_boundary_deg: float = 1e-11
) -> tuple[list[str | None], list[int]]:
    """:func:`postgis_locate`'s answers, and for each point the number of current grids that ``ST_Covers`` it
    (more than one: a shared edge or vertex, where the tie rule decides). Loads the points into a temporary
    table (COPY) with a GiST index and joins each grid to the points near it: one grid stays the same across
    its points, so PostGIS prepares its geometry once (its prepared-geometry and distance caches) instead of
    once per point as a join driven by the points did (120,000 points: ~3 s instead of ~10 s)."""
    import io

    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS locate_points (id integer PRIMARY KEY, geom geometry(Point, 4326))"
    )
    cur.execute("CREATE INDEX IF NOT EXISTS locate_points_geom ON locate_points USING gist (geom)")
    cur.execute("TRUNCATE locate_points")
    buffer = io.StringIO()
    for k, (x, y) in enumerate(zip(lon, lat, strict=True)):
        buffer.write(f"{k}\tSRID=4326;POINT({float(x)!r} {float(y)!r})\n")
    buffer.seek(0)
    cur.copy_expert("COPY locate_points (id, geom) FROM STDIN", buffer)
    cur.execute("ANALYZE locate_points")
    cur.execute(
        """SELECT p.id, a.code, ST_Covers(a.geom, p.geom) AS covers
           FROM areas a JOIN locate_points p ON ST_DWithin(a.geom, p.geom, %s)
           WHERE a.level = 'grid' AND a.valid_to IS NULL""",
        (on_boundary_deg,),
    )
    # (not covering, code) is least for the answer: covering grids first, then the lowest code; Python orders
    # str by code point, as COLLATE "C" orders UTF-8 bytes
    best: list[tuple[bool, str] | None] = [None] * len(lon)
    covering = [0] * len(lon)
    for row in cur.fetchall():
        k, code, covers = (row["id"], row["code"], row["covers"]) if isinstance(row, dict) else row
        candidate = (not covers, code)
        if best[k] is None or candidate < best[k]:
            best[k] = candidate
        covering[k] += bool(covers)
    return [None if b is None else b[1] for b in best], covering
