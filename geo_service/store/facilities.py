"""SQL for facilities (POIs by category): the live set for reach searches, and planner CRUD."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg2.extensions import cursor as TupleCursor
from psycopg2.extras import Json

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import fetch_one

_COLUMNS = """id, dataset, osm_type, osm_id, name, category, source, tags, version, created_at, updated_at,
              updated_by, ST_X(geom) AS lon, ST_Y(geom) AS lat"""
_LIVE = "deleted_at IS NULL"


class FacilityRow(TypedDict):
    """A live facility as :data:`_COLUMNS` reads it (``dataset`` None: a planner's own; ``lon``, ``lat``
    WGS-84)."""

    id: int
    dataset: str | None
    osm_type: str | None
    osm_id: int | None
    name: str | None
    category: str
    source: str
    tags: dict[str, Any]  # OpenStreetMap tags (and a planner's): open by nature
    version: int
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    lon: float
    lat: float


def live(cur: TupleCursor) -> list[tuple[int, str | None, str, float, float]]:
    """Every live facility as ``(id, name, category, lon, lat)``, ordered by id."""
    cur.execute(
        f"SELECT id, name, category, ST_X(geom), ST_Y(geom) FROM facilities WHERE {_LIVE} ORDER BY id"
    )
    return [tuple(r) for r in cur.fetchall()]


def get(cur: Cursor, facility_id: int, for_update: bool = False) -> FacilityRow | None:
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(f"SELECT {_COLUMNS} FROM facilities WHERE id = %s AND {_LIVE}{lock}", (facility_id,))
    row = cur.fetchone()
    return None if row is None else cast(FacilityRow, dict(row))


def list_facilities(
    cur: Cursor,
    category: list[str] | None,
    bbox: tuple[float, float, float, float] | None,
    source: str | None,
    limit: int,
    offset: int,
) -> list[FacilityRow]:
    where: list[str] = [_LIVE]
    params: dict[str, Any] = {"limit": limit, "offset": offset}  # SQL parameters: open
    if category:
        where.append("category = ANY(%(category)s)")
        params["category"] = category
    if source:
        where.append("source = %(source)s")
        params["source"] = source
    if bbox:
        where.append("geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)")
        params.update(zip("wsen", bbox, strict=True))
    cur.execute(
        f"SELECT {_COLUMNS} FROM facilities WHERE {' AND '.join(where)} ORDER BY id LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return [cast(FacilityRow, dict(r)) for r in cur.fetchall()]


def insert(
    cur: Cursor,
    name: str | None,
    category: str,
    tags: dict[str, Any],  # OpenStreetMap tags: open by nature
    lon: float,
    lat: float,
    actor: str | None,
) -> FacilityRow:
    cur.execute(
        f"""INSERT INTO facilities (name, category, source, tags, updated_by, geom)
            VALUES (%s, %s, 'planner', %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) RETURNING {_COLUMNS}""",
        (name, category, Json(tags), actor, lon, lat),
    )
    return cast(FacilityRow, dict(fetch_one(cur)))


def update(
    cur: Cursor,
    facility_id: int,
    name: str | None,
    category: str,
    tags: dict[str, Any],
    lon: float,
    lat: float,
    actor: str | None,
) -> FacilityRow:
    """Change a facility; an imported one is detached from its dataset (see migration 0600)."""
    cur.execute(
        f"""UPDATE facilities SET name = %s, category = %s, tags = %s, dataset = NULL, source = 'planner',
                   version = version + 1, updated_at = now(), updated_by = %s,
                   geom = ST_SetSRID(ST_MakePoint(%s, %s), 4326)
            WHERE id = %s RETURNING {_COLUMNS}""",
        (name, category, Json(tags), actor, lon, lat, facility_id),
    )
    return cast(FacilityRow, dict(fetch_one(cur)))


def delete(cur: Cursor, facility_id: int, actor: str | None) -> None:
    """Planner facilities go; imported ones become detached tombstones so a re-import does not revive them."""
    cur.execute(
        """UPDATE facilities SET deleted_at = now(), updated_by = %s, dataset = NULL, version = version + 1
           WHERE id = %s AND osm_id IS NOT NULL""",
        (actor, facility_id),
    )
    cur.execute("DELETE FROM facilities WHERE id = %s AND osm_id IS NULL", (facility_id,))


def replace_coverage(cur: Cursor, profile: str, level: str, rows: list[tuple[Any, ...]]) -> None:
    """Replace a profile's ``area_coverage`` rows of one area level by ``(area_code, level, minutes,
    category, households, households_reached, share, score)`` tuples."""
    cur.execute("DELETE FROM area_coverage WHERE profile = %s AND level = %s", (profile, level))
    if rows:
        from psycopg2.extras import execute_values

        execute_values(
            cur,
            """INSERT INTO area_coverage (profile, area_code, level, minutes, category, households,
                                          households_reached, share, score) VALUES %s""",
            [(profile, *r) for r in rows],
        )
