"""SQL for other departments' networks: the networks, their versions and cells, and what the crosswalk reads
(the current unified grids and the homes with their households).

Geometries travel as WKB (EPSG:4326); callers turn them into shapely geometries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

import numpy as np
from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import Json, execute_values

from geo_service.db.rows import all_with_wkb

Box = tuple[float, float, float, float]


class NetworkRow(TypedDict):
    """A network with its current version (``version`` 0, and the rest None, before its first import);
    ``west`` ... ``north`` the extent of its cells (WGS-84), None without cells."""

    name: str
    department: str | None
    version: int
    imported_at: datetime | None
    imported_by: str | None
    source: str | None
    crs: str | None
    cells: int
    west: float | None
    south: float | None
    east: float | None
    north: float | None


class NetworkHead(TypedDict):
    name: str
    department: str | None
    version: int


class VersionRow(TypedDict):
    """One version of a network; ``closed_at`` when the next import closed it (None: current)."""

    version: int
    imported_at: datetime
    imported_by: str | None
    source: str | None
    crs: str | None
    cells: int
    closed_at: datetime | None


class CellRow(TypedDict):
    """A cell of a network version; ``wkb`` its MultiPolygon (WGS-84)."""

    id: int
    code: str
    name: str | None
    properties: dict[str, Any]
    version: int
    valid_from: datetime
    valid_to: datetime | None
    wkb: bytes


class NewCell(TypedDict):
    """A cell of a new version (:func:`insert_cells`); ``wkb`` its outline (WGS-84)."""

    code: str
    name: str | None
    properties: dict[str, Any]  # the department's own members
    wkb: bytes


class OutlineRow(TypedDict):
    """A current community: code, name, ``wkb`` its outline (WGS-84)."""

    code: str
    name: str
    wkb: bytes


class GridOutlineRow(OutlineRow):
    """A current unified grid: its outline and its parent's code."""

    parent_code: str | None


def _value(row: Any, key: str, index: int) -> Any:
    return row[key] if isinstance(row, dict) else row[index]


def _code_name_wkb(rows: list[Any]) -> tuple[list[str], list[str | None], list[bytes]]:
    """Columns of (code, name, WKB) rows: tens of thousands of them, so unpacked in one zip, not per row."""
    if not rows:
        return [], [], []
    if isinstance(rows[0], dict):
        rows = [(r["code"], r["name"], r["st_asbinary"]) for r in rows]
    codes, names, wkbs = zip(*rows, strict=True)
    return list(codes), list(names), [bytes(w) for w in wkbs]


def lock(cur: Cursor, name: str) -> None:
    """Transaction-level advisory lock on one network: imports of the same network run one after the other."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('networks:' || %s, 0))", (name,))


def network(cur: Cursor, name: str) -> NetworkRow | None:
    """The network row with its current version's numbers (cells, bbox, imported_at), or None."""
    rows = list_networks(cur, name)
    return rows[0] if rows else None


def list_networks(cur: Cursor, name: str | None = None) -> list[NetworkRow]:
    """Every network (or one) with its current version: cells, bbox (west, south, east, north), imported_at."""
    cur.execute(
        """SELECT n.name, n.department, n.version, v.imported_at, v.imported_by, v.source, v.crs,
                  coalesce(v.cells, 0) AS cells,
                  ST_XMin(e.box) AS west, ST_YMin(e.box) AS south, ST_XMax(e.box) AS east, ST_YMax(e.box) AS north
           FROM networks n
           LEFT JOIN network_versions v ON v.network = n.name AND v.version = n.version
           LEFT JOIN LATERAL (SELECT ST_Extent(c.geom) AS box FROM network_cells c
                              WHERE c.network = n.name AND c.version = n.version) e ON true
           WHERE %s::text IS NULL OR n.name = %s
           ORDER BY n.name""",
        (name, name),
    )
    return [cast(NetworkRow, dict(r)) for r in cur.fetchall()]


