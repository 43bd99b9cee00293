"""Locate over HTTP: one point (GET) or many (POST, with a fast JSON path)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from geo_service.api.deps import get_db
from geo_service.api.models import locate as mlo
from geo_service.api.openapi import answers
from geo_service.db.pool import Database
from geo_service.locate import codec
from geo_service.locate import service as locate_service

router = APIRouter(prefix="/api", tags=["locate"])

BATCH_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["points"],
        "properties": {
            "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}},
            "crs": {"type": "string", "enum": ["wgs84", "gcj02", "bd09", "cgcs2000"], "default": "wgs84"},
        },
    }, "example": {"points": [[24.9414, 60.1699], [24.95, 60.17]], "crs": "wgs84"}}},
}  # fmt: skip


@router.get("/locate", responses=answers(mlo.Located))
def locate(
    lon: float = Query(..., description="longitude, degrees"),
    lat: float = Query(..., description="latitude, degrees"),
    crs: str = Query("wgs84", description="wgs84, gcj02 (AMap/Tencent), bd09 (Baidu) or cgcs2000"),
    db: Database = Depends(get_db),
) -> dict[str, Any]:
    """The grid covering the point (with its version), its ancestors (community, street, district; nearest
    first), the distance to the grid boundary, and for points outside every grid the nearest grid (and the
    street/district that covers the point, 属地兜底). On a shared edge or vertex the lowest code wins."""
    return locate_service.locate(db, lon, lat, crs).as_dict()


@router.post("/locate/batch", openapi_extra={"requestBody": BATCH_BODY}, responses=answers(mlo.LocatedBatch))
async def locate_batch(request: Request, db: Database = Depends(get_db)) -> Response:
    """``{"points": [[lon, lat], ...], "crs": ...}`` → ``{"results": [{"grid_code": ...}, ...]}`` in input order."""
    body = await request.body()

    def work() -> bytes:
        lon, lat, crs = codec.decode_batch(body)
        index, positions = locate_service.locate_batch(db, lon, lat, crs)
        return codec.encode_batch(index.grids.codes, positions)

    return Response(await run_in_threadpool(work), media_type="application/json")
