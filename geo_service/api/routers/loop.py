"""The 12345 loop over HTTP: duplicates and merging (并案), callbacks (回访), photos, the three rates, and the
regular inspection of rest stations (常态化巡查)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from geo_service.api import params
from geo_service.api.deps import get_db, incident_context, require_role
from geo_service.api.errors import FieldProblem, in_language
from geo_service.api.models import incidents as mi
from geo_service.api.models import loop as ml
from geo_service.api.openapi import answers, binary_answer
from geo_service.api.routers.stations import station_context
from geo_service.api.routers.tiles import base_url
from geo_service.auth import Principal
from geo_service.db.pool import Database
from geo_service.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from geo_service.incidents import callback, duplicates, merge, records, workflow
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.rates import Rates, rates
from geo_service.media import service as media
from geo_service.settings import MediaSettings
from geo_service.stations import inspections
from geo_service.stations.context import StationContext

router = APIRouter(tags=["loop"])
Ctx = Annotated[IncidentContext, Depends(incident_context)]
Dispatcher = Annotated[Principal, Depends(require_role("dispatcher"))]
Handler = Annotated[Principal, Depends(require_role("dispatcher", "worker"))]
Inspector = Annotated[Principal, Depends(require_role(*inspections.INSPECTOR_ROLES))]
Planner = Annotated[Principal, Depends(require_role("planner"))]
StationCtx = Annotated[StationContext, Depends(station_context)]
Db = Annotated[Database, Depends(get_db)]


async def media_settings(request: Request) -> MediaSettings:
    return request.app.state.media_settings


Media = Annotated[MediaSettings, Depends(media_settings)]


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    into: int = Field(description="the case that carries on", ge=1)
    note: str | None = Field(
        default=None, max_length=4000, description="why (needed when a side is finished)"
    )


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reached: bool = Field(description="whether the caller answered")
    satisfaction: str | None = Field(
        default=None, description="satisfied | basically_satisfied | unsatisfied (when reached)"
    )
    note: str | None = Field(default=None, max_length=4000, description="what the caller said")


class InspectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open_as_published: bool = Field(description="open as its published opening hours say, at the visit")
    amenities: dict[str, bool] = Field(
        default_factory=dict, description="each amenity the station publishes → found on the visit"
    )
    notes: str | None = Field(default=None, max_length=2000)
    lon: float | None = Field(default=None, description="where the inspector stood, degrees in crs")
    lat: float | None = None
    crs: str | None = "wgs84"


async def _upload(
    request: Request, field: str, max_bytes: int, required: bool = True
) -> tuple[bytes | None, dict[str, str]]:
    """The bytes of multipart file ``field`` (at most ``max_bytes`` + 1 read) and the form's text fields."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType("media.multipart_required", field=field)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise PayloadTooLarge(
            "media.too_large",
            bytes=f"{int(declared):,}",
            max_bytes=f"{max_bytes:,}",
            max_mb=f"{max_bytes / 1024 / 1024:g}",
        )
    async with request.form() as form:  # closed on leaving: an upload spooled to disk is a file held open
        texts = {key: value for key, value in form.items() if isinstance(value, str)}
        upload = form.get(field)
        if upload is None:
            if required:
                raise BadRequest("media.file_field", field=field)
            return None, texts
        if not isinstance(upload, UploadFile):
            raise BadRequest("media.file_field", field=field)
        return await upload.read(max_bytes + 1), texts


# -- 并案 ----------------------------------------------------------------------------------------------------


@router.get(
    "/api/incidents/{incident_id:int}/duplicates", response_model=None, responses=answers(ml.Duplicates)
)
def get_duplicates(
    incident_id: params.PathId, request: Request, ctx: Ctx, _principal: Dispatcher
) -> duplicates.Duplicates:
    """Open cases this incident may duplicate (same major class, within the walking distance and time window),
    nearest first: the dispatcher's merge suggestions."""
    row = workflow.get_incident(ctx, incident_id)
    found = duplicates.present(ctx, duplicates.for_incident(ctx, row))
    return in_language(
        request,
        duplicates.Duplicates(
            id=incident_id,
            duplicates=found,
            walk_m=ctx.settings.duplicate_walk_m,
            window_h=ctx.settings.duplicate_window_h,
        ),
    )


