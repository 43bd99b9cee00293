"""Geocoding over HTTP: a caller's address or place name → ranked candidates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from geo_service.api.deps import get_db
from geo_service.db.pool import Database
from geo_service.geocode.service import MAX_QUERY_CHARS, geocode

router = APIRouter(prefix="/api", tags=["geocode"])


@router.get("/geocode")
def get_geocode(
    q: Annotated[
        str, Query(max_length=MAX_QUERY_CHARS, description="address or place, Chinese or Latin script")
    ],
    db: Annotated[Database, Depends(get_db)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Candidates best first: ``name``, ``kind``, ``lon``, ``lat`` (WGS-84), ``score`` (0..1, 1 = exact)."""
    return {"query": q, "candidates": [c.as_dict() for c in geocode(db, q, limit)]}
