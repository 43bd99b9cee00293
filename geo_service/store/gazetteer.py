"""SQL for the geocoder over ``geocode_names`` (migration 0915): one row per searchable name of the gazetteer,
facilities, rest stations and current areas, with its index forms (:mod:`geo_service.geocode.keys`).

Lookups are exact and indexed (btree on key, pinyin, initials, road + number, compound + building; GIN on the
one-typo variants), all in one statement (:func:`exact_candidates`); pg_trgm similarity over every key is the
fallback for names of places, streets and areas farther than one typo (:func:`trigram_candidates`). The geocoder ranks what comes back.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, cast

from psycopg2.extensions import cursor as Cursor
from psycopg2.extras import execute_values

from geo_service.db.rows import fetch_one
from geo_service.store.bulk import copy_rows

TRIGRAM_THRESHOLD = 0.3
KEY_COLUMNS = (
    "precision",
    "name_key",
    "pinyin",
    "initials",
    "road",
    "road_pinyin",
    "house_number",
    "compound",
    "building",
    "admin",
    "variants",
)
_OUT = """g.id, g.source, g.kind, g.category, g.name, g.precision, g.name_key, g.road, g.house_number,
          g.compound, g.building, g.admin, ST_X(g.geom) AS lon, ST_Y(g.geom) AS lat,
          coalesce(g.gazetteer_id, g.facility_id, g.station_id, g.area_id) AS source_id"""


class NameRow(TypedDict):
    """One name of the index found by a search (WGS-84 ``lon``/``lat``); ``via``: the branch that found it."""

    id: int
    source: str
    kind: str
    category: str | None
    name: str
    precision: str | None
    name_key: str | None
    road: str | None
    house_number: str | None
    compound: str | None
    building: str | None
    admin: str | None
    lon: float
    lat: float
    source_id: int | None
    via: str
    matched: str | None
    trigram: NotRequired[float]  # pg_trgm similarity, trigram search only


class GazetteerEntry(TypedDict):
    name: str
    kind: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Lookup:
    """What to look up, every text an index key (:mod:`geo_service.geocode.parse`)."""

    keys: list[str] = field(default_factory=list)
    latin: str | None = None
    roads: list[str] = field(default_factory=list)
    road_pinyins: list[str] = field(default_factory=list)
    number: str | None = None
    compounds: list[str] = field(default_factory=list)
    building: str | None = None
    variants: list[str] = field(default_factory=list)
    road_variants: list[str] = field(default_factory=list)
    compound_variants: list[str] = field(default_factory=list)
    prefix: str | None = None


# Each branch is one index lookup; a branch whose parameters are empty finds nothing at no cost.
_EXACT = f"""
(SELECT {_OUT}, 'key' AS via, NULL::text AS matched FROM geocode_names g
 WHERE g.name_key = ANY(%(keys)s) LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'pending', NULL FROM geocode_names g WHERE g.name_key IS NULL LIMIT 1)
UNION ALL
(SELECT {_OUT}, 'pinyin', NULL FROM geocode_names g WHERE g.pinyin = %(latin)s LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'initials', NULL FROM geocode_names g WHERE g.initials = %(latin)s LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'road', NULL FROM geocode_names g
 WHERE g.road = ANY(%(roads)s) AND g.house_number = %(number)s LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'road_other', NULL FROM geocode_names g
 WHERE g.road = ANY(%(roads)s) AND g.house_number IS NOT NULL AND g.house_number <> %(number)s
 ORDER BY abs(coalesce(substring(g.house_number FROM '^[0-9]{{1,9}}')::bigint, 0) - %(number_value)s)
 LIMIT 5)
UNION ALL
(SELECT {_OUT}, 'road_pinyin', NULL FROM geocode_names g
 WHERE g.road_pinyin = ANY(%(road_pinyins)s) AND g.house_number = %(number)s LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'compound', NULL FROM geocode_names g
 WHERE g.compound = ANY(%(compounds)s) AND g.building = %(building)s LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'compound_place', NULL FROM geocode_names g
 WHERE g.compound = ANY(%(compounds)s) AND g.building IS NULL LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'prefix', NULL FROM geocode_names g
 WHERE %(prefix)s::text IS NOT NULL AND g.name_key LIKE %(prefix)s || '%%' AND g.precision <> 'house_number'
 ORDER BY length(g.name_key) LIMIT %(n)s)
