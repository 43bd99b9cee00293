"""The web pages: ``/app`` (index), ``/app/planner``, ``/app/stations``, ``/app/dispatch``, ``/app/circles``,
their JS/CSS under ``/app/static/``, ``/app/config.json`` (what the pages need to know about the service), and
the API documentation ``/docs`` (Swagger UI from ``/vendor``, so it works offline)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from geo_service import web
from geo_service.api.models.pages import Move, PagesConfig
from geo_service.api.openapi import answers
from geo_service.grids.model import LEVELS
from geo_service.incidents.states import AWAITING_CALLBACK, SATISFACTION, STATES, manual_transitions

router = APIRouter(prefix="/app", tags=["pages"])
docs_router = APIRouter(include_in_schema=False)
REVALIDATE = {"Cache-Control": "no-cache"}  # a redeploy shows at once; ETag/Last-Modified keep it cheap


@router.get("", response_class=HTMLResponse, summary="Index of the pages")
def index() -> HTMLResponse:
    return HTMLResponse(web.render_page("index"), headers=REVALIDATE)


@router.get(
    "/config.json",
    summary="Levels and the incident loop, for the pages",
    response_model=None,
    responses=answers(PagesConfig),
)
def config() -> PagesConfig:
    """Area levels (coarse to fine), incident states and every allowed move with the roles that may make it."""
    moves: list[Move] = [
        {
            "from": t.from_status,
            "to": t.to_status,
            "label": t.label,
            "roles": ["admin", *t.roles],
            "note_required": t.note_required,
        }
        for t in manual_transitions()
    ]
    return PagesConfig(
        levels=list(LEVELS),
        incident_states=list(STATES),
        incident_transitions=moves,
        callback_states=sorted(AWAITING_CALLBACK),
        satisfaction=list(SATISFACTION),
    )


@router.get("/static/{path:path}", summary="JS, CSS and images of the pages", response_class=FileResponse)
def static(path: str) -> FileResponse:
    file, media_type = web.static_file(path)
    return FileResponse(file, media_type=media_type, headers=REVALIDATE)


@router.get("/{page}", response_class=HTMLResponse, summary="A page: planner, stations, dispatch or circles")
def page(page: str) -> HTMLResponse:
    if page == "index":
        return index()
    return HTMLResponse(web.render_page(page), headers=REVALIDATE)


@docs_router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over this service's OpenAPI document, every asset local (FastAPI's own page uses a CDN)."""
    return HTMLResponse(web.render_docs(request.app.openapi_url or "/openapi.json"), headers=REVALIDATE)


@docs_router.get("/redoc")
def redoc() -> RedirectResponse:
    """ReDoc needs a CDN and web fonts: its old address leads to the local Swagger UI instead."""
    return RedirectResponse("/docs", status_code=307)
