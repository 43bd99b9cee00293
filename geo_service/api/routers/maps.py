"""Folium quick maps under /maps/, with local assets."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from geo_service.api.deps import get_db
from geo_service.db.pool import Database
from geo_service.maps.overview import overview_html

router = APIRouter(prefix="/maps", tags=["maps"])


@router.get("/overview.html", response_class=HTMLResponse)
def overview_map(db: Database = Depends(get_db)) -> HTMLResponse:
    """The imported walking network, residences (sized by households) and facilities by category."""
    return HTMLResponse(overview_html(db))
