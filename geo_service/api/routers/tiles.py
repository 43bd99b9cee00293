"""Vector tiles, TileJSON, the layer catalogue and the MapLibre style under ``/tiles``.

Reads are public except for layers whose catalogue ``access`` names roles (``incidents``): those need a bearer
token with one of the roles (401/403 otherwise), are left out of the lists of anyone else, and are answered
``Cache-Control: private`` so that no shared cache keeps them. Lists that depend on the caller say
``Vary: Authorization``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from geo_service.api.deps import get_db, get_map_settings, get_tile_server, optional_principal
from geo_service.api.etags import not_modified
from geo_service.api.models import tiles as mt
from geo_service.api.openapi import answers, binary_answer
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.layers import Layer
from geo_service.settings import MapSettings
from geo_service.tiles.service import TileServer, etag_of, parse_crs, parse_tile_address
from geo_service.tiles.style import BASEMAPS, build_style, parse_basemap

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
PUBLIC = {"Access-Control-Allow-Origin": "*"}
REVALIDATE = "no-cache"  # keep it, but ask every time (ETag makes the answer a cheap 304)
VARY = {"Vary": "Authorization"}  # the answer depends on the caller's token
Caller = Annotated[Principal | None, Depends(optional_principal)]
CrsParam = Annotated[
    str | None, Query(description="wgs84 (default) or gcj02: shift into AMap/Tencent coordinates")
]


def base_url(request: Request) -> str:
    configured = request.app.state.api_settings.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


def is_private(layers: list[Layer], caller: Principal | None) -> bool:
    """Whether an answer about ``layers`` for ``caller`` must stay private: anything a token was needed or used
    for is ``Cache-Control: private`` (a browser may keep it, no shared cache may) and not offered to other
    origins; only anonymous answers about public layers are shared."""
    return caller is not None or not all(layer.public for layer in layers)


def json_response(
    request: Request,
    doc: Mapping[str, object],
    media_type: str = "application/json",
    *,
    private: bool = False,
    vary: bool = False,
) -> Response:
    """JSON with a strong ETag (304 on a match); ``vary`` when the document depends on the caller's token."""
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": f"private, {REVALIDATE}" if private else REVALIDATE}
    headers.update({} if private else PUBLIC)
    headers.update(VARY if vary else {})
    if not_modified(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get(
    "/catalogue.json",
    summary="The catalogued layers, whether each is served, and their URLs",
    responses=answers(mt.Catalogue),
)
def catalogue(
    request: Request,
    caller: Caller,
    db: Database = Depends(get_db),
    server: TileServer = Depends(get_tile_server),
) -> Response:
    """Restricted layers are listed only for callers who may read them."""
    base = base_url(request)
    entries = []
    for layer in server.catalogue.layers.values():
        if not layer.readable_by(caller):
            continue
        available = (
            server.catalogue.is_available(layer.id) or server.catalogue.refresh(db, layer.id).available
        )
        status = server.catalogue.status.get(layer.id)
        entries.append(
            {
                "id": layer.id,
                "title": layer.title,
                "title_zh": layer.title_zh,
                "description": layer.description.strip(),
                "group": layer.group,
                "access": "public" if layer.public else ["admin", *layer.access],
                "order": layer.order,
                "available": available,
                "reason": None if available else (status.reason if status else "not checked"),
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                "properties": layer.properties,
                "tilejson": f"{base}/tiles/{layer.id}.json",
                "style_layers": [entry["id"] for entry in layer.style],
                "features": f"{base}/ogc/collections/{layer.id}" if layer.features is not None else None,
            }
        )
    doc = {
        "layers": entries,
        "file_errors": server.catalogue.file_errors,
        "style": f"{base}/tiles/style.json",
        "basemaps": list(BASEMAPS),
    }
    return json_response(request, doc, private=caller is not None, vary=True)


@router.get(
    "/style.json",
    summary="MapLibre style: our basemap (or an external one) and every served overlay",
    responses=answers(mt.Style),
)
def style(
    request: Request,
    caller: Caller,
    basemap: Annotated[
        str | None, Query(description="local (default: offline), osm, tianditu or amap")
    ] = None,
    db: Database = Depends(get_db),
    server: TileServer = Depends(get_tile_server),
    settings: MapSettings = Depends(get_map_settings),
) -> Response:
    """Overlays the caller may read: restricted ones (incidents) only with a token of their roles."""
    kind = parse_basemap(basemap or settings.basemap)
    layers = server.served_layers(db, caller=caller)
    doc = build_style(layers, base_url(request), kind, settings, bounds=server.bounds(db, layers))
    return json_response(request, doc, private=caller is not None, vary=True)


@router.get(
    "/{layers}.json",
    summary="TileJSON 3.0.0 of one layer or of several joined by commas",
    responses=answers(mt.TileJSON),
)
def tilejson(
    request: Request,
    layers: str,
    caller: Caller,
    crs: CrsParam = None,
    db: Database = Depends(get_db),
    server: TileServer = Depends(get_tile_server),
) -> Response:
    chosen = server.layers(db, layers, caller=caller)
    doc = server.tilejson(db, chosen, base_url(request), parse_crs(crs))
    return json_response(request, doc, private=is_private(chosen, caller))


@router.get(
    "/{layers}/{z}/{x}/{y}.pbf",
    summary="A Mapbox Vector Tile (204 when empty)",
    response_class=Response,
    responses={
        **binary_answer("the tile (Mapbox Vector Tile 2.1)", MVT_MEDIA_TYPE),
        204: {"description": "no feature in this tile"},
    },
)
def tile(
    request: Request,
    layers: str,
    z: str,
    x: str,
    y: str,
    caller: Caller,
    crs: CrsParam = None,
    v: Annotated[
        str | None, Query(description="data revision from TileJSON; current ones are cached long")
    ] = None,
    db: Database = Depends(get_db),
    server: TileServer = Depends(get_tile_server),
    settings: MapSettings = Depends(get_map_settings),
) -> Response:
    address = parse_tile_address(z, x, y)
    chosen = server.layers(db, layers, caller=caller)
    result = server.tile(db, chosen, address, parse_crs(crs))
    current = v is not None and v == str(result.revision)
    private = is_private(chosen, caller)
    if current:
        cache = f"{'private' if private else 'public'}, max-age={settings.versioned_max_age_s}"
    else:
        cache = f"private, {REVALIDATE}" if private else REVALIDATE
    headers = {"ETag": result.etag, "Cache-Control": cache, "X-Data-Revision": str(result.revision)}
    headers.update({} if private else PUBLIC)
    if not_modified(request.headers.get("if-none-match"), result.etag):
        return Response(status_code=304, headers=headers)
    if not result.body:
        return Response(status_code=204, headers=headers)
    return Response(result.body, media_type=MVT_MEDIA_TYPE, headers=headers)