UNION ALL
(SELECT {_OUT}, 'typo', NULL FROM geocode_names g
 WHERE g.variants && %(variants)s AND g.variants IS NOT NULL
 ORDER BY levenshtein(g.name_key, %(typo_target)s), length(g.name_key) LIMIT %(n)s)
UNION ALL
(WITH roads AS (
     SELECT g.road FROM geocode_names g
     WHERE g.variants && %(road_variants)s AND g.variants IS NOT NULL AND g.precision = 'street'
       AND g.road IS NOT NULL
     GROUP BY g.road ORDER BY min(levenshtein(g.road, %(road_target)s)) LIMIT 10)
 SELECT {_OUT}, 'road_typo', r.road FROM roads r JOIN geocode_names g
   ON g.road = r.road AND g.house_number = %(number)s LIMIT %(n)s)
UNION ALL
(WITH compounds AS (
     SELECT g.compound FROM geocode_names g
     WHERE g.variants && %(compound_variants)s AND g.variants IS NOT NULL AND g.compound IS NOT NULL
       AND g.building IS NULL
     GROUP BY g.compound ORDER BY min(levenshtein(g.compound, %(compound_target)s)) LIMIT 10)
 SELECT {_OUT}, 'compound_typo', c.compound FROM compounds c JOIN geocode_names g
   ON g.compound = c.compound AND g.building = %(building)s LIMIT %(n)s)
"""

_TRIGRAM = f"""
SELECT {_OUT}, 'trigram' AS via, NULL::text AS matched, similarity(g.name_key, %(q)s) AS trigram
FROM geocode_names g
WHERE g.name_key %% %(q)s AND g.precision IN ('poi', 'street', 'area', 'city')
ORDER BY trigram DESC, length(g.name_key)
LIMIT %(n)s"""


# The statement is prepared once per connection: planning its twelve branches costs more than running them.
_PARAMETERS = (
    ("keys", "text[]"),
    ("latin", "text"),
    ("roads", "text[]"),
    ("road_pinyins", "text[]"),
    ("number", "text"),
    ("number_value", "bigint"),
    ("compounds", "text[]"),
    ("building", "text"),
    ("variants", "text[]"),
    ("road_variants", "text[]"),
    ("compound_variants", "text[]"),
    ("prefix", "text"),
    ("typo_target", "text"),
    ("road_target", "text"),
    ("compound_target", "text"),
    ("n", "integer"),
)
_PREPARE = "PREPARE geocode_exact ({}) AS {}".format(
    ", ".join(kind for _, kind in _PARAMETERS),
    re.sub(r"%\((\w+)\)s", lambda m: f"${[n for n, _ in _PARAMETERS].index(m.group(1)) + 1}", _EXACT).replace(
        "%%", "%"
    ),
)
_EXECUTE = "EXECUTE geocode_exact ({})".format(", ".join(f"%({name})s" for name, _ in _PARAMETERS))
_PREPARED: weakref.WeakSet[Any] = weakref.WeakSet()


def exact_candidates(cur: Cursor, lookup: Lookup, per_branch: int) -> list[NameRow]:
    """Rows found by exact keys, pinyin, initials, road + number, compound + building, a key prefix or one
    typo; ``via`` says which (a row may come back once per branch). A row with ``via`` ``pending`` says some
    names still wait for their keys (the caller keys them and asks again: one round trip in the usual case)."""
    if cur.connection not in _PREPARED:
        cur.execute(_PREPARE)
        _PREPARED.add(cur.connection)
    cur.execute(
        _EXECUTE,
        {
            "keys": lookup.keys,
            "latin": lookup.latin,
            "roads": lookup.roads,
            "road_pinyins": lookup.road_pinyins,
            "number": lookup.number,
            "number_value": _leading_int(lookup.number),
            "compounds": lookup.compounds,
            "building": lookup.building,
            "variants": lookup.variants,
            "road_variants": lookup.road_variants,
            "compound_variants": lookup.compound_variants,
            "prefix": lookup.prefix,
            "typo_target": lookup.variants[0] if lookup.variants else "",
            "road_target": lookup.road_variants[0] if lookup.road_variants else "",
            "compound_target": lookup.compound_variants[0] if lookup.compound_variants else "",
            "n": per_branch,
        },
    )
    return [cast(NameRow, dict(row)) for row in cur.fetchall()]


def _leading_int(text: str | None) -> int:
    digits = ""
    for ch in text or "":
        if not ch.isdigit() or len(digits) >= 9:
            break
        digits += ch
    return int(digits) if digits else 0


def trigram_candidates(cur: Cursor, key: str, limit: int) -> list[NameRow]:
    """Rows whose key is pg_trgm-similar to ``key`` (at least :data:`TRIGRAM_THRESHOLD`), most similar first."""
    cur.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", (str(TRIGRAM_THRESHOLD),))
    cur.execute(_TRIGRAM, {"q": key, "n": limit})
    return [cast(NameRow, dict(row)) for row in cur.fetchall()]


# -- keeping the index keyed (these take tuple cursors) ----------------------------------------------------


def has_pending(cur: Cursor) -> bool:
    """Whether some names still wait for their keys (written by a trigger since the last search)."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM geocode_names WHERE name_key IS NULL)")
    return bool(fetch_one(cur)[0])


