"""The printable guide map (便民生活服务圈导视图) of an area, as PNG or PDF."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from geo_service.api import params
from geo_service.api.deps import get_db
from geo_service.api.etags import not_modified
from geo_service.api.openapi import binary_answer
from geo_service.db.pool import Database
from geo_service.guide_map import service

router = APIRouter(prefix="/api", tags=["life circles"])

MEDIA = {"png": "image/png", "pdf": "application/pdf"}
NOT_MODIFIED: dict[int | str, dict[str, str]] = {
    304: {"description": "the sheet named in If-None-Match still holds (no body)"}
}


def _guide_map(
    request: Request,
    db: Database,
    code: str,
    fmt: Literal["png", "pdf"],
    lang: str,
    minutes: float,
    speed_kmh: float | None,
) -> Response:
    ctx = request.app.state.guide_map_context
    key = service.sheet_key(db, ctx, code, fmt, lang=lang, minutes=minutes, speed_kmh=speed_kmh)  # type: ignore[arg-type]
    etag = service.sheet_etag(key)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}  # kept, revalidated: a 304 until the data moves
    if not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = service.draw_sheet(db, ctx, key)
    filename = f"guide-map-{code}.{fmt}"
    headers["Content-Disposition"] = params.content_disposition("inline", filename)
    return Response(body, media_type=MEDIA[fmt], headers=headers)


CODE = Path(..., description="area code (any level; communities are the main case)")
LANG = Query("zh", pattern="^(zh|en)$", description="legend and notes language: zh (default) or en")
MINUTES = Query(service.DEFAULT_MINUTES, gt=0, le=60, description="walking time of the circle, minutes")
SPEED = Query(None, gt=0, description="walking speed, km/h (default: the walking engine's, 4.5)")


@router.get(
    "/areas/{code}/guide-map.png",
    response_class=Response,
    responses=binary_answer("the map, A4 portrait PNG at 300 dpi", "image/png") | NOT_MODIFIED,
)
def guide_map_png(
    request: Request,
    code: str = CODE,
    lang: str = LANG,
    minutes: float = MINUTES,
    speed_kmh: float | None = SPEED,
    db: Database = Depends(get_db),
) -> Response:
    """A4 portrait at 300 dpi (2480 × 3508 px): boundary, the walking circle from the community service
    centre, streets and buildings, facilities by category with a legend, scale bar, north arrow."""
    return _guide_map(request, db, code, "png", lang, minutes, speed_kmh)


@router.get(
    "/areas/{code}/guide-map.pdf",
    response_class=Response,
    responses=binary_answer("the map, a one-page A4 PDF", "application/pdf") | NOT_MODIFIED,
)
def guide_map_pdf(
    request: Request,
    code: str = CODE,
    lang: str = LANG,
    minutes: float = MINUTES,
    speed_kmh: float | None = SPEED,
    db: Database = Depends(get_db),
) -> Response:
    """The same map as a one-page A4 PDF (vector; text searchable)."""
    return _guide_map(request, db, code, "pdf", lang, minutes, speed_kmh)
