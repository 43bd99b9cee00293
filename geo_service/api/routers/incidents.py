"""Incidents over HTTP: intake, the dispatcher's queue, the closed loop, CSV import, and numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat
from starlette.concurrency import run_in_threadpool

from geo_service.api import params
from geo_service.api.deps import current_principal, incident_context, require_role
from geo_service.api.errors import in_language
from geo_service.api.models import incidents as mi
from geo_service.api.openapi import answers
from geo_service.auth import Principal
from geo_service.errors import BadRequest
from geo_service.incidents import csv_import, records, workflow
from geo_service.incidents.categories import IncidentCategories
from geo_service.incidents.context import IncidentContext
from geo_service.incidents.intake import Contact, IncidentInput, NewIncident, create_incident, present_result
from geo_service.incidents.stats import IncidentStats, incident_stats

router = APIRouter(tags=["incidents"])


Ctx = Annotated[IncidentContext, Depends(incident_context)]
Dispatcher = Annotated[Principal, Depends(require_role("dispatcher"))]
Filer = Annotated[Principal, Depends(require_role("dispatcher", "worker"))]
Caller = Annotated[Principal, Depends(current_principal)]


class Reporter(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=200)


def _reporter(given: Reporter | None) -> Contact:
    if given is None:
        return Contact()
    return Contact(name=given.name, phone=given.phone, email=given.email)


class IncidentBody(BaseModel):
    """An incident from a 12345 ticket or a grid worker: coordinates (``lon``/``lat`` in ``crs``) or an address."""

    model_config = ConfigDict(extra="forbid")

    lon: StrictFloat | None = Field(default=None, description="longitude, degrees in crs")
    lat: StrictFloat | None = Field(default=None, description="latitude, degrees in crs")
    crs: str | None = Field(default="wgs84", description="wgs84 | gcj02 | bd09 | cgcs2000")
    address: str | None = Field(
        default=None, max_length=500, description="used to locate when lon/lat are absent"
    )
    category: str = Field(min_length=1, max_length=100, description="code or name from the classification")
    description: str | None = Field(default=None, max_length=4000)
    external_id: str | None = Field(default=None, max_length=100, description="the 12345 ticket number")
    reporter: Reporter | None = None
    media_url: str | None = Field(default=None, max_length=2000)
    client_id: str | None = Field(
        default=None,
        max_length=100,
        description="the sender's own id for this report (a phone's queued report): sent again, the same incident",
    )
    accuracy_m: float | None = Field(default=None, description="how exact the position is (a phone's GPS), m")
    source: Literal["hotline", "patrol"] | None = Field(
        default=None,
        description="hotline (a dispatcher's default) or patrol; a grid worker's is always patrol",
    )


class TransitionBody(BaseModel):
    to: str = Field(min_length=1, max_length=40)
    note: str | None = Field(default=None, max_length=4000)


class AssignmentBody(BaseModel):
    grid_code: str | None = Field(
        default=None, max_length=100, description="omit to confirm the current grid"
    )
    note: str | None = Field(default=None, max_length=4000)


@router.get("/api/incidents/categories", response_model=None, responses=answers(mi.IncidentCategories))
def get_categories(ctx: Ctx) -> IncidentCategories:
    """The event/component classification with each category's deadline per level (hours)."""
    return {
        "levels": ["grid", "community", "street", "district"],
        "categories": [c.as_dict() for c in ctx.classification],
    }


@router.post(
    "/api/incidents",
    status_code=201,
    response_model=None,
    responses={
        **answers(mi.NewIncident, 201, "created"),
        **answers(mi.NewIncident, 200, "the incident with this external_id"),
    },
)
def post_incident(
    body: IncidentBody, request: Request, response: Response, ctx: Ctx, principal: Filer
) -> NewIncident:
    """Create an incident assigned to the grid covering it (201), or return the one with the same
    ``external_id`` or ``client_id`` (200). Without lon/lat the address is geocoded: 409 with ``candidates``
    unless it names one house number, building or POI with confidence. A grid worker's report is a ``patrol``
    report and must lie in one of their grids (422 naming the grid it is in). The answer lists the open cases
    it may duplicate (``duplicates``)."""
    data = IncidentInput(
        category=body.category,
        description=body.description,
        lon=body.lon,
        lat=body.lat,
        crs=body.crs,
        address=body.address,
        external_id=body.external_id,
        reporter=_reporter(body.reporter),
        media_url=body.media_url,
        client_id=body.client_id,
        accuracy_m=body.accuracy_m,
    )
    worker = principal.role == "worker"
    source = "patrol" if worker else body.source or "hotline"
    result = create_incident(
        ctx, data, principal.actor, principal.role, source, patrol_grids=principal.grids if worker else None
    )
    if not result.created:
        response.status_code = 200
    return in_language(request, present_result(ctx, result, workflow.may_see_reporter(principal)))


