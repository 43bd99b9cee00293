"""SQL for station inspections (常态化巡查)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from psycopg2.extras import Json

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import fetch_one

_COLUMNS = "id, station_id, at, inspector, role, open_as_published, amenities, missing, notes, lon, lat"


class InspectionRow(TypedDict):
    """A visit to a station: ``amenities`` published amenity → found, ``lon``/``lat`` where the inspector
    stood (WGS-84, when sent)."""

    id: int
    station_id: int
    at: datetime
    inspector: str | None
    role: str | None
    open_as_published: bool
    amenities: dict[str, bool]
    missing: list[str]
    notes: str | None
    lon: float | None
    lat: float | None


class OverdueRow(TypedDict):
    """A station and its last visit (``last_at`` None: never visited; ``last_ok`` open and nothing missing)."""

    id: int
    name: str
    kind: str
    lon: float
    lat: float
    last_at: datetime | None
    last_ok: bool | None


def _rows(cur: Cursor) -> list[InspectionRow]:
    return [cast(InspectionRow, dict(r)) for r in cur.fetchall()]


def insert(
    cur: Cursor,
    station_id: int,
    *,
    at: datetime,
    inspector: str,
    role: str,
    open_as_published: bool,
    amenities: dict[str, bool],
    missing: list[str],
    notes: str | None,
    lon: float | None,
    lat: float | None,
) -> InspectionRow:
    cur.execute(
        f"""INSERT INTO station_inspections (station_id, at, inspector, role, open_as_published, amenities,
                                             missing, notes, lon, lat)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}""",
        (station_id, at, inspector, role, open_as_published, Json(amenities), missing, notes, lon, lat),
    )
    return cast(InspectionRow, dict(fetch_one(cur)))


def for_station(cur: Cursor, station_id: int) -> list[InspectionRow]:
    """Every visit to a station, newest first."""
    cur.execute(
        f"SELECT {_COLUMNS} FROM station_inspections WHERE station_id = %s ORDER BY at DESC, id DESC",
        (station_id,),
    )
    return _rows(cur)


def last(cur: Cursor, station_ids: list[int]) -> list[InspectionRow]:
    """The last visit to each of these stations (stations never visited are absent)."""
    cur.execute(
        f"""SELECT DISTINCT ON (station_id) {_COLUMNS} FROM station_inspections
            WHERE station_id = ANY(%s) ORDER BY station_id, at DESC, id DESC""",
        (station_ids,),
    )
    return _rows(cur)


def overdue(cur: Cursor, visited_before: datetime) -> list[OverdueRow]:
    """Stations last visited before ``visited_before``, or never: never visited first, then the oldest visit."""
    cur.execute(
        """SELECT s.id, s.name, s.kind, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, l.at AS last_at,
                  l.open_as_published AND cardinality(l.missing) = 0 AS last_ok
           FROM stations s
           LEFT JOIN LATERAL (SELECT at, open_as_published, missing FROM station_inspections i
                              WHERE i.station_id = s.id ORDER BY at DESC, id DESC LIMIT 1) l ON true
           WHERE l.at IS NULL OR l.at < %s
           ORDER BY l.at NULLS FIRST, s.id""",
        (visited_before,),
    )
    return [cast(OverdueRow, dict(r)) for r in cur.fetchall()]
