"""Answers of the walking routes (isochrones, streets, route, network)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from geo_service.api.models.geojson import Feature, FeatureCollection


class Isochrones(FeatureCollection):
    """One (Multi)Polygon per contour, properties ``minutes`` or ``distance_m`` and ``area_m2``."""

    origins: list[list[float]] = Field(description="the origins as given, [lon, lat] in the request's CRS")


class ReachableStreets(FeatureCollection):
    """Street pieces reachable in time, properties ``edge_id``, ``name``, ``steps``, ``from_seconds``,
    ``to_seconds``."""

    minutes: float


class WalkingRoute(Feature):
    """A LineString with ``walk_seconds``, ``distance_m``, ``minutes`` and ``snap_distance_m``."""


class NetworkDataset(BaseModel):
    name: str
    srid: int
    nodes: int
    edges: int
    length_km: float
    steps_edges: int
    components: dict[str, Any] = Field(description="connected pieces: count and sizes (all kept)")
    bbox: list[float]


class NetworkSummary(BaseModel):
    revision: int
    datasets: list[NetworkDataset]
