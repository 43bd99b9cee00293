"""SQL for rest stations and their service circles."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg2.extras import Json

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import fetch_one
from geo_service.geojson import Geometry

_COLUMNS = """id, name, kind, amenities, opening_hours, manager, contact, address, properties, version,
              created_at, updated_at, updated_by, ST_X(geom) AS lon, ST_Y(geom) AS lat"""


class StationFields(TypedDict):
    """A station's columns as a planner's write sets them (checked by the service)."""

    name: str
    kind: str
    amenities: list[str]
    opening_hours: str | None
    manager: str | None
    contact: str | None
    address: str | None
    properties: dict[str, Any]  # the planner's own properties: open by design


class StationRow(StationFields):
    """A station as :data:`_COLUMNS` reads it; ``lon``, ``lat`` WGS-84."""

    id: int
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    lon: float
    lat: float


class CircleRow(TypedDict):
    """A station's walking service circle: ``geometry`` a GeoJSON MultiPolygon (WGS-84), ``area_m2`` m²."""

    station_id: int
    minutes: float
    speed_kmh: float
    area_m2: float
    station_version: int
    network_revision: int
    computed_at: datetime
    geometry: Geometry


def _row(cur: Cursor) -> StationRow | None:
    row = cur.fetchone()
    return None if row is None else cast(StationRow, dict(row))


def _rows(cur: Cursor) -> list[StationRow]:
    return [cast(StationRow, dict(r)) for r in cur.fetchall()]


def get(cur: Cursor, station_id: int, for_update: bool = False) -> StationRow | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(f"SELECT {_COLUMNS} FROM stations WHERE id = %s{lock}", (station_id,))
    return _row(cur)


def list_stations(
    cur: Cursor,
    kind: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 10_000,
    offset: int = 0,
) -> list[StationRow]:
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit, "offset": offset}  # SQL parameters: open
    if kind:
        where.append("kind = %(kind)s")
        params["kind"] = kind
    if bbox:
        where.append("geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)")
        params.update(zip("wsen", bbox, strict=True))
    cur.execute(
        f"SELECT {_COLUMNS} FROM stations WHERE {' AND '.join(where)} ORDER BY id LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return _rows(cur)


def insert(cur: Cursor, fields: StationFields, lon: float, lat: float, actor: str | None) -> StationRow:
    cur.execute(
        f"""INSERT INTO stations (name, kind, amenities, opening_hours, manager, contact, address, properties,
                                  updated_by, geom)
            VALUES (%(name)s, %(kind)s, %(amenities)s, %(opening_hours)s, %(manager)s, %(contact)s, %(address)s,
                    %(properties)s, %(actor)s, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
            RETURNING {_COLUMNS}""",
        {
            **fields,
            "properties": Json(fields.get("properties") or {}),
            "actor": actor,
            "lon": lon,
            "lat": lat,
        },
    )
    return cast(StationRow, dict(fetch_one(cur)))


def update(
    cur: Cursor, station_id: int, fields: StationFields, lon: float, lat: float, actor: str | None
) -> StationRow:
    cur.execute(
        f"""UPDATE stations SET name = %(name)s, kind = %(kind)s, amenities = %(amenities)s,
                   opening_hours = %(opening_hours)s, manager = %(manager)s, contact = %(contact)s,
                   address = %(address)s, properties = %(properties)s, version = version + 1,
                   updated_at = now(), updated_by = %(actor)s,
                   geom = ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
            WHERE id = %(id)s RETURNING {_COLUMNS}""",
        {
            **fields,
            "properties": Json(fields.get("properties") or {}),
            "actor": actor,
            "lon": lon,
            "lat": lat,
            "id": station_id,
        },
    )
    return cast(StationRow, dict(fetch_one(cur)))


def delete(cur: Cursor, station_id: int) -> None:
    cur.execute("DELETE FROM stations WHERE id = %s", (station_id,))


def replace_circles(
    cur: Cursor,
    station_id: int,
    station_version: int,
    network_revision: int,
    circles: list[tuple[float, float, float, bytes]],
) -> None:
    """Replace a station's circles by ``(minutes, speed_kmh, area_m2, MultiPolygon WKB)`` rows."""
    cur.execute("DELETE FROM service_circles WHERE station_id = %s", (station_id,))
    for minutes, speed_kmh, area_m2, wkb in circles:
        cur.execute(
            """INSERT INTO service_circles (station_id, minutes, speed_kmh, area_m2, station_version,
                                            network_revision, geom)
               VALUES (%s, %s, %s, %s, %s, %s, ST_Multi(ST_GeomFromWKB(%s, 4326)))""",
            (station_id, minutes, speed_kmh, area_m2, station_version, network_revision, wkb),
        )


def circles(cur: Cursor, station_id: int) -> list[CircleRow]:
    cur.execute(
        """SELECT station_id, minutes, speed_kmh, area_m2, station_version, network_revision, computed_at,
                  ST_AsGeoJSON(geom, 7)::json AS geometry
           FROM service_circles WHERE station_id = %s ORDER BY minutes""",
        (station_id,),
    )
    return [cast(CircleRow, dict(r)) for r in cur.fetchall()]


def stale_circle_stations(
    cur: Cursor, network_revision: int, minutes: list[float], speed_kmh: float
) -> list[StationRow]:
    """Stations whose circles are missing, drawn on another network revision or for another station
    version, contour set or speed."""
    cur.execute(
        f"""SELECT {_COLUMNS} FROM stations s
            WHERE NOT EXISTS (
                SELECT 1 FROM service_circles c WHERE c.station_id = s.id
                GROUP BY c.station_id
                HAVING bool_and(c.network_revision = %(rev)s AND c.station_version = s.version
                                AND c.speed_kmh = %(speed)s::real)
                   AND array_agg(c.minutes ORDER BY c.minutes) = %(minutes)s::real[])
            ORDER BY s.id""",
        {"rev": network_revision, "minutes": sorted(minutes), "speed": speed_kmh},
    )
    return _rows(cur)
