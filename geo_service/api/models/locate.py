"""Answers of ``/api/locate``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LocatedGrid(BaseModel):
    code: str
    name: str | None
    version: int
    level: str


class Ancestor(BaseModel):
    level: str
    code: str
    name: str | None
    version: int


class NearestGrid(BaseModel):
    code: str
    name: str | None
    version: int
    distance_m: float


class Located(BaseModel):
    """The grid covering a point, its ancestors, and how far the point is from the grid's edge."""

    grid: LocatedGrid | None
    ancestors: list[Ancestor]
    distance_to_boundary_m: float | None
    nearest_grid: NearestGrid | None = Field(description="only outside every grid")
    lon: float
    lat: float


class BatchResult(BaseModel):
    grid_code: str | None


class LocatedBatch(BaseModel):
    results: list[BatchResult] = Field(description="in the order of the points")
