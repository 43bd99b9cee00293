"""SQL for incidents and their history. Rows come back as the TypedDicts below (the cursor's dicts, typed).

Idempotency rests on the unique ``external_id``: inserts use ``ON CONFLICT (external_id) DO NOTHING``, so of
any number of concurrent posts of one ticket exactly one creates it and the others read it back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from psycopg2 import sql
from psycopg2.extras import Json
from typing_extensions import TypedDict  # pydantic documents Contact on Python 3.11

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import all_as, fetch_one, one_as
from geo_service.geocode.service import GeocodeMatch
from geo_service.store.areas import AreaRef
from geo_service.store.bulk import copy_rows

# the columns an intake writes (besides geom, written from lon/lat)
INSERT_COLUMNS = (
    "external_id",
    "category",
    "description",
    "address",
    "reporter",
    "status",
    "crs",
    "input_lon",
    "input_lat",
    "grid_code",
    "grid_version",
    "owner_level",
    "owner_code",
    "area_snapshot",
    "near_boundary",
    "distance_to_boundary_m",
    "created_at",
    "updated_at",
    "due_at",
    "source",
    "created_by",
    "media_url",
    "attributes",
    "geocode",
    "community_code",
    "street_code",
    "district_code",
    "client_id",
    "accuracy_m",
)
_JSON_COLUMNS = frozenset({"reporter", "area_snapshot", "attributes", "geocode"})
_SELECT = """SELECT i.id, i.external_id, i.category, i.description, i.address, i.reporter, i.status, i.crs,
                    i.input_lon, i.input_lat, i.grid_code, i.grid_version, i.owner_level, i.owner_code,
                    i.area_snapshot, i.near_boundary, i.distance_to_boundary_m, i.created_at, i.updated_at,
                    i.due_at, i.closed_at, i.source, i.created_by, i.media_url, i.attributes, i.geocode,
                    i.community_code, i.street_code, i.district_code, i.escalations, i.top_overdue_at,
                    i.assignment_confirmed_by, i.assignment_confirmed_at, i.client_id, i.accuracy_m,
                    i.merged_into, i.merged_at, i.responded_at, i.resolved_at, i.settled_level,
                    i.missed_deadline, i.callback_attempts, i.reopened,
                    ARRAY(SELECT f.id FROM incidents f WHERE f.merged_into = i.id ORDER BY f.id) AS followers,
                    ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
             FROM incidents i"""


class Contact(TypedDict, total=False):
    """The caller's contact details, each only when given: name, phone and e-mail from the API and imports,
    and Open311's own fields (first and last name, device and account ids)."""

    name: str | None
    phone: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    device_id: str | None
    account_id: str | None


class AssignedColumns(TypedDict):
    """The columns where an incident belongs fills (``Assignment.columns`` in :mod:`geo_service.incidents`)."""

    grid_code: str | None
    grid_version: int | None
    owner_level: str  # every writer sets the owner (an Assignment's)
    owner_code: str
    area_snapshot: list[AreaRef]
    near_boundary: bool
    distance_to_boundary_m: float | None
    community_code: str | None
    street_code: str | None
    district_code: str | None


class NewIncidentRow(AssignedColumns):
    """An intake's columns (:data:`INSERT_COLUMNS`; the point is written from lon/lat)."""

    external_id: str | None
    category: str
    description: str | None
    address: str | None
    reporter: Contact
    status: str
    crs: str
    input_lon: float | None
    input_lat: float | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime | None  # an intake always sets it; a row read back may have none (typed as read)
    source: str
    created_by: str | None
    media_url: str | None
    attributes: dict[str, Any]  # the category's own attributes (Open311 attributes): open by design
    geocode: GeocodeMatch | None
    client_id: str | None
    accuracy_m: float | None


class IncidentRow(NewIncidentRow):
    """An incident as :data:`_SELECT` reads it: its columns, ``followers`` (the ids merged into it, oldest
    first) and its point (``lon``, ``lat``, WGS-84). Times are aware datetimes."""

    id: int
    closed_at: datetime | None
    escalations: int
    top_overdue_at: datetime | None
    assignment_confirmed_by: str | None
    assignment_confirmed_at: datetime | None
    merged_into: int | None
    merged_at: datetime | None
    responded_at: datetime | None
    resolved_at: datetime | None
    settled_level: str | None
    missed_deadline: bool
    callback_attempts: int
    reopened: int
    followers: list[int]
    lon: float
    lat: float


