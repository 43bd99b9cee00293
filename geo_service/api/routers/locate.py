"""Locate over HTTP: one point (GET) or many (POST, with a fast JSON path)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from geo_service.api.deps import get_db, get_locate_settings
from geo_service.api.models import locate as mlo
from geo_service.api.openapi import answers
from geo_service.api.responses import FastJSONResponse
from geo_service.db.pool import Database
from geo_service.locate import codec, table
from geo_service.locate import service as locate_service
from geo_service.settings import LocateSettings

router = APIRouter(prefix="/api", tags=["locate"])

BATCH_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["points"],
                "properties": {
                    "points": {
                        "type": "array",
                        "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                    },
                    "crs": {
                        "type": "string",
                        "enum": ["wgs84", "gcj02", "bd09", "cgcs2000"],
                        "default": "wgs84",
                    },
                },
            },
            "example": {"points": [[24.9414, 60.1699], [24.95, 60.17]], "crs": "wgs84"},
        },
        **{
            media_type: {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "a table with float columns lon and lat (crs: query parameter)",
                }
            }
            for media_type in table.MEDIA_TYPES
        },
    },
}
BATCH_RESPONSES = {
    200: {
        "content": {
            "application/json": {"example": {"results": [{"grid_code": "G-001"}, {"grid_code": None}]}},
            **{
                media_type: {
                    "schema": {
                        "type": "string",
                        "format": "binary",
                        "description": "one column grid_code (dictionary-encoded text, null outside)",
                    }
                }
                for media_type in table.MEDIA_TYPES
            },
        }
    }
}


@router.get("/locate", responses=answers(mlo.Located))
async def locate(
    lon: float = Query(..., description="longitude, degrees"),
    lat: float = Query(..., description="latitude, degrees"),
    crs: str = Query("wgs84", description="wgs84, gcj02 (AMap/Tencent), bd09 (Baidu) or cgcs2000"),
    db: Database = Depends(get_db),
    settings: LocateSettings = Depends(get_locate_settings),
) -> FastJSONResponse:
    """The grid covering the point (with its version), its ancestors (community, street, district; nearest
    first), the distance to the grid boundary, and for points outside every grid the nearest grid (and the
    street/district that covers the point, 属地兜底). On a shared edge or vertex the lowest code wins."""
    index = locate_service.cached_index(db)
    if index is not None:  # ~0.1 ms of work with no I/O: on the event loop, no trip through the thread pool
        return FastJSONResponse(locate_service.locate(index, lon, lat, crs).as_dict())
    index = await run_in_threadpool(locate_service.current_index, db, settings)  # built or revision-checked
    return FastJSONResponse(locate_service.locate(index, lon, lat, crs).as_dict())


@router.post(
    "/locate/batch",
    openapi_extra={"requestBody": BATCH_BODY},
    responses={200: {**answers(mlo.LocatedBatch)[200], **BATCH_RESPONSES[200]}},
)
async def locate_batch(
    request: Request,
    crs: str | None = Query(None, description="the points' system when the body is a table (Arrow, Parquet)"),
    db: Database = Depends(get_db),
    settings: LocateSettings = Depends(get_locate_settings),
) -> Response:
    """``{"points": [[lon, lat], ...], "crs": ...}`` → ``{"results": [{"grid_code": ...}, ...]}`` in input order.

    Columnar alternative (content negotiation): a body of type ``application/vnd.apache.arrow.stream``,
    ``application/vnd.apache.arrow.file`` or ``application/vnd.apache.parquet`` holding float columns ``lon`` and
    ``lat`` (``crs`` as a query parameter); an ``Accept`` of one of these types answers a table with one column
    ``grid_code`` (null outside every grid), row for row."""
    body = await request.body()
    table_in = table.media_type_of(request.headers.get("content-type"))
    table_out = table.accepted(request.headers.get("accept"))

    def work() -> bytes:
        if table_in is not None:
            lon, lat = table.decode(body, table_in)
            points_crs = crs
        else:
            lon, lat, points_crs = codec.decode_batch(body)
            points_crs = points_crs if points_crs is not None else crs
        index, positions = locate_service.locate_batch(db, lon, lat, points_crs, settings)
        if table_out is not None:
            return table.encode(index.grids.codes, positions, table_out)
        return codec.encode_batch(index.grids.codes, positions)

    headers = {"Vary": "Accept"}
    return Response(
        await run_in_threadpool(work), media_type=table_out or "application/json", headers=headers
    )
