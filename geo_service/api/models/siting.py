"""Answer of ``POST /api/siting``."""

from __future__ import annotations

from pydantic import BaseModel, Field

SiteId = str | int


class ChosenSite(BaseModel):
    id: SiteId
    lon: float
    lat: float
    name: str | None = Field(default=None, description="only for a default candidate with a name")
    category: str | None = Field(default=None, description="only for a default candidate")
    catchment_weight: float
    new_weight: float = Field(description="the part of the catchment no fixed site covers")


class SitingAnswer(BaseModel):
    """New sites and what they cover; weights in the demand's unit (households for the defaults)."""

    chosen: list[SiteId]
    covered_weight: float
    total_weight: float
    covered_weight_before: float
    optimal: bool
    gap: float | None = Field(description="relative MIP gap")
    method: str
    k: int | None
    minutes: float
    speed_kmh: float
    chosen_sites: list[ChosenSite]
    uncoverable_weight: float
    objective: float
    walk_seconds_mean: float | None
    status: str
    sources: dict[str, str]
    counts: dict[str, int]
    excluded_candidates: list[SiteId]
    unsnapped: dict[str, int]
    model: dict[str, int]
    timings_s: dict[str, float]
