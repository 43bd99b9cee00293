"""GeoJSON (RFC 7946) objects as the service sends them: WGS-84 longitude/latitude."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GeometryType = Literal[
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"
]


class Geometry(BaseModel):
    """A GeoJSON geometry (``coordinates`` nested to the depth its ``type`` needs)."""

    model_config = ConfigDict(extra="allow")

    type: GeometryType
    coordinates: list[Any] | None = Field(default=None, description="absent in a GeometryCollection")
    geometries: list[Geometry] | None = Field(default=None, description="only in a GeometryCollection")


class Feature(BaseModel):
    """A GeoJSON Feature; its ``properties`` depend on the layer."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    id: str | int | None = None
    geometry: Geometry | None
    properties: dict[str, Any] | None


class FeatureCollection(BaseModel):
    """A GeoJSON FeatureCollection; some answers add top-level members (``summary``, ``numberMatched``...)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[Feature]


class FeatureInput(BaseModel):
    """A GeoJSON Feature as a client sends it (WGS-84 unless the route's ``crs`` parameter says otherwise).
    Routes that read their body themselves are documented by a subclass naming its ``properties``; the model
    documents the body, it does not validate it (the service does, with its own messages)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: Geometry | None = Field(default=None, description="on an update, left out or null keeps it")
    properties: dict[str, Any] | None = None