def pending_names(cur: Cursor, limit: int) -> list[tuple[int, str, str, str, Any]]:
    """(id, source, kind, name, gazetteer properties) of names without keys, locked (others skip them)."""
    cur.execute(
        """SELECT g.id, g.source, g.kind, g.name, z.properties FROM geocode_names g
           LEFT JOIN gazetteer z ON z.id = g.gazetteer_id
           WHERE g.name_key IS NULL ORDER BY g.id LIMIT %s FOR UPDATE OF g SKIP LOCKED""",
        (limit,),
    )
    return [tuple(row) for row in cur.fetchall()]


def write_keys(cur: Cursor, rows: Sequence[tuple[Any, ...]]) -> None:
    """Store keys: each row is ``(id, *KEY_COLUMNS values)``."""
    assignments = ", ".join(f"{c} = v.{c}" for c in KEY_COLUMNS)
    execute_values(
        cur,
        f"""UPDATE geocode_names g SET {assignments}
            FROM (VALUES %s) AS v (id, {", ".join(KEY_COLUMNS)}) WHERE g.id = v.id""",
        rows,
        template="(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[])",
        page_size=1000,
    )


def copy_keyed_gazetteer(
    cur: Cursor, dataset: str, rows: Iterable[tuple[Any, ...]], progress: Callable[[int], None] | None = None
) -> int:
    """Write gazetteer entries and their keyed names in two COPYs (the trigger stays out).

    Each row: ``(kind, name, properties, geom as hex EWKB, keys as a tuple of KEY_COLUMNS values)``.
    Returns the number of entries written.
    """
    materialised = list(rows)
    if not materialised:
        return 0
    cur.execute("SELECT nextval('gazetteer_id_seq') FROM generate_series(1, %s)", (len(materialised),))
    ids = [int(r[0]) for r in cur.fetchall()]
    cur.execute("SELECT set_config('geo_service.geocode_names_written', 'on', true)")
    copy_rows(
        cur,
        "gazetteer",
        ["id", "dataset", "kind", "name", "properties", "geom"],
        (
            (i, dataset, kind, name, properties, geom)
            for i, (kind, name, properties, geom, _keys) in zip(ids, materialised, strict=True)
        ),
    )
    copy_rows(
        cur,
        "geocode_names",
        ["source", "gazetteer_id", "kind", "name", "geom", *KEY_COLUMNS],
        (
            ("gazetteer", i, kind, name, geom, *keys[:-1], _pg_array(keys[-1]))
            for i, (kind, name, _properties, geom, keys) in zip(ids, materialised, strict=True)
        ),
        progress,
    )
    cur.execute("SELECT set_config('geo_service.geocode_names_written', 'off', true)")
    return len(materialised)


def _pg_array(values: Sequence[str] | None) -> str | None:
    """A text[] literal for COPY (csv format): ``{"a","b"}``."""
    if not values:
        return None
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def entry(cur: Cursor, entry_id: int) -> GazetteerEntry | None:
    """One gazetteer entry (name, kind, lon, lat) by id: the ``address_id`` of Open311."""
    cur.execute(
        "SELECT name, kind, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM gazetteer WHERE id = %s", (entry_id,)
    )
    row = cur.fetchone()
    return None if row is None else cast(GazetteerEntry, dict(row))
