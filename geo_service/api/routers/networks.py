"""Other departments' networks (多网合一) over HTTP: import (planner), list, read a version, the crosswalk to the
unified grids (JSON, CSV, GeoPackage), re-keying to the unified grids, and proposing unified grids from several
networks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from geo_service.api import params
from geo_service.api.deps import get_db, get_grid_settings, get_network_settings, require_role
from geo_service.api.errors import in_language
from geo_service.api.models import networks as mn
from geo_service.api.openapi import answers
from geo_service.api.routers.tiles import base_url
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import BadRequest, UnsupportedMediaType
from geo_service.grids import io as area_io
from geo_service.networks import propose as proposal
from geo_service.networks import service
from geo_service.networks.answers import Networks
from geo_service.settings import GridSettings, NetworkSettings

router = APIRouter(prefix="/api/networks", tags=["networks"])
params.register_segment_except("networkname", frozenset({"propose"}))  # GET /api/networks/propose is a 405
planner = require_role("planner")
_FILE_TYPES = (
    "application/zip",
    "application/x-zip-compressed",
    "application/geopackage+sqlite3",
    "application/octet-stream",
)


def _json(request: Request, doc: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(in_language(request, doc), status_code=status)


async def _upload(
    request: Request, crs: str | None, grids: GridSettings
) -> tuple[list[dict[str, Any]], str | None, dict[str, str]]:
    """Features (WGS-84) of the body: GeoJSON, a multipart upload (field ``file``; other form fields returned)
    or a raw GeoPackage / zipped Shapefile; read by :mod:`geo_service.grids.io` like a grid import, within the
    grid imports' caps (``grids``)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with request.form() as form:  # closed on leaving: an upload spooled to disk is a file held open
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise BadRequest("network.upload_field")
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            data = await upload.read()
        features = await run_in_threadpool(
            area_io.read_features, data, upload.filename, crs or fields.get("crs"), grids
        )
        return features, upload.filename, fields
    data = await request.body()
    if not data:
        raise BadRequest("network.body_empty")
    if content_type in ("application/json", "application/geo+json", ""):
        try:  # parsed off the event loop, the body's vertices counted from its bytes first
            obj = await run_in_threadpool(area_io.parse_geojson, data, grids)
        except BadRequest as exc:
            if exc.code != "input.json_invalid":
                raise
            raise BadRequest("network.body_not_json", error=exc.params["reason"]) from None
        return area_io.features_from_geojson(obj, crs), None, {}
    if content_type in _FILE_TYPES:
        return await run_in_threadpool(area_io.read_features, data, None, crs, grids), None, {}
    raise UnsupportedMediaType("network.body_media_type", content_type=content_type)


def _links(request: Request, name: str) -> dict[str, str]:
    base = base_url(request)
    return {
        "self": f"{base}/api/networks/{name}",
        "crosswalk": f"{base}/api/networks/{name}/crosswalk",
        "tilejson": f"{base}/tiles/networks:{name}.json",
        "ogc_collection": f"{base}/ogc/collections/networks:{name}",
    }


@router.get("", summary="The imported networks", response_model=None, responses=answers(mn.Networks))
def list_networks(request: Request, db: Database = Depends(get_db)) -> Networks:
    """Every network: name, department label, cells, current version, imported_at, bbox (west, south, east,
    north), and links to its cells, crosswalk, vector tiles (TileJSON) and OGC API collection."""
    return {"networks": [{**n, "links": _links(request, n["name"])} for n in service.list_networks(db)]}


class ProposeRequest(BaseModel):
    networks: list[str] = Field(min_length=1, max_length=16, description="two or more network names")
    parent_code: str = Field(min_length=1, max_length=64, description="a district, street or community")
    households_min: int | None = Field(default=None, ge=1, le=100_000)
    households_max: int | None = Field(default=None, ge=1, le=100_000)


@router.post(
    "/propose", summary="Propose unified grids from several networks", responses=answers(mn.NetworkProposal)
)
def propose(
    request: Request,
    body: ProposeRequest,
    db: Database = Depends(get_db),
    settings: NetworkSettings = Depends(get_network_settings),
    grids: GridSettings = Depends(get_grid_settings),
) -> JSONResponse:
    """Unified grid boundaries for every community under ``parent_code`` that follow the boundaries most of the
    ``networks`` share and keep households per grid in the band (defaults from the grid settings). A
    FeatureCollection to review and save through ``POST /api/grids/import``; nothing is written."""
    doc = proposal.propose(
        db, body.networks, body.parent_code, body.households_min, body.households_max, settings, grids
    )
    return _json(request, doc)


