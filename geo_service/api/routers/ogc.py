"""OGC API – Features Part 1 under ``/ogc``: JSON/GeoJSON, or HTML for ``f=html`` and browsers. GDAL's OAPIF
driver, OWSLib and QGIS read it.

Collections follow their layer's catalogue ``access``: a restricted one (``incidents``) is left out of
``/ogc/collections`` for callers who may not read it and answers 401 (no token) or 403 (another role) on its
own routes; what it answers is ``Cache-Control: private``."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from geo_service.api.deps import get_db, get_map_settings, get_tile_server, optional_principal
from geo_service.api.models import ogc as mo
from geo_service.api.openapi import answers
from geo_service.api.routers.tiles import base_url
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import BadRequest, NotFound
from geo_service.ogc import html
from geo_service.ogc import service as ogc
from geo_service.settings import MapSettings
from geo_service.tiles.service import TileServer

router = APIRouter(prefix="/ogc", tags=["ogc"])

FormatParam = Annotated[str | None, Query(description="json (default) or html")]
Caller = Annotated[Principal | None, Depends(optional_principal)]


def wants_html(request: Request, f: str | None) -> bool:
    """``f`` decides; without it, HTML only for a client that asks for text/html before any JSON."""
    if f is not None:
        if f.lower() in ("json", "geojson"):
            return False
        if f.lower() == "html":
            return True
        raise BadRequest("ogc.unknown_format", format=f)
    accept = request.headers.get("accept", "")
    html_at, json_at = accept.find("text/html"), accept.find("json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def respond(
    request: Request,
    f: str | None,
    doc: Mapping[str, object],
    render: Callable[[], str],
    media_type: str = ogc.JSON,
    *,
    private: bool = False,
    vary: bool = False,
) -> Response:
    """JSON or HTML; ``private`` answers (restricted data, or a token was used) are never shared with other
    origins or kept by shared caches, and ``vary`` marks documents that depend on the caller's token."""
    headers = {"Cache-Control": "private, no-cache"} if private else {"Access-Control-Allow-Origin": "*"}
    if vary:
        headers["Vary"] = "Authorization"
    if wants_html(request, f):
        return HTMLResponse(render(), headers=headers)
    body = json.dumps(doc, ensure_ascii=False, default=str).encode()
    return Response(body, media_type=media_type, headers=headers)


def documented(
    model: type[Any], media_type: str = ogc.JSON, *, html: bool = True
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of an OGC route: ``model`` for the JSON answer, under the media type the route sends too
    (GeoJSON for features, JSON Schema for queryables), and the HTML page of ``f=html``."""
    documented = answers(model)
    content: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}} if html else {}
    if media_type != ogc.JSON:
        content[media_type] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    documented[200]["content"] = content
    return documented


def _private(prov: ogc.FeatureProvider, caller: Principal | None) -> bool:
    return caller is not None or not prov.public


@router.get("/assets/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    """The style and script of the HTML pages."""
    media_type = html.ASSETS.get(name)
    if media_type is None:
        raise NotFound("ogc.unknown_asset", name=name)
    return FileResponse(html.ASSETS_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("", summary="Landing page", responses=documented(mo.Landing))
def landing(request: Request, f: FormatParam = None) -> Response:
    base = base_url(request)
    doc = ogc.landing(base)
    return respond(request, f, doc, lambda: html.landing(f"{base}/ogc", doc))


@router.get("/conformance", summary="Conformance classes", responses=documented(mo.Conformance))
def conformance(request: Request, f: FormatParam = None) -> Response:
    base = base_url(request)
    doc = ogc.conformance()
    return respond(request, f, doc, lambda: html.conformance(f"{base}/ogc", doc))


@router.get("/collections", summary="Feature collections", responses=documented(mo.Collections))
def collections(
    request: Request,
    caller: Caller,
    f: FormatParam = None,
    db: Database = Depends(get_db),
    tiles: TileServer = Depends(get_tile_server),
) -> Response:
    """The collections the caller may read (restricted ones only with a token of their roles)."""
    base = base_url(request)
    doc = ogc.collections_doc(db, base, tiles, caller)
    return respond(
        request, f, doc, lambda: html.collections(f"{base}/ogc", doc), private=caller is not None, vary=True
    )


@router.get("/collections/{collection_id}", summary="One collection", responses=documented(mo.Collection))
def collection(
    request: Request,
    collection_id: str,
    caller: Caller,
    f: FormatParam = None,
    db: Database = Depends(get_db),
    tiles: TileServer = Depends(get_tile_server),
) -> Response:
    base = base_url(request)
    prov = ogc.provider(db, tiles, collection_id, caller)
    doc = ogc.collection_doc(db, base, prov)
    return respond(
        request, f, doc, lambda: html.collection(f"{base}/ogc", doc), private=_private(prov, caller)
    )


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Properties usable as filters",
    responses=documented(mo.Queryables, "application/schema+json", html=False),
)
def queryables(
    request: Request,
    collection_id: str,
    caller: Caller,
    db: Database = Depends(get_db),
    tiles: TileServer = Depends(get_tile_server),
) -> Response:
    prov = ogc.provider(db, tiles, collection_id, caller)
    doc = ogc.queryables_doc(base_url(request), prov)
    headers = {"Cache-Control": "private, no-cache"} if _private(prov, caller) else None
    return Response(
        json.dumps(doc, ensure_ascii=False), media_type="application/schema+json", headers=headers
    )


@router.get(
    "/collections/{collection_id}/items",
    summary="Features: bbox, datetime (grid versions valid then), limit, offset, property filters",
    responses=documented(mo.Items, ogc.GEOJSON),
)
def items(
    request: Request,
    collection_id: str,
    caller: Caller,
    f: FormatParam = None,
    bbox: Annotated[str | None, Query(description="min lon,min lat,max lon,max lat (CRS84)")] = None,
    datetime: Annotated[str | None, Query(description="an instant or an interval A/B (.. for open)")] = None,
    limit: Annotated[str | None, Query(description="page size")] = None,
    offset: Annotated[str | None, Query(description="features to skip")] = None,
    crs: Annotated[
        str | None, Query(description="gcj02: geometries shifted for AMap (bbox stays CRS84)")
    ] = None,
    db: Database = Depends(get_db),
    tiles: TileServer = Depends(get_tile_server),
    settings: MapSettings = Depends(get_map_settings),
) -> Response:
    base = base_url(request)
    prov = ogc.provider(db, tiles, collection_id, caller)
    params = dict(request.query_params)
    parsed = ogc.items_request(prov, params, settings.ogc_limit_default, settings.ogc_limit_max)
    doc = ogc.items_doc(db, base, prov, parsed, params)
    return respond(
        request,
        f,
        doc,
        lambda: html.items(f"{base}/ogc", collection_id, doc),
        ogc.GEOJSON,
        private=_private(prov, caller),
    )


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature (grids: CODE or CODE@vN)",
    responses=documented(mo.Item, ogc.GEOJSON),
)
def item(
    request: Request,
    collection_id: str,
    feature_id: str,
    caller: Caller,
    f: FormatParam = None,
    crs: Annotated[str | None, Query(description="gcj02: geometry shifted for AMap")] = None,
    db: Database = Depends(get_db),
    tiles: TileServer = Depends(get_tile_server),
) -> Response:
    base = base_url(request)
    prov = ogc.provider(db, tiles, collection_id, caller)
    doc = ogc.item_doc(db, base, prov, feature_id, crs)
    return respond(
        request,
        f,
        doc,
        lambda: html.item(f"{base}/ogc", collection_id, doc),
        ogc.GEOJSON,
        private=_private(prov, caller),
    )
