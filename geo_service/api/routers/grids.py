"""Areas and grids over HTTP: writes (planner), reads, history, export, dry-run validation, proposals, stats."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, WithJsonSchema

from geo_service.api import params
from geo_service.api.deps import get_db, get_grid_settings, require_role
from geo_service.api.etags import etag, require_if_match
from geo_service.api.models import grids as m
from geo_service.api.openapi import BINARY, answers, feature_body, model_schema
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import BadRequest, UnsupportedMediaType
from geo_service.feature_input import UncheckedJson, cycle_collection_paused
from geo_service.geojson import Feature, FeatureCollection
from geo_service.grids import propose as proposal
from geo_service.grids import service
from geo_service.grids.io import parse_geojson
from geo_service.grids.model import RESERVED_CODES, Problem
from geo_service.settings import GridSettings

IF_MATCH = 'the ETag you read, e.g. "3" (required: 428 without it, 412 when stale)'
router = APIRouter(prefix="/api", tags=["grids"])


params.register_segment_except("gridcode", RESERVED_CODES)  # {code:gridcode}: not validate, import, ...
planner = require_role("planner")

FEATURE_EXAMPLE = {
    "type": "Feature",
    "properties": {
        "code": "110105001001001",
        "name": "第一网格",
        "level": "grid",
        "parent_code": "110105001001",
        "households": 420,
        "workers": [{"name": "张三", "phone": "13800000000"}],
    },
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[116.45, 39.92], [116.46, 39.92], [116.46, 39.93], [116.45, 39.92]]],
    },
}


_JSON_TYPES = ("application/json", "application/geo+json", "")
_FILE_TYPES = (
    "application/zip",
    "application/x-zip-compressed",
    "application/geopackage+sqlite3",
    "application/octet-stream",
)
FEATURE_BODY = feature_body(m.GridFeatureInput, FEATURE_EXAMPLE)
COLLECTION_BODY = {
    "content": {
        **{
            media: {"schema": model_schema(m.GridUpload)}
            for media in ("application/json", "application/geo+json")
        },
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": BINARY, "crs": {"type": "string"}}}
        },
        "application/geopackage+sqlite3": {"schema": BINARY},
        "application/zip": {"schema": BINARY},
    },
}


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _upload(request: Request, crs: str | None) -> tuple[bytes, str | None, str | None, str]:
    """(bytes, file name, crs, kind) of the body: JSON, a multipart upload (field ``file``) or a raw
    GeoPackage / zip. Only reads; parsing happens in a worker thread."""
    content_type = _media_type(request)
    if content_type == "multipart/form-data":
        async with request.form() as form:  # closed on leaving: an upload spooled to disk is a file held open
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise BadRequest("grid.multipart_file")
            form_crs = form.get("crs")
            return (
                await upload.read(),
                upload.filename,
                crs or (form_crs if isinstance(form_crs, str) else None),
                "file",
            )
    data = await request.body()
    if not data:
        raise BadRequest("grid.empty_body")
    if content_type in _JSON_TYPES:
        return data, None, crs, "json"
    if content_type in _FILE_TYPES:
        return data, None, crs, "file"
    raise UnsupportedMediaType("grid.unsupported_media_type", media_type=content_type[:100])


def _read(
    settings: GridSettings, data: bytes, filename: str | None, crs: str | None, kind: str
) -> list[UncheckedJson]:
    """Features of an upload (worker thread: parsing a large body must not hold up the event loop)."""
    if kind == "json":
        return service.features_of(parse_geojson(data, settings), crs)
    return service.read_upload(data, filename, crs, settings)


def _one_feature(data: bytes, media_type: str, settings: GridSettings) -> UncheckedJson:
    if media_type not in _JSON_TYPES:
        raise UnsupportedMediaType("grid.unsupported_media_type", media_type=media_type[:100])
    if not data:
        raise BadRequest("grid.empty_body")
    return parse_geojson(data, settings)


def _written(response: Response, result: service.WriteResult) -> service.WrittenArea:
    response.headers["ETag"] = etag(result.version)
    # percent-encoded: new codes are plain ASCII, but an area stored before the code rule may not be
    response.headers["Location"] = f"/api/grids/{quote(result.code, safe='')}"
    return result.as_dict()


@router.post(
    "/grids",
    status_code=201,
    openapi_extra={"requestBody": FEATURE_BODY},
    response_model=None,
    responses=answers(m.WrittenArea, 201, "created"),
)
async def create_grid(
    request: Request,
    response: Response,
    auto_number: bool = Query(False, description="give a GB/T 15-digit code when properties.code is missing"),
    db: Database = Depends(get_db),
    principal: Principal = Depends(planner),
    settings: GridSettings = Depends(get_grid_settings),
) -> service.WrittenArea:
    """Create an area (any level) from a GeoJSON Feature. Vertices within the snapping tolerance of a
    neighbour's edge are snapped onto it; 422 lists every problem (invalid ring, overlap, outside parent,
    sliver, a code outside ``[A-Za-z0-9_.-]{1,64}``) with its location; 409 when the code is in use."""
    data, media_type = await request.body(), _media_type(request)

    def work() -> service.WriteResult:
        with cycle_collection_paused():
            feature = _one_feature(data, media_type, settings)
            return service.create_area(db, feature, principal, auto_number=auto_number, settings=settings)

    return _written(response, await run_in_threadpool(work))


@router.post(
    "/grids/import",
    openapi_extra={"requestBody": COLLECTION_BODY},
    response_model=None,
    responses=answers(m.ImportResult),
)
async def import_grids(
    request: Request,
    auto_number: bool = Query(False, description="number features without a code (GB/T, reading order)"),
    crs: str | None = Query(
        None, description="override the file's CRS: wgs84, gcj02, bd09, cgcs2000, EPSG:xxxx"
    ),
    db: Database = Depends(get_db),
    principal: Principal = Depends(planner),
    settings: GridSettings = Depends(get_grid_settings),
) -> service.ImportResult:
    """Import a FeatureCollection (JSON body), or a GeoPackage / zipped Shapefile (multipart field ``file``
    or the raw file as the body), all or nothing. New codes are created, existing ones get a new version;
    a feature carrying ``properties.version`` must match the current version (412 otherwise)."""
    upload = await _upload(request, crs)

    def work() -> service.ImportReport:
        with cycle_collection_paused():
            features = _read(settings, *upload)
            return service.import_features(
                db, features, principal, auto_number=auto_number, settings=settings
            )

    return (await run_in_threadpool(work)).as_dict()


@router.post(
    "/grids/validate",
    openapi_extra={"requestBody": COLLECTION_BODY},
    response_model=None,
    responses=answers(m.ValidationResult),
)
async def validate_grids(
    request: Request,
    parent_code: str | None = Query(None, description="check this parent's stored children (and gaps)"),
    crs: str | None = Query(None),
    auto_number: bool = Query(False),
    db: Database = Depends(get_db),
    _principal: Principal = Depends(planner),
    settings: GridSettings = Depends(get_grid_settings),
) -> service.ValidationResult:
    """Dry run (planner): the write checks plus gaps inside each parent. 200 ``{"valid": true}`` when clean,
    otherwise 422 with the list of ``{problem, code, codes, location, message}`` (the same checks and codes as
    an import; a shape without a code is checked under a provisional one). Nothing is written."""
    upload = await _upload(request, crs) if await request.body() else None

    def work() -> list[Problem]:
        with cycle_collection_paused():
            features = _read(settings, *upload) if upload is not None else []
            return service.validate_features(
                db, features, parent_code=parent_code, auto_number=auto_number, settings=settings
            )

    problems = await run_in_threadpool(work)
    if problems:
        raise service.problems_error(problems)
    return service.clean()


class ProposeRequest(BaseModel):
    parent_code: str = Field(min_length=1, max_length=64)
    households_min: int | None = Field(default=None, ge=1, le=100_000)
    households_max: int | None = Field(default=None, ge=1, le=100_000)


@router.post("/grids/propose", response_model=None, responses=answers(m.Proposal))
def propose_grids(
    body: ProposeRequest, db: Database = Depends(get_db), settings: GridSettings = Depends(get_grid_settings)
) -> proposal.Proposal:
    """Partition a parent area into contiguous grids that follow streets and balance households (defaults
    from settings: 300–500). Returns a FeatureCollection to edit and then import; nothing is written."""
    return proposal.propose(db, body.parent_code, body.households_min, body.households_max, settings)


@router.get(
    "/grids/export",
    response_class=Response,
    responses={
        200: {
            "description": "the file",
            "content": {
                "application/geo+json": {"schema": {"$ref": "#/components/schemas/AreaCollection"}},
                "application/geopackage+sqlite3": {"schema": BINARY},
                "application/zip": {"schema": BINARY},
            },
        }
    },
)
def export_grids(
    format: str = Query("geojson", description="geojson, gpkg or shp (zipped)"),
    level: str | None = None,
    parent_code: str | None = None,
    db: Database = Depends(get_db),
) -> Response:
    """Current areas as a file QGIS opens: GeoJSON, GeoPackage (layer ``areas``) or a zipped Shapefile
    (names within 10 bytes, ``parent_code`` → ``parent_cod``, mapped back by ``areas.fields.json``). EPSG:4326.
    Columns are typed (integers, booleans, dates, date-times, JSON) and an import reads them back unchanged."""
    data, media_type, filename = service.export_areas(db, format, level, parent_code)
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.get("/grids", response_model=None, responses=answers(m.AreaCollection))
def list_grids(
    level: str | None = Query(None, description="district, street, community or grid"),
    parent_code: str | None = None,
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat"),
    db: Database = Depends(get_db),
) -> FeatureCollection:
    """Current areas as a FeatureCollection (coarse levels first)."""
    return service.list_areas(db, level, parent_code, params.bbox(bbox))


@router.get("/grids/{code:gridcode}", response_model=None, responses=answers(m.AreaFeature))
def get_grid(
    response: Response,
    code: str,
    version: int | None = Query(None, ge=1, le=params.INT4_MAX),
    db: Database = Depends(get_db),
) -> Feature:
    """One area as a Feature with ``ETag`` = its version (or an old version with ``?version=``)."""
    feature = service.get_area(db, code, version)
    response.headers["ETag"] = etag(feature["properties"]["version"])
    return feature


@router.put(
    "/grids/{code:gridcode}",
    openapi_extra={"requestBody": FEATURE_BODY},
    response_model=None,
    responses=answers(m.WrittenArea),
)
async def put_grid(
    request: Request,
    response: Response,
    code: str,
    if_match: str | None = Header(None, description=IF_MATCH),
    db: Database = Depends(get_db),
    principal: Principal = Depends(planner),
    settings: GridSettings = Depends(get_grid_settings),
) -> service.WrittenArea:
    """Save a new version. Omitted properties keep their values; a Feature without geometry keeps the
    boundary. ``If-Match`` is required (428 without it); naming an old version: 412 and no change."""
    data, media_type, version = await request.body(), _media_type(request), require_if_match(if_match)

    def work() -> service.WriteResult:
        with cycle_collection_paused():
            feature = _one_feature(data, media_type, settings)
            return service.update_area(db, code, feature, principal, if_match=version, settings=settings)

    return _written(response, await run_in_threadpool(work))


@router.delete("/grids/{code:gridcode}", status_code=204)
def delete_grid(
    code: str,
    if_match: str | None = Header(None, description=IF_MATCH),
    db: Database = Depends(get_db),
    principal: Principal = Depends(planner),
) -> Response:
    """Close the area's validity (its history stays; the code is never reused for other land)."""
    service.delete_area(db, code, principal, if_match=require_if_match(if_match))
    return Response(status_code=204)


