"""SQL for the geocoder: name candidates from the gazetteer, facilities, stations and current areas.

pg_trgm finds them through the GIN trigram indexes (``%`` similarity, ``%>`` word similarity, ``ILIKE``
substring); the geocoder ranks them in Python (:mod:`geo_service.geocode.text`).
"""

from __future__ import annotations

from typing import Any

from psycopg2 import sql
from psycopg2.extensions import cursor as Cursor

# Loose thresholds: this only gathers candidates, the ranking happens afterwards.
SIMILARITY_THRESHOLD = 0.12
WORD_SIMILARITY_THRESHOLD = 0.35

# (table, searched column, kind, category, source, point, extra condition): fixed text, never user input
_SOURCES = (
    ("gazetteer", "name", "t.kind", "NULL::text", "gazetteer", "t.geom", "TRUE"),
    ("facilities", "name", "'facility'", "t.category", "facility", "t.geom", "t.deleted_at IS NULL"),
    ("stations", "name", "'station'", "t.kind", "station", "t.geom", "TRUE"),
    ("stations", "address", "'station_address'", "t.kind", "station", "t.geom", "TRUE"),
    ("areas", "name", "t.level", "t.code", "area", "ST_PointOnSurface(t.geom)", "t.valid_to IS NULL"),
)

_ONE_SOURCE = """
(SELECT t.{column} AS name, {kind} AS kind, {category} AS category, {source} AS source, t.id AS source_id,
        ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, similarity(t.{column}, %(q)s) AS trigram
 FROM {table} t CROSS JOIN LATERAL (SELECT {point} AS geom) p
 WHERE {condition}
   AND (t.{column} %% %(q)s OR t.{column} %%> %(q)s OR t.{column} ILIKE %(pattern)s)
 ORDER BY lower(t.{column}) = lower(%(q)s) DESC, t.{column} ILIKE %(pattern)s DESC, trigram DESC,
          length(t.{column})
 LIMIT %(n)s)"""


def _query() -> sql.Composed:
    parts = []
    for table, column, kind, category, source, point, condition in _SOURCES:
        parts.append(
            sql.SQL(_ONE_SOURCE).format(
                table=sql.Identifier(table), column=sql.Identifier(column), kind=sql.SQL(kind),
                category=sql.SQL(category), source=sql.Literal(source), point=sql.SQL(point),
                condition=sql.SQL(condition),
            )
        )  # fmt: skip
    return sql.SQL("\nUNION ALL").join(parts)


_CANDIDATES = _query()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def name_candidates(cur: Cursor, query: str, per_source: int) -> list[dict[str, Any]]:
    """Rows (name, kind, category, source, source_id, lon, lat, trigram) whose names resemble ``query``.

    ``trigram`` is pg_trgm's ``similarity``. ``cur`` must return dict rows. Thresholds hold for this
    transaction only.
    """
    cur.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", (str(SIMILARITY_THRESHOLD),))
    cur.execute(
        "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", (str(WORD_SIMILARITY_THRESHOLD),)
    )
    cur.execute(_CANDIDATES, {"q": query, "pattern": _like_pattern(query), "n": per_source})
    return [dict(row) for row in cur.fetchall()]


def entry(cur: Cursor, entry_id: int) -> dict[str, Any] | None:
    """One gazetteer entry (name, kind, lon, lat) by id: the ``address_id`` of Open311."""
    cur.execute(
        "SELECT name, kind, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM gazetteer WHERE id = %s", (entry_id,)
    )
    row = cur.fetchone()
    return None if row is None else dict(row)
