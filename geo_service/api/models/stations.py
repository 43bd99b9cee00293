"""Answers of the rest-station routes (``/api/stations``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.common import Term
from geo_service.api.models.geojson import Feature, FeatureCollection, FeatureInput
from geo_service.api.models.typed import extending
from geo_service.stations import service as stations


class StationProperties(BaseModel):
    """A station; properties the planner added besides these are sent as they are."""

    model_config = ConfigDict(extra="allow")

    id: int
    name: str
    kind: str
    kind_name: dict[str, str] | None = Field(description="zh and en names of the kind")
    amenities: list[str]
    opening_hours: str | None
    manager: str | None
    contact: str | None
    address: str | None
    version: int = Field(description="the ETag of the station")
    updated_at: str | None


class StationInputProperties(BaseModel):
    """A station as a planner sends it. Other members are the planner's own and are kept as sent (this object
    is open on purpose); an update keeps the members it leaves out."""

    model_config = ConfigDict(extra="allow")  # the planner's own properties: open by design

    name: str | None = Field(default=None, description="required (an update keeps the current one); ≤ 200")
    kind: str | None = Field(default=None, description="a kind of GET /api/stations/vocabulary")
    amenities: list[str] | str | None = Field(
        default=None, description="amenities of the vocabulary (or them comma-separated)"
    )
    opening_hours: str | None = Field(default=None, description="OpenStreetMap opening_hours")
    manager: str | None = Field(default=None, description="≤ 200 characters")
    contact: str | None = Field(default=None, description="≤ 200 characters")
    address: str | None = Field(default=None, description="≤ 500 characters")
    version: int | None = Field(default=None, description="the version you read, when If-Match is not sent")


class StationInput(FeatureInput):
    """A station as a planner sends it: a Point Feature."""

    properties: StationInputProperties | None = None  # type: ignore[assignment]


class StationFeature(Feature):
    id: int
    properties: StationProperties  # type: ignore[assignment]


class StationCollection(FeatureCollection):
    features: list[StationFeature]  # type: ignore[assignment]


NearestStations = extending(stations.NearestStations, FeatureCollection, __name__)


class ServiceCircles(FeatureCollection):
    """The station's 5/10/15-minute walking contours."""

    features: list[Feature]


class StationVocabulary(BaseModel):
    """Station kinds and amenities with their Chinese and English names."""

    kinds: list[Term]
    amenities: list[Term]
