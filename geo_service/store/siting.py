"""SQL for the default inputs of siting: candidate facilities, residences as demand, stations as fixed sites.

Coordinates come back as WGS-84 longitude/latitude degrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from psycopg2.extensions import cursor as Cursor


def candidate_facilities(
    cur: Cursor, categories: Sequence[str]
) -> list[tuple[int, str | None, str, float, float]]:
    """(id, name, category, lon, lat) of live (not deleted) facilities in ``categories``, by id."""
    cur.execute(
        """SELECT id, name, category, ST_X(geom), ST_Y(geom) FROM facilities
           WHERE category = ANY(%s::text[]) AND deleted_at IS NULL ORDER BY id""",
        (list(categories),),
    )
    return [(int(i), name, category, float(x), float(y)) for i, name, category, x, y in cur.fetchall()]


def residences(cur: Cursor) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ids, lon, lat and households (reported, else estimated) of every residence, by id."""
    cur.execute(
        """SELECT id, ST_X(geom), ST_Y(geom), COALESCE(households_reported, households_est)
           FROM residences ORDER BY id"""
    )
    rows = cur.fetchall()
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    return table[:, 0].astype(np.int64), table[:, 1], table[:, 2], table[:, 3]


def stations(cur: Cursor) -> list[tuple[int, str, str, float, float]]:
    """(id, name, kind, lon, lat) of every rest station, by id."""
    cur.execute("SELECT id, name, kind, ST_X(geom), ST_Y(geom) FROM stations ORDER BY id")
    return [(int(i), name, kind, float(x), float(y)) for i, name, kind, x, y in cur.fetchall()]
