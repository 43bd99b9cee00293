"""Answers of the walking routes (isochrones, streets, route, network). The reachable streets, a route's
properties and the network's make-up are the service's typed dicts (:mod:`geo_service.walking.service`), named
here for ``/openapi.json``."""

from __future__ import annotations

from pydantic import Field

from geo_service import walking
from geo_service.api.models.geojson import Feature, FeatureCollection
from geo_service.api.models.typed import extending
from geo_service.walking import (
    ContourProperties,
    NetworkDataset,
    NetworkSummary,
    RouteProperties,
    StreetPiece,
)

__all__ = ["Isochrones", "NetworkDataset", "NetworkSummary", "ReachableStreets", "WalkingRoute"]


class ContourFeature(Feature):
    """A (Multi)Polygon, holes kept."""

    properties: ContourProperties  # type: ignore[assignment]


class Isochrones(FeatureCollection):
    """One (Multi)Polygon per contour, properties ``minutes`` or ``distance_m`` and ``area_m2``."""

    features: list[ContourFeature]  # type: ignore[assignment]
    origins: list[list[float]] = Field(description="the origins as given, [lon, lat] in the request's CRS")


class StreetPieceFeature(Feature):
    """A LineString of a street, ``id`` its edge and where the piece starts along it."""

    properties: StreetPiece  # type: ignore[assignment]


class WalkingRoute(Feature):
    """A LineString from the snapped start to the snapped end."""

    properties: RouteProperties  # type: ignore[assignment]


ReachableStreets = extending(
    walking.ReachableStreets, FeatureCollection, __name__, features=list[StreetPieceFeature]
)
