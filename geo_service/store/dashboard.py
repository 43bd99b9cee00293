"""SQL of the leaders' dashboard: the daily aggregate ``incident_daily`` (kept by triggers, migration 0990) for
what does not depend on the hour, and ``incidents`` through its partial index of open cases for what does
(overdue now, past due now). Rows come back as the TypedDicts below."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from psycopg2 import sql
from typing_extensions import TypedDict  # pydantic documents DashboardArea on Python 3.11

from geo_service.db.rows import DictCursor as Cursor
from geo_service.db.rows import all_as, fetch_one, first_as, one_as
from geo_service.store.incidents import LEVEL_COLUMNS

# the aggregate's counts, in the order of its columns
DAILY_COUNTS = (
    "incidents",
    "cases",
    "rejected",
    "accepted",
    "transferred",
    "resolved",
    "on_time",
    "missed_open",
    "escalated",
    "settled_grid",
    "settled_community",
    "settled_street",
    "settled_district",
)
OPEN_STATES = ("reported", "filed", "dispatched", "in_progress", "escalated")


class DailyRow(TypedDict):
    """Sums of the aggregate: per grid (``part`` 'grid', ``key`` the grid code, ``child`` its child area's) or
    per ISO week ('week', ``key`` its Monday). The counts are those of :data:`DAILY_COUNTS`."""

    part: str
    key: str | None
    child: str | None
    incidents: int
    cases: int
    rejected: int
    accepted: int
    transferred: int
    resolved: int
    on_time: int
    missed_open: int
    escalated: int
    settled_grid: int
    settled_community: int
    settled_street: int
    settled_district: int


class PastDueRow(TypedDict):
    """Open cases of one grid ('' outside every grid) and child area ('' when none) past their deadline now."""

    grid_code: str
    child: str
    overdue: int
    due_not_missed: int


class CaseRow(TypedDict):
    """An overdue or escalated case; ``total`` counts every case of the list before its limit."""

    id: int
    category: str
    status: str
    grid_code: str | None
    owner_level: str | None
    owner_code: str | None
    escalations: int
    missed_deadline: bool
    created_at: datetime
    due_at: datetime | None
    hours_past_due: Decimal | float | None  # numeric (Decimal) from PostgreSQL 14 on
    total: int


Level = Literal["district", "street", "community", "grid"]


class DashboardArea(TypedDict):
    """A current area as the dashboard names it (and its chooser lists it)."""

    level: Level
    code: str
    name: str | None
    parent_code: str | None


class ChildRow(TypedDict):
    code: str
    name: str | None
    level: str


class GridRow(TypedDict):
    """A current grid and the number of its workers on record."""

    code: str
    name: str | None
    workers: int


class CoverageRow(TypedDict):
    """Stations in an area, and its residences and households within their walking service circle."""

    stations: int
    residences: int
    households: float
    residences_covered: int
    households_covered: float


def daily_zone(cur: Cursor) -> str:
    cur.execute("SELECT zone FROM incident_daily_zone")
    return str(fetch_one(cur)["zone"])


def rebuild_daily(cur: Cursor, zone: str) -> None:
    """Count every incident again in the calendar days of ``zone`` (IANA name)."""
    cur.execute("SELECT incident_daily_rebuild(%s)", (zone,))


def daily_counts(
    cur: Cursor, level: str, code: str, since: date, until: date, child_level: str | None
) -> list[DailyRow]:
    """Sums of the aggregate over the days [since, until) of area ``code`` at ``level``, in one pass with
    grouping sets: per grid and child area at ``child_level`` (``part`` = 'grid', ``key`` = grid code,
    ``child`` = the child's code; their sum is the area's total) and per ISO week ('week', ``key`` = its
    Monday)."""
    column = sql.Identifier(LEVEL_COLUMNS[level])
    child = sql.Identifier(LEVEL_COLUMNS[child_level] if child_level else LEVEL_COLUMNS["grid"])
    sums = sql.SQL(", ").join(
        sql.SQL("sum({c})::bigint AS {c}").format(c=sql.Identifier(c)) for c in DAILY_COUNTS
    )
    cur.execute(
        sql.SQL(
            """SELECT CASE WHEN grouping(week) = 0 THEN 'week' ELSE 'grid' END AS part,
                      CASE WHEN grouping(week) = 0 THEN week::text ELSE grid_code END AS key,
                      CASE WHEN grouping(week) = 1 THEN {child} END AS child, {sums}
               -- the Monday of each day by integer arithmetic (2000-01-03 was a Monday): no time zone maths
               FROM (SELECT d.*, d.day - (d.day - date '2000-01-03') %% 7 AS week FROM incident_daily d
                     WHERE {column} = %(code)s AND d.day >= %(since)s AND d.day < %(until)s) d
               GROUP BY GROUPING SETS ((grid_code, {child}), (week))"""
        ).format(column=column, child=child, sums=sums),
        {"code": code, "since": since, "until": until},
    )
    return all_as(cur, DailyRow)


def open_past_due(
    cur: Cursor,
    level: str,
    code: str,
    since: datetime,
    until: datetime,
    now: datetime,
    child_level: str | None = None,
) -> list[PastDueRow]:
    """Open cases of the area filed in [since, until) whose deadline has passed at ``now``, per grid and
    child area at ``child_level`` ('' when none; ``child`` is the grid again without a child level):
    ``overdue`` (all of them) and ``due_not_missed`` (not yet marked as missed: the part of the on-time
    denominator the aggregate cannot know)."""
    column = sql.Identifier(LEVEL_COLUMNS[level])
    child = sql.Identifier(LEVEL_COLUMNS[child_level] if child_level else LEVEL_COLUMNS["grid"])
    cur.execute(
        sql.SQL(
            """SELECT coalesce(grid_code, '') AS grid_code, coalesce({child}, '') AS child, count(*) AS overdue,
                      count(*) FILTER (WHERE NOT missed_deadline) AS due_not_missed
               FROM incidents
               WHERE merged_into IS NULL AND status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated')
                 AND due_at < %(now)s AND {column} = %(code)s
                 AND created_at >= %(since)s AND created_at < %(until)s
               GROUP BY 1, 2"""
        ).format(column=column, child=child),
        {"code": code, "since": since, "until": until, "now": now},
    )
    return all_as(cur, PastDueRow)


def case_list(
    cur: Cursor,
    level: str,
    code: str,
    since: datetime,
    until: datetime,
    now: datetime,
    *,
    kind: str,
    limit: int,
) -> list[CaseRow]:
    """Open cases of the area filed in [since, until): ``kind`` = 'overdue' (past their deadline now, most
    overdue first) or 'escalated' (escalated at least once, most escalations first). No personal data: no
    reporter, description or address."""
    column = sql.Identifier(LEVEL_COLUMNS[level])
    if kind == "overdue":
        where, order = sql.SQL("due_at < %(now)s"), sql.SQL("due_at, id")
    else:
        where, order = sql.SQL("escalations > 0"), sql.SQL("escalations DESC, due_at, id")
    cur.execute(
        sql.SQL(
            """SELECT id, category, status, grid_code, owner_level, owner_code, escalations, missed_deadline,
                      created_at, due_at, extract(epoch FROM %(now)s - due_at) / 3600.0 AS hours_past_due,
                      count(*) OVER () AS total
               FROM incidents
               WHERE merged_into IS NULL AND status IN ('reported', 'filed', 'dispatched', 'in_progress', 'escalated')
                 AND {where} AND {column} = %(code)s AND created_at >= %(since)s AND created_at < %(until)s
               ORDER BY {order} LIMIT %(limit)s"""
        ).format(column=column, where=where, order=order),
        {"code": code, "since": since, "until": until, "now": now, "limit": limit},
    )
    return all_as(cur, CaseRow)


def area(cur: Cursor, code: str) -> DashboardArea | None:
    """The current area ``code``: level, name, parent."""
    cur.execute(
        "SELECT code, name, level, parent_code FROM areas WHERE code = %s AND valid_to IS NULL", (code,)
    )
    return one_as(cur, DashboardArea)


def areas(cur: Cursor) -> list[DashboardArea]:
    """Every current area above the grids and the grids too: code, name, level, parent (for the chooser)."""
    cur.execute(
        """SELECT code, name, level, parent_code FROM areas WHERE valid_to IS NULL
           ORDER BY array_position(ARRAY['district', 'street', 'community', 'grid'], level), code"""
    )
    return all_as(cur, DashboardArea)


def grids_in(cur: Cursor, level: str, code: str) -> list[GridRow]:
    """The current grids inside area ``code`` (by the hierarchy), with their names and workers on record."""
    cur.execute(
        """WITH RECURSIVE tree AS (
               SELECT code, level, name, workers FROM areas WHERE code = %(code)s AND valid_to IS NULL
               UNION ALL
               SELECT c.code, c.level, c.name, c.workers FROM areas c JOIN tree t ON c.parent_code = t.code
               WHERE c.valid_to IS NULL)
           SELECT code, name, jsonb_array_length(workers) AS workers FROM tree WHERE level = 'grid' ORDER BY code""",
        {"code": code},
    )
    return all_as(cur, GridRow)


def station_coverage(cur: Cursor, code: str, minutes: float) -> CoverageRow:
    """Inside area ``code``: the stations, the residences and their households, and those of them inside the
    ``minutes`` walking service circle of at least one station."""
    cur.execute(
        """WITH a AS (SELECT geom FROM areas WHERE code = %(code)s AND valid_to IS NULL),
           homes AS (
               SELECT r.geom, coalesce(r.households_reported, r.households_est, 0) AS households
               FROM residences r, a WHERE ST_Covers(a.geom, r.geom)),
           circles AS (SELECT c.geom FROM service_circles c, a WHERE c.minutes = %(minutes)s AND c.geom && a.geom)
           SELECT (SELECT count(*) FROM stations s, a WHERE ST_Covers(a.geom, s.geom)) AS stations,
                  count(*) AS residences, coalesce(sum(households), 0) AS households,
                  count(*) FILTER (WHERE covered) AS residences_covered,
                  coalesce(sum(households) FILTER (WHERE covered), 0) AS households_covered
           FROM (SELECT h.households,
                        EXISTS (SELECT 1 FROM circles c WHERE ST_Covers(c.geom, h.geom)) AS covered
                 FROM homes h) x""",
        {"code": code, "minutes": minutes},
    )
    return first_as(cur, CoverageRow)


def children(cur: Cursor, code: str) -> list[ChildRow]:
    """The current areas directly under ``code``."""
    cur.execute(
        "SELECT code, name, level FROM areas WHERE parent_code = %s AND valid_to IS NULL ORDER BY code",
        (code,),
    )
    return all_as(cur, ChildRow)