def versions(cur: Cursor, name: str) -> list[VersionRow]:
    """Every version of a network, oldest first, with when it was valid."""
    cur.execute(
        """SELECT v.version, v.imported_at, v.imported_by, v.source, v.crs, v.cells,
                  (SELECT min(c.valid_to) FROM network_cells c WHERE c.network = v.network
                     AND c.version = v.version) AS closed_at
           FROM network_versions v WHERE v.network = %s ORDER BY v.version""",
        (name,),
    )
    return [cast(VersionRow, dict(r)) for r in cur.fetchall()]


def ensure_network(cur: Cursor, name: str, department: str | None) -> NetworkHead:
    """The network row (created when new; its department label replaced when one is given), locked."""
    cur.execute(
        """INSERT INTO networks (name, department) VALUES (%s, %s)
           ON CONFLICT (name) DO UPDATE SET department = coalesce(EXCLUDED.department, networks.department)
           RETURNING name, department, version""",
        (name, department),
    )
    row = cur.fetchone()
    return {
        "name": _value(row, "name", 0),
        "department": _value(row, "department", 1),
        "version": int(_value(row, "version", 2)),
    }


def open_version(
    cur: Cursor, name: str, version: int, actor: str | None, source: str | None, crs: str | None, cells: int
) -> Any:
    """Close the current cells of ``name`` and record ``version`` as current; returns the instant (the
    transaction time, or the closed version's start when later) at which the new version opens."""
    cur.execute(
        """SELECT greatest(now(), coalesce(max(valid_from), now())) AS since FROM network_cells
           WHERE network = %s AND valid_to IS NULL""",
        (name,),
    )
    since = cur.fetchone()
    since = _value(since, "since", 0)
    cur.execute(
        "UPDATE network_cells SET valid_to = %s WHERE network = %s AND valid_to IS NULL", (since, name)
    )
    cur.execute(
        """INSERT INTO network_versions (network, version, imported_at, imported_by, source, crs, cells)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (name, version, since, actor, source, crs, cells),
    )
    cur.execute("UPDATE networks SET version = %s WHERE name = %s", (version, name))
    return since


def insert_cells(cur: Cursor, name: str, version: int, since: Any, cells: Sequence[NewCell]) -> None:
    """Insert the cells of a version (``code``, ``name``, ``properties``, ``wkb`` each)."""
    execute_values(
        cur,
        """INSERT INTO network_cells (network, version, code, name, properties, valid_from, geom) VALUES %s""",
        [(name, version, c["code"], c["name"], Json(c["properties"]), since, c["wkb"]) for c in cells],
        template="(%s, %s, %s, %s, %s, %s, ST_Multi(ST_SetSRID(ST_GeomFromWKB(%s), 4326)))",
        page_size=1000,
    )


_CELL_COLUMNS = (
    "c.id, c.code, c.name, c.properties, c.version, c.valid_from, c.valid_to, ST_AsBinary(c.geom) AS wkb"
)


def _cells(cur: Cursor) -> list[CellRow]:
    return all_with_wkb(cur, CellRow)


def cells(cur: Cursor, name: str, version: int, bbox: Box | None = None) -> list[CellRow]:
    """The cells of one version (those meeting ``bbox`` when given), by code."""
    cur.execute(
        f"""SELECT {_CELL_COLUMNS} FROM network_cells c
            WHERE c.network = %s AND c.version = %s
              AND (%s::float8 IS NULL OR c.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326))
            ORDER BY c.code COLLATE "C" """,
        (name, version, *(_box_params(bbox))),
    )
    return _cells(cur)


def cell(cur: Cursor, name: str, version: int, code: str) -> CellRow | None:
    cur.execute(
        f"SELECT {_CELL_COLUMNS} FROM network_cells c WHERE c.network = %s AND c.version = %s AND c.code = %s",
        (name, version, code),
    )
    rows = _cells(cur)
    return rows[0] if rows else None


def cells_covering(cur: Cursor, name: str, version: int, lon: float, lat: float) -> list[CellRow]:
    """Cells of one version that cover the point (boundary included), lowest code first."""
    cur.execute(
        f"""SELECT {_CELL_COLUMNS} FROM network_cells c
            WHERE c.network = %s AND c.version = %s AND ST_Covers(c.geom, ST_SetSRID(ST_Point(%s, %s), 4326))
            ORDER BY c.code COLLATE "C" """,
        (name, version, lon, lat),
    )
    return _cells(cur)


def _box_params(bbox: Box | None) -> tuple[Any, ...]:
    if bbox is None:
        return (None, None, None, None, None)
    return (bbox[0], *bbox)


def unified_grids(cur: Cursor, bbox: Box | None = None) -> list[GridOutlineRow]:
    """Current areas of level ``grid`` (meeting ``bbox`` when given): code, name, parent_code, wkb."""
    cur.execute(
        """SELECT a.code, a.name, a.parent_code, ST_AsBinary(a.geom) AS wkb FROM areas a
           WHERE a.level = 'grid' AND a.valid_to IS NULL
             AND (%s::float8 IS NULL OR a.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326))
           ORDER BY a.code COLLATE "C" """,
        _box_params(bbox),
    )
    return all_with_wkb(cur, GridOutlineRow)


def homes(cur: Cursor, bbox: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, households) of the residences in ``bbox``; households = reported, else estimated.

    Read with ``COPY … TO STDOUT`` into numpy: hundreds of thousands of homes arrive as one text stream
    instead of as Python rows (ten times faster)."""
    import io

    query = cur.mogrify(
        """SELECT ST_X(r.geom), ST_Y(r.geom), coalesce(r.households_reported, r.households_est, 0)::float8
           FROM residences r WHERE r.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) ORDER BY r.id""",
        bbox,
    ).decode()
    buffer = io.BytesIO()
    cur.copy_expert(f"COPY ({query}) TO STDOUT", buffer)
    if buffer.tell() == 0:
        empty = np.empty(0)
        return empty, empty, empty
    # float8 columns print in shortest round-trip form: parsing them back gives the same doubles
    values = np.array(buffer.getvalue().replace(b"\t", b" ").replace(b"\n", b" ").split(), dtype=np.float64)
    array = values.reshape(-1, 3)
    return array[:, 0], array[:, 1], array[:, 2]


