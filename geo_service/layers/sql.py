"""SQL of a catalogued layer for tiles: running it safely, probing it, rendering one Mapbox Vector Tile, extents.

The OGC API – Features queries over the same layers are :mod:`geo_service.layers.features`.

The layer SQL comes from the catalogue (trusted files in the repository, never request text); property
and column names go through ``psycopg2.sql.Identifier`` and every value is a bound parameter.
"""

from __future__ import annotations

import math
from typing import Any

import psycopg2
from psycopg2 import sql

from geo_service.db.pool import Database
from geo_service.db.rows import fetch_one
from geo_service.layers.model import Layer, LayerStatus

WEB_MERCATOR_WIDTH_M = 2 * 20_037_508.342789244
# GCJ-02 moves a point by at most ~1 km; widen the WGS-84 search box by this much so every feature whose
# shifted shape reaches the tile is found.
GCJ02_SEARCH_MARGIN_DEG = 0.02


class LayerQueryFailed(RuntimeError):
    """The layer's SQL failed for a reason of the layer, not of the request (a missing relation or column)."""


def execute_layer_sql(cur: psycopg2.extensions.cursor, query: sql.Composable, params: dict[str, Any]) -> None:
    """Run SQL built on a catalogued layer; a relation, column or function gone missing (a table another
    branch has not created yet, or dropped) becomes :class:`LayerQueryFailed` (a 404), never a 500."""
    try:
        cur.execute(query, params)
    except (
        psycopg2.errors.UndefinedTable,
        psycopg2.errors.UndefinedColumn,
        psycopg2.errors.UndefinedFunction,
    ) as exc:
        raise LayerQueryFailed(str(exc).strip().splitlines()[0]) from exc


def probe_layer(db: Database, layer: Layer) -> LayerStatus:
    """Whether ``layer`` can be served: its relations exist and its SQL (tiles, and features when it is an
    OGC collection) runs and yields the columns the catalogue names."""
    checks = [(layer.sql, [layer.geometry_column, layer.id_column, *layer.properties])]
    if layer.features is not None:
        spec = layer.features
        times = [spec.temporal.instant, spec.temporal.start, spec.temporal.end] if spec.temporal else []
        columns = [
            layer.geometry_column,
            spec.id_column,
            spec.version_column,
            *times,
            *layer.feature_properties,
        ]
        checks.append((spec.sql or layer.sql, columns))
    try:
        with db.cursor(dict_rows=False) as cur:
            for relation in layer.relations:
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,))
                if not fetch_one(cur)[0]:
                    return LayerStatus(False, f"relation `{relation}` does not exist")
            for source, names in checks:
                wanted = [sql.Identifier("src", c) for c in dict.fromkeys(names) if c]
                query = sql.SQL("SELECT {} FROM ({}) AS src LIMIT 0").format(
                    sql.SQL(", ").join(wanted), sql.SQL(source)
                )
                cur.execute(query, layer.default_params())
    except psycopg2.Error as exc:
        return LayerStatus(False, f"its SQL fails: {str(exc).strip().splitlines()[0]}")
    return LayerStatus(True)


