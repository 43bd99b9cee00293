"""SQL for residences as life-circle demand: every home with its households (a reported count wins)."""

from __future__ import annotations

from psycopg2.extensions import cursor as Cursor


def homes(cur: Cursor) -> list[tuple[int, float, float, float, str | None]]:
    """``(id, lon, lat, households, address)`` of every residence, ordered by id."""
    cur.execute(
        """SELECT id, ST_X(geom), ST_Y(geom), COALESCE(households_reported, households_est)::float8, address
           FROM residences ORDER BY id"""
    )
    return [tuple(r) for r in cur.fetchall()]