class MergeBody(BaseModel):
    absorb: list[str] = Field(
        ..., min_length=1, description="codes of the sibling areas merged into this one"
    )
    versions: dict[str, int] | None = Field(
        default=None, description="code → the version you read (412 when stale)"
    )
    # read as the create and update bodies are (grids.model.draft_from_feature), documented as they are
    feature: Annotated[
        dict[str, Any] | None,
        WithJsonSchema({"anyOf": [model_schema(m.GridFeatureInput), {"type": "null"}]}),
    ] = Field(
        default=None,
        description="a Feature whose geometry (and properties) the merged area takes; default: the union",
    )


@router.post("/grids/{code:gridcode}/merge", response_model=None, responses=answers(m.WrittenArea))
def merge_grids(
    code: str,
    body: MergeBody,
    response: Response,
    if_match: str | None = Header(None, description=IF_MATCH),
    db: Database = Depends(get_db),
    principal: Principal = Depends(planner),
    settings: GridSettings = Depends(get_grid_settings),
) -> service.WrittenArea:
    """Merge sibling areas into this one in one transaction: theirs close (change `merge`), this one gets the
    union (or the given boundary) as a new version. Nothing changes on any problem; stale versions are 412."""
    result = service.merge_areas(
        db,
        code,
        body.absorb,
        principal,
        feature=body.feature,
        if_match=require_if_match(if_match),
        versions=body.versions,
        settings=settings,
    )
    return _written(response, result)


@router.get("/grids/{code:gridcode}/history", response_model=None, responses=answers(m.AreaCollection))
def grid_history(code: str, db: Database = Depends(get_db)) -> FeatureCollection:
    """Every version, oldest first, with ``valid_from``/``valid_to``, who changed it and who closed it."""
    return service.area_history(db, code)


@router.get("/areas/{code}/stats", response_model=None, responses=answers(m.AreaStats))
def area_stats(
    code: str, db: Database = Depends(get_db), settings: GridSettings = Depends(get_grid_settings)
) -> service.AreaStats:
    """Planning numbers: km², households, population, residences, staffing need (norm per 10,000 residents)
    and the gap to the workers on record."""
    return service.area_stats(db, code, settings)
