"""Answers of the facility routes (``/api/facilities``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.common import Term
from geo_service.api.models.geojson import Feature, FeatureCollection


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
    tags: dict[str, Any] | None
    version: int = Field(description="the ETag of the facility")
    updated_at: str | None


class FacilityFeature(Feature):
    id: int
    properties: FacilityProperties  # type: ignore[assignment]


class FacilityCollection(FeatureCollection):
    features: list[FacilityFeature]  # type: ignore[assignment]


class FacilityCategories(BaseModel):
    """Facility categories with their Chinese and English names."""

    categories: list[Term]