def tile_box_deg(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """West, south, east, north (degrees, WGS-84) of tile z/x/y widened by ``margin`` tile widths on each side.

    Web Mercator maps meridians and parallels to straight lines, so a (padded) tile is exactly this
    longitude/latitude rectangle: no PROJ call needed to find the rows of a tile.
    """
    n = 1 << z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    # clamped to the world, as ST_TileEnvelope clamps a margin
    first, last = max(0.0, x - margin), min(float(n), x + 1 + margin)
    top, bottom = max(0.0, y - margin), min(float(n), y + 1 + margin)
    return first / n * 360 - 180, lat(bottom), last / n * 360 - 180, lat(top)


def _geometry(layer: Layer, z: int, gcj02: bool) -> sql.Composable:
    """The source geometry cut to the padded tile, in EPSG:3857, shifted to GCJ-02 and simplified as asked.

    Cutting first (``ST_ClipByBox2D`` on the padded tile, in degrees) means that only the part of a long road
    or a large polygon that reaches the tile is transformed and simplified; ``ST_AsMVTGeom`` then clips to the
    same padding in tile units and snaps to the grid. The cut points lie within the padding, outside the tile.
    """
    geom: sql.Composable = sql.Identifier("src", layer.geometry_column)
    if gcj02:
        geom = sql.SQL("gcj02_shift({})").format(geom)
    geom = sql.SQL(
        "ST_Transform(ST_ClipByBox2D({}, ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)), 3857)"
    ).format(geom)
    if layer.simplify > 0:
        tolerance_m = layer.simplify * WEB_MERCATOR_WIDTH_M / (2**z) / layer.extent
        geom = sql.SQL("ST_Simplify({}, {}, true)").format(geom, sql.Literal(tolerance_m))
    return geom


def render_tile(cur: psycopg2.extensions.cursor, layer: Layer, z: int, x: int, y: int, gcj02: bool) -> bytes:
    """One layer of tile z/x/y as MVT bytes (``b""`` when no feature falls in it).

    Rows are picked with ``&&`` against the tile envelope padded by the layer's buffer (a GiST index
    scan; the box is computed here, in degrees, so planning calls no PROJ), cut to that box, clipped by
    ``ST_AsMVTGeom`` and capped at ``max_features``. A row whose box touches the tile but whose shape does not
    is cut to nothing and left out.
    """
    west, south, east, north = tile_box_deg(z, x, y, layer.buffer / layer.extent)
    search: sql.Composable = sql.SQL("ST_MakeEnvelope(%(west)s, %(south)s, %(east)s, %(north)s, 4326)")
    if gcj02:  # rows are found by their WGS-84 shape, which GCJ-02 moves by up to ~1 km
        search = sql.SQL("ST_Expand({}, {})").format(search, sql.Literal(GCJ02_SEARCH_MARGIN_DEG))
    columns = [sql.Identifier("src", name) for name in layer.properties]
    if layer.id_column and layer.id_column not in layer.properties:
        columns.append(sql.Identifier("src", layer.id_column))
    query = sql.SQL(
        """
        SELECT ST_AsMVT(mvt, {name}, {extent}, 'geom'{fid})
        FROM (
            SELECT {columns}ST_AsMVTGeom({geom}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true)
                   AS geom
            FROM ({source}) AS src
            WHERE {src_geom} && {search}
            LIMIT {cap}
        ) AS mvt
        WHERE mvt.geom IS NOT NULL
        """
    ).format(
        name=sql.Literal(layer.id),
        extent=sql.Literal(layer.extent),
        fid=sql.SQL(", {}").format(sql.Literal(layer.id_column)) if layer.id_column else sql.SQL(""),
        columns=sql.SQL("").join(sql.SQL("{}, ").format(c) for c in columns),
        geom=_geometry(layer, z, gcj02),
        buffer=sql.Literal(layer.buffer),
        source=sql.SQL(layer.sql),
        src_geom=sql.Identifier("src", layer.geometry_column),
        search=search,
        cap=sql.Literal(layer.max_features),
    )
    bound = {"z": z, "x": x, "y": y, "west": west, "south": south, "east": east, "north": north}
    execute_layer_sql(cur, query, {**bound, **layer.params_at(z)})
    row = cur.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def extent(cur: psycopg2.extensions.cursor, layer: Layer) -> tuple[float, float, float, float] | None:
    """West, south, east, north of the layer's features (at its highest zoom), or None when it is empty."""
    query = sql.SQL(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent({}) AS e FROM ({}) AS src) t"
    ).format(sql.Identifier("src", layer.geometry_column), sql.SQL(layer.sql))
    execute_layer_sql(cur, query, layer.default_params())
    row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