@router.get("/api/incidents", response_model=None, responses=answers(mi.IncidentCollection))
def get_incidents(
    request: Request,
    ctx: Ctx,
    principal: Caller,
    grid_code: str | None = None,
    status: Annotated[str | None, Query(description="comma-separated states")] = None,
    category: Annotated[str | None, Query(description="comma-separated codes or names")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north (WGS-84)")] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=workflow.MAX_LIST)] = 500,
    offset: Annotated[params.RowOffset, Query()] = 0,
) -> records.IncidentCollection:
    """The queue as a GeoJSON FeatureCollection, newest first. A grid worker sees their own grids only."""
    grid_codes = list(principal.grids) if principal.role == "worker" else None
    rows = workflow.list_incidents(
        ctx,
        grid_code=grid_code,
        statuses=params.words(status),
        categories=params.words(category),
        bbox=params.bbox(bbox),
        overdue=overdue,
        limit=limit,
        offset=offset,
        grid_codes=grid_codes,
    )
    show = workflow.may_see_reporter(principal)
    return in_language(request, records.collection(ctx, rows, show))


@router.get("/api/incidents/{incident_id:int}", response_model=None, responses=answers(mi.Incident))
def get_incident(
    incident_id: params.PathId, request: Request, ctx: Ctx, principal: Caller
) -> records.Incident:
    row = workflow.get_incident(ctx, incident_id, principal)
    return in_language(request, records.present(ctx, row, workflow.may_see_reporter(principal)))


@router.post(
    "/api/incidents/{incident_id:int}/transition", response_model=None, responses=answers(mi.Incident)
)
def post_transition(
    incident_id: params.PathId, body: TransitionBody, request: Request, ctx: Ctx, principal: Caller
) -> records.Incident:
    """Move an incident along the loop; 409 when the move is not allowed from its state, 403 for the role."""
    row = workflow.transition(ctx, incident_id, body.to, body.note, principal)
    return in_language(request, records.present(ctx, row, workflow.may_see_reporter(principal)))


@router.get(
    "/api/incidents/{incident_id:int}/history", response_model=None, responses=answers(mi.IncidentHistory)
)
def get_history(
    incident_id: params.PathId, request: Request, ctx: Ctx, principal: Caller
) -> records.IncidentHistory:
    """The incident's steps, oldest first; notes the system wrote are in the reader's language."""
    steps = workflow.history(ctx, incident_id, principal)
    return in_language(request, records.IncidentHistory(id=incident_id, history=steps))


@router.post(
    "/api/incidents/{incident_id:int}/assignment", response_model=None, responses=answers(mi.Incident)
)
def post_assignment(
    incident_id: params.PathId, body: AssignmentBody, request: Request, ctx: Ctx, principal: Dispatcher
) -> records.Incident:
    """Confirm the grid of a (near-boundary) incident, or move it to ``grid_code`` before dispatch."""
    row = workflow.confirm_assignment(ctx, incident_id, body.grid_code, body.note, principal)
    return in_language(request, records.present(ctx, row))


@router.post("/api/incidents/import", response_model=None, responses=answers(mi.ImportReport))
async def post_import(
    request: Request,
    ctx: Ctx,
    principal: Dispatcher,
    encoding: Annotated[str | None, Query(description="utf-8 | gbk; detected when absent")] = None,
    atomic: bool = True,
) -> csv_import.ImportReport:
    """CSV (``text/csv`` body, or a multipart ``file``) with columns
    ``external_id,lon,lat,crs,address,category,description``; see the README for details."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:  # closed on leaving: an upload spooled to disk is a file held open
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise BadRequest("incident.import_file_field")
            content = await upload.read()
    else:
        content = await request.body()
    report = await run_in_threadpool(
        csv_import.import_csv,
        ctx,
        content,
        encoding=encoding,
        atomic=atomic,
        actor=principal.actor,
        role=principal.role,
    )
    return in_language(request, report.as_dict())


@router.get("/api/stats/incidents", response_model=None, responses=answers(mi.IncidentStats))
def get_stats(
    ctx: Ctx,
    level: Annotated[str, Query(description="grid | community | street | district")] = "grid",
    since: Annotated[
        params.Instant | None, Query(description="ISO 8601; incidents created at or after")
    ] = None,
) -> IncidentStats:
    """Counts by state, resolution rate, median hours to close and overdue counts per area."""
    return incident_stats(ctx, level, since)
