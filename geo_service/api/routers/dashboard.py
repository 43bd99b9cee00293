"""The leaders' dashboard over HTTP: ``GET /api/stats/dashboard`` (every figure, JSON), its CSV/XLSX download
and the areas to choose from. Dispatchers and admins only: the lists name individual cases."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from geo_service.api import params
from geo_service.api.deps import get_grid_settings, incident_context, require_role
from geo_service.api.errors import in_language, language_of
from geo_service.api.models import dashboard as md
from geo_service.api.openapi import BINARY, answers
from geo_service.auth import Principal
from geo_service.incidents.context import IncidentContext
from geo_service.settings import DashboardSettings, GridSettings
from geo_service.stats import dashboard as service
from geo_service.stats import export

router = APIRouter(prefix="/api/stats/dashboard", tags=["dashboard"])
Ctx = Annotated[IncidentContext, Depends(incident_context)]
Reader = Annotated[Principal, Depends(require_role("dispatcher"))]


async def _settings(request: Request) -> DashboardSettings:
    return request.app.state.dashboard_settings  # read once by create_app


Settings = Annotated[DashboardSettings, Depends(_settings)]
Grids = Annotated[GridSettings, Depends(get_grid_settings)]
Level = Annotated[str, Query(description="district | street | community | grid")]
Code = Annotated[str, Query(min_length=1, max_length=64, description="the area's code")]
Since = Annotated[date | None, Query(description="first local day (default: 364 days before today)")]
Until = Annotated[date | None, Query(description="the day after the last (default: tomorrow)")]


def _period(ctx: IncidentContext, since: date | None, until: date | None) -> service.Period:
    default = service.default_period(ctx)
    return service.Period(since or default.since, until or default.until)


def _report(
    ctx: IncidentContext,
    settings: DashboardSettings,
    grids: GridSettings,
    level: str,
    code: str,
    since: date | None,
    until: date | None,
) -> service.Dashboard:
    return service.dashboard(ctx, settings, grids, level, code, _period(ctx, since, until))


@router.get(
    "",
    summary="Every figure of the dashboard of one area and period",
    response_model=None,
    responses=answers(md.Dashboard),
)
async def get_dashboard(
    request: Request,
    ctx: Ctx,
    settings: Settings,
    grids: Grids,
    _reader: Reader,
    level: Level,
    code: Code,
    since: Since = None,
    until: Until = None,
) -> service.Dashboard:
    """Reported, accepted, transferred, completed and on-time counts; where cases were settled against the
    小事不出网格 target; weekly trends; each grid's volume and on-time rate; overdue and escalated cases;
    staffing against the norm and the stations' coverage. Definitions: ``geo_service/stats/dashboard.py``."""
    report = await run_in_threadpool(_report, ctx, settings, grids, level, code, since, until)
    return in_language(request, report)


@router.get(
    "/export",
    summary="The dashboard as CSV (one table) or XLSX (every table)",
    response_class=Response,
    responses={
        200: {
            "description": "the file (Content-Disposition: attachment)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                export.XLSX_MEDIA_TYPE: {"schema": BINARY},
            },
        }
    },
)
async def get_export(
    request: Request,
    ctx: Ctx,
    settings: Settings,
    grids: Grids,
    _reader: Reader,
    level: Level,
    code: Code,
    since: Since = None,
    until: Until = None,
    format: Annotated[str, Query(description="csv or xlsx")] = "xlsx",
    section: Annotated[str | None, Query(description=", ".join(export.SECTIONS))] = None,
) -> Response:
    """``csv``: the ``section`` (default ``summary``); ``xlsx``: every section on its own sheet (or the one
    named). Headers in the negotiated language."""
    export.check(format, section)
    report = await run_in_threadpool(_report, ctx, settings, grids, level, code, since, until)
    body, media_type, filename = export.export(report, format, section, language_of(request))
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": params.content_disposition("attachment", filename)},
    )


@router.get(
    "/areas",
    summary="The areas a dashboard can show, coarse to fine",
    response_model=None,
    responses=answers(md.DashboardAreas),
)
def get_areas(ctx: Ctx, _reader: Reader) -> service.DashboardAreas:
    """Every current district, street, community and grid: code, name, level, parent."""
    return service.areas(ctx)