class HistoryRow(TypedDict):
    """One entry of an incident's history; ``detail`` as stored (``action``, ``note`` codes, ...)."""

    at: datetime
    actor: str | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    detail: dict[str, Any]  # what the step recorded (label, action, codes ...): open by design


Outcome = Literal["closed", "reopened", "failed", "retry"]  # what a call to the caller led to


class CallbackRow(TypedDict):
    """One call to an incident's caller (回访)."""

    id: int
    at: datetime
    actor: str | None
    reached: bool
    satisfaction: str | None
    note: str | None
    outcome: Outcome


class NearCaseRow(TypedDict):
    """An open case near a point, with its straight-line distance (metres) from it."""

    id: int
    category: str
    status: str
    description: str | None
    grid_code: str | None
    created_at: datetime
    source: str
    lon: float
    lat: float
    straight_m: float


class AreaStatsRow(TypedDict):
    """Counts of one area code (``name``: its current name, None once retired)."""

    code: str
    name: str | None
    total: int
    by_status: dict[str, int]
    resolved: int
    rejected: int
    overdue: int
    median_hours_to_close: float | None


class RateCounts(TypedDict):
    """The counts behind the rates (:mod:`geo_service.incidents.rates` defines each)."""

    incidents: int
    cases: int
    rejected: int
    response_due: int
    responded_in_time: int
    resolved: int
    on_time_due: int
    on_time: int
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    unreached: int
    failed: int


class RatesRow(RateCounts):
    """The counts behind the rates of one area code, and where its cases were settled (see
    :func:`rates_by_area`)."""

    code: str
    name: str | None
    settled_grid: int
    settled_community: int
    settled_street: int
    settled_district: int


# columns the stats may group by, whitelisted by level
LEVEL_COLUMNS = {
    "grid": "grid_code",
    "community": "community_code",
    "street": "street_code",
    "district": "district_code",
}


def _value(column: str, value: Any) -> Any:
    return Json(value) if column in _JSON_COLUMNS and value is not None else value


def insert_incident(cur: Cursor, row: NewIncidentRow, lon: float, lat: float) -> int | None:
    """Insert one incident; its id, or None when ``external_id`` or ``client_id`` is already taken (nothing
    written)."""
    columns = [c for c in INSERT_COLUMNS if c in row]
    statement = sql.SQL(
        """INSERT INTO incidents ({columns}, geom)
           VALUES ({values}, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
           ON CONFLICT DO NOTHING RETURNING id"""
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    by_column: Mapping[str, object] = row
    cur.execute(statement, [*(_value(c, by_column[c]) for c in columns), lon, lat])
    found = cur.fetchone()
    return None if found is None else int(found["id"])


def get_incident(cur: Cursor, incident_id: int, lock: bool = False) -> IncidentRow | None:
    cur.execute(_SELECT + " WHERE i.id = %s" + (" FOR UPDATE" if lock else ""), (incident_id,))
    return one_as(cur, IncidentRow)


def find_by_external_id(cur: Cursor, external_id: str) -> IncidentRow | None:
    cur.execute(_SELECT + " WHERE i.external_id = %s", (external_id,))
    return one_as(cur, IncidentRow)


def find_by_client_id(cur: Cursor, client_id: str) -> IncidentRow | None:
    cur.execute(_SELECT + " WHERE i.client_id = %s", (client_id,))
    return one_as(cur, IncidentRow)


def lock_incidents(cur: Cursor, ids: Sequence[int]) -> dict[int, IncidentRow]:
    """Several incidents by id, locked in id order (two merges of the same pair cannot deadlock)."""
    cur.execute(_SELECT + " WHERE i.id = ANY(%s) ORDER BY i.id FOR UPDATE OF i", (list(ids),))
    return {int(row["id"]): row for row in all_as(cur, IncidentRow)}


def followers(cur: Cursor, incident_id: int, lock: bool = False) -> list[IncidentRow]:
    """The incidents merged into ``incident_id`` (its duplicates), oldest first."""
    cur.execute(
        _SELECT + " WHERE i.merged_into = %s ORDER BY i.id" + (" FOR UPDATE OF i" if lock else ""),
        (incident_id,),
    )
    return all_as(cur, IncidentRow)


def ids_by_external_id(cur: Cursor, external_ids: Sequence[str]) -> dict[str, int]:
    cur.execute("SELECT external_id, id FROM incidents WHERE external_id = ANY(%s)", (list(external_ids),))
    return {row["external_id"]: int(row["id"]) for row in cur.fetchall()}


def any_external_id_starting(cur: Cursor, prefix: str) -> bool:
    """Whether an incident's ticket number starts with ``prefix`` (the demo data's marker)."""
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM incidents WHERE starts_with(external_id, %s)) AS found", (prefix,)
    )
    return bool(fetch_one(cur)["found"])


