"""GeoJSON objects as services hand them to the HTTP layer (RFC 7946; WGS-84 lon/lat unless the route says
otherwise). Typed dicts rather than models: mypy checks their shape, and they go to orjson as they are, with no
model pass on the way out (the HTTP layer's pydantic models, :mod:`geo_service.api.models.geojson`, document
them in ``/openapi.json``)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import (
    TypedDict,  # pydantic reads them on Python 3.11 (an error's CellProblem.location)
)


class Geometry(TypedDict):
    """A geometry: ``coordinates`` (positions ``[lon, lat]``), or ``geometries`` for a GeometryCollection."""

    type: str
    coordinates: NotRequired[Any]
    geometries: NotRequired[list[Geometry]]


class Feature(TypedDict):
    type: Literal["Feature"]
    id: NotRequired[str | int | None]
    geometry: Geometry | None
    properties: dict[str, Any]


class FeatureCollection(TypedDict):
    type: Literal["FeatureCollection"]
    features: list[Feature]


def feature_collection(features: list[Feature]) -> FeatureCollection:
    return {"type": "FeatureCollection", "features": features}
