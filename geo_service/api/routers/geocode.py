"""Geocoding over HTTP: a caller's address or place name → ranked candidates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from geo_service.api.deps import get_db
from geo_service.api.errors import language_of
from geo_service.db.pool import Database
from geo_service.geocode.service import MAX_QUERY_CHARS, geocode
from geo_service.i18n import render_all

router = APIRouter(prefix="/api", tags=["geocode"])


@router.get("/geocode")
def get_geocode(
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="address or place, Chinese (either script), pinyin or Latin",
        ),
    ],
    request: Request,
    db: Annotated[Database, Depends(get_db)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Candidates best first: ``name``, ``kind`` (and ``kind_name`` in the reader's language), ``lon``,
    ``lat`` (WGS-84), ``score`` (0..1, 1 = exact), ``precision`` (``house_number | building | poi | street |
    area | city``) and ``grid_code`` (the grid the point lands in, or null)."""
    candidates = [c.public() for c in geocode(db, q, limit)]
    return {"query": q, "candidates": render_all(candidates, language_of(request))}