def list_incidents(
    cur: Cursor,
    *,
    grid_code: str | None = None,
    statuses: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    ids: Sequence[int] | None = None,
    owner_code: str | None = None,
    overdue_at: datetime | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    grid_codes: Sequence[str] | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> list[IncidentRow]:
    """Incidents matching every given filter. ``overdue_at``: only those still active and past due then."""
    where: list[str] = []
    params: list[Any] = []
    if grid_code is not None:
        where.append("i.grid_code = %s")
        params.append(grid_code)
    if statuses:
        where.append("i.status = ANY(%s)")
        params.append(list(statuses))
    if categories:
        where.append("i.category = ANY(%s)")
        params.append(list(categories))
    if bbox is not None:
        where.append("i.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
        params.extend(bbox)
    if ids is not None:
        where.append("i.id = ANY(%s)")
        params.append(list(ids))
    if owner_code is not None:
        where.append("i.owner_code = %s")
        params.append(owner_code)
    if overdue_at is not None:
        where.append(
            "i.status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated') AND i.due_at < %s"
        )
        params.append(overdue_at)
    if created_from is not None:
        where.append("i.created_at >= %s")
        params.append(created_from)
    if created_to is not None:
        where.append("i.created_at <= %s")
        params.append(created_to)
    if grid_codes is not None:
        where.append("i.grid_code = ANY(%s)")
        params.append(list(grid_codes))
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    order = " ORDER BY i.created_at DESC, i.id DESC" if newest_first else " ORDER BY i.created_at, i.id"
    cur.execute(_SELECT + clause + order + " LIMIT %s OFFSET %s", [*params, limit, offset])
    return all_as(cur, IncidentRow)


def add_history(
    cur: Cursor,
    incident_id: int,
    *,
    at: datetime,
    actor: str | None,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    cur.execute(
        """INSERT INTO incident_history (incident_id, at, actor, action, from_status, to_status, note, detail)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (incident_id, at, actor, action, from_status, to_status, note, Json(detail or {})),
    )


def history(cur: Cursor, incident_id: int) -> list[HistoryRow]:
    cur.execute(
        """SELECT at, actor, action, from_status, to_status, note, detail FROM incident_history
           WHERE incident_id = %s ORDER BY at, id""",
        (incident_id,),
    )
    return all_as(cur, HistoryRow)


def latest_notes(cur: Cursor, incident_ids: Sequence[int]) -> dict[int, Any]:
    """The note of each incident's latest history entry that has one: a person's text, or the system's note
    as stored (``{"code", "params"}`` in ``detail.note``)."""
    cur.execute(
        """SELECT DISTINCT ON (incident_id) incident_id, note, detail -> 'note' AS system_note
           FROM incident_history
           WHERE incident_id = ANY(%s) AND ((note IS NOT NULL AND note <> '') OR detail ? 'note')
           ORDER BY incident_id, at DESC, id DESC""",
        (list(incident_ids),),
    )
    return {int(row["incident_id"]): row["note"] or row["system_note"] for row in cur.fetchall()}


def latest_change(cur: Cursor) -> datetime | None:
    """When any incident last changed (intake, a step, an escalation)."""
    cur.execute("SELECT max(updated_at) AS at FROM incidents")
    row = cur.fetchone()
    return row["at"] if row else None


def set_status(cur: Cursor, incident_id: int, status: str, at: datetime, closed_at: datetime | None) -> None:
    cur.execute(
        "UPDATE incidents SET status = %s, updated_at = %s, closed_at = %s WHERE id = %s",
        (status, at, closed_at, incident_id),
    )


def set_owner(
    cur: Cursor,
    incident_id: int,
    *,
    level: str,
    code: str,
    due_at: datetime,
    at: datetime,
    status: str,
    missed: bool = False,
) -> None:
    """Move an incident to a new owner (escalation) with a fresh deadline; ``missed``: the old one had passed."""
    cur.execute(
        """UPDATE incidents SET owner_level = %s, owner_code = %s, due_at = %s, updated_at = %s, status = %s,
                  escalations = escalations + 1, missed_deadline = missed_deadline OR %s
           WHERE id = %s""",
        (level, code, due_at, at, status, missed, incident_id),
    )


def mark_top_overdue(cur: Cursor, incident_id: int, at: datetime) -> None:
    cur.execute(
        """UPDATE incidents SET top_overdue_at = %s, updated_at = %s, missed_deadline = true
           WHERE id = %s""",
        (at, at, incident_id),
    )


# the columns a service may overwrite after intake (status has its own function)
class IncidentUpdate(TypedDict, total=False):
    """The columns :func:`update_incident` may overwrite, each only when given (a reassignment, a fresh deadline
    on reopening, a merge, a callback's attempts); typed as :class:`IncidentRow` reads them."""

    grid_code: str | None
    grid_version: int | None
    owner_level: str
    owner_code: str
    area_snapshot: list[AreaRef]
    community_code: str | None
    street_code: str | None
    district_code: str | None
    due_at: datetime | None
    top_overdue_at: datetime | None
    assignment_confirmed_by: str | None
    assignment_confirmed_at: datetime | None
    merged_into: int | None
    merged_at: datetime | None
    responded_at: datetime | None
    resolved_at: datetime | None
    settled_level: str | None
    missed_deadline: bool
    callback_attempts: int
    reopened: int


# The UPDATE is built from the keys, so they are checked at run time too (a cast or a ** could smuggle others in)
UPDATABLE = tuple(IncidentUpdate.__annotations__)


def update_incident(cur: Cursor, incident_id: int, fields: IncidentUpdate, at: datetime) -> None:
    """Overwrite some of the :data:`UPDATABLE` columns (a reassignment, a fresh deadline on reopening)."""
    unknown = set(fields) - set(UPDATABLE)
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    statement = sql.SQL("UPDATE incidents SET {}, updated_at = %s WHERE id = %s").format(
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in fields)
    )
    cur.execute(statement, [*(_value(c, v) for c, v in fields.items()), at, incident_id])


def overdue_for_update(cur: Cursor, now: datetime, limit: int) -> list[IncidentRow]:
    """Active incidents past their deadline that no top-level miss was noted for, locked (others skip them)."""
    cur.execute(
        _SELECT
        + """ WHERE i.status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated')
                        AND i.due_at < %s AND i.top_overdue_at IS NULL AND i.merged_into IS NULL
                      ORDER BY i.due_at LIMIT %s FOR UPDATE OF i SKIP LOCKED""",
        (now, limit),
    )
    return all_as(cur, IncidentRow)


def try_sweep_lock(cur: Cursor, key: int) -> bool:
    """Take a transaction-scoped advisory lock so one process sweeps at a time."""
    cur.execute("SELECT pg_try_advisory_xact_lock(%s) AS got", (key,))
    return bool(fetch_one(cur)["got"])


# -- bulk ---------------------------------------------------------------------------------------------------


def allocate_ids(cur: Cursor, count: int) -> list[int]:
    cur.execute("SELECT nextval('incidents_id_seq') AS id FROM generate_series(1, %s)", (count,))
    return [int(row["id"]) for row in cur.fetchall()]


# A bulk intake COPYs the per-row columns, and the owner columns once per distinct assignment (rows in one grid
# share them), then inserts the join: half the bytes through COPY of one wide table.
BULK_ROW_COLUMNS = (
    "id",
    "external_id",
    "category",
    "description",
    "address",
    "reporter",
    "crs",
    "input_lon",
    "input_lat",
    "near_boundary",
    "distance_to_boundary_m",
    "due_at",
    "geocode",
    "owner_key",
    "geom",
)
BULK_OWNER_COLUMNS = (
    "owner_key",
    "grid_code",
    "grid_version",
    "owner_level",
    "owner_code",
    "area_snapshot",
    "community_code",
    "street_code",
    "district_code",
)


def bulk_insert(
    cur: Cursor,
    owners: list[tuple[Any, ...]],
    rows: list[tuple[Any, ...]],
    *,
    at: datetime,
    actor: str,
    source: str,
) -> list[int]:
    """Insert new incidents in state ``reported`` skipping taken external ids, with a ``created`` history entry
    each; returns the ids created.

    ``owners``: tuples of :data:`BULK_OWNER_COLUMNS`; ``rows``: tuples of :data:`BULK_ROW_COLUMNS` (ids from
    :func:`allocate_ids`, geometry as hex EWKB).
    """
    cur.execute(
        """CREATE TEMP TABLE _bulk_owners (
               owner_key integer PRIMARY KEY, grid_code text, grid_version integer, owner_level text,
               owner_code text, area_snapshot jsonb, community_code text, street_code text, district_code text
           ) ON COMMIT DROP;
           CREATE TEMP TABLE _bulk_rows (
               id bigint, external_id text, category text, description text, address text, reporter jsonb,
               crs text, input_lon float8, input_lat float8, near_boundary boolean, distance_to_boundary_m float8,
               due_at timestamptz, geocode jsonb, owner_key integer, geom geometry(Point, 4326)
           ) ON COMMIT DROP"""
    )
    copy_rows(cur, "_bulk_owners", BULK_OWNER_COLUMNS, owners)
    copy_rows(cur, "_bulk_rows", BULK_ROW_COLUMNS, rows)
    cur.execute(
        """WITH created AS (
               INSERT INTO incidents (id, external_id, category, description, address, reporter, status, crs,
                                      input_lon, input_lat, grid_code, grid_version, owner_level, owner_code,
                                      area_snapshot, near_boundary, distance_to_boundary_m, created_at, updated_at,
                                      due_at, source, created_by, geocode, community_code, street_code,
                                      district_code, geom)
               SELECT r.id, r.external_id, r.category, r.description, r.address, coalesce(r.reporter, '{}'),
                      'reported', r.crs, r.input_lon, r.input_lat, o.grid_code, o.grid_version, o.owner_level,
                      o.owner_code, o.area_snapshot, r.near_boundary, r.distance_to_boundary_m, %(at)s, %(at)s,
                      r.due_at, %(source)s, %(actor)s, r.geocode, o.community_code, o.street_code, o.district_code,
                      r.geom
               FROM _bulk_rows r JOIN _bulk_owners o USING (owner_key)
               ON CONFLICT (external_id) DO NOTHING
               RETURNING id)
           INSERT INTO incident_history (incident_id, at, actor, action, to_status, detail)
           SELECT id, %(at)s, %(actor)s, 'created', 'reported', jsonb_build_object('source', %(source)s)
           FROM created
           RETURNING incident_id""",
        {"at": at, "actor": actor, "source": source},
    )
    return [int(row["incident_id"]) for row in cur.fetchall()]


# -- numbers ------------------------------------------------------------------------------------------------


def stats_by_area(cur: Cursor, level: str, since: datetime | None, now: datetime) -> list[AreaStatsRow]:
    """Per area code at ``level`` (as assigned at intake): counts by status, resolved, overdue, median hours
    from intake to close. The area's current name, when it still exists."""
    column = sql.Identifier(LEVEL_COLUMNS[level])
    cur.execute(
        sql.SQL(
            """WITH picked AS (
                   SELECT {column} AS code, status, due_at, created_at, closed_at FROM incidents
                   WHERE {column} IS NOT NULL AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s))
               SELECT p.code, max(a.name) AS name, sum(p.n) AS total, jsonb_object_agg(p.status, p.n) AS by_status,
                      sum(p.resolved) AS resolved, sum(p.rejected) AS rejected, sum(p.overdue) AS overdue,
                      (SELECT percentile_cont(0.5) WITHIN GROUP (
                                  ORDER BY extract(epoch FROM c.closed_at - c.created_at) / 3600.0)
                       FROM picked c WHERE c.code = p.code AND c.closed_at IS NOT NULL) AS median_hours_to_close
               FROM (SELECT code, status, count(*) AS n,
                            count(*) FILTER (WHERE status IN ('resolved', 'verified', 'closed')) AS resolved,
                            count(*) FILTER (WHERE status = 'rejected') AS rejected,
                            count(*) FILTER (WHERE status IN ('reported', 'filed', 'dispatched', 'in_progress',
                                                              'escalated') AND due_at < %(now)s) AS overdue
                     FROM picked GROUP BY code, status) p
               LEFT JOIN areas a ON a.code = p.code AND a.valid_to IS NULL
               GROUP BY p.code ORDER BY p.code"""
        ).format(column=column),
        {"since": since, "now": now},
    )
    return all_as(cur, AreaStatsRow)


# -- the loop: duplicates, callbacks, rates -----------------------------------------------------------------


def open_cases_near(
    cur: Cursor,
    *,
    lon: float,
    lat: float,
    radius_m: float,
    categories: Sequence[str],
    created_from: datetime,
    created_to: datetime,
    exclude: Sequence[int] = (),
    limit: int = 200,
) -> list[NearCaseRow]:
    """Cases (not duplicates themselves) still being handled, of ``categories``, filed in the window, within
    ``radius_m`` in a straight line of (lon, lat) (WGS-84), nearest first, with ``straight_m``."""
    cur.execute(
        """WITH here AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt)
           SELECT i.id, i.category, i.status, i.description, i.grid_code, i.created_at, i.source,
                  ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
                  ST_Distance(i.geom::geography, here.pt::geography) AS straight_m
           FROM incidents i, here
           WHERE i.merged_into IS NULL
             AND i.status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated')
             AND i.category = ANY(%(categories)s) AND i.created_at BETWEEN %(from)s AND %(to)s
             AND NOT i.id = ANY(%(exclude)s)
             AND i.geom && ST_Expand(here.pt, %(degrees)s)
             AND ST_DWithin(i.geom::geography, here.pt::geography, %(radius)s)
           ORDER BY straight_m, i.id LIMIT %(limit)s""",
        {
            "lon": lon,
            "lat": lat,
            "categories": list(categories),
            "from": created_from,
            "to": created_to,
            "exclude": list(exclude),
            "radius": radius_m,
            "limit": limit,
            # a box in degrees that holds the circle (the index filter before the exact distance)
            "degrees": radius_m / 111_000.0 / max(0.17, abs(math.cos(math.radians(lat)))),
        },
    )
    return all_as(cur, NearCaseRow)


def insert_callback(
    cur: Cursor,
    incident_id: int,
    *,
    at: datetime,
    actor: str,
    reached: bool,
    satisfaction: str | None,
    note: str | None,
    outcome: str,
) -> int:
    cur.execute(
        """INSERT INTO incident_callbacks (incident_id, at, actor, reached, satisfaction, note, outcome)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (incident_id, at, actor, reached, satisfaction, note, outcome),
    )
    return int(fetch_one(cur)["id"])


def callbacks(cur: Cursor, incident_id: int) -> list[CallbackRow]:
    """The calls made to an incident's caller, oldest first."""
    cur.execute(
        """SELECT id, at, actor, reached, satisfaction, note, outcome FROM incident_callbacks
           WHERE incident_id = %s ORDER BY at, id""",
        (incident_id,),
    )
    return all_as(cur, CallbackRow)


def rates_by_area(
    cur: Cursor,
    level: str,
    *,
    code: str | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    response_hours: dict[str, float],
) -> list[RatesRow]:
    """The counts behind the three rates, per area code at ``level`` (as assigned at intake), for incidents
    filed in [since, until): cases (not rejected, not merged into another), their milestones, and the callbacks
    of every incident (merged ones too: each caller is called back). ``response_hours``: category → hours."""
    column = sql.Identifier(LEVEL_COLUMNS[level])
    cur.execute(
        sql.SQL(
            """WITH response (category, hours) AS (SELECT * FROM unnest(%(codes)s::text[], %(hours)s::float8[])),
               picked AS (
                   SELECT {column} AS code, i.id, i.status, i.created_at, i.due_at, i.responded_at,
                          i.settled_level, i.missed_deadline, i.merged_into IS NULL AND i.status <> 'rejected' AS is_case,
                          i.created_at + make_interval(secs => r.hours * 3600) AS response_due_at
                   FROM incidents i LEFT JOIN response r USING (category)
                   WHERE {column} IS NOT NULL AND (%(code)s::text IS NULL OR {column} = %(code)s)
                     AND (%(since)s::timestamptz IS NULL OR i.created_at >= %(since)s)
                     AND (%(until)s::timestamptz IS NULL OR i.created_at < %(until)s)),
               numbers AS (
                   SELECT code,
                          count(*) AS incidents,
                          count(*) FILTER (WHERE is_case) AS cases,
                          count(*) FILTER (WHERE status = 'rejected') AS rejected,
                          count(*) FILTER (WHERE is_case AND (responded_at IS NOT NULL OR response_due_at < %(now)s))
                              AS response_due,
                          count(*) FILTER (WHERE is_case AND responded_at <= response_due_at) AS responded_in_time,
                          count(*) FILTER (WHERE is_case AND status IN ('resolved', 'verified', 'closed')) AS resolved,
                          count(*) FILTER (WHERE is_case AND (status IN ('resolved', 'verified', 'closed')
                                                              OR missed_deadline OR due_at < %(now)s)) AS on_time_due,
                          count(*) FILTER (WHERE is_case AND status IN ('resolved', 'verified', 'closed')
                                           AND NOT missed_deadline) AS on_time,
                          count(*) FILTER (WHERE is_case AND status IN ('resolved', 'verified', 'closed')
                                           AND settled_level = 'grid') AS settled_grid,
                          count(*) FILTER (WHERE is_case AND status IN ('resolved', 'verified', 'closed')
                                           AND settled_level = 'community') AS settled_community,
                          count(*) FILTER (WHERE is_case AND status IN ('resolved', 'verified', 'closed')
                                           AND settled_level = 'street') AS settled_street,
                          count(*) FILTER (WHERE is_case AND status IN ('resolved', 'verified', 'closed')
                                           AND settled_level = 'district') AS settled_district
                   FROM picked GROUP BY code),
               calls AS (
                   SELECT p.code,
                          count(*) FILTER (WHERE c.satisfaction = 'satisfied') AS satisfied,
                          count(*) FILTER (WHERE c.satisfaction = 'basically_satisfied') AS basically_satisfied,
                          count(*) FILTER (WHERE c.satisfaction = 'unsatisfied') AS unsatisfied,
                          count(*) FILTER (WHERE NOT c.reached) AS unreached,
                          count(*) FILTER (WHERE c.outcome = 'failed') AS failed
                   FROM picked p JOIN incident_callbacks c ON c.incident_id = p.id GROUP BY p.code)
               SELECT n.*, coalesce(c.satisfied, 0) AS satisfied,
                      coalesce(c.basically_satisfied, 0) AS basically_satisfied,
                      coalesce(c.unsatisfied, 0) AS unsatisfied, coalesce(c.unreached, 0) AS unreached,
                      coalesce(c.failed, 0) AS failed,
                      (SELECT a.name FROM areas a WHERE a.code = n.code AND a.valid_to IS NULL LIMIT 1) AS name
               FROM numbers n LEFT JOIN calls c USING (code) ORDER BY n.code"""
        ).format(column=column),
        {
            "codes": list(response_hours),
            "hours": list(response_hours.values()),
            "code": code,
            "since": since,
            "until": until,
            "now": now,
        },
    )
    return all_as(cur, RatesRow)


def area_exists(cur: Cursor, level: str, code: str) -> bool:
    """Whether ``code`` names an area of ``level``, current or retired (figures outlive boundary changes)."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM areas WHERE code = %s AND level = %s) AS found", (code, level))
    return bool(fetch_one(cur)["found"])
