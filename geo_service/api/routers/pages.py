"""The web pages: ``/app`` (index), ``/app/planner``, ``/app/stations``, ``/app/dispatch``, ``/app/circles``,
their JS/CSS under ``/app/static/``, and ``/app/config.json`` (what the pages need to know about the service)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from geo_service import web
from geo_service.grids.model import LEVELS
from geo_service.incidents.states import STATES, TRANSITIONS

router = APIRouter(prefix="/app", tags=["pages"])
REVALIDATE = {"Cache-Control": "no-cache"}  # a redeploy shows at once; ETag/Last-Modified keep it cheap


@router.get("", response_class=HTMLResponse, summary="Index of the pages")
def index() -> HTMLResponse:
    return HTMLResponse(web.render_page("index"), headers=REVALIDATE)


@router.get("/config.json", summary="Levels and the incident loop, for the pages")
def config() -> dict[str, Any]:
    """Area levels (coarse to fine), incident states and every allowed move with the roles that may make it."""
    moves = [
        {"from": t.from_status, "to": t.to_status, "label": t.label, "roles": ["admin", *t.roles],
         "note_required": t.note_required}
        for t in TRANSITIONS.values()
    ]  # fmt: skip
    return {"levels": list(LEVELS), "incident_states": list(STATES), "incident_transitions": moves}


@router.get("/static/{path:path}", summary="JS, CSS and images of the pages")
def static(path: str) -> FileResponse:
    file, media_type = web.static_file(path)
    return FileResponse(file, media_type=media_type, headers=REVALIDATE)


@router.get("/{page}", response_class=HTMLResponse, summary="A page: planner, stations, dispatch or circles")
def page(page: str) -> HTMLResponse:
    if page == "index":
        return index()
    return HTMLResponse(web.render_page(page), headers=REVALIDATE)
