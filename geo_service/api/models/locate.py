"""Answers of ``/api/locate``: the point's answer is the service's typed dict
(:mod:`geo_service.locate.answers`), named here for ``/openapi.json``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from geo_service.locate.answers import Located

__all__ = ["BatchResult", "Located", "LocatedBatch"]


class BatchResult(BaseModel):
    grid_code: str | None


class LocatedBatch(BaseModel):
    results: list[BatchResult] = Field(description="in the order of the points")
