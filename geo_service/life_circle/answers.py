"""What the life-circle services answer (WGS-84 lon/lat; seconds and metres along the walking network).

Written once: the HTTP layer documents these typed dicts in ``/openapi.json`` as they are
(:mod:`geo_service.api.models.life_circle`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.geojson import FeatureCollection

Threshold = Literal["distance", "time"]


class NearestFacility(TypedDict):
    id: int
    name: str | None
    category: str
    lon: float
    lat: float
    walk_seconds: float
    walk_distance_m: float


class CategoryReach(TypedDict):
    category: str
    label: Annotated[dict[str, str] | None, Field(description="zh and en names of the category")]
    status: Literal["reached", "missing"]
    nearest: Annotated[
        NearestFacility | None, Field(description="reported even beyond the level's threshold")
    ]


class LevelReach(TypedDict):
    minutes: float
    max_distance_m: float
    name: dict[str, str]
    categories: list[CategoryReach]


class LifeCircle(TypedDict):
    """Which required facilities a point reaches on foot, level by level."""

    profile: str
    threshold: Threshold
    speed_kmh: float
    lon: float
    lat: float
    snap_distance_m: float
    levels: list[LevelReach]


class ProfileLevel(TypedDict):
    minutes: float
    max_distance_m: float
    name: dict[str, str]
    categories: list[str]


class ProfileSummary(TypedDict):
    id: str
    name: dict[str, str]
    threshold: Threshold
    speed_kmh: float
    levels: list[ProfileLevel]


class Coverage(FeatureCollection):
    """Areas with the household-weighted share of their homes reaching each category (properties ``score``,
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