@router.post("/api/incidents/{incident_id:int}/merge", response_model=None, responses=answers(mi.Incident))
def post_merge(
    incident_id: params.PathId, body: MergeBody, request: Request, ctx: Ctx, principal: Dispatcher
) -> records.Incident:
    """Merge this incident into case ``into``: it follows the case's state from now on, keeps its caller (who is
    called back on their own) and shows in the case's history. 409 into a duplicate, a rejected case, or when
    already merged elsewhere; 422 into itself, or a finished side without a note."""
    row = merge.merge(ctx, incident_id, body.into, body.note, principal)
    return in_language(request, records.present(ctx, row))


# -- 回访 ----------------------------------------------------------------------------------------------------


@router.post(
    "/api/incidents/{incident_id:int}/feedback", response_model=None, responses=answers(ml.FeedbackResult)
)
def post_feedback(
    incident_id: params.PathId, body: FeedbackBody, request: Request, ctx: Ctx, principal: Dispatcher
) -> callback.FeedbackResult:
    """Record a callback of a resolved case: satisfied or basically satisfied closes it, unsatisfied sends its case
    back to its owner with a fresh deadline, an unreached call is counted (the third closes it as a failed
    callback). 409 when the incident is not waiting for a callback."""
    done = callback.record_feedback(
        ctx,
        incident_id,
        reached=body.reached,
        satisfaction=body.satisfaction,
        note=body.note,
        principal=principal,
    )
    call = callback.presented(ctx, done["callback"])
    return in_language(
        request, callback.FeedbackResult(**records.present(ctx, done["incident"]), callback=call)
    )


@router.get(
    "/api/incidents/{incident_id:int}/callbacks", response_model=None, responses=answers(ml.Callbacks)
)
def get_callbacks(incident_id: params.PathId, ctx: Ctx, _principal: Dispatcher) -> callback.Callbacks:
    """Every call made to the incident's caller, oldest first."""
    return callback.Callbacks(id=incident_id, callbacks=callback.callbacks(ctx, incident_id))


# -- photos --------------------------------------------------------------------------------------------------


@router.post(
    "/api/incidents/{incident_id:int}/media",
    status_code=201,
    response_model=None,
    responses={
        **answers(ml.NewPhoto, 201, "stored"),
        **answers(ml.NewPhoto, 200, "the same file, stored before"),
    },
)
async def post_media(
    incident_id: params.PathId,
    request: Request,
    response: Response,
    ctx: Ctx,
    settings: Media,
    principal: Handler,
) -> media.NewPhoto:
    """Add a photo (multipart ``file``; JPEG, PNG, WebP or HEIC by content, at most
    ``GEO_SERVICE_MEDIA_MAX_BYTES``). Stored re-encoded without its metadata (no EXIF, no GPS), with a
    SHA-256 and a thumbnail; the same file again answers 200 with the photo stored before. ``stage``
    (form field): ``report`` (default) or ``resolution`` (the work done). 413 too large, 415 not a photo,
    422 damaged or too many pixels: nothing is stored."""
    data, fields = await _upload(request, "file", settings.max_bytes)
    stage = fields.get("stage") or "report"
    photo, created = await run_in_threadpool(
        media.attach, ctx, settings, incident_id, data or b"", stage, principal
    )
    if not created:
        response.status_code = 200
    base = base_url(request)
    url, thumbnail_url = base + photo["url"], base + photo["thumbnail_url"]
    stored: media.NewPhoto = {**photo, "url": url, "thumbnail_url": thumbnail_url, "created": created}
    return stored


@router.get("/api/incidents/{incident_id:int}/media", response_model=None, responses=answers(ml.Photos))
def get_media_list(
    incident_id: params.PathId, request: Request, ctx: Ctx, principal: Handler
) -> media.Photos:
    """The incident's photos, each with its ``url`` and ``thumbnail_url`` (readable with the same token)."""
    return media.Photos(
        id=incident_id, media=media.list_media(ctx, incident_id, principal, base_url(request))
    )


def _photo_answer(
    description: str, media_types: tuple[str, ...] = ("image/jpeg", "image/png")
) -> dict[int | str, dict[str, Any]]:
    return binary_answer(description, *media_types)


