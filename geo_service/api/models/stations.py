"""Answers of the rest-station routes (``/api/stations``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from geo_service.api.models.common import Term
from geo_service.api.models.geojson import Feature, FeatureCollection


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


class StationFeature(Feature):
    id: int
    properties: StationProperties  # type: ignore[assignment]


class StationCollection(FeatureCollection):
    features: list[StationFeature]  # type: ignore[assignment]


class NearestOrigin(BaseModel):
    lon: float
    lat: float
    snapped: list[float] = Field(description="[lon, lat] of the point on the walking network")
    snap_distance_m: float


class NearestStations(FeatureCollection):
    """Stations ordered by walking time, each with ``walk_seconds``, ``walk_distance_m``, ``minutes``,
    ``open_now`` (and ``route``, a LineString, when asked)."""

    origin: NearestOrigin
    at: str = Field(description="ISO 8601 instant open_now refers to")
    searched_minutes: float


class ServiceCircles(FeatureCollection):
    """The station's 5/10/15-minute walking contours."""

    features: list[Feature]


class StationVocabulary(BaseModel):
    """Station kinds and amenities with their Chinese and English names."""

    kinds: list[Term]
    amenities: list[Term]
