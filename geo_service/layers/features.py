"""SQL of the OGC API – Features provider: filtered, paged feature rows from a catalogued layer's SQL (the
layer's ``features`` section; the tile SQL over the same layers is :mod:`geo_service.layers.sql`).

The source SQL comes from the catalogue (trusted files); column names go through ``sql.Identifier`` and
every request value (bbox, times, filter values, limit, offset) is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg2 import sql

from geo_service.db.rows import DictCursor, fetch_one
from geo_service.layers.sql import execute_layer_sql


@dataclass(frozen=True)
class Source:
    """What the store needs to know of a collection: its SQL and the roles of its columns."""

    sql: str
    params: dict[str, Any]  # the layer file's named SQL parameters: open by design
    geometry_column: str
    id_column: str
    properties: tuple[str, ...]
    version_column: str | None = None
    instant_column: str | None = None
    start_column: str | None = None
    end_column: str | None = None


@dataclass
class Filter:
    """A feature query. ``current_only`` keeps rows whose validity is open (``end IS NULL``)."""

    bbox: tuple[float, float, float, float] | None = None
    time_start: datetime | None = None
    time_end: datetime | None = None
    has_time: bool = False
    current_only: bool = False
    equals: dict[str, str] = field(default_factory=dict)
    fid: str | None = None
    version: int | None = None


def _where(source: Source, flt: Filter) -> tuple[sql.Composable, dict[str, Any]]:
    col = lambda name: sql.Identifier("src", name)  # noqa: E731
    parts: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if flt.bbox is not None:
        params.update(dict(zip(("bbox_w", "bbox_s", "bbox_e", "bbox_n"), flt.bbox, strict=True)))
        envelope = sql.SQL("ST_MakeEnvelope(%(bbox_w)s, %(bbox_s)s, %(bbox_e)s, %(bbox_n)s, 4326)")
        parts.append(
            sql.SQL("{g} && {env} AND ST_Intersects({g}, {env})").format(
                g=col(source.geometry_column), env=envelope
            )
        )
    if flt.has_time:
        params["t_start"], params["t_end"] = flt.time_start, flt.time_end
        if source.instant_column:
            t = col(source.instant_column)
            if flt.time_start is not None:
                parts.append(sql.SQL("{} >= %(t_start)s").format(t))
            if flt.time_end is not None:
                parts.append(sql.SQL("{} <= %(t_end)s").format(t))
        elif source.start_column:
            # A version valid over [start, end) overlaps the asked [t_start, t_end] (an instant when equal).
            if flt.time_end is not None:
                parts.append(sql.SQL("{} <= %(t_end)s").format(col(source.start_column)))
            if flt.time_start is not None and source.end_column:
                end = col(source.end_column)
                parts.append(sql.SQL("({end} IS NULL OR {end} > %(t_start)s)").format(end=end))
    elif flt.current_only and source.end_column:
        parts.append(sql.SQL("{} IS NULL").format(col(source.end_column)))
    for i, (name, value) in enumerate(sorted(flt.equals.items())):
        params[f"eq_{i}"] = value
        parts.append(sql.SQL("{}::text = %({})s").format(col(name), sql.SQL(f"eq_{i}")))
    if flt.fid is not None:
        params["fid"] = flt.fid
        parts.append(sql.SQL("{}::text = %(fid)s").format(col(source.id_column)))
        if flt.version is not None and source.version_column:
            params["fid_version"] = flt.version
            parts.append(sql.SQL("{} = %(fid_version)s").format(col(source.version_column)))
    where = sql.SQL(" AND ").join(parts) if parts else sql.SQL("true")
    return where, params


def select(
    cur: DictCursor, source: Source, flt: Filter, limit: int, offset: int, gcj02: bool = False
) -> list[dict[str, Any]]:  # a row of a layer's own SQL: its columns are the layer file's
    """Rows matching ``flt`` ordered by id (and version), each with ``geometry`` as parsed GeoJSON, shifted
    to GCJ-02 when ``gcj02`` (for drawing over AMap). ``cur`` must return dict rows.
    """
    where, params = _where(source, flt)
    extra = [c for c in (source.version_column, source.end_column) if c and c not in source.properties]
    columns = dict.fromkeys([source.id_column, *source.properties, *extra])
    order = [sql.Identifier("src", source.id_column)]
    if source.version_column:
        order.append(sql.Identifier("src", source.version_column))
    query = sql.SQL(
        """
        SELECT {columns}, ST_AsGeoJSON({geom}, 9)::json AS "geometry"
        FROM ({source}) AS src
        WHERE {where}
        ORDER BY {order}
        LIMIT %(limit)s OFFSET %(offset)s
        """
    ).format(
        columns=sql.SQL(", ").join(sql.Identifier("src", c) for c in columns),
        geom=sql.SQL("gcj02_shift({})" if gcj02 else "{}").format(
            sql.Identifier("src", source.geometry_column)
        ),
        source=sql.SQL(source.sql),
        where=where,
        order=sql.SQL(", ").join(order),
    )
    execute_layer_sql(cur, query, {**source.params, **params, "limit": limit, "offset": offset})
    return list(cur.fetchall())


def count(cur: DictCursor, source: Source, flt: Filter) -> int:
    where, params = _where(source, flt)
    query = sql.SQL("SELECT count(*) AS n FROM ({source}) AS src WHERE {where}").format(
        source=sql.SQL(source.sql), where=where
    )
    execute_layer_sql(cur, query, {**source.params, **params})
    return int(fetch_one(cur)["n"])


def extent(
    cur: DictCursor, source: Source
) -> tuple[tuple[float, float, float, float] | None, tuple[datetime | None, datetime | None] | None]:
    """Spatial extent (west, south, east, north) and, for a collection with times, the temporal one."""
    time_cols = [c for c in (source.instant_column, source.start_column) if c]
    temporal = (
        sql.SQL(", min({t}) AS t0, max({t}) AS t1").format(t=sql.Identifier("src", time_cols[0]))
        if time_cols
        else sql.SQL("")
    )
    query = sql.SQL(
        "SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n{tcols} "
        "FROM (SELECT ST_Extent({geom}) AS e{temporal} FROM ({source}) AS src) AS t"
    ).format(
        tcols=sql.SQL(", t0, t1") if time_cols else sql.SQL(""),
        geom=sql.Identifier("src", source.geometry_column),
        temporal=temporal,
        source=sql.SQL(source.sql),
    )
    execute_layer_sql(cur, query, source.params)
    row = fetch_one(cur)
    spatial = None if row["w"] is None else (row["w"], row["s"], row["e"], row["n"])
    times = (row["t0"], row["t1"]) if time_cols else None
    return spatial, times
