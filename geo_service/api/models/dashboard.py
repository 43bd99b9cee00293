"""Answers of the leaders' dashboard (``/api/stats/dashboard``); definitions in
:mod:`geo_service.stats.dashboard`. Rates are to 4 places and null when their denominator is 0."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from geo_service.api.models.loop import SettledAt
from geo_service.stats.dashboard import DashboardAreas as DashboardAreas
from geo_service.store.dashboard import DashboardArea

Level = Literal["district", "street", "community", "grid"]


class DashboardPeriod(BaseModel):
    since: str = Field(description="first local day (ISO date)")
    until: str = Field(description="the day after the last")
    days: int


class Flow(BaseModel):
    """The loop's counts: 上报, 受理, 转办, 办结, 按时办结."""

    reported: int
    accepted: int
    transferred: int
    completed: int
    on_time: int


class Summary(Flow):
    cases: int
    rejected: int
    escalated: int
    overdue: int = Field(description="open cases past their deadline now")
    on_time_due: int
    on_time_rate: float | None
    completion_rate: float | None
    settled: SettledAt


class SettledShares(BaseModel):
    grid: float | None
    community: float | None
    street: float | None
    district: float | None


class Settled(BaseModel):
    """Where completed cases were settled, against the 小事不出网格 target."""

    counts: SettledAt
    shares: SettledShares
    total: int
    grid_target: float
    grid_target_met: bool | None


class Week(Flow):
    week: str = Field(description="the ISO week's Monday")
    escalated: int


class GridFigures(Flow):
    code: str
    name: str | None
    workers: int = Field(description="grid workers on record")
    on_time_due: int
    on_time_rate: float | None
    overdue: int
    escalated: int


class ChildArea(Flow):
    """One child area (各街道/各社区/各网格) of the chosen area, with the same definitions as the summary."""

    level: Level
    code: str
    name: str | None
    escalated: int
    completion_rate: float | None
    on_time_due: int = Field(
        description="completed cases + open cases that missed a deadline or are past their current one now"
    )
    on_time_rate: float | None = Field(description="on_time ÷ on_time_due")
    overdue: int = Field(description="open cases past their deadline now")
    settled_total: int = Field(description="completed cases with a known settling level")
    settled_grid: int
    settled_community: int
    settled_street: int
    settled_district: int
    settled_grid_share: float | None = Field(description="settled_grid ÷ settled_total (小事不出网格)")
    settled_community_share: float | None
    settled_street_share: float | None
    settled_district_share: float | None


class DashboardCase(BaseModel):
    id: int
    category: str
    status: str
    grid_code: str | None
    owner_level: str | None
    owner_code: str | None
    escalations: int
    created_at: str | None
    due_at: str | None
    hours_past_due: float | None


class OverdueCases(BaseModel):
    total: int
    cases: list[DashboardCase] = Field(description="at most the first GEO_SERVICE_DASHBOARD_LIST_LIMIT")


class EscalatedCases(OverdueCases):
    open: int = Field(description="escalated cases still open")


class Staffing(BaseModel):
    """Workers on record in the area and below it against the norm (workers per 10,000 residents)."""

    population: int
    population_source: Literal["record", "estimated"]
    households: float
    norm_per_10k: float
    need: int
    workers: int
    gap: int
    per_10k: float | None
    norm_met: bool


class Coverage(BaseModel):
    """Households within the stations' walking service circle of ``minutes``."""

    minutes: float
    stations: int
    residences: int
    residences_covered: int
    households: float
    households_covered: float
    households_share: float | None


class Dashboard(BaseModel):
    """Every figure of the dashboard of one area and period."""

    area: DashboardArea
    period: DashboardPeriod
    as_of: str | None
    summary: Summary
    settled: Settled
    weeks: list[Week]
    grids: list[GridFigures]
    incidents_elsewhere: int = Field(description="of grids since retired, or outside every grid")
    areas: list[ChildArea] = Field(description="the children of the area (none for a grid)")
    overdue: OverdueCases
    escalated: EscalatedCases
    staffing: Staffing
    coverage: Coverage
