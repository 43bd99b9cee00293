"""Answers of the facility routes (``/api/facilities``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.common import Term
from geo_service.api.models.geojson import Feature, FeatureCollection, FeatureInput


class FacilityProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    name: str | None
    category: str = Field(description="a stable category id: grocery, clinic, school, ...")
    category_name: Any = Field(description="the category's names")
    source: str | None
    dataset: str | None
    osm_type: str | None
    osm_id: int | None
    tags: dict[str, Any] | None  # OpenStreetMap tags: open by nature
    version: int = Field(description="the ETag of the facility")
    updated_at: str | None


class FacilityInputProperties(BaseModel):
    """A facility as a planner sends it; every other member becomes a tag (this object is open on purpose)."""

    model_config = ConfigDict(extra="allow")  # other members are tags: open by design

    category: str | None = Field(default=None, description="a category id (an update keeps the current one)")
    name: str | None = Field(default=None, description="≤ 300 characters")
    tags: dict[str, Any] | None = Field(default=None, description="OpenStreetMap tags, kept as sent")
    version: int | None = Field(default=None, description="the version you read, when If-Match is not sent")


class FacilityInput(FeatureInput):
    """A facility as a planner sends it: a Point Feature."""

    properties: FacilityInputProperties | None = None  # type: ignore[assignment]


class FacilityFeature(Feature):
    id: int
    properties: FacilityProperties  # type: ignore[assignment]


class FacilityCollection(FeatureCollection):
    features: list[FacilityFeature]  # type: ignore[assignment]


class FacilityCategories(BaseModel):
    """Facility categories with their Chinese and English names."""

    categories: list[Term]
