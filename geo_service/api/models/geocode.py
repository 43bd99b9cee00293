"""Answer of ``GET /api/geocode``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Candidate(BaseModel):
    name: str
    kind: str
    lon: float = Field(description="WGS-84")
    lat: float
    score: float = Field(description="0..1, 1 = exact")
    precision: str = Field(description="house_number, building, poi, street, area or city")
    grid_code: str | None = Field(description="the grid the point lands in")
    source: str
    category: str | None
    kind_name: str = Field(description="the kind in the reader's language")


class Geocoded(BaseModel):
    query: str
    candidates: list[Candidate] = Field(description="best first")
