"""What ``GET /api/locate`` answers (WGS-84 lon/lat; metres). Written once: ``/openapi.json`` documents these
typed dicts as they are (:mod:`geo_service.api.models.locate`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from geo_service.store.areas import AreaRef


class LocatedGrid(TypedDict):
    code: str
    name: str
    version: int
    level: Literal["grid"]


class NearestGrid(TypedDict):
    code: str
    name: str
    version: int
    distance_m: float


class Located(TypedDict):
    """The grid covering a point, its ancestors, and how far the point is from the grid's edge."""

    grid: LocatedGrid | None
    ancestors: Annotated[list[AreaRef], Field(description="the grid's community, street and district")]
    distance_to_boundary_m: float | None
    nearest_grid: Annotated[NearestGrid | None, Field(description="only outside every grid")]
    lon: float
    lat: float