def crosswalk_inputs(cur: Cursor, name: str, version: int) -> tuple[list[str], list[str | None], list[bytes]]:
    """(codes, names, WKB) of one version's cells by code, as plain lists (a plain cursor reads fastest)."""
    cur.execute(
        """SELECT c.code, c.name, ST_AsBinary(c.geom) FROM network_cells c
           WHERE c.network = %s AND c.version = %s ORDER BY c.code COLLATE "C" """,
        (name, version),
    )
    return _code_name_wkb(cur.fetchall())


def crosswalk_grids(cur: Cursor, bbox: Box) -> tuple[list[str], list[str], list[bytes]]:
    """(codes, names, WKB) of the current grids meeting ``bbox``, by code."""
    cur.execute(
        """SELECT a.code, a.name, ST_AsBinary(a.geom) FROM areas a
           WHERE a.level = 'grid' AND a.valid_to IS NULL AND a.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)
           ORDER BY a.code COLLATE "C" """,
        bbox,
    )
    codes, names, wkbs = _code_name_wkb(cur.fetchall())
    return codes, [str(n) for n in names], wkbs  # area names are NOT NULL


def revisions(cur: Cursor) -> dict[str, int]:
    """``data_revisions`` of what a crosswalk reads: areas, residences and networks."""
    cur.execute(
        "SELECT entity, revision FROM data_revisions WHERE entity IN ('areas', 'residences', 'networks')"
    )
    found = {_value(r, "entity", 0): int(_value(r, "revision", 1)) for r in cur.fetchall()}
    return {name: found.get(name, 0) for name in ("areas", "residences", "networks")}


def communities_under(cur: Cursor, code: str) -> list[OutlineRow]:
    """The current communities at or below area ``code`` (itself when it is one), by code."""
    cur.execute(
        """WITH RECURSIVE tree AS (
               SELECT code, name, level, geom FROM areas WHERE code = %s AND valid_to IS NULL
               UNION ALL
               SELECT a.code, a.name, a.level, a.geom FROM areas a JOIN tree t ON a.parent_code = t.code
               WHERE a.valid_to IS NULL AND t.level <> 'community')
           SELECT code, name, ST_AsBinary(geom) AS wkb FROM tree WHERE level = 'community'
           ORDER BY code COLLATE "C" """,
        (code,),
    )
    return all_with_wkb(cur, OutlineRow)
