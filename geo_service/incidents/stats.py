"""Incident numbers per grid, community or street: what a district's daily report shows.

Incidents count for the areas they were assigned to at intake (their snapshot), so redrawing a boundary does
not rewrite last month's figures. ``resolution_rate`` = resolved, verified or closed ÷ all but rejected;
``median_hours_to_close`` = median of closed_at − created_at over closed incidents; ``overdue`` = still being
handled and past the deadline now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict  # pydantic documents these answers on Python 3.11

from geo_service.errors import InvalidInput
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.states import STATES
from geo_service.store import incidents as store
from geo_service.store.incidents import AreaStatsRow

STAT_LEVELS = ("grid", "community", "street", "district")


class Totals(TypedDict):
    total: int
    by_status: Annotated[dict[str, int], Field(description="incidents in each state (every state named)")]
    resolved: int
    resolution_rate: Annotated[
        float | None, Field(description="resolved, verified or closed ÷ all but rejected; null: none")
    ]
    overdue: int


class AreaNumbers(Totals):
    code: str
    name: str | None
    median_hours_to_close: float | None


class IncidentStats(TypedDict):
    """Numbers per area at ``level``, and their totals."""

    level: str
    since: Annotated[str | None, Field(description="start of the period (null: since the beginning)")]
    as_of: str
    areas: list[AreaNumbers]
    totals: Totals


def _area_numbers(row: AreaStatsRow) -> AreaNumbers:
    by_status = {status: int((row["by_status"] or {}).get(status, 0)) for status in STATES}
    total, rejected, resolved = int(row["total"]), int(row["rejected"]), int(row["resolved"])
    median = row["median_hours_to_close"]
    return {
        "code": row["code"],
        "name": row["name"],
        "total": total,
        "by_status": by_status,
        "resolved": resolved,
        "resolution_rate": round(resolved / (total - rejected), 4) if total > rejected else None,
        "median_hours_to_close": None if median is None else round(float(median), 2),
        "overdue": int(row["overdue"]),
    }


def incident_stats(ctx: IncidentContext, level: str, since: datetime | None) -> IncidentStats:
    """Numbers per area at ``level`` for incidents created at or after ``since`` (all when None; a ``since``
    without a time zone is read in the service's zone).

    Raises
    ------
    InvalidInput
        Unknown level.
    """
    if level not in STAT_LEVELS:
        raise InvalidInput("incident.stats_level", level=repr(level), levels=list(STAT_LEVELS))
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=ctx.timezone)
    now = ctx.now()
    with ctx.db.cursor() as cur:
        rows = store.stats_by_area(cur, level, since, now)
    areas = [_area_numbers(row) for row in rows]
    total = sum(a["total"] for a in areas)
    rejected = sum(a["by_status"]["rejected"] for a in areas)
    resolved = sum(a["resolved"] for a in areas)
    return {
        "level": level,
        "since": ctx.local(since),
        "as_of": ctx.local(now),
        "areas": areas,
        "totals": {
            "total": total,
            "by_status": {s: sum(a["by_status"][s] for a in areas) for s in STATES},
            "resolved": resolved,
            "resolution_rate": round(resolved / (total - rejected), 4) if total > rejected else None,
            "overdue": sum(a["overdue"] for a in areas),
        },
    }
