"""并案 candidates: open cases that a new report probably describes again.

A candidate is a case (not itself merged into another) that is still being handled, of the same major class
as the report (a 暴露垃圾 call may be the 积存垃圾渣土 case reported before), filed within
``duplicate_window_h`` before it, and within ``duplicate_walk_m`` of it **on foot**: the walking network
decides, so a case across a river, a railway or a fence is not suggested even when it is close in a straight
line. The walk is measured between the points where the two reports meet the network, and is never taken as
shorter than the straight line between them. Where either point is off every network (no walkable edge within
``GEO_SERVICE_WALK_MAX_SNAP_M``), the straight line is used and the candidate says so (``method``).

One bounded search from the report (cut off at the walking limit) measures every candidate at once; the
database first keeps only the cases within the limit in a straight line (a walk is never shorter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field
from typing_extensions import TypedDict

from geo_service.incidents.categories import Category
from geo_service.incidents.context import IncidentContext
from geo_service.settings import WalkingSettings
from geo_service.store import incidents as store
from geo_service.store.incidents import IncidentRow
from geo_service.walking import best_arrival, current_network, run_search, sources_of


@dataclass(frozen=True)
class Candidate:
    """A case a report may duplicate, and how far apart they are (metres; ``method`` walk or straight)."""

    id: int
    category: str
    status: str
    description: str | None
    grid_code: str | None
    created_at: datetime
    source: str
    distance_m: float
    straight_m: float
    method: Literal["walk", "straight"]


class DuplicateCandidate(TypedDict):
    """An open case the incident may duplicate, and how far apart they are (as the API shows it)."""

    id: int
    category: str
    category_name: str | None
    category_name_en: str | None
    status: str
    description: str | None
    grid_code: str | None
    created_at: Annotated[str | None, Field(description="ISO 8601 in the service's zone")]
    source: str
    distance_m: Annotated[float, Field(description="walking metres (never less than the straight line)")]
    straight_m: float
    method: Annotated[
        Literal["walk", "straight"], Field(description="straight where a point is off every network")
    ]


class Duplicates(TypedDict):
    """Nearest first: the dispatcher's merge suggestions."""

    id: int
    duplicates: list[DuplicateCandidate]
    walk_m: Annotated[float, Field(description="the walking distance a duplicate is looked for within")]
    window_h: Annotated[float, Field(description="hours either side of the incident's filing")]


def walking_metres(
    db: Any, lon: float, lat: float, targets: np.ndarray, limit_m: float, settings: WalkingSettings
) -> np.ndarray:
    """Walking metres from (lon, lat) to each target (n, 2 WGS-84) between their network points, +inf where
    the walk is longer than ``limit_m`` (or leaves the network's piece), NaN where a point is off the network."""
    network = current_network(db, settings)
    out = np.full(targets.shape[0], np.nan)
    if not network.graphs or targets.shape[0] == 0:
        return out
    here = network.snap(np.array([lon]), np.array([lat]), settings.max_snap_m)
    there = network.snap(targets[:, 0], targets[:, 1], settings.max_snap_m)
    if here.graph_index[0] < 0:
        return out
    gi = int(here.graph_index[0])
    on = np.flatnonzero(there.graph_index == gi)
    out[there.graph_index >= 0] = np.inf  # on a network, and not reached until shown otherwise
    if on.size == 0:
        return out
    graph = network.graphs[gi]
    with run_search(graph, sources_of(here, np.array([0])), limit_m, kind="distance") as found:
        arrival = best_arrival(found, there.edge[on], there.frac[on])
    metres = np.where(arrival.cost <= limit_m, arrival.metres, np.inf)
    out[on] = metres
    return out


def find_candidates(
    ctx: IncidentContext,
    *,
    lon: float,
    lat: float,
    category: Category,
    at: datetime,
    exclude: Sequence[int] = (),
    after: bool = False,
) -> list[Candidate]:
    """Cases the report at (lon, lat) (WGS-84) of ``category`` filed at ``at`` may duplicate, nearest first.

    ``after``: also cases filed up to the window after ``at`` (looking for duplicates of an existing case)."""
    settings = ctx.settings
    limit_m = settings.duplicate_walk_m
    window = timedelta(hours=settings.duplicate_window_h)
    with ctx.db.cursor() as cur:
        rows = store.open_cases_near(
            cur,
            lon=lon,
            lat=lat,
            radius_m=limit_m,
            categories=ctx.classification.related(category),
            created_from=at - window,
            created_to=at + window if after else at,
            exclude=exclude,
        )
    if not rows:
        return []
    targets = np.array([[r["lon"], r["lat"]] for r in rows], float)
    walked = walking_metres(ctx.db, lon, lat, targets, limit_m, ctx.walking)
    found = []
    method: Literal["walk", "straight"]
    for row, walk in zip(rows, walked, strict=True):
        straight = float(row["straight_m"])
        if np.isnan(walk):
            distance, method = straight, "straight"
        else:
            distance, method = max(float(walk), straight), "walk"
        if distance <= limit_m:
            found.append(
                Candidate(
                    int(row["id"]),
                    row["category"],
                    row["status"],
                    row["description"],
                    row["grid_code"],
                    row["created_at"],
                    row["source"],
                    round(distance, 1),
                    round(straight, 1),
                    method,
                )
            )
    found.sort(key=lambda c: (c.distance_m, c.id))
    return found[: settings.duplicate_limit]


def present(ctx: IncidentContext, candidates: list[Candidate]) -> list[DuplicateCandidate]:
    """Candidates as the API shows them (category names, times in the service's zone)."""
    out = []
    for c in candidates:
        category = ctx.classification.get(c.category)
        out.append(
            DuplicateCandidate(
                id=c.id,
                category=c.category,
                category_name=category.name if category else None,
                category_name_en=category.name_en if category else None,
                status=c.status,
                description=c.description,
                grid_code=c.grid_code,
                created_at=ctx.local(c.created_at),
                source=c.source,
                distance_m=c.distance_m,
                straight_m=c.straight_m,
                method=c.method,
            )
        )
    return out


def for_incident(ctx: IncidentContext, row: IncidentRow) -> list[Candidate]:
    """Open cases that incident ``row`` may duplicate (filed around it, either side of its time), not counting
    itself or its own duplicates. None for a duplicate or a case that is no longer being handled."""
    category = ctx.classification.get(row["category"])
    if category is None or row["merged_into"] is not None:
        return []
    exclude = [row["id"], *(row.get("followers") or [])]
    return find_candidates(
        ctx,
        lon=row["lon"],
        lat=row["lat"],
        category=category,
        at=row["created_at"],
        exclude=exclude,
        after=True,
    )