def _photo_response(found: media.PhotoData, thumbnail: bool) -> Response:
    suffix = "jpg" if found["content_type"] == "image/jpeg" else "png"
    name = f"incident-{found['incident_id']}-{found['id']}{'-thumb' if thumbnail else ''}.{suffix}"
    return Response(
        content=found["data"],
        media_type=found["content_type"],
        headers={
            "Cache-Control": "private, max-age=86400",
            "ETag": f'"{found["sha256"]}{"-t" if thumbnail else ""}"',
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(
    "/api/incidents/{incident_id:int}/media/{media_id:int}",
    response_class=Response,
    responses=_photo_answer("the photo: cleaned JPEG or PNG"),
)
def get_photo(incident_id: params.PathId, media_id: params.PathId, ctx: Ctx, principal: Handler) -> Response:
    """The photo (as stored: cleaned JPEG or PNG)."""
    return _photo_response(media.read(ctx, incident_id, media_id, principal), thumbnail=False)


@router.get(
    "/api/incidents/{incident_id:int}/media/{media_id:int}/thumbnail",
    response_class=Response,
    responses=_photo_answer("the thumbnail (JPEG)", ("image/jpeg",)),
)
def get_thumbnail(
    incident_id: params.PathId, media_id: params.PathId, ctx: Ctx, principal: Handler
) -> Response:
    """The photo's thumbnail (JPEG)."""
    return _photo_response(media.read(ctx, incident_id, media_id, principal, thumbnail=True), thumbnail=True)


# -- the three rates -----------------------------------------------------------------------------------------


@router.get("/api/stats/rates", response_model=None, responses=answers(ml.Rates))
def get_rates(
    ctx: Ctx,
    level: Annotated[str, Query(description="grid | community | street | district")] = "street",
    code: Annotated[str | None, Query(description="one area of that level (all when absent)")] = None,
    since: Annotated[datetime | None, Query(description="ISO 8601; incidents filed at or after")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601; incidents filed before")] = None,
) -> Rates:
    """响应率, 解决率, 满意率, 按时办结率 and where cases were settled (小事不出网格), per area; the
    formulas are in the README and in ``geo_service/incidents/rates.py``."""
    return rates(ctx, level, code, since, until)


# -- 常态化巡查 -----------------------------------------------------------------------------------------------


@router.get(
    "/api/stations/inspections/overdue", response_model=None, responses=answers(ml.OverdueInspections)
)
def get_overdue_inspections(db: Db, sctx: StationCtx, _principal: Planner) -> inspections.OverdueInspections:
    """Stations not inspected for ``GEO_SERVICE_STATIONS_INSPECTION_INTERVAL_DAYS`` (or never), most overdue
    first (planners)."""
    return inspections.overdue(db, sctx)


@router.post(
    "/api/stations/{station_id:int}/inspections",
    status_code=201,
    response_model=None,
    responses=answers(ml.Inspection, 201, "recorded"),
)
async def post_inspection(
    station_id: params.PathId,
    request: Request,
    db: Db,
    sctx: StationCtx,
    settings: Media,
    principal: Inspector,
) -> inspections.Inspection:
    """Record a visit (a grid worker for stations in their grids, a planner for any): JSON
    ``{open_as_published, amenities: {amenity: found}, notes, lon, lat, crs}``, or multipart with that JSON in
    field ``inspection`` and a photo in ``file``. Every amenity the station publishes must be answered."""
    content_type = request.headers.get("content-type", "")
    photo_bytes: bytes | None = None
    if content_type.startswith("multipart/form-data"):
        photo_bytes, fields = await _upload(request, "file", settings.max_bytes, required=False)
        raw: Any = fields.get("inspection")
        if raw is None:
            raise BadRequest("inspection.field_missing")
        try:
            raw = json.loads(raw)
        except ValueError:
            raise BadRequest("inspection.not_json") from None
    else:
        try:
            raw = await request.json()
        except ValueError:
            raise BadRequest("inspection.not_json") from None
    try:
        body = InspectionBody.model_validate(raw)
    except ValidationError as exc:
        problems = [FieldProblem(loc=".".join(str(p) for p in e["loc"]), msg=e["msg"]) for e in exc.errors()]
        raise InvalidInput("inspection.invalid", detail=problems, count=len(problems)) from None
    data = inspections.InspectionInput(
        open_as_published=body.open_as_published,
        amenities=body.amenities,
        notes=body.notes,
        lon=body.lon,
        lat=body.lat,
        crs=body.crs,
    )
    photo = None
    if photo_bytes is not None:
        photo = await run_in_threadpool(media.check_photo, photo_bytes, settings)
    out = await run_in_threadpool(inspections.record, db, sctx, station_id, data, principal, photo)
    return in_language(request, out)


@router.get(
    "/api/stations/{station_id:int}/inspections", response_model=None, responses=answers(ml.Inspections)
)
def get_inspections(station_id: params.PathId, db: Db, principal: Inspector) -> inspections.Inspections:
    """Every visit to the station, newest first, in full (inspectors of it)."""
    return inspections.Inspections(
        station_id=station_id, inspections=inspections.history(db, station_id, principal)
    )
