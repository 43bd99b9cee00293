"""Answers of the life-circle and coverage routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, RootModel

from geo_service.api.models.geojson import FeatureCollection


class NearestFacility(BaseModel):
    id: int
    name: str | None
    category: str
    lon: float
    lat: float
    walk_seconds: float
    walk_distance_m: float


class CategoryReach(BaseModel):
    category: str
    label: dict[str, str] | None = Field(description="zh and en names of the category")
    status: Literal["reached", "missing"]
    nearest: NearestFacility | None = Field(description="reported even beyond the level's threshold")


class LevelReach(BaseModel):
    minutes: float
    max_distance_m: float
    name: dict[str, str]
    categories: list[CategoryReach]


class LifeCircle(BaseModel):
    """Which required facilities a point reaches on foot, level by level."""

    profile: str
    threshold: Literal["distance", "time"]
    speed_kmh: float
    lon: float
    lat: float
    snap_distance_m: float
    levels: list[LevelReach]


class ProfileLevel(BaseModel):
    minutes: float
    max_distance_m: float
    name: dict[str, str]
    categories: list[str]


class ProfileSummary(BaseModel):
    id: str
    name: dict[str, str]
    threshold: Literal["distance", "time"]
    speed_kmh: float
    levels: list[ProfileLevel]


class Coverage(FeatureCollection):
    """Areas with the share of their households that reach each category (properties ``score``,
    ``categories``, ``levels``, ``households``, ``residences``)."""

    profile: str
    level: str
    minutes: float | None


class CoverageGaps(FeatureCollection):
    """Residences (``kind: residence``) and H3 cells (``kind: h3_cell``) that miss a category."""

    profile: str
    category: str
    minutes: float
    max_distance_m: float
    households_missing: float
    households_total: float
    residences_missing: int
    residences_listed: int


class Profiles(RootModel[list[ProfileSummary]]):
    """Every life-circle profile."""
