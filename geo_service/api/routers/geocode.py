"""Geocoding over HTTP: a caller's address or place name → ranked candidates."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from geo_service.api.consistency import database_for
from geo_service.api.errors import language_of
from geo_service.api.models import geocode as mg
from geo_service.api.openapi import answers
from geo_service.geocode.service import MAX_QUERY_CHARS, Geocoded, geocode
from geo_service.i18n import render_all

router = APIRouter(prefix="/api", tags=["geocode"])


@router.get("/geocode", responses=answers(mg.Geocoded))
async def get_geocode(
    q: Annotated[
        str,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="address or place, Chinese (either script), pinyin or Latin",
        ),
    ],
    request: Request,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Response:
    """Candidates best first: ``name``, ``kind`` (and ``kind_name`` in the reader's language), ``lon``,
    ``lat`` (WGS-84), ``score`` (0..1, 1 = exact), ``precision`` (``house_number | building | poi | street |
    area | city``) and ``grid_code`` (the grid the point lands in, or null)."""
    language = language_of(request)

    # one hop to a worker thread for the whole search, the choice of pool included (the dispatcher's search box
    # calls this per keystroke; every extra thread switch shows in its latency)
    def search() -> bytes:
        candidates = [c.public() for c in geocode(database_for(request), q, limit)]
        return orjson.dumps(render_all(Geocoded(query=q, candidates=candidates), language))

    return Response(await run_in_threadpool(search), media_type="application/json")