@router.post(
    "/{name}/import",
    summary="Import a department's grid layer as the next version of a network",
    responses={**answers(mn.NetworkImport), **answers(mn.NetworkImport, 201, "the first version")},
)
async def import_network(
    request: Request,
    name: str,
    department: Annotated[
        str | None, Query(max_length=200, description="department label, e.g. 公安局")
    ] = None,
    crs: Annotated[
        str | None, Query(description="override the file's CRS: wgs84, gcj02, bd09, cgcs2000, EPSG:xxxx")
    ] = None,
    code_field: Annotated[
        str, Query(min_length=1, max_length=64, description="property holding the cell code")
    ] = "code",
    name_field: Annotated[
        str, Query(min_length=1, max_length=64, description="property holding the cell name")
    ] = "name",
    db: Database = Depends(get_db),
    principal: Principal = Depends(planner),
    settings: NetworkSettings = Depends(get_network_settings),
    grids: GridSettings = Depends(get_grid_settings),
) -> JSONResponse:
    """A GeoJSON FeatureCollection (JSON body), or a GeoPackage / zipped Shapefile (multipart field ``file``,
    or the raw file as the body), in any CRS, as the grid import reads them. Cells keep their own codes
    (``code_field``), names (``name_field``) and other properties. All or nothing: 422 lists every bad
    feature and nothing is written. Each import is a new version; the previous one stays readable."""
    service.check_name(name)
    features, filename, fields = await _upload(request, crs, grids)
    report = await run_in_threadpool(
        service.import_network,
        db,
        name,
        features,
        principal,
        department=department or fields.get("department"),
        code_field=fields.get("code_field", code_field),
        name_field=fields.get("name_field", name_field),
        source=filename,
        crs=crs or fields.get("crs"),
        settings=settings,
        grids=grids,
    )
    return _json(
        request, {**report, "links": _links(request, name)}, status=201 if report["version"] == 1 else 200
    )


@router.get(
    "/{name:networkname}",
    summary="A network's cells (current version, or ?version=)",
    responses=answers(mn.NetworkCells),
)
def get_network(
    request: Request,
    name: str,
    version: Annotated[int | None, Query(ge=1, description="an older version")] = None,
    db: Database = Depends(get_db),
) -> JSONResponse:
    """The cells of one version as a FeatureCollection (id = cell code; the department's own properties with
    ``code``, ``name``, ``version``, ``valid_from``, ``valid_to``), and ``network`` with its versions."""
    doc = service.get_network(db, name, version)
    doc["network"]["links"] = _links(request, name)
    return _json(request, doc)


@router.get(
    "/{name}/crosswalk",
    summary="The network against the unified grids: shares and mismatches",
    responses=answers(mn.Crosswalk),
)
def crosswalk(
    request: Request,
    name: str,
    format: Annotated[str, Query(description="json (default), csv or gpkg")] = "json",
    version: Annotated[
        int | None, Query(ge=1, description="a version of the network (default: current)")
    ] = None,
    db: Database = Depends(get_db),
    settings: NetworkSettings = Depends(get_network_settings),
) -> Response:
    """For each cell its shares in the unified grids by area and by households (homes on shared edges go to
    the lowest code, as in /api/locate), its main grid, and the boundary mismatches with the unified line to
    adopt. ``csv``: one row per (cell, grid); ``gpkg``: layers crosswalk, cells, mismatches, snapped."""
    body, media_type, filename = service.crosswalk_file(db, name, format, version, settings)
    if format == "json":
        return _json(request, body)
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get(
    "/{name}/rekey",
    summary="The unified grid for a network cell code or a point",
    responses=answers(mn.Rekeyed),
)
def rekey_one(
    request: Request,
    name: str,
    cell: Annotated[str | None, Query(max_length=200, description="a cell code of the network")] = None,
    lon: Annotated[float | None, Query(description="or a point: longitude")] = None,
    lat: Annotated[float | None, Query(description="latitude")] = None,
    crs: Annotated[str | None, Query(description="wgs84 (default), gcj02, bd09, cgcs2000")] = None,
    by: Annotated[str, Query(description="auto (households, else area), households or area")] = "auto",
    version: Annotated[int | None, Query(ge=1)] = None,
    db: Database = Depends(get_db),
    settings: NetworkSettings = Depends(get_network_settings),
) -> JSONResponse:
    """A cell code → the unified grid with the largest share of it (and the other candidates); a point → the
    grid covering it and the network cell covering it."""
    if (lon is None) != (lat is None):
        raise BadRequest("network.rekey_nothing")
    points = [[lon, lat]] if lon is not None and lat is not None else []
    doc = service.rekey(
        db,
        name,
        cells=[cell] if cell else [],
        points=points,
        crs=crs,
        by=by,
        version=version,
        settings=settings,
    )
    return _json(request, service.rekeyed_one(doc))


class RekeyRequest(BaseModel):
    cells: list[str] = Field(default_factory=list, description="cell codes of the network")
    points: list[list[float]] = Field(default_factory=list, description="[lon, lat] positions")
    crs: str | None = Field(default=None, description="of the points: wgs84 (default), gcj02, bd09, cgcs2000")
    by: str = Field(default="auto", description="auto (households, else area), households or area")
    version: int | None = Field(default=None, ge=1)


@router.post(
    "/{name}/rekey",
    summary="Re-key many cell codes and points to the unified grids",
    responses=answers(mn.RekeyedMany),
)
def rekey_many(
    request: Request,
    name: str,
    body: RekeyRequest,
    db: Database = Depends(get_db),
    settings: NetworkSettings = Depends(get_network_settings),
) -> JSONResponse:
    """``cells`` and ``points`` answered in input order (see GET); nothing is written."""
    doc = service.rekey(
        db,
        name,
        cells=body.cells,
        points=body.points,
        crs=body.crs,
        by=body.by,
        version=body.version,
        settings=settings,
    )
    return _json(request, doc)
